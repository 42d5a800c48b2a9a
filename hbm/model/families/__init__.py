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

:data:`FAMILIES` lists them; :func:`get_family` looks one up with a clear error.

>>> get_family("normal").NAME
'normal'
"""

from __future__ import annotations

from types import ModuleType

from hbm.model.families import normal

__all__ = ["FAMILIES", "get_family"]

#: The families hbm fits, by name.
FAMILIES: dict[str, ModuleType] = {normal.NAME: normal}


def get_family(name: str) -> ModuleType:
    """The family module called ``name``; a ValueError listing the families otherwise."""
    if name not in FAMILIES:
        raise ValueError(
            f"The 'family' option must be one of {', '.join(map(repr, FAMILIES))}; got {name!r}."
        )
    return FAMILIES[name]
