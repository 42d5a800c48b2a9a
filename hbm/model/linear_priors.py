"""Priors of a formula model: weakly informative defaults scaled to the data, and user text.

Defaults scale with the response and with each covariate's spread, as rstanarm's and Bambi's
autoscaling do (``s_y``: the sd of the response over all rows; ``s_x``: the sd of a term's column;
``ybar``: the response's mean):

- ``beta[Intercept] ~ normal(ybar, 2.5 s_y)``, on the intercept at the covariates' means (the
  coefficients are sampled with the covariates centred, as rstanarm does);
- ``beta[<term>] ~ normal(0, 2.5 s_y / s_x)``;
- ``sd_<g>[Intercept] ~ halfnormal(s_y)``, ``sd_<g>[<term>] ~ halfnormal(s_y / s_x)``;
- ``corr_<g> ~ lkj(2)``;
- ``sigma ~ halfnormal(s_y)``.

User text may name one term (``beta[Days]``, ``sd_Subject[Days]``) or all of a kind: ``beta``
(every coefficient but the intercept), ``sd_<g>`` (every term of ``g``); a term named overrides
its kind's text. Every prior is listed, per term, in the prior table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hbm.core.names import BETA, INTERCEPT, SIGMA, corr_name, sd_name
from hbm.data.model_data import ModelData
from hbm.model.linear_terms import correlated_pairs
from hbm.model.priors import Prior, parse_prior

__all__ = ["LKJ_ETA", "linear_default_priors", "resolve_linear_priors"]

#: The default LKJ shape of correlations: mild shrinkage towards 0.
LKJ_ETA = 2.0


def linear_default_priors(data: ModelData) -> dict[str, Prior]:
    """The data-scaled default prior of every parameter, by full name (``beta[Days]``)."""
    means, sds = data.column_summary()
    y = data.y_index
    center, spread = float(means[y]), float(sds[y])
    column = {name: j for j, name in enumerate(data.columns)}
    priors: dict[str, Prior] = {}
    for term in data.population:
        if term == INTERCEPT:
            priors[f"{BETA}[{term}]"] = Prior("normal", (center, 2.5 * spread), "default")
        else:
            priors[f"{BETA}[{term}]"] = Prior(
                "normal", (0.0, 2.5 * spread / _spread(sds[column[term]])), "default"
            )
    for factor in data.factors:
        for term in factor.terms:
            scale = spread if term == INTERCEPT else spread / _spread(sds[column[term]])
            priors[f"{sd_name(factor.name)}[{term}]"] = Prior("halfnormal", (scale,), "default")
        if correlated_pairs(factor):
            priors[corr_name(factor.name)] = Prior("lkj", (LKJ_ETA,), "default")
    priors[SIGMA] = Prior("halfnormal", (spread,), "default")
    return priors


def resolve_linear_priors(
    data: ModelData, priors: Mapping[str, str | float | Prior] | None
) -> dict[str, Prior]:
    """The defaults overridden by the user's priors; an unknown name is an error naming them.

    Examples
    --------
    >>> import hbm
    >>> from hbm.model.formula import parse_formula
    >>> from hbm.model.design import build_model_data
    >>> data = build_model_data(hbm.datasets.load("sleepstudy"),
    ...                         parse_formula("Reaction ~ Days + (Days | Subject)"))
    >>> resolved = resolve_linear_priors(data, {"sd_Subject": "halfcauchy(10)"})
    >>> resolved["sd_Subject[Days]"].text(), resolved["corr_Subject"].text()
    ('halfcauchy(10)', 'lkj(2)')
    """
    resolved = linear_default_priors(data)
    if priors is None:
        return resolved
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
    # A kind first, then named terms, so that a term named overrides its kind.
    for name in sorted(priors, key=lambda n: "[" in n):
        spec = priors[name]
        targets = kinds.get(name, [name] if name in resolved else [])
        if not targets:
            raise ValueError(
                f"The model has no parameter {name!r} to put a prior on; its priors are on "
                f"{', '.join(map(repr, [*kinds, *resolved]))}."
            )
        for target in targets:
            prior = spec if isinstance(spec, Prior) else parse_prior(spec, target)
            resolved[target] = prior
    return resolved


def _spread(sd: float) -> float:
    """A column's sd, or 1 for a column that does not vary (an intercept)."""
    return float(sd) if math.isfinite(sd) and sd > 0 else 1.0
