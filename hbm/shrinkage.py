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

Every function takes a :class:`hbm.fitting.Fit` or a fit's DataTree (as :func:`hbm.fit` makes it and
:func:`hbm.load` reads it back: with the ``group_data`` group and the ``hbm_spec`` attribute).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from hbm.data import GroupedData
from hbm.groupwise import DRAW_BLOCK, group_quantiles, group_ranks, group_sd
from hbm.summary import CI_PROB

if TYPE_CHECKING:
    import xarray as xr

    from hbm.fitting import Fit

__all__ = [
    "FitParts",
    "cached",
    "fit_parts",
    "icc",
    "icc_draws",
    "pooling_comparison",
    "quarter_size",
    "shrinkage_table",
    "theta_interval",
]


class FitParts(NamedTuple):
    """What the shrinkage, plot and report functions need from a fit."""

    data: GroupedData
    idata: xr.DataTree
    random_seed: int


def fit_parts(source: Fit | xr.DataTree) -> FitParts:
    """The reduced data, the DataTree and the seed of a ``Fit`` or of a fit's DataTree.

    Raises
    ------
    TypeError
        If ``source`` is neither a ``Fit`` nor an ``xarray.DataTree``.
    ValueError
        If a DataTree lacks the ``posterior`` or ``group_data`` group or the ``hbm_spec``
        attribute that :func:`hbm.fit` writes.
    """
    import xarray as xr

    # A Fit is recognised by its fields rather than by importing hbm.fit here: importing that
    # submodule first would make ``hbm.fit`` the module instead of the function.
    if isinstance(getattr(source, "data", None), GroupedData) and hasattr(source, "idata"):
        spec = getattr(source, "spec", None)
        seed = getattr(spec, "random_seed", None)
        return FitParts(source.data, source.idata, int(seed or 0))  # type: ignore[union-attr]
    if not isinstance(source, xr.DataTree):
        raise TypeError(
            f"Expected an hbm Fit or a fit's xarray.DataTree; got {type(source).__name__}."
        )
    missing = [g for g in ("posterior", "group_data") if g not in source.children]
    if missing or "hbm_spec" not in source.attrs:
        lacks = [f"the {g!r} group" for g in missing] + (
            [] if "hbm_spec" in source.attrs else ["the 'hbm_spec' attribute"]
        )
        raise ValueError(
            f"The DataTree lacks {' and '.join(lacks)}; expected a fit made by hbm.fit "
            "or read by hbm.load."
        )
    spec = json.loads(source.attrs["hbm_spec"])
    groups = source["group_data"].to_dataset()
    dim = spec["group"]
    data = GroupedData(
        group=dim,
        value=spec["value"],
        se=spec.get("se"),
        labels=tuple(str(v) for v in groups[dim].values),
        order=spec.get("order", "first-seen"),
        n=groups["n"].values.astype(np.int64),
        mean=groups["mean"].values.astype(float),
        ss=groups["ss"].values.astype(float),
        stderr=groups["se"].values.astype(float) if "se" in groups else None,
    )
    return FitParts(data, source, int(spec.get("random_seed") or 0))


def draws(idata: xr.DataTree, name: str, data: GroupedData | None = None) -> np.ndarray:
    """Posterior draws of ``name`` pooled over chains: shape ``(S,)``, or ``(S, J)`` for theta."""
    array = idata["posterior"][name]
    if data is None or name != "theta":
        return np.asarray(array.values, dtype=float).reshape(-1)
    array = array.transpose("chain", "draw", data.group)
    labels = tuple(str(v) for v in array[data.group].values)
    if labels != data.labels:
        raise ValueError(
            f"theta's {data.group!r} coordinates do not match the data's group labels."
        )
    return np.asarray(array.values, dtype=float).reshape(-1, data.n_groups)


def sampling_variance(data: GroupedData, sigma: np.ndarray | None) -> np.ndarray:
    """``s_j^2`` per draw and group: ``sigma^2 / n_j`` (rows) or ``se_j^2`` (summaries)."""
    if data.kind == "summaries":
        return np.broadcast_to(data.known_se**2, (1, data.n_groups))
    if sigma is None:
        raise ValueError("The rows form needs draws of sigma.")
    return sigma[:, None] ** 2 / data.n[None, :]


def quarter_size(n_groups: int) -> int:
    """``k = ceil(J / 4)``: how many ranks make the top (or bottom) quarter of ``J`` groups."""
    return max(1, math.ceil(n_groups / 4))


def cached[T](source: Fit | xr.DataTree, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """``compute()``, kept on a ``Fit`` (its private cache) so it runs once per fit and key."""
    cache = getattr(source, "_cache", None)
    if not isinstance(cache, dict):
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def shrinkage_table(
    source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB, higher_is_better: bool = True
) -> pd.DataFrame:
    """One row per group: raw and posterior means, pooling factor, rank and league probabilities.

    Parameters
    ----------
    source : Fit or xarray.DataTree
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
    table = cached(
        source,
        ("shrinkage", ci_prob, higher_is_better),
        lambda: _shrinkage_table(source, ci_prob, higher_is_better),
    )
    return table.copy()


def _shrinkage_table(
    source: Fit | xr.DataTree, ci_prob: float, higher_is_better: bool
) -> pd.DataFrame:
    _check_prob(ci_prob)
    data, idata, _ = fit_parts(source)
    theta = draws(idata, "theta", data)
    sigma = draws(idata, "sigma") if data.kind == "rows" else None
    tau = draws(idata, "tau")
    n_groups = data.n_groups
    ranks = group_ranks(theta, descending=higher_is_better)
    k = quarter_size(n_groups)
    tail = (1.0 - ci_prob) / 2.0
    lb, ub = theta_interval(source, ci_prob)
    rank_lb, rank_ub = group_quantiles(ranks, [tail, 1.0 - tail], method="inverted_cdf")
    mean = theta.mean(axis=0)
    tag = _tag(ci_prob)
    columns: dict[str, np.ndarray] = (
        {"n": data.n} if data.kind == "rows" else {"se": np.asarray(data.stderr)}
    )
    columns.update(
        {
            "raw_mean": data.mean,
            "mean": mean,
            "sd": group_sd(theta, mean),
            f"{tag}_lb": lb,
            f"{tag}_ub": ub,
            "shift": mean - data.mean,
            "pooling": _mean_pooling(data, sigma, tau),
            "rank": ranks.mean(axis=0),
            "rank_lb": rank_lb.astype(np.int64),
            "rank_ub": rank_ub.astype(np.int64),
            "p_best": (ranks == 1).mean(axis=0),
            "p_top_quarter": (ranks <= k).mean(axis=0),
            "p_bottom_quarter": (ranks > n_groups - k).mean(axis=0),
        }
    )
    return pd.DataFrame(columns, index=pd.Index(data.labels, name=data.group))


def icc_draws(source: Fit | xr.DataTree) -> xr.DataArray:
    """Posterior draws of the intraclass correlation ``tau^2 / (tau^2 + sigma^2)``, dims
    ``(chain, draw)`` (rows form only; see :func:`icc`)."""
    data, idata, _ = fit_parts(source)
    if data.kind == "summaries":
        raise ValueError(
            "The intraclass correlation tau² / (tau² + sigma²) needs the within-group sd sigma, "
            f"which the summaries form (se={data.se!r}) does not estimate: each group brings a "
            "known standard error instead. It is defined for the rows form only."
        )
    posterior = idata["posterior"]
    tau2 = posterior["tau"] ** 2
    return (tau2 / (tau2 + posterior["sigma"] ** 2)).rename("icc")


def icc(source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB) -> pd.Series:
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
    _check_prob(ci_prob)
    values = np.asarray(icc_draws(source).values, dtype=float).reshape(-1)
    tail = (1.0 - ci_prob) / 2.0
    lb, ub = np.quantile(values, [tail, 1.0 - tail])
    tag = _tag(ci_prob)
    return pd.Series(
        {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            f"{tag}_lb": float(lb),
            f"{tag}_ub": float(ub),
        },
        name="icc",
    )


def pooling_comparison(source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB) -> pd.DataFrame:
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
    table = cached(source, ("pooling", ci_prob), lambda: _pooling_comparison(source, ci_prob))
    return table.copy()


def _pooling_comparison(source: Fit | xr.DataTree, ci_prob: float) -> pd.DataFrame:
    _check_prob(ci_prob)
    data, idata, _ = fit_parts(source)
    z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
    if data.kind == "summaries":
        no_se = data.known_se
        weights = 1.0 / data.known_se**2
        complete = float(np.sum(weights * data.mean) / weights.sum())
        complete_se = float(1.0 / np.sqrt(weights.sum()))
    else:
        pooled_sd = math.sqrt(data.ss_within / (data.n_rows - data.n_groups))
        no_se = pooled_sd / np.sqrt(data.n)
        complete = data.center
        total_ss = data.ss_within + float(np.sum(data.n * (data.mean - complete) ** 2))
        complete_se = math.sqrt(total_ss / (data.n_rows - 1)) / math.sqrt(data.n_rows)
    theta = draws(idata, "theta", data)
    lb, ub = theta_interval(source, ci_prob)
    ones = np.ones(data.n_groups)
    return pd.DataFrame(
        {
            "no_mean": data.mean,
            "no_lb": data.mean - z * no_se,
            "no_ub": data.mean + z * no_se,
            "complete_mean": complete * ones,
            "complete_lb": (complete - z * complete_se) * ones,
            "complete_ub": (complete + z * complete_se) * ones,
            "partial_mean": theta.mean(axis=0),
            "partial_lb": lb,
            "partial_ub": ub,
        },
        index=pd.Index(data.labels, name=data.group),
    )


def theta_interval(source: Fit | xr.DataTree, ci_prob: float = CI_PROB) -> np.ndarray:
    """The equal-tailed ``ci_prob`` interval of each ``theta_j``, shape ``(2, J)`` (kept on a
    ``Fit``: the league table, the pooling comparison and their plots share it)."""
    _check_prob(ci_prob)

    def compute() -> np.ndarray:
        data, idata, _ = fit_parts(source)
        tail = (1.0 - ci_prob) / 2.0
        return group_quantiles(draws(idata, "theta", data), [tail, 1.0 - tail])

    return cached(source, ("theta_interval", ci_prob), compute).copy()


def _mean_pooling(data: GroupedData, sigma: np.ndarray | None, tau: np.ndarray) -> np.ndarray:
    """Posterior mean of ``lambda_j = s_j^2 / (s_j^2 + tau^2)``, a block of draws at a time.

    Written ``1 / (1 + a * b_j)`` with ``a = tau^2 / sigma^2`` and ``b_j = n_j`` (rows form), or
    ``a = tau^2`` and ``b_j = 1 / se_j^2`` (summaries form): one product per draw and group.
    """
    if data.kind == "summaries":
        a, b = tau**2, 1.0 / data.known_se**2
    else:
        if sigma is None:
            raise ValueError("The rows form needs draws of sigma.")
        a, b = (tau / sigma) ** 2, data.n.astype(float)
    total = np.zeros(data.n_groups)
    for start in range(0, a.size, DRAW_BLOCK):
        block = np.multiply.outer(a[start : start + DRAW_BLOCK], b)
        block += 1.0
        np.reciprocal(block, out=block)
        total += block.sum(axis=0)
    return total / a.size


def _tag(ci_prob: float) -> str:
    """``eti94`` for 0.94 (the column prefix :func:`hbm.summary.posterior_summary` uses)."""
    return f"eti{round(ci_prob * 100):d}"


def _check_prob(ci_prob: float) -> None:
    if isinstance(ci_prob, bool) or not isinstance(ci_prob, float | int) or not 0 < ci_prob < 1:
        raise ValueError(
            f"The 'ci_prob' option must be a number between 0 and 1 (exclusive); got {ci_prob!r}."
        )
