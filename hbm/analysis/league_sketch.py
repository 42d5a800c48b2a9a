"""Ranks within draws from a sketch of each draw: exact in the tails, bounded in the middle.

A group's rank in draw ``s`` is one plus the number of groups above it in that draw. With a
million groups, sorting every draw and keeping every rank (draws x groups integers) is out of
reach, so a first pass over the draws keeps, per draw, a *sketch* of its values
(:func:`sketch_draws`), and a second pass over blocks of groups reads each group's rank off the
sketches (:func:`ranks_from_sketch`):

- the ``T`` largest and the ``T`` smallest values, sorted: a rank within the top or the bottom
  ``T`` is **exact** (a binary search), and so are P(best) and P(worst);
- the values at the ranks that bound the top and the bottom ``k`` (``k = ceil(J / 4)``): whether
  a group is in the top or bottom ``k`` is an **exact** comparison;
- between the tails, a histogram of ``B`` equal bins: a rank there is the count of the bins above
  plus a share of its own bin's count, linear in the value's place within the bin. Its error is
  less than the bin's count; ``max_error`` is the largest count of any bin of any draw, a bound
  on every such rank's error, and so on the error of the mean rank and of every quantile of a
  group's ranks (a quantile moves by at most the largest move of its values).

``tests/test_league.py`` checks the tails and thresholds against exact ranks, and the middle
against the bound. The sketch of one draw is ``2 T + 4`` float64 and ``2 B + 1`` int32 numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["Sketch", "ranks_from_sketch", "sketch_draws"]


@dataclass(frozen=True)
class Sketch:
    """Per kept draw ``s`` (rows): ``top`` / ``bottom`` (``(S, T)``, ascending), ``lo`` /
    ``hi`` (the ``T``-th smallest and largest values, the histogram's range), ``width`` (its bin
    width), ``above`` (``(S, B + 1)``: values in the bins above each bin, and in the top tail),
    ``count`` (``(S, B)``), ``top_k`` / ``bottom_k`` (the ``k``-th largest and smallest)."""

    top: np.ndarray
    bottom: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    width: np.ndarray
    above: np.ndarray
    count: np.ndarray
    top_k: np.ndarray
    bottom_k: np.ndarray
    n_groups: int

    @property
    def max_error(self) -> int:
        """A bound on the error of any rank read from the histogram (0 when none is)."""
        return max(int(self.count.max(initial=1)) - 1, 0)


def sketch_draws(scores: np.ndarray, tail: int, bins: int, k: int) -> Sketch:
    """The sketch of each row of ``scores`` (``(D, J)``: a higher score ranks first).

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(2, 10_000))
    >>> sketch = sketch_draws(x, tail=50, bins=256, k=2500)
    >>> bool(np.all(sketch.top[:, -1] == x.max(axis=1))), sketch.count.sum(axis=1).tolist()
    (True, [9900, 9900])
    """
    n_rows, n_groups = scores.shape
    top = np.empty((n_rows, tail))
    bottom = np.empty((n_rows, tail))
    lo, hi, width = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    top_k, bottom_k = np.empty(n_rows), np.empty(n_rows)
    above = np.empty((n_rows, bins + 1), dtype=np.int32)
    count = np.empty((n_rows, bins), dtype=np.int32)
    kth = sorted({tail - 1, k - 1, n_groups - k, n_groups - tail})
    for row in range(n_rows):
        part = np.partition(scores[row], kth)
        bottom[row] = np.sort(part[:tail])
        top[row] = np.sort(part[n_groups - tail :])
        lo[row], hi[row] = part[tail - 1], part[n_groups - tail]
        top_k[row], bottom_k[row] = part[n_groups - k], part[k - 1]
        width[row] = (hi[row] - lo[row]) / bins
        middle = part[tail : n_groups - tail]
        with np.errstate(divide="ignore", invalid="ignore"):
            where = (middle - lo[row]) / width[row]
        where = np.nan_to_num(where, nan=0.0)
        index = np.clip(where.astype(np.int64), 0, bins - 1)
        count[row] = np.bincount(index, minlength=bins)
        # values above bin b: the top tail plus every bin after b
        above[row, :bins] = tail + np.cumsum(count[row, ::-1])[::-1] - count[row]
        above[row, bins] = tail
    return Sketch(top, bottom, lo, hi, width, above, count, top_k, bottom_k, n_groups)


def ranks_from_sketch(scores: np.ndarray, rows: np.ndarray, sketch: Sketch) -> np.ndarray:
    """The ranks (1 = highest score) of ``scores`` (``(D, G)``), row ``i`` within kept draw
    ``rows[i]`` of ``sketch``: exact in the tails, interpolated within a bin in the middle
    (see the module docstring); shape ``(D, G)``, float."""
    out = np.empty(scores.shape)
    _ranks(
        np.ascontiguousarray(scores, dtype=np.float64),
        np.asarray(rows, dtype=np.int64),
        sketch.top,
        sketch.bottom,
        sketch.lo,
        sketch.hi,
        sketch.width,
        sketch.above,
        sketch.count,
        sketch.n_groups,
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _ranks(scores, rows, top, bottom, lo, hi, width, above, count, n_groups, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    tail = top.shape[1]
    bins = count.shape[1]
    for i in range(scores.shape[0]):
        s = rows[i]
        for j in range(scores.shape[1]):
            v = scores[i, j]
            if v >= hi[s]:
                out[i, j] = 1.0 + tail - np.searchsorted(top[s], v, side="right")
            elif v <= lo[s]:
                out[i, j] = 1.0 + n_groups - np.searchsorted(bottom[s], v, side="right")
            else:
                place = (v - lo[s]) / width[s]
                b = min(max(int(place), 0), bins - 1)
                share = min(max(b + 1.0 - place, 0.0), 1.0)
                out[i, j] = 1.0 + above[s, b] + (count[s, b] - 1) * share
