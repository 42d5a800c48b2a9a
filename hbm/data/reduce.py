"""Per-group count, mean and centred sum of squares: exact, mergeable, stable.

The normal model needs, per group, the count ``n_j``, the mean ``ybar_j`` and the within-group sum
of squares about that mean, ``SS_j = sum_i (y_ij - ybar_j)^2``. They are computed a chunk of rows
at a time (two passes over the chunk: its group means, then the squares of the deviations from
them) and chunks are merged with the pairwise formulas of Chan, Golub and LeVeque (1979)::

    n     = n_a + n_b
    delta = mean_b - mean_a
    mean  = mean_a + delta * n_b / n
    SS    = SS_a + SS_b + delta^2 * n_a * n_b / n

Never ``sum(y^2) - (sum y)^2 / n``: with values near 1e9 and an sd of 1 that loses every digit.

A mean near 1e9 is stored to float64's resolution there (1.2e-7), which is too coarse for the
merge's ``delta`` when chunks' means differ by millionths: each chunk therefore also keeps
``low``, the part of its mean below that resolution (the mean of the rows' deviations from the
stored mean: the second pass of a corrected two-pass algorithm), and merges carry it along as a
double-float. With it the within-group sum of squares of values near 1e9 with sd 1 stays within
about 1e-10 relative of the exact value however the rows are chunked (``tests/test_reduce.py``
checks 1e-9 against exact rational arithmetic). Chunks are also the unit in which an engine that
streams a file, or a cluster that reduces partitions, hands statistics over: any two
:class:`GroupMoments` of the same groups merge into the moments of their union.

A table of at most :data:`CHUNK_ROWS` rows is one chunk, reduced exactly as a single two-pass
computation over all its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_ROWS", "GroupMoments", "group_moments"]

#: Rows reduced per chunk before merging.
CHUNK_ROWS = 1 << 16


@dataclass(frozen=True, eq=False)
class GroupMoments:
    """Count, mean and centred sum of squares of each of ``J`` groups.

    Attributes
    ----------
    n : ndarray of int64 (J,)
        Rows per group (0 for a group with no rows yet).
    mean : ndarray of float (J,)
        Group means (0 where ``n`` is 0).
    ss : ndarray of float (J,)
        Sums of squares about the group mean.
    low : ndarray of float (J,)
        The part of each mean below the resolution of ``mean`` (``mean + low`` is the mean to
        about twice float64's precision); zeros when not known.

    Examples
    --------
    >>> a = GroupMoments.of_rows(np.array([0, 0, 1]), np.array([1.0, 3.0, 5.0]), 2)
    >>> b = GroupMoments.of_rows(np.array([1, 1]), np.array([6.0, 7.0]), 2)
    >>> both = a.merge(b)
    >>> both.n.tolist(), both.mean.tolist(), both.ss.tolist()
    ([2, 3], [2.0, 6.0], [2.0, 2.0])
    """

    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    low: np.ndarray | None = None

    @classmethod
    def of_rows(cls, codes: np.ndarray, values: np.ndarray, n_groups: int) -> GroupMoments:
        """The moments of one chunk of rows: group code (0..J-1) and value per row."""
        n = np.bincount(codes, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(codes, weights=values, minlength=n_groups) / n
        mean[n == 0] = 0.0
        deviation = values - mean[codes]
        ss = np.bincount(codes, weights=deviation**2, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            low = np.bincount(codes, weights=deviation, minlength=n_groups) / n
        low[n == 0] = 0.0
        return cls(n=n.astype(np.int64), mean=mean, ss=ss, low=low)

    def merge(self, other: GroupMoments) -> GroupMoments:
        """The moments of the rows of both (Chan, Golub and LeVeque's pairwise update)."""
        n_a, n_b = self.n.astype(float), other.n.astype(float)
        n = self.n + other.n
        total = n.astype(float)
        low_a, low_b = self._low(), other._low()
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n > 0, n_b / total, 0.0)
            # Means of close values subtract exactly; their low parts keep the digits below.
            delta = (other.mean - self.mean) + (low_b - low_a)
            step = delta * share
            mean = self.mean + step
            low = ((self.mean - mean) + step) + low_a  # what rounding ``mean`` dropped
            ss = self.ss + other.ss + delta**2 * n_a * share
        # A group with no rows on one side is the other side's, exactly: through the update its
        # ``mean + low`` would be rounded into ``delta`` and the low part lost.
        only_b, only_a = self.n == 0, other.n == 0
        return GroupMoments(
            n=n,
            mean=np.where(only_b, other.mean, np.where(only_a, self.mean, mean)),
            ss=np.where(only_b, other.ss, np.where(only_a, self.ss, ss)),
            low=np.where(only_b, low_b, np.where(only_a, low_a, low)),
        )

    def _low(self) -> np.ndarray:
        return np.zeros_like(self.mean) if self.low is None else self.low


def group_moments(
    codes: np.ndarray, values: np.ndarray, n_groups: int, *, chunk_rows: int = CHUNK_ROWS
) -> GroupMoments:
    """Reduce rows to per-group moments, :data:`CHUNK_ROWS` rows at a time, merged exactly.

    Parameters
    ----------
    codes : ndarray of int
        Group code of every row, in ``0 .. n_groups - 1``.
    values : ndarray of float
        The value of every row.
    n_groups : int
    chunk_rows : int
        Rows per chunk.

    Examples
    --------
    >>> m = group_moments(np.array([0, 1, 0, 1]), np.array([1.0, 2.0, 3.0, 6.0]), 2, chunk_rows=3)
    >>> m.n.tolist(), m.mean.tolist(), m.ss.tolist()
    ([2, 2], [2.0, 4.0], [2.0, 8.0])
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
    moments = GroupMoments.of_rows(codes[:chunk_rows], values[:chunk_rows], n_groups)
    for start in range(chunk_rows, len(codes), chunk_rows):
        part = slice(start, start + chunk_rows)
        moments = moments.merge(GroupMoments.of_rows(codes[part], values[part], n_groups))
    return moments
