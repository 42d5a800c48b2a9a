"""Outcome families: one module each, all of one shape.

A family module (like blackjax's algorithms, or Bambi's families) says everything about one
outcome distribution, so nothing downstream lists its parameters or special-cases it:

- ``NAME``, ``LINKS``, ``HAS_EXACT_CONDITIONAL``;
- ``parameter_table(data, parametrization)``: its parameters with their roles, dims and units;
- ``reduce(codes, values, n_groups)``: the statistics the rows are reduced to;
- ``default_priors(data)`` and ``resolve_priors(data, priors)``;
- ``log_likelihood``, ``group_log_likelihood`` (from the statistics) and
  ``pointwise_log_likelihood`` (from the rows), and ``marginal_group_log_likelihood`` where the
  group effects integrate out;
- predictive draws (``replicate_means``, ``replicate_within_sds``, ``draw_rows``);
- ``observe`` / ``observe_marginal``: its likelihood terms in a PyMC model;
- where it exists, the exact conditional of the group effects (``conditional_moments``,
  ``draw_group_means``), which is what the marginal parametrization uses.

The outcome families (``binomial``, ``poisson``, ``negbinomial``, ``studentt``; see
:mod:`hbm.model.families.binomial` for their shared shape) have no exact conditional: they say
their link, whether their rows reduce exactly to per-cell totals, their own parameters and
default priors, the log likelihood per unit (PyTensor and numpy), the outcome's mean, predictive
draws and the Fisher information that ``auto`` reads.

:data:`FAMILIES` lists them; :func:`get_family` looks one up with a clear error.

>>> get_family("normal").NAME
'normal'
"""

from __future__ import annotations

from types import ModuleType

from hbm.model.families import binomial, negbinomial, normal, poisson, studentt

__all__ = ["FAMILIES", "OUTCOME_FAMILIES", "get_family"]

#: The families hbm fits, by name.
FAMILIES: dict[str, ModuleType] = {
    module.NAME: module for module in (normal, studentt, binomial, poisson, negbinomial)
}
#: The families whose likelihood is written per unit from rows or per-cell totals.
OUTCOME_FAMILIES: tuple[str, ...] = (studentt.NAME, binomial.NAME, poisson.NAME, negbinomial.NAME)


def get_family(name: str) -> ModuleType:
    """The family module called ``name``; a ValueError listing the families otherwise."""
    if name not in FAMILIES:
        raise ValueError(
            f"The 'family' option must be one of {', '.join(map(repr, FAMILIES))}; got {name!r}."
        )
    return FAMILIES[name]
