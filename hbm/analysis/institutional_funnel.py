"""Spiegelhalter's funnel plot for institutional comparisons: what a hospital board reads.

Each group's observed rate is plotted against its size (trials, or exposure), around a target
``theta0`` with control limits that narrow as the size grows (Spiegelhalter 2005, "Funnel plots
for comparing institutional performance", Statistics in Medicine 24: 1185-1202). A group outside
the 95% limits is "alert", outside the 99.8% limits "alarm", *if* every group had the target's
rate; the posterior rates of the hierarchical model are drawn beside the raw ones.

**Limits** at probability ``p`` for a group of size ``n`` (Spiegelhalter's appendix): the
``p``-quantile ``r_p`` of the count under the target (Binomial(n, theta0), Poisson(theta0 E),
or negative binomial with the fit's shape), smoothed between the integers::

    alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)),     limit = (r_p - alpha) / n

(at least 0, and at most 1 for a proportion: with ``r_p = 0`` the formula would go below 0),

which tends to the normal approximation ``theta0 +- z_p sqrt(theta0 (1 - theta0) / n)``
(binomial; ``theta0 +- z_p sqrt(theta0 / E)`` Poisson) for large ``n``.

**Target**: without covariates, the pooled rate (all successes over all trials). With
covariates the groups differ in case mix, so each is compared with its own expected count
``E_j = sum_u w_u m(eta_u)`` under the population model (its effects set to 0; posterior mean):
the plot shows ``O_j / E_j`` against ``E_j`` with Poisson limits around 1 (indirect
standardization, Spiegelhalter 2005, section 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hbm.analysis.draws import check_prob
from hbm.analysis.outcome_draws import family_of, group_rate_draws, outcome_of
from hbm.analysis.rates import rate_table
from hbm.core.names import ALPHA, INTERCEPT
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["FUNNEL_PROBS", "Funnel", "control_limits", "institutional_funnel"]

#: The two pairs of limits Spiegelhalter draws: 95% and 99.8%.
FUNNEL_PROBS = (0.95, 0.998)
_FAMILIES = ("binomial", "poisson", "negbinomial")


@dataclass(frozen=True, eq=False)
class Funnel:
    """A funnel plot's numbers.

    Attributes
    ----------
    table : pandas.DataFrame
        Per group: ``size`` (trials, exposure, or expected count), ``observed`` (raw rate, or
        O/E), ``posterior`` and its interval (the fit's rate, or its ratio to E), and
        ``outside_95`` / ``outside_998`` (-1 below, +1 above the limits, 0 inside).
    target : float
        ``theta0`` (or 1 for O/E).
    kind : {"binomial", "poisson", "negbinomial"}
        The distribution the limits come from.
    ratio : bool
        Whether the plot is of O/E (covariates) rather than rates.
    shape : float or None
        The negative binomial's ``alpha`` (posterior median) used for its limits.
    x_label, y_label : str
    """

    table: pd.DataFrame
    target: float
    kind: str
    ratio: bool
    shape: float | None
    x_label: str
    y_label: str

    def limits(self, sizes: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper control limits at ``sizes`` for central probability ``prob``."""
        return control_limits(self.kind, self.target, sizes, prob, shape=self.shape)


def control_limits(
    kind: str,
    target: float,
    sizes: np.ndarray,
    prob: float,
    *,
    shape: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Spiegelhalter's exact control limits around ``target`` (see the module docstring).

    Examples
    --------
    >>> low, high = control_limits("binomial", 0.1, np.array([10_000.0]), 0.95)
    >>> z = 1.959963984540054
    >>> bool(abs(high[0] - (0.1 + z * (0.1 * 0.9 / 10_000) ** 0.5)) < 2e-4)
    True
    """
    check_prob(prob)
    sizes = np.asarray(sizes, dtype=float)
    tail = (1.0 - prob) / 2.0
    return (
        _limit(kind, target, sizes, tail, shape),
        _limit(kind, target, sizes, 1.0 - tail, shape),
    )


def _limit(kind: str, target: float, sizes: np.ndarray, p: float, shape: float | None) -> Any:
    distribution = _distribution(kind, target, sizes, shape)
    r = distribution.ppf(p)
    at = distribution.cdf(r)
    below = distribution.cdf(r - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(at > below, (at - p) / (at - below), 0.0)
        limit = np.maximum((r - alpha) / sizes, 0.0)  # no rate below 0 (r_p = 0 would give one)
    return np.minimum(limit, 1.0) if kind == "binomial" else limit


def _distribution(kind: str, target: float, sizes: np.ndarray, shape: float | None) -> Any:
    if kind == "binomial":
        return stats.binom(np.round(sizes).astype(np.int64), target)
    mean = target * sizes
    if kind == "poisson":
        return stats.poisson(mean)
    if kind == "negbinomial":
        if shape is None:
            raise ValueError("Negative binomial control limits need the shape alpha.")
        return stats.nbinom(shape, shape / (shape + mean))
    raise ValueError(f"Control limits are for {', '.join(_FAMILIES)} data; got {kind!r}.")


def institutional_funnel(
    source: Any, factor: str | None = None, *, ci_prob: float = CI_PROB
) -> Funnel:
    """The funnel plot's numbers for a binomial, Poisson or negative binomial fit.

    Raises
    ------
    ValueError
        For a Student-t fit (its groups have means, not rates).
    """
    result = as_result(source)
    family = family_of(result)
    if family.NAME not in _FAMILIES:
        raise ValueError(
            f"The funnel plot compares rates (binomial, poisson, negbinomial fits); this fit is of "
            f"the {family.NAME} family."
        )
    data = result.model_data
    outcome = outcome_of(result)
    table = rate_table(result, factor, ci_prob=ci_prob)
    position = [f.name for f in data.factors].index(table.index.name)
    words = family.WORDS
    observed_y, weight = table[words["y"]].to_numpy(), table[words["weight"]].to_numpy()
    shape = None
    if family.NAME == "negbinomial":
        shape = float(np.median(np.asarray(result.idata["posterior"][ALPHA].to_numpy())))
    adjusted = tuple(data.population) != (INTERCEPT,) or (
        family.NAME == "binomial" and bool(np.any(outcome.offset != 0))
    )
    interval = [c for c in table.columns if c.startswith("eti")]
    if adjusted:
        expected = group_rate_draws(result, position, with_effects=False).mean(axis=0) * weight
        size, observed, target = expected, observed_y / expected, 1.0
        scale = weight / expected
        posterior = table["mean"].to_numpy() * scale
        bounds = [table[c].to_numpy() * scale for c in interval]
        kind = "negbinomial" if family.NAME == "negbinomial" else "poisson"
        x_label, y_label = "expected count E (population model)", "observed / expected (O / E)"
    else:
        size, observed = weight, observed_y / weight
        target = float(observed_y.sum() / weight.sum())
        posterior = table["mean"].to_numpy()
        bounds = [table[c].to_numpy() for c in interval]
        kind = family.NAME
        x_label = f"{words['weight']} (group size)"
        y_label = f"{words['y']} / {words['weight']}"
    out = pd.DataFrame(
        {"size": size, "observed": observed, "posterior": posterior}, index=table.index
    )
    for column, values in zip(interval, bounds, strict=True):
        out[f"posterior_{column.split('_')[-1]}"] = values
    for prob, name in zip(FUNNEL_PROBS, ("outside_95", "outside_998"), strict=True):
        low, high = control_limits(kind, target, size, prob, shape=shape)
        out[name] = np.where(observed < low, -1, np.where(observed > high, 1, 0))
    return Funnel(out, target, kind, adjusted, shape, x_label, y_label)
