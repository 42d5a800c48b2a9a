"""The league table's ranks at any number of groups: rank intervals and P(best / top / bottom).

Every posterior draw ranks the groups (rank 1 = the largest effect when ``higher_is_better``);
per group the league reports its posterior mean rank, the equal-tailed interval of its ranks,
P(best) and the probabilities of the top and bottom quarter (``k = ceil(J / 4)``). Three ways to
the same numbers, chosen by size (:attr:`LeagueRanks.method` says which ran):

- ``exact`` (the fit holds its draws): every rank of every draw at once
  (:func:`hbm.analysis.groupwise.group_ranks`), as hbm always did;
- ``exact, in blocks`` (draws x groups up to ``DEFAULTS.league_exact_values``, 40 million):
  the draws are made a few at a time, ranked, and only the ranks kept (``int16`` / ``int32``:
  at most 160 MB); equal to the first bit for bit;
- ``sketch`` (more): two passes over the exact draws, made again a block at a time. The first
  keeps a sketch of every draw, the second ranks every group's draws against them
  (:mod:`hbm.analysis.league_sketch`): ranks in the top and bottom ``T = 1,000`` of a draw, P(best)
  and P(top / bottom quarter) are exact; ranks between are read from a histogram with an error
  at most :attr:`LeagueRanks.max_error` (about 0.01% of the groups; stated with the table). Past
  ``DEFAULTS.league_max_values`` (draws x groups, a billion) every ``k``-th draw is used
  (:attr:`LeagueRanks.draw_step`): a million groups rank 1,000 of 4,000 draws.

*Memory*: the sketch pass holds a block of draws (32 MB) and the sketches (per kept draw ``2 T``
float64 and ``2 B`` int32: 48 KB at ``T = 1,000``, ``B = 4,096``, so 195 MB for 4,000 draws);
the second pass a block of 1,024 groups' draws and their ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbm.analysis.draws import quarter_size, role_draws
from hbm.analysis.groupwise import group_quantiles, group_ranks
from hbm.analysis.league_sketch import Sketch, ranks_from_sketch, sketch_draws
from hbm.core.defaults import DEFAULTS
from hbm.results.fit_result import FitResult
from hbm.results.group_draws import GroupDraws
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["TAIL", "LeagueRanks", "league_ranks"]

#: Ranks kept exactly at each end of a draw by the sketch.
TAIL = 1000
#: The per-draw arrays of a :class:`~hbm.analysis.league_sketch.Sketch`.
_FIELDS = ("top", "bottom", "lo", "hi", "width", "above", "count", "top_k", "bottom_k")
#: Memory for the sketch's histograms (bins per draw follow from it: 4,096 to 65,536).
_HISTOGRAM_BYTES = 64 << 20


@dataclass(frozen=True, eq=False)
class LeagueRanks:
    """Per group (arrays of shape ``(J,)``): ``rank`` (posterior mean), ``rank_lb`` /
    ``rank_ub`` (equal-tailed interval), ``p_best``, ``p_top`` / ``p_bottom`` (rank within the
    top ``k`` / bottom ``k``); and how they were computed."""

    rank: np.ndarray
    rank_lb: np.ndarray
    rank_ub: np.ndarray
    p_best: np.ndarray
    p_top: np.ndarray
    p_bottom: np.ndarray
    k: int
    method: str
    n_draws: int
    draw_step: int = 1
    max_error: int = 0
    tail: int = 0

    def describe(self) -> str:
        """One sentence on how the ranks were computed (for tables and reports)."""
        used = f"{self.n_draws:,} posterior draws"
        if self.draw_step > 1:
            used += f" (one in {self.draw_step})"
        if self.method != "sketch":
            return f"Ranks within each of {used}, exact."
        return (
            f"Ranks within each of {used}, from a sketch of each draw: exact within the top and "
            f"bottom {self.tail:,} and for P(best) and P(top / bottom {self.k:,}); in between "
            f"read from a histogram, within {self.max_error:,} of the exact rank."
        )


def league_ranks(
    source: Any, *, ci_prob: float = CI_PROB, higher_is_better: bool = True
) -> LeagueRanks:
    """The league's per-group rank statistics (see the module docstring), computed once per fit.

    Examples
    --------
    >>> import hbm
    >>> f = hbm.fit(hbm.datasets.load("eight_schools"), group="school", value="effect",
    ...             se="stderr", random_seed=1, draws=200, tune=200, chains=2, progressbar=False)
    >>> ranks = league_ranks(f)
    >>> ranks.method, round(float(ranks.p_best.sum()), 6), ranks.k
    ('exact', 1.0, 2)
    """
    result = as_result(source)
    key = ("league", ci_prob, higher_is_better)
    return result.cache.get(key, lambda: _league(result, ci_prob, higher_is_better))


def _league(result: FitResult, ci_prob: float, higher_is_better: bool) -> LeagueRanks:
    draws = result.group_draws()
    tail = (1.0 - ci_prob) / 2.0
    probs = [tail, 1.0 - tail]
    if draws.held:
        ranks = group_ranks(role_draws(result, "group_effect"), descending=higher_is_better)
        return _from_ranks(ranks, probs, "exact")
    if draws.n_draws * draws.n_groups <= DEFAULTS.league_exact_values:
        return _from_ranks(_ranks_in_blocks(draws, higher_is_better), probs, "exact, in blocks")
    return _sketched(draws, probs, higher_is_better)


def _from_ranks(ranks: np.ndarray, probs: list[float], method: str) -> LeagueRanks:
    n_groups = ranks.shape[1]
    k = quarter_size(n_groups)
    low, high = group_quantiles(ranks, probs, method="inverted_cdf")
    return LeagueRanks(
        rank=ranks.mean(axis=0),
        rank_lb=low.astype(np.int64),
        rank_ub=high.astype(np.int64),
        p_best=(ranks == 1).mean(axis=0),
        p_top=(ranks <= k).mean(axis=0),
        p_bottom=(ranks > n_groups - k).mean(axis=0),
        k=k,
        method=method,
        n_draws=ranks.shape[0],
    )


def _ranks_in_blocks(draws: GroupDraws, higher_is_better: bool) -> np.ndarray:
    """Every draw's ranks, the draws made a few at a time (the same ranks as all at once)."""
    dtype = np.int16 if draws.n_groups <= np.iinfo(np.int16).max else np.int32
    ranks = np.empty((draws.n_draws, draws.n_groups), dtype=dtype)
    for start, stop, values in draws.sweep():
        ranks[start:stop] = group_ranks(values[:, :, 0], descending=higher_is_better)
    return ranks


def _sketched(draws: GroupDraws, probs: list[float], higher_is_better: bool) -> LeagueRanks:
    n_draws, n_groups = draws.n_draws, draws.n_groups
    step = max(1, math.ceil(n_draws * n_groups / DEFAULTS.league_max_values))
    kept = np.arange(0, n_draws, step)
    k = quarter_size(n_groups)
    tail = min(TAIL, max(1, n_groups // 10), k)
    bins = int(np.clip(_HISTOGRAM_BYTES // (16 * kept.size), 4096, 65536))
    sign = 1.0 if higher_is_better else -1.0
    # Pass 1: the draws in order, a few at a time; a sketch of each kept draw.
    # Each step's sketches are copied into arrays made once for every kept draw (joining a list
    # of parts at the end would hold the sketches twice).
    joined: dict[str, np.ndarray] = {}
    done = 0
    for start, stop, values in draws.sweep():
        rows = kept[(kept >= start) & (kept < stop)] - start
        if rows.size:
            piece = sketch_draws(sign * values[rows, :, 0], tail, bins, k)
            for name in _FIELDS:
                value = getattr(piece, name)
                if name not in joined:
                    joined[name] = np.empty((kept.size, *value.shape[1:]), dtype=value.dtype)
                joined[name][done : done + rows.size] = value
            done += rows.size
            del piece
    sketch = Sketch(**joined, n_groups=n_groups)
    # Pass 2: every kept draw of a block of groups at a time, ranked against the sketches.
    rank = np.empty(n_groups)
    low = np.empty(n_groups, dtype=np.int64)
    high = np.empty(n_groups, dtype=np.int64)
    p_best, p_top, p_bottom = np.empty(n_groups), np.empty(n_groups), np.empty(n_groups)
    order = np.arange(kept.size)
    for part, values in draws.blocks():
        scores = sign * values[kept, :, 0]
        ranks = ranks_from_sketch(scores, order, sketch)
        rank[part] = ranks.mean(axis=0)
        lb, ub = group_quantiles(np.rint(ranks), probs, method="inverted_cdf")
        low[part], high[part] = lb, ub
        p_best[part] = (scores >= sketch.top[:, -1:]).mean(axis=0)
        p_top[part] = (scores >= sketch.top_k[:, None]).mean(axis=0)
        p_bottom[part] = (scores <= sketch.bottom_k[:, None]).mean(axis=0)
    return LeagueRanks(
        rank=rank,
        rank_lb=low,
        rank_ub=high,
        p_best=p_best,
        p_top=p_top,
        p_bottom=p_bottom,
        k=k,
        method="sketch",
        n_draws=int(kept.size),
        draw_step=step,
        max_error=sketch.max_error,
        tail=tail,
    )
