"""Default priors of an outcome family's model, on the link scale, and the user's text over them.

Binomial (logit), Poisson and negative binomial (log): weakly informative on the link scale, as
rstanarm and Bambi scale them (``s_x``: the sd of a term's column over the rows):

- ``beta[Intercept] ~ normal(c, 2.5)`` with ``c`` the link of the pooled rate (successes over
  trials, counts over exposure; half an event where there are none), on the intercept at the
  covariates' means;
- ``beta[<term>] ~ normal(0, 2.5 / s_x)``: a change of one sd of the covariate moves the log odds
  or log rate by at most a few units;
- ``sd_<g>[Intercept] ~ halfnormal(1)``, ``sd_<g>[<term>] ~ halfnormal(1 / s_x)``: groups whose
  odds or rates differ by factors of e are plausible, by factors of e^3 are not;
- ``corr_<g> ~ lkj(2)``; ``alpha ~ halfcauchy(1)`` (negative binomial).

Student-t (identity): the normal family's data-scaled defaults
(:mod:`hbm.model.linear_priors`), and ``nu ~ gamma(2, 0.1)``.

A prior for a parameter the family does not have (``sigma`` of a binomial model) is an error that
says so and lists the names it has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hbm.core.names import ALPHA, BETA, INTERCEPT, NU, SIGMA, corr_name, sd_name
from hbm.data.model_data import ModelData
from hbm.model.families import get_family
from hbm.model.families.links import link
from hbm.model.linear_priors import LKJ_ETA, linear_default_priors
from hbm.model.linear_terms import correlated_pairs
from hbm.model.priors import Prior, parse_prior

__all__ = [
    "COEFFICIENT_SCALE",
    "GROUP_SD_SCALE",
    "outcome_default_priors",
    "resolve_outcome_priors",
]

#: The sd of the coefficients' default priors on the link scale (per sd of a covariate).
COEFFICIENT_SCALE = 2.5
#: The scale of the group sds' default half-normal priors on the link scale.
GROUP_SD_SCALE = 1.0
#: Parameters that some outcome families have and others lack.
_FAMILY_NAMES = (SIGMA, NU, ALPHA)


def pooled_link(data: ModelData) -> float:
    """The link of the pooled mean: log odds of all successes over all trials, log of all counts
    over all exposure (half an event when there are none, or all are successes)."""
    outcome = data.outcome
    if outcome is None:
        raise ValueError("The data have no outcome of a non-normal family.")
    family = get_family(outcome.family)
    total, weight = float(outcome.y.sum()), float(outcome.weight.sum())
    if family.LINK == "logit":
        rate = min(max(total, 0.5), weight - 0.5) / weight
    elif family.LINK == "log":
        rate = max(total, 0.5) / weight
    else:
        return total / weight
    return float(link(family.LINK, rate))


def outcome_default_priors(data: ModelData) -> dict[str, Prior]:
    """The default prior of every parameter, by full name (see the module docstring)."""
    outcome = data.outcome
    if outcome is None:
        raise ValueError("The data have no outcome of a non-normal family.")
    family = get_family(outcome.family)
    if family.LINK == "identity":
        linear = linear_default_priors(data)
        means, sds = data.column_summary()
        return {**linear, **family.default_family_priors(float(means[-1]), float(sds[-1]))}
    _, sds = data.column_summary()
    column = {name: j for j, name in enumerate(data.columns)}
    priors: dict[str, Prior] = {}
    for term in data.population:
        if term == INTERCEPT:
            location = pooled_link(data)
            priors[f"{BETA}[{term}]"] = Prior("normal", (location, COEFFICIENT_SCALE), "default")
        else:
            scale = COEFFICIENT_SCALE / _spread(sds[column[term]])
            priors[f"{BETA}[{term}]"] = Prior("normal", (0.0, scale), "default")
    for factor in data.factors:
        for term in factor.terms:
            scale = GROUP_SD_SCALE / (1.0 if term == INTERCEPT else _spread(sds[column[term]]))
            priors[f"{sd_name(factor.name)}[{term}]"] = Prior("halfnormal", (scale,), "default")
        if correlated_pairs(factor):
            priors[corr_name(factor.name)] = Prior("lkj", (LKJ_ETA,), "default")
    return {**priors, **family.default_family_priors(0.0, 1.0)}


def resolve_outcome_priors(
    data: ModelData, priors: Mapping[str, str | float | Prior] | None
) -> dict[str, Prior]:
    """The defaults overridden by the user's priors; a name the model lacks is an error.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.model.formula import parse_formula
    >>> from hbm.model.outcome_design import build_outcome_data
    >>> table = pd.DataFrame({"g": list("aabbb"), "y": [1, 0, 1, 1, 0]})
    >>> data = build_outcome_data(table, parse_formula("y ~ 1 + (1 | g)"), "binomial")
    >>> resolve_outcome_priors(data, {"sd_g": "halfnormal(0.5)"})["sd_g[Intercept]"].text()
    'halfnormal(0.5)'
    >>> resolve_outcome_priors(data, {"sigma": "halfnormal(1)"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The model has no parameter 'sigma' to put a prior on (the binomial family has ...
    """
    resolved = outcome_default_priors(data)
    if priors is None:
        return resolved
    family = data.outcome.family  # type: ignore[union-attr]
    if isinstance(priors, str):
        raise ValueError(
            f"The 'priors' option of a formula model must be a mapping of parameter names to "
            f"prior text; got {priors!r} (the presets are for 'value ~ 1 + (1 | group)')."
        )
    if not isinstance(priors, Mapping):
        raise TypeError(f"The 'priors' option must be a mapping; got {priors!r}.")
    kinds = {BETA: [n for n in resolved if n.startswith(f"{BETA}[") and INTERCEPT not in n]}
    for factor in data.factors:
        name = sd_name(factor.name)
        kinds[name] = [n for n in resolved if n.startswith(f"{name}[")]
    for name in sorted(priors, key=lambda n: "[" in n):
        targets = kinds.get(name, [name] if name in resolved else [])
        if not targets:
            why = f" (the {family} family has none)" if name in _FAMILY_NAMES else ""
            raise ValueError(
                f"The model has no parameter {name!r} to put a prior on{why}; its priors are on "
                f"{', '.join(map(repr, [*kinds, *resolved]))}."
            )
        spec = priors[name]
        for target in targets:
            resolved[target] = spec if isinstance(spec, Prior) else parse_prior(spec, target)
    return resolved


def _spread(sd: float) -> float:
    return float(sd) if math.isfinite(sd) and sd > 0 else 1.0
