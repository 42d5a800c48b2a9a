"""Partial pooling in numbers: the shrinkage (league) table, the ICC and the pooling comparison.

For group ``j`` with sampling variance ``s_j^2`` (``sigma^2 / n_j`` in the rows form, the known
``se_j^2`` in the summaries form) the pooling factor is

    lambda_j = s_j^2 / (s_j^2 + tau^2)

the weight of the population mean ``mu`` in ``E[theta_j | mu, tau, sigma, y] = lambda_j mu +
(1 - lambda_j) ybar_j``: 0 means the group's own mean is kept (no pooling), 1 means it is replaced
by ``mu`` (complete pooling). :func:`shrinkage_table` reports its posterior mean per group.

Ranks are taken within every posterior draw (rank 1 = the largest ``theta`` when
``higher_is_better``), so their intervals carry the uncertainty that a league table of raw means
hides. "Top quarter" means a rank of at most ``k = ceil(J / 4)`` (``J`` groups), "bottom quarter"
a rank above ``J - k``.

Every function takes a fit (a :class:`hbm.results.fit_result.FitResult`, or the ``Fit`` that
:func:`hbm.fit` returns) or a fit's DataTree (as :func:`hbm.load` reads it back: with the
``group_data`` group and the ``hbm_spec`` attribute). The group effects, the group sd and the
residual sd are found by their roles in the fit's parameter table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hbm.analysis.draws import (
    check_prob,
    effect_interval,
    effect_means,
    maybe_role_draws,
    role_draws,
    tag,
)
from hbm.analysis.groupwise import DRAW_BLOCK
from hbm.analysis.league import league_ranks
from hbm.data.grouped import GroupedData
from hbm.model.families.normal import sampling_variance
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["icc", "icc_draws", "pooling_comparison", "shrinkage_table"]


def shrinkage_table(
    source: Any, *, ci_prob: float = CI_PROB, higher_is_better: bool = True
) -> pd.DataFrame:
    """One row per group: raw and posterior means, pooling factor, rank and league probabilities.

    Parameters
    ----------
    source : FitResult, Fit or xarray.DataTree
    ci_prob : float
        Probability of the equal-tailed intervals (0.94 gives columns ``eti94_lb``, ``eti94_ub``).
    higher_is_better : bool
        Rank 1 goes to the largest ``theta`` (default) or to the smallest.

    Returns
    -------
    pandas.DataFrame
        Indexed by group label (index name = the group column), in the data's group order, with
        columns ``n`` (rows form) or ``se`` (summaries form), ``raw_mean`` (the group mean, or the
        group's estimate), ``mean``, ``sd``, ``eti<p>_lb``, ``eti<p>_ub`` (theta), ``shift``
        (posterior minus raw mean), ``pooling`` (posterior mean of ``lambda_j``), ``rank``
        (posterior mean rank), ``rank_lb``, ``rank_ub`` (equal-tailed rank interval),
        ``p_best``, ``p_top_quarter`` and ``p_bottom_quarter``.

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> f = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...             draws=200, tune=200, chains=2, progressbar=False)
    >>> table = shrinkage_table(f)
    >>> round(float(table["p_best"].sum()), 6), round(float(table["p_top_quarter"].sum()), 6)
    (1.0, 2.0)
    """
    result = as_result(source)
    table = result.cache.get(
        ("shrinkage", ci_prob, higher_is_better),
        lambda: _shrinkage_table(result, ci_prob, higher_is_better),
    )
    return table.copy(deep=False)  # copy-on-write (pandas >= 3): edits never reach the cache


def _shrinkage_table(result: Any, ci_prob: float, higher_is_better: bool) -> pd.DataFrame:
    check_prob(ci_prob)
    data = result.grouped
    sigma = maybe_role_draws(result, "residual_scale")
    tau = role_draws(result, "group_sd")
    league = league_ranks(result, ci_prob=ci_prob, higher_is_better=higher_is_better)
    lb, ub = effect_interval(result, ci_prob)
    mean, sd = effect_means(result)
    prefix = tag(ci_prob)
    columns: dict[str, np.ndarray] = (
        {"n": data.n} if data.kind == "rows" else {"se": np.asarray(data.stderr)}
    )
    columns.update(
        {
            "raw_mean": data.mean,
            "mean": mean,
            "sd": sd,
            f"{prefix}_lb": lb,
            f"{prefix}_ub": ub,
            "shift": mean - data.mean,
            "pooling": _mean_pooling(data, sigma, tau),
            "rank": league.rank,
            "rank_lb": league.rank_lb,
            "rank_ub": league.rank_ub,
            "p_best": league.p_best,
            "p_top_quarter": league.p_top,
            "p_bottom_quarter": league.p_bottom,
        }
    )
    table = pd.DataFrame(columns, index=pd.Index(data.labels, name=data.group))
    table.attrs["ranks"] = league.describe()
    return table


def icc_draws(source: Any) -> Any:
    """Posterior draws of the intraclass correlation ``tau^2 / (tau^2 + sigma^2)``, an
    ``xarray.DataArray`` with dims ``(chain, draw)`` (rows form only; see :func:`icc`)."""
    result = as_result(source)
    data = result.grouped
    residual = result.parameters.maybe("residual_scale")
    if residual is None:
        raise ValueError(
            "The intraclass correlation tau² / (tau² + sigma²) needs the within-group sd sigma, "
            f"which the summaries form (se={data.se!r}) does not estimate: each group brings a "
            "known standard error instead. It is defined for the rows form only."
        )
    posterior = result.idata["posterior"]
    tau2 = posterior[result.parameters.one("group_sd").name] ** 2
    return (tau2 / (tau2 + posterior[residual.name] ** 2)).rename("icc")


def icc(source: Any, *, ci_prob: float = CI_PROB) -> pd.Series:
    """The intraclass correlation ``tau^2 / (tau^2 + sigma^2)``: its posterior mean, sd, interval.

    The share of the variance of one row that lies between groups (rows form only).

    Returns
    -------
    pandas.Series
        ``mean``, ``sd``, ``eti<p>_lb``, ``eti<p>_ub``, named ``"icc"``.

    Raises
    ------
    ValueError
        For the summaries form, which has no within-group sd ``sigma``.
    """
    check_prob(ci_prob)
    values = np.asarray(icc_draws(source).values, dtype=float).reshape(-1)
    tail = (1.0 - ci_prob) / 2.0
    lb, ub = np.quantile(values, [tail, 1.0 - tail])
    prefix = tag(ci_prob)
    return pd.Series(
        {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            f"{prefix}_lb": float(lb),
            f"{prefix}_ub": float(ub),
        },
        name="icc",
    )


def pooling_comparison(source: Any, *, ci_prob: float = CI_PROB) -> pd.DataFrame:
    """Estimates per group under complete, no and partial pooling, with ``ci_prob`` intervals.

    - **no pooling**: each group on its own: the raw mean ``ybar_j`` +- ``z s / sqrt(n_j)``, with
      ``s`` the pooled within-group sd ``sqrt(sum SS_j / (N - J))`` (defined also for groups of
      one), or the estimate +- ``z se_j`` (summaries form);
    - **complete pooling**: one mean for all: the grand mean of the rows +- ``z sd / sqrt(N)``,
      or the precision-weighted mean of the estimates +- ``z / sqrt(sum 1 / se_j^2)``;
    - **partial pooling**: the posterior mean of ``theta_j`` and its equal-tailed interval.

    ``z`` is the standard normal quantile of ``(1 + ci_prob) / 2``; the first two are the
    classical estimates a reader would otherwise compute.

    Returns
    -------
    pandas.DataFrame
        Indexed by group label; columns ``no_mean``, ``no_lb``, ``no_ub``, ``complete_mean``,
        ``complete_lb``, ``complete_ub``, ``partial_mean``, ``partial_lb``, ``partial_ub``.
    """
    result = as_result(source)
    table = result.cache.get(("pooling", ci_prob), lambda: _pooling_comparison(result, ci_prob))
    return table.copy(deep=False)  # copy-on-write (pandas >= 3): edits never reach the cache


def _pooling_comparison(result: Any, ci_prob: float) -> pd.DataFrame:
    check_prob(ci_prob)
    data = result.grouped
    z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
    if data.kind == "summaries":
        no_se = np.sqrt(sampling_variance(data, None))
        weights = 1.0 / data.known_se**2
        complete = float(np.sum(weights * data.mean) / weights.sum())
        complete_se = float(1.0 / np.sqrt(weights.sum()))
    else:
        pooled_sd = math.sqrt(data.ss_within / (data.n_rows - data.n_groups))
        no_se = np.sqrt(sampling_variance(data, pooled_sd))
        complete = data.center
        total_ss = data.ss_within + float(np.sum(data.n * (data.mean - complete) ** 2))
        complete_se = math.sqrt(total_ss / (data.n_rows - 1)) / math.sqrt(data.n_rows)
    partial_mean, _ = effect_means(result)
    lb, ub = effect_interval(result, ci_prob)
    ones = np.ones(data.n_groups)
    return pd.DataFrame(
        {
            "no_mean": data.mean,
            "no_lb": data.mean - z * no_se,
            "no_ub": data.mean + z * no_se,
            "complete_mean": complete * ones,
            "complete_lb": (complete - z * complete_se) * ones,
            "complete_ub": (complete + z * complete_se) * ones,
            "partial_mean": partial_mean,
            "partial_lb": lb,
            "partial_ub": ub,
        },
        index=pd.Index(data.labels, name=data.group),
    )


def _mean_pooling(data: GroupedData, sigma: np.ndarray | None, tau: np.ndarray) -> np.ndarray:
    """Posterior mean of ``lambda_j = s_j^2 / (s_j^2 + tau^2)``, a block of draws at a time.

    Written ``1 / (1 + a * b_j)`` with ``a = tau^2 / sigma^2`` and ``b_j = n_j`` (rows form), or
    ``a = tau^2`` and ``b_j = 1 / se_j^2`` (summaries form): one product per draw and group.
    ``lambda_j`` depends on the group only through ``b_j``, so it is computed once per distinct
    ``b_j`` (a million groups of 1 to 5 rows: five columns).
    """
    if data.kind == "summaries":
        a, b = tau**2, 1.0 / data.known_se**2
    else:
        if sigma is None:
            raise ValueError("The rows form needs draws of sigma.")
        a, b = (tau / sigma) ** 2, data.n.astype(float)
    b, inverse = np.unique(b, return_inverse=True)
    total = np.zeros(b.size)
    for start in range(0, a.size, DRAW_BLOCK):
        block = np.multiply.outer(a[start : start + DRAW_BLOCK], b)
        block += 1.0
        np.reciprocal(block, out=block)
        total += block.sum(axis=0)
    return (total / a.size)[inverse]
