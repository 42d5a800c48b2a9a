"""Parametrizations of the group effects, and ``auto``'s choice among them with its reason.

- ``centered``: ``theta ~ Normal(mu, tau)``.
- ``noncentered``: ``theta = mu + tau * theta_z``, ``theta_z ~ Normal(0, 1)``.
- ``marginal``: the group effects integrated out analytically; NUTS samples only the population
  parameters and the group effects are then drawn exactly from their Gaussian conditional (the
  family's exact conditional: :func:`hbm.model.families.normal.draw_group_means`).
- ``auto``: :func:`choose_parametrization` picks one and says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from hbm.core.defaults import DEFAULTS
from hbm.data.grouped import GroupedData
from hbm.model.families import normal
from hbm.model.parameters import ParameterTable
from hbm.model.priors import Prior

__all__ = [
    "LIKELIHOODS",
    "PARAMETRIZATIONS",
    "centered_effects",
    "check_likelihood",
    "check_parametrization",
    "choose_parametrization",
    "noncentered_effects",
]

Parametrization = Literal["auto", "centered", "noncentered", "marginal"]
Likelihood = Literal["sufficient", "rows"]
PARAMETRIZATIONS: tuple[str, ...] = ("auto", "centered", "noncentered", "marginal")
LIKELIHOODS: tuple[str, ...] = ("sufficient", "rows")


def check_parametrization(parametrization: str) -> None:
    """Raise a ValueError naming the choices if ``parametrization`` is not one of them."""
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(
            "The 'parametrization' option must be one of "
            f"{', '.join(map(repr, PARAMETRIZATIONS))}; got {parametrization!r}."
        )


def check_likelihood(likelihood: str) -> None:
    """Raise a ValueError naming the choices if ``likelihood`` is not one of them."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"The 'likelihood' option must be one of {', '.join(map(repr, LIKELIHOODS))}; "
            f"got {likelihood!r}."
        )


def centered_effects(parameters: ParameterTable, location: Any, scale: Any) -> Any:
    """The group effects as a variable of their own: ``Normal(location, scale)`` per group."""
    import pymc as pm

    effect = parameters.one("group_effect")
    return pm.Normal(effect.name, mu=location, sigma=scale, dims=effect.dims)


def noncentered_effects(parameters: ParameterTable, location: Any, scale: Any) -> Any:
    """The group effects as ``location + scale * z``, ``z ~ Normal(0, 1)`` per group."""
    import pymc as pm

    effect = parameters.one("group_effect")
    standard = parameters.one("auxiliary")
    z = pm.Normal(standard.name, mu=0.0, sigma=1.0, dims=standard.dims)
    return pm.Deterministic(effect.name, location + scale * z, dims=effect.dims)


def choose_parametrization(
    data: GroupedData,
    priors: Mapping[str, Prior],
    *,
    likelihood: str = DEFAULTS.likelihood,
) -> tuple[str, str]:
    """The parametrization ``auto`` uses for these data and priors, and why.

    The reason quotes the data: how precisely each group mean is measured (``s_j``: ``se_j``, or
    the pooled within-group sd over ``sqrt(n_j)``) against a method-of-moments estimate of the
    between-group sd ``tau``. Groups with ``s_j > tau`` are pooled more than halfway towards
    ``mu``: the data say little about them, and the centered form has a funnel there.

    - ``marginal`` whenever it applies (the sufficient-statistics likelihood): exact for the
      normal model, and with ``theta`` integrated out there is no funnel whatever the data.
    - ``likelihood="rows"``: ``centered`` if ``tau`` is fixed or every group's data dominate
      (``s_j < tau / 2``, pooling below 20%), where the centered form samples best; otherwise
      ``noncentered``.
    - ``centered`` if ``mu`` and ``tau`` are both fixed (``theta``'s posterior is then
      independent normals).

    Returns
    -------
    tuple of str
        ``(name, reason)``.

    Examples
    --------
    >>> import hbm
    >>> from hbm.data.grouped import grouped_data
    >>> from hbm.model.families.normal import resolve_priors
    >>> data = grouped_data(hbm.datasets.load("eight_schools"), group="school", value="effect",
    ...                     se="stderr")
    >>> name, reason = choose_parametrization(data, resolve_priors(data, None))
    >>> name
    'marginal'
    """
    table = normal.parameter_table(data)
    mu, tau = table.one("coefficient").name, table.one("group_sd").name
    theta = table.one("group_effect").name
    free = [name for name in (mu, tau) if not priors[name].is_fixed]
    if not free:
        return (
            "centered",
            f"{mu} and {tau} are fixed, so {theta}'s posterior has no funnel and the centered "
            "form samples it directly.",
        )
    evidence, weak = normal.pooling_evidence(data)
    rows = "likelihood='rows' was asked for, which the marginal form does not use"
    if likelihood == "rows":
        if priors[tau].is_fixed:
            return (
                "centered",
                f"{rows}; {tau} is fixed, so {theta} has no funnel and the centered form samples "
                "it directly.",
            )
        if weak == 0:
            return (
                "centered",
                f"{rows}. {evidence} The data dominate every group, where the centered form "
                "samples best (the non-centered one would have an inverted funnel).",
            )
        return (
            "noncentered",
            f"{rows}. {evidence} The non-centered form has no funnel between {tau} and {theta} "
            "for such groups.",
        )
    sampled = ", ".join(free + table.names("residual_scale"))
    return (
        "marginal",
        f"{evidence} For a normal model {theta} can be integrated out exactly, so NUTS samples "
        f"only {sampled} (no funnel between {tau} and {theta}, near-independent draws) and "
        f"{theta} is then drawn exactly from its normal conditional posterior.",
    )
