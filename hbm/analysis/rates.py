"""Per-group rates on the outcome scale: raw and partially pooled, shrinkage, the league table.

For an outcome family's fit (binomial: probabilities; Poisson and negative binomial: rates per
unit of exposure; Student-t: means), one row per group of a grouping factor:

- ``y`` and ``weight``: the group's successes and trials (counts and exposure, values and rows);
- ``raw``: its own rate ``y / weight`` (no pooling);
- ``mean``, ``sd``, the interval: the posterior of its rate (partial pooling;
  :func:`hbm.analysis.outcome_draws.group_rate_draws`);
- ``population``: the posterior mean of the rate the model expects of a group like it with no
  effect of its own (the population rate at its covariates: where it is pulled);
- ``shrinkage``: how far the posterior mean moved from the raw rate towards the population rate,
  ``(raw - mean) / (raw - population)`` (0: kept its own rate, 1: pulled all the way; NaN when the
  raw rate equals the population's);
- ``rank`` (posterior mean; 1 = the highest rate, or the lowest with ``higher_is_better=False``),
  its interval, ``p_best``, ``p_top_quarter`` and ``p_bottom_quarter`` (ranks within every draw,
  so their intervals carry the uncertainty that a league table of raw rates hides).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.analysis.draws import check_prob, quarter_size, tag
from hbm.analysis.groupwise import group_quantiles, group_ranks, group_sd
from hbm.analysis.outcome_draws import (
    family_of,
    group_rate_draws,
    linear_predictor,
    n_draws,
    outcome_of,
)
from hbm.model.linear_terms import CENTRED
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["population_rate", "rate_table"]


def rate_table(
    source: Any,
    factor: str | None = None,
    *,
    ci_prob: float = CI_PROB,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """One row per group: raw and posterior rates, shrinkage, rank and league probabilities
    (see the module docstring), indexed by label, in the data's group order.

    Examples
    --------
    >>> import hbm
    >>> fit = hbm.fit(hbm.datasets.load("surgical"), "p(deaths, operations) ~ 1 + (1 | hospital)",
    ...               family="binomial", random_seed=1, draws=200, tune=300, chains=2,
    ...               progressbar=False)
    >>> table = rate_table(fit, higher_is_better=False)
    >>> table.loc["A", ["successes", "trials", "raw"]].tolist()
    [0.0, 47.0, 0.0]
    >>> bool(table.loc["A", "mean"] > 0.01), round(float(table["p_best"].sum()), 6)
    (True, 1.0)
    """
    check_prob(ci_prob)
    result = as_result(source)
    position = _factor_position(result, factor)
    key = ("rate_table", position, ci_prob, higher_is_better)
    return result.cache.get(
        key, lambda: _rate_table(result, position, ci_prob, higher_is_better)
    ).copy()


def _rate_table(result: Any, position: int, ci_prob: float, higher_is_better: bool) -> pd.DataFrame:
    data = result.model_data
    factor = data.factors[position]
    outcome = outcome_of(result)
    words = family_of(result).WORDS
    totals = outcome.group_totals(position, factor.n_groups)
    draws = group_rate_draws(result, position)
    population = group_rate_draws(result, position, with_effects=False).mean(axis=0)
    mean = draws.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = totals["y"] / totals["weight"]
        moved = raw - population
        shrinkage = np.where(
            np.abs(moved) > 1e-12 * np.abs(population), (raw - mean) / moved, np.nan
        )
    tail = (1.0 - ci_prob) / 2.0
    lb, ub = group_quantiles(draws, [tail, 1.0 - tail])
    ranks = group_ranks(draws, descending=higher_is_better)
    rank_lb, rank_ub = group_quantiles(ranks, [tail, 1.0 - tail], method="inverted_cdf")
    k = quarter_size(factor.n_groups)
    prefix = tag(ci_prob)
    return pd.DataFrame(
        {
            "rows": totals["rows"].astype(np.int64),
            words["y"]: totals["y"],
            words["weight"]: totals["weight"],
            "raw": raw,
            "mean": mean,
            "sd": group_sd(draws, mean),
            f"{prefix}_lb": lb,
            f"{prefix}_ub": ub,
            "population": population,
            "shrinkage": shrinkage,
            "rank": ranks.mean(axis=0),
            "rank_lb": rank_lb.astype(np.int64),
            "rank_ub": rank_ub.astype(np.int64),
            "p_best": (ranks == 1).mean(axis=0),
            "p_top_quarter": (ranks <= k).mean(axis=0),
            "p_bottom_quarter": (ranks > factor.n_groups - k).mean(axis=0),
        },
        index=pd.Index(factor.labels, name=factor.name),
    )


def population_rate(source: Any) -> np.ndarray:
    """Draws of the rate of a typical group (all effects 0) at the covariates' means — the
    inverse link of ``beta_centred[Intercept]`` — or, without an intercept, of the mean over
    the units of the population rate."""
    result = as_result(source)
    family = family_of(result)
    posterior = result.idata["posterior"]
    if CENTRED in posterior and "Intercept" in result.model_data.population:
        where = result.model_data.population.index("Intercept")
        values = (
            posterior[CENTRED].transpose("chain", "draw", ...).values.reshape(n_draws(result), -1)
        )
        return family.expected(values[:, where], {})
    eta = linear_predictor(result, np.arange(n_draws(result)), with_effects=False)
    return family.expected(eta, {}).mean(axis=1)


def _factor_position(result: Any, name: str | None) -> int:
    factors = result.model_data.factors
    if name is None:
        return 0
    names = [f.name for f in factors]
    if name not in names:
        raise ValueError(
            f"The model has no grouping factor {name!r}; it has {', '.join(map(repr, names))}."
        )
    return names.index(name)
