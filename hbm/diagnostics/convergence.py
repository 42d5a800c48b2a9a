"""Posterior statistics and convergence diagnostics for many parameters at once.

The same numbers as ArviZ's ``summary`` (``kind="all"``, equal-tailed interval): mean, sd, the
interval, rank-normalized split R-hat (Vehtari et al. 2021), bulk and tail ESS, and the Monte
Carlo standard errors of the mean and the sd. ArviZ computes them one parameter at a time
(``scipy.stats.rankdata``, ``norm.ppf``, an FFT and a Python loop per parameter), which took
minutes for 10,000 groups. Here every step works on a block of parameters at once:

- ranks: one ``argsort`` per block. Without ties every row has the ranks ``1..N``, so the normal
  scores ``ndtri((r - 3/8) / (N + 1/4))`` are computed once and put in place; the few tied
  values (the folded draws tie at the median; a fixed parameter ties everywhere) get average
  ranks, as in ``scipy.stats.rankdata``. The folded draws' order is found from the sorted draws.
- ESS: Geyer's initial positive and monotone sequences need the autocovariances only up to the
  lag where the sequence stops, which for draws that mix well is a handful of lags. They are
  computed directly for 8 lags, then 64 for the rows that need more, and by FFT (as ArviZ does)
  for the rest; the sequences themselves are found with array operations.
- blocks run on as many threads as there are CPUs (NumPy releases the GIL; blocks are
  independent, so the numbers do not depend on the threads).

Rows with NaNs, and chains of fewer than 4 draws, are computed by ArviZ itself, so those edge
cases behave exactly as there. ``tests/test_convergence.py`` checks agreement with ArviZ.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["STATISTICS", "convergence_statistics", "summary_frame"]

#: The statistics computed, in column order (``eti_lb``/``eti_ub`` are renamed in tables).
STATISTICS = (
    "mean",
    "sd",
    "eti_lb",
    "eti_ub",
    "ess_bulk",
    "ess_tail",
    "r_hat",
    "mcse_mean",
    "mcse_sd",
)
#: Parameters per block: 64 x 4000 draws is 2 MB per array, about a core's L2 cache.
BLOCK = 64
#: Autocovariance lags computed directly before falling back to more lags, then to an FFT.
_LAG_STEPS = (8, 32)


def convergence_statistics(
    draws: np.ndarray,
    *,
    ci_prob: float = 0.94,
    tail_prob: float | None = None,
    only: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of every parameter of ``draws``, shaped ``(parameter, chain, draw)``.

    Parameters
    ----------
    draws : ndarray
        Shape ``(P, C, D)``: ``P`` parameters, ``C`` chains of ``D`` draws.
    ci_prob : float
        Probability of the equal-tailed interval.
    tail_prob : float, optional
        Tail ESS is the smaller ESS of the indicators ``x <= q(p)`` for ``p`` = ``tail_prob``
        and ``1 - tail_prob``; by default ArviZ's ``rcParams["stats.ci_prob"]`` (0.89), as in
        ``arviz.ess(method="tail")``.
    only : tuple of str, optional
        Compute only these of :data:`STATISTICS` (all by default).

    Returns
    -------
    dict of str to ndarray
        One array of length ``P`` per statistic.

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).normal(size=(3, 4, 500))
    >>> stats = convergence_statistics(draws, only=("r_hat", "ess_bulk"))
    >>> bool(np.all(stats["r_hat"] < 1.01)), stats["ess_bulk"].shape
    (True, (3,))
    """
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 3:
        raise ValueError(f"draws must have shape (parameter, chain, draw); got {draws.shape}.")
    wanted = STATISTICS if only is None else tuple(only)
    unknown = sorted(set(wanted) - set(STATISTICS))
    if unknown:
        raise ValueError(f"Unknown statistics {unknown}; choose from {list(STATISTICS)}.")
    if tail_prob is None:
        from arviz_base import rcParams

        tail_prob = float(rcParams["stats.ci_prob"])
    n_params = draws.shape[0]
    out = {name: np.full(n_params, np.nan) for name in wanted}

    def run(start: int) -> None:
        block = np.ascontiguousarray(draws[start : start + BLOCK])
        with np.errstate(divide="ignore", invalid="ignore"):
            values = _block_statistics(block, ci_prob, tail_prob, wanted)
        for name in wanted:
            out[name][start : start + len(block)] = values[name]

    starts = range(0, n_params, BLOCK)
    workers = min(os.cpu_count() or 1, len(starts))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    return out


def summary_frame(
    posterior: xr.Dataset,
    names: list[str],
    *,
    ci_prob: float = 0.94,
    only: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """ArviZ-style summary table of ``names`` in ``posterior``.

    Rows are labelled as ArviZ labels them (``mu``, ``theta[a]``, ``x[a, b]``); columns are
    :data:`STATISTICS` (or ``only``), with the interval named ``eti94_lb`` / ``eti94_ub`` for
    ``ci_prob=0.94``.
    """
    import pandas as pd

    wanted = STATISTICS if only is None else tuple(only)
    labels: list[str] = []
    columns: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
    for name in names:
        array = posterior[name]
        rest = [dim for dim in array.dims if dim not in ("chain", "draw")]
        values = array.transpose(*rest, "chain", "draw").values
        n_chains, n_draws = values.shape[-2:]
        stats = convergence_statistics(
            values.reshape(-1, n_chains, n_draws), ci_prob=ci_prob, only=wanted
        )
        for key in wanted:
            columns[key].append(stats[key])
        if not rest:
            labels.append(str(name))
        elif len(rest) == 1:
            labels.extend(f"{name}[{label}]" for label in array[rest[0]].values)
        else:
            index = pd.MultiIndex.from_product([array[dim].values for dim in rest])
            labels.extend(f"{name}[{', '.join(str(part) for part in key)}]" for key in index)
    percent = int(ci_prob * 100)
    renamed = {"eti_lb": f"eti{percent}_lb", "eti_ub": f"eti{percent}_ub"}
    data = {
        renamed.get(key, key): np.concatenate(parts) if parts else np.array([])
        for key, parts in columns.items()
    }
    return pd.DataFrame(data, index=pd.Index(labels))


def _block_statistics(
    block: np.ndarray, ci_prob: float, tail_prob: float, wanted: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Statistics of one block ``(B, C, D)``; rows with NaNs are left to ArviZ."""
    n_rows, n_chains, n_draws = block.shape
    if n_draws < 4:
        return _arviz_rows(block, ci_prob, tail_prob, wanted)
    flat = block.reshape(n_rows, n_chains * n_draws)
    split = _split_chains(block)  # (B, 2C, D // 2)
    split_flat = split.reshape(n_rows, -1)
    order = np.argsort(split_flat, axis=1)
    split_sorted = np.take_along_axis(split_flat, order, axis=1)
    # Sorted draws of every row: the split draws when no middle draw was dropped (D even).
    full_sorted = split_sorted if n_draws % 2 == 0 else np.sort(flat, axis=1)
    tail_low, tail_high = sorted((tail_prob, 1 - tail_prob))
    probs = [(1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2, tail_low, tail_high]
    quantiles = np.quantile(full_sorted, probs, axis=1)

    out: dict[str, np.ndarray] = {}
    mean = flat.mean(axis=1)
    out["mean"] = mean
    out["sd"] = flat.std(axis=1, ddof=1)
    out["eti_lb"], out["eti_ub"] = quantiles[0], quantiles[1]
    if "ess_bulk" in wanted or "r_hat" in wanted:
        z_bulk = _z_scores(order, split_sorted).reshape(split.shape)
        out["ess_bulk"] = _ess(z_bulk)
        if "r_hat" in wanted and n_chains >= 2:
            rhat_bulk = _rhat(z_bulk)
            median = np.median(split_sorted, axis=1)
            folded = np.abs(split_sorted - median[:, None])  # in the order of split_sorted
            folded_order = np.argsort(folded, axis=1)
            folded_sorted = np.take_along_axis(folded, folded_order, axis=1)
            z_folded = _z_scores(np.take_along_axis(order, folded_order, axis=1), folded_sorted)
            rhat_tail = _rhat(z_folded.reshape(split.shape))
            # Python's max(bulk, tail), as ArviZ writes it
            out["r_hat"] = np.where(rhat_tail > rhat_bulk, rhat_tail, rhat_bulk)
        else:
            out["r_hat"] = np.full(n_rows, np.nan)  # ArviZ: R-hat needs two chains
    if "ess_tail" in wanted:
        ess_low = _ess(_split_chains((block <= quantiles[2][:, None, None]).astype(float)))
        ess_high = _ess(_split_chains((block <= quantiles[3][:, None, None]).astype(float)))
        out["ess_tail"] = np.where(ess_high < ess_low, ess_high, ess_low)
    if "mcse_mean" in wanted:
        out["mcse_mean"] = out["sd"] / np.sqrt(_ess(split))
    if "mcse_sd" in wanted:
        squared = (block - mean[:, None, None]) ** 2
        ess_sd = _ess(_split_chains(squared))
        evar = squared.reshape(n_rows, -1).mean(axis=1)
        fourth = (squared**2).reshape(n_rows, -1).mean(axis=1)
        out["mcse_sd"] = np.sqrt((fourth - evar**2) / ess_sd / evar / 4)
    out = {name: out[name] for name in wanted}
    rows = np.flatnonzero(np.isnan(flat).any(axis=1))
    if rows.size:
        fixed = _arviz_rows(block[rows], ci_prob, tail_prob, wanted)
        for name in wanted:
            out[name][rows] = fixed[name]
    return out


def _split_chains(block: np.ndarray) -> np.ndarray:
    """``(B, C, D) -> (B, 2C, D // 2)``: first and last halves of every chain (ArviZ's split).

    For even ``D`` a reshape (no copy); the half-chains then come in another order than
    ArviZ's, which changes no statistic (each is symmetric in the chains) beyond rounding.
    """
    n_rows, n_chains, n_draws = block.shape
    half = n_draws // 2
    if n_draws % 2 == 0:
        return block.reshape(n_rows, 2 * n_chains, half)
    return np.concatenate((block[:, :, :half], block[:, :, n_draws - half :]), axis=1)


def _normal_scores(ranks: np.ndarray, size: int) -> np.ndarray:
    """Blom's normal scores ``ndtri((r - 3/8) / (size + 1/4))``, written as ArviZ writes them."""
    from scipy.special import ndtri

    return ndtri((ranks - 3 / 8) / (size - 2 * (3 / 8) + 1))


def _z_scores(order: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Rank-normalized values of rows of ``(B, N)``, given each row's sort ``order`` and sorted
    values ``ordered``: average ranks for ties (``rankdata``), then Blom's normal scores."""
    n_rows, size = order.shape
    scores = _normal_scores(np.arange(1, size + 1, dtype=float), size)
    out = np.empty(order.shape)
    for row in range(n_rows):
        out[row, order[row]] = scores
    rows, cols = np.nonzero(ordered[:, 1:] == ordered[:, :-1])  # ordered[r, c] == [r, c + 1]
    if rows.size:
        # Runs of equal values: consecutive tied pairs in the same row belong to one run.
        starts = np.ones(rows.size, dtype=bool)
        starts[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1] + 1)
        ends = np.ones(rows.size, dtype=bool)
        ends[:-1] = starts[1:]
        first, last, run_rows = cols[starts], cols[ends] + 1, rows[starts]
        lengths = last - first + 1
        tied_scores = _normal_scores((first + last) / 2 + 1, size)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        tied_rows = np.repeat(run_rows, lengths)
        positions = np.repeat(first, lengths) + offsets
        out[tied_rows, order[tied_rows, positions]] = np.repeat(tied_scores, lengths)
    return out


def _rhat(chains: np.ndarray) -> np.ndarray:
    """Split R-hat of already split (and normalized) chains ``(B, M, N)``."""
    n_draws = chains.shape[2]
    chain_mean = chains.mean(axis=2)
    within = chains.var(axis=2, ddof=1).mean(axis=1)
    between = n_draws * chain_mean.var(axis=1, ddof=1)
    return np.sqrt((between / within + n_draws - 1) / n_draws)


def _autocovariance(centered: np.ndarray, lags: int | None) -> np.ndarray:
    """Autocovariances ``(B, M, lags)`` of centred chains ``(B, M, N)``, divided by ``N``;
    ``lags=None``: every lag, by FFT (ArviZ's ``autocov``)."""
    from scipy import fft

    n_draws = centered.shape[2]
    if lags is None:
        length = fft.next_fast_len(2 * n_draws)
        spectrum = fft.rfft(centered, n=length, axis=2)
        spectrum *= np.conjugate(spectrum)
        acov = fft.irfft(spectrum, n=length, axis=2)[:, :, :n_draws]
    else:
        acov = np.empty((*centered.shape[:2], lags))
        for lag in range(lags):
            acov[:, :, lag] = np.einsum(
                "bmi,bmi->bm", centered[:, :, : n_draws - lag], centered[:, :, lag:]
            )
    acov /= n_draws
    return acov


def _ess(chains: np.ndarray) -> np.ndarray:
    """ESS of ``(B, M, N)`` chains: ArviZ's ``_ess`` (Geyer's sequences) for every row."""
    n_rows, n_chains, n_draws = chains.shape
    chain_mean = chains.mean(axis=2)
    centered = chains - chain_mean[:, :, None]
    ess = np.full(n_rows, np.nan)
    lag0 = np.zeros((n_rows, n_chains))
    todo = np.arange(n_rows)
    for lags in (*_LAG_STEPS, None):
        if lags is not None and lags >= n_draws:
            continue
        everything = todo.size == n_rows
        acov = _autocovariance(centered if everything else centered[todo], lags)
        if everything:
            lag0 = acov[:, :, 0]
        values, resolved = _geyer_ess(acov, chain_mean[todo], n_chains, n_draws)
        ess[todo[resolved]] = values[resolved]
        todo = todo[~resolved]
        if not todo.size:
            break
    # ArviZ: a row whose range is below float resolution has ESS = its size. Only rows whose
    # chains hardly vary and whose chain means hardly differ can be such rows: check those.
    resolution = np.finfo(float).resolution
    near = (lag0.max(axis=1) < resolution**2) & (np.ptp(chain_mean, axis=1) < resolution)
    for row in np.flatnonzero(near):
        if np.ptp(chains[row]) < resolution:
            ess[row] = float(n_chains * n_draws)
    return ess


def _geyer_ess(
    acov: np.ndarray, chain_mean: np.ndarray, n_chains: int, n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """ESS from the first ``L = acov.shape[2]`` autocovariances, and whether ``L`` sufficed.

    ArviZ's loop: with ``rho`` the combined autocorrelations and pairs ``S_k = rho[2k] +
    rho[2k+1]``, it computes pair ``k = 1, 2, ...`` while ``2k - 1 < N - 3`` and ``S_{k-1} > 0``,
    stopping at ``K``. Pairs ``1 .. K-2`` are made monotone (a running minimum), element
    ``2K - 2`` is kept when pair ``K-1`` was kept (``S_{K-1} >= 0``) or when it is positive, and
    ``tau = -1 + 2 sum(S_0 .. S_{K-2}) + rho[2K-2]``.
    """
    size = n_chains * n_draws
    n_lags = acov.shape[2]
    mean_var = acov[:, :, 0].mean(axis=1) * n_draws / (n_draws - 1.0)
    var_plus = mean_var * (n_draws - 1.0) / n_draws
    if n_chains > 1:
        var_plus = var_plus + chain_mean.var(axis=1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0

    lag_limit = max(1, -(-(n_draws - 2) // 2))  # the smallest k with 2k - 1 >= N - 3
    n_pairs = n_lags // 2
    pairs = rho[:, 0 : 2 * n_pairs : 2] + rho[:, 1 : 2 * n_pairs : 2]
    checked = min(lag_limit, n_pairs)
    stops = ~(pairs[:, :checked] > 0)  # S_j <= 0 (or NaN) stops the loop at K = j + 1
    found = stops.any(axis=1)
    resolved = found | (lag_limit <= n_pairs)
    stop = np.where(found, stops.argmax(axis=1) + 1, min(lag_limit, max(n_pairs, 1)))

    monotone = np.minimum.accumulate(pairs[:, : max(checked - 1, 1)], axis=1)
    keep = np.arange(monotone.shape[1])[None, :] <= (stop - 2)[:, None]
    total = np.where(keep, monotone, 0.0).sum(axis=1)
    last = np.take_along_axis(rho, (2 * stop - 2)[:, None], axis=1)[:, 0]
    last_pair = np.take_along_axis(pairs, (stop - 1)[:, None], axis=1)[:, 0]
    last = np.where((last_pair >= 0) | (last > 0), last, 0.0)
    last = np.where(stop == 1, 1.0, last)
    tau_hat = np.maximum(-1.0 + 2.0 * total + last, 1 / np.log10(size))
    ess = size / tau_hat
    return np.where(np.isnan(rho[:, : 2 * stop.max()]).any(axis=1), np.nan, ess), resolved


def _arviz_rows(
    block: np.ndarray, ci_prob: float, tail_prob: float, wanted: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """The statistics of ``block`` ``(B, C, D)`` computed by ArviZ itself (the edge cases)."""
    import warnings

    from arviz_stats.base import array_stats

    probs = ((1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2)
    compute = {
        "mean": lambda values: np.mean(values),
        "sd": lambda values: np.std(values, ddof=1),
        "eti_lb": lambda values: np.quantile(values, probs[0]),
        "eti_ub": lambda values: np.quantile(values, probs[1]),
        "ess_bulk": lambda values: array_stats.ess(values, method="bulk"),
        "ess_tail": lambda values: array_stats.ess(values, method="tail", prob=tail_prob),
        "r_hat": lambda values: array_stats.rhat(values),
        "mcse_mean": lambda values: array_stats.mcse(values, method="mean"),
        "mcse_sd": lambda values: array_stats.mcse(values, method="sd"),
    }
    out = {name: np.full(len(block), np.nan) for name in wanted}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, values in enumerate(block):
            for name in wanted:
                out[name][i] = float(compute[name](values))
    return out
