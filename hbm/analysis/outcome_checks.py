"""Posterior predictive checks of an outcome family's fit: per group, per count, per probability.

Replicates are drawn with numpy from the family's own predictive distribution (``draw``: binomial
successes, Poisson and negative binomial counts, Student-t values) for up to
:data:`CHECK_DRAWS` posterior draws (evenly spaced), from a random stream of their own derived
from the fit's seed, so the same fit gives the same checks.

- :func:`group_check` (every family): each group's observed total (successes, counts; a mean for
  the Student-t) against its predictive interval when the data are replicated for the same
  groups, and a test statistic over groups (the sd of the group rates, which a misfit of the
  between-group spread moves), with its posterior predictive p-value.
- :func:`rootogram` (counts: Poisson, negative binomial): how often each count occurs, observed
  against expected (Kleiber and Zeileis 2016, "Visualizing count data regressions using
  rootograms"): zero inflation or overdispersion show as bars that do not reach the axis.
- :func:`calibration` (binomial): the units binned by their predicted probability, the observed
  proportion in each bin against the mean prediction, with a binomial interval per bin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hbm.analysis.outcome_draws import (
    family_of,
    family_params,
    linear_predictor,
    n_draws,
    outcome_of,
)
from hbm.core.seeds import stream
from hbm.results.fit_result import FitResult
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["CHECK_DRAWS", "GroupOutcomeCheck", "calibration", "group_check", "rootogram"]

#: Posterior draws the checks replicate from, at most.
CHECK_DRAWS = 400
#: Mixed into the fit's seed: the checks' own random stream.
CHECK_STREAM = 0x0C4EC
#: Most distinct counts a rootogram shows one by one; larger counts share the last bar.
MAX_COUNT_BARS = 40


def _draws(result: FitResult) -> np.ndarray:
    total = n_draws(result)
    return np.unique(np.linspace(0, total - 1, min(CHECK_DRAWS, total)).round().astype(np.int64))


def _replicates(result: FitResult, rows: bool) -> tuple[np.ndarray, np.ndarray]:
    """Replicated ``y`` per unit (or kept row), ``(S, U)``, and the draws used."""
    outcome = outcome_of(result)
    family = family_of(result)
    draws = _draws(result)
    rng = stream(result.random_seed, CHECK_STREAM + int(rows))
    eta = linear_predictor(result, draws)
    params = family_params(result, draws)
    if rows and outcome.form == "cells":
        unit, _, weight, _ = outcome.rows()
        return family.draw(rng, eta[:, unit], weight, params), draws
    return family.draw(rng, eta, outcome.weight, params), draws


@dataclass(frozen=True, eq=False)
class GroupOutcomeCheck:
    """Observed and replicated group totals of an outcome family's fit.

    Attributes
    ----------
    labels : tuple of str
    weight : ndarray (J,)
        Trials, exposure, or rows per group.
    observed : ndarray (J,)
        The groups' totals of ``y`` (a mean for the Student-t).
    replicated : ndarray (S, J)
    statistic : str
        The test statistic's name.
    t_observed : float
    t_replicated : ndarray (S,)
    n_draws : int
        Posterior draws replicated from.
    """

    labels: tuple[str, ...]
    weight: np.ndarray
    observed: np.ndarray
    replicated: np.ndarray
    statistic: str
    t_observed: float
    t_replicated: np.ndarray
    n_draws: int

    def intervals(self, ci_prob: float = CI_PROB) -> np.ndarray:
        """The predictive interval of each group's total, ``(2, J)``."""
        tail = (1 - ci_prob) / 2
        return np.quantile(self.replicated, [tail, 1 - tail], axis=0)

    def outside(self, ci_prob: float = CI_PROB) -> list[str]:
        """The groups whose observed total lies outside its interval."""
        lb, ub = self.intervals(ci_prob)
        return [
            label
            for label, o, lo, hi in zip(self.labels, self.observed, lb, ub, strict=True)
            if o < lo or o > hi
        ]

    @property
    def p_value(self) -> float:
        """``P(T_rep >= T_obs)``."""
        return float(np.mean(self.t_replicated >= self.t_observed))


def group_check(source: Any, factor: int = 0) -> GroupOutcomeCheck:
    """The group-level predictive check (see the module docstring)."""
    result = as_result(source)
    return result.cache.get(("outcome_group_check", factor), lambda: _group_check(result, factor))


def _group_check(result: FitResult, position: int) -> GroupOutcomeCheck:
    outcome = outcome_of(result)
    factor = result.model_data.factors[position]
    replicated, draws = _replicates(result, rows=False)
    codes = outcome.codes[:, position]
    totals = np.zeros((len(draws), factor.n_groups))
    for j in range(len(draws)):
        totals[j] = np.bincount(codes, weights=replicated[j], minlength=factor.n_groups)
    weight = np.bincount(codes, weights=outcome.weight, minlength=factor.n_groups)
    observed = np.bincount(codes, weights=outcome.y, minlength=factor.n_groups)
    if family_of(result).NAME == "studentt":
        totals, observed = totals / weight, observed / weight
    with np.errstate(divide="ignore", invalid="ignore"):
        rates_rep = totals / weight if family_of(result).NAME != "studentt" else totals
        rates_obs = observed / weight if family_of(result).NAME != "studentt" else observed
    return GroupOutcomeCheck(
        labels=tuple(factor.labels),
        weight=weight,
        observed=observed,
        replicated=totals,
        statistic="sd of the group rates",
        t_observed=float(np.std(rates_obs, ddof=1)),
        t_replicated=np.std(rates_rep, axis=1, ddof=1),
        n_draws=len(draws),
    )


def rootogram(source: Any) -> pd.DataFrame:
    """Observed and expected frequency of each count over the rows (counts families).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``count`` (the last row holds every larger count, ``count`` = its smallest):
        ``observed``, ``expected`` (mean over replicates) and its 94% interval ``lb``, ``ub``.
    """
    result = as_result(source)
    family = family_of(result)
    if family.NAME not in ("poisson", "negbinomial"):
        raise ValueError(
            f"A rootogram shows how often each count occurs (poisson, negbinomial fits); this fit "
            f"is of the {family.NAME} family."
        )
    return result.cache.get(("rootogram",), lambda: _rootogram(result))


def _rootogram(result: FitResult) -> pd.DataFrame:
    outcome = outcome_of(result)
    if not outcome.has_rows:
        raise ValueError(
            "A rootogram needs the counts of the rows, and this fit kept only their cells' totals "
            "(a table above the rows limit, or a saved fit): refit to see it."
        )
    _, y, _, _ = outcome.rows()
    replicated, _ = _replicates(result, rows=True)
    top = int(min(max(np.quantile(y, 0.995), 1), MAX_COUNT_BARS))
    bins = top + 2
    observed = np.bincount(np.minimum(y.astype(np.int64), top + 1), minlength=bins)
    counts = np.minimum(replicated.astype(np.int64), top + 1)
    expected = np.stack([np.bincount(row, minlength=bins) for row in counts])
    tail = (1 - CI_PROB) / 2
    lb, ub = np.quantile(expected, [tail, 1 - tail], axis=0)
    table = pd.DataFrame(
        {"observed": observed, "expected": expected.mean(axis=0), "lb": lb, "ub": ub},
        index=pd.Index(np.arange(bins), name="count"),
    )
    return table if observed[-1] or expected[:, -1].mean() >= 0.5 else table.iloc[:-1]


def calibration(source: Any, bins: int = 10) -> pd.DataFrame:
    """Binned calibration of a binomial fit (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per bin of predicted probability (equal numbers of trials): ``predicted`` (mean
        posterior probability), ``observed`` (successes / trials), ``trials``, and the 94% Jeffreys
        interval of the observed proportion (``lb``, ``ub``).
    """
    result = as_result(source)
    family = family_of(result)
    if family.NAME != "binomial":
        raise ValueError(
            f"A calibration plot compares predicted probabilities with observed proportions "
            f"(binomial fits); this fit is of the {family.NAME} family."
        )
    return result.cache.get(("calibration", bins), lambda: _calibration(result, bins))


def _calibration(result: FitResult, bins: int) -> pd.DataFrame:
    outcome = outcome_of(result)
    draws = _draws(result)
    probability = family_of(result).expected(linear_predictor(result, draws), {}).mean(axis=0)
    order = np.argsort(probability, kind="stable")
    trials = outcome.weight[order]
    edges = np.searchsorted(np.cumsum(trials), np.linspace(0, trials.sum(), bins + 1)[1:-1])
    rows = []
    for part in np.split(np.arange(len(order)), edges):
        if part.size == 0:
            continue
        units = order[part]
        n, s = outcome.weight[units].sum(), outcome.y[units].sum()
        tail = (1 - CI_PROB) / 2
        lb, ub = stats.beta(s + 0.5, n - s + 0.5).ppf([tail, 1 - tail])
        rows.append(
            {
                "predicted": float(np.average(probability[units], weights=outcome.weight[units])),
                "observed": float(s / n),
                "trials": float(n),
                "lb": float(lb),
                "ub": float(ub),
            }
        )
    return pd.DataFrame(rows)
