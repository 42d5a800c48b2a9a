"""Per-cell count, mean vector and centred co-moment matrix of ``k`` numeric columns: mergeable.

The normal family's exact reduction of a design ``[X, Z, y]`` is, per group (or per cell of
identical group codes), the count ``n``, the mean vector ``m`` and the centred co-moment matrix
``C[a, b] = sum_i (x_ia - m_a)(x_ib - m_b)``; for the seed model the only column is the value and
``C`` is the within-group sum of squares. This module generalises :mod:`hbm.data.reduce` to ``k``
columns with the same algorithm: a chunk of rows is reduced in two passes (its cell means, then
products of deviations from them), keeping ``low``, the part of each mean below float64's
resolution (the mean of the deviations), and chunks merge with Chan, Golub and LeVeque's update::

    delta = (m_b - m_a) + (low_b - low_a)
    m     = m_a + delta n_b / n
    C     = C_a + C_b + outer(delta, delta) n_a n_b / n

Cells are identified by labels, so moments computed on different machines or partitions (whose
cells are numbered differently) merge with :meth:`CoMoments.merge_labelled`. For one column the
numbers are those of :class:`hbm.data.reduce.GroupMoments`, bit for bit.

>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 5.0]])
>>> m = CoMoments.of_rows(np.array([0, 0, 1]), x, 2)
>>> m.n.tolist(), m.mean.tolist(), m.comoment[0].tolist()
([2, 1], [[2.0, 4.0], [5.0, 5.0]], [[2.0, 4.0], [4.0, 8.0]])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CoMoments"]


@dataclass(frozen=True, eq=False)
class CoMoments:
    """Count, means and centred co-moments of ``k`` columns in each of ``J`` cells.

    Attributes
    ----------
    n : ndarray of int64 (J,)
        Rows per cell (0 for a cell with no rows yet).
    mean : ndarray of float (J, k)
        Cell means (0 where ``n`` is 0).
    comoment : ndarray of float (J, k, k)
        Centred co-moment matrices (symmetric; the diagonal holds sums of squares).
    low : ndarray of float (J, k)
        The part of each mean below the resolution of ``mean``.
    """

    n: np.ndarray
    mean: np.ndarray
    comoment: np.ndarray
    low: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells ``J``."""
        return int(self.n.shape[0])

    @property
    def n_columns(self) -> int:
        """Number of columns ``k``."""
        return int(self.mean.shape[1])

    @classmethod
    def empty(cls, n_cells: int, n_columns: int) -> CoMoments:
        """The moments of no rows."""
        return cls(
            n=np.zeros(n_cells, dtype=np.int64),
            mean=np.zeros((n_cells, n_columns)),
            comoment=np.zeros((n_cells, n_columns, n_columns)),
            low=np.zeros((n_cells, n_columns)),
        )

    @classmethod
    def of_rows(cls, codes: np.ndarray, values: np.ndarray, n_cells: int) -> CoMoments:
        """The moments of one chunk: a cell code (0..J-1) and ``k`` values per row (N x k)."""
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        k = values.shape[1]
        n = np.bincount(codes, minlength=n_cells)
        mean = np.empty((n_cells, k))
        low = np.empty((n_cells, k))
        deviations = np.empty_like(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            for a in range(k):
                mean[:, a] = np.bincount(codes, weights=values[:, a], minlength=n_cells) / n
                mean[n == 0, a] = 0.0
                deviations[:, a] = values[:, a] - mean[codes, a]
                low[:, a] = np.bincount(codes, weights=deviations[:, a], minlength=n_cells) / n
                low[n == 0, a] = 0.0
        comoment = np.empty((n_cells, k, k))
        for a in range(k):
            for b in range(a, k):
                product = deviations[:, a] ** 2 if a == b else deviations[:, a] * deviations[:, b]
                comoment[:, a, b] = np.bincount(codes, weights=product, minlength=n_cells)
                comoment[:, b, a] = comoment[:, a, b]
        return cls(n=n.astype(np.int64), mean=mean, comoment=comoment, low=low)

    def merge(self, other: CoMoments) -> CoMoments:
        """The moments of the rows of both (same cells, same columns)."""
        n = self.n + other.n
        n_a = self.n.astype(float)[:, None]
        total = n.astype(float)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, other.n.astype(float)[:, None] / total, 0.0)
            delta = (other.mean - self.mean) + (other.low - self.low)
            step = delta * share
            mean = self.mean + step
            low = ((self.mean - mean) + step) + self.low
            weight = (n_a * share)[:, :, None]
            outer = delta[:, :, None] * delta[:, None, :]
            comoment = self.comoment + other.comoment + outer * weight
        # A cell empty on one side is the other side's, exactly (low parts included: through
        # the update, ``mean + low`` would be rounded into ``delta`` and the low part lost).
        for side, empty in ((other, self.n == 0), (self, other.n == 0)):
            mean[empty], low[empty] = side.mean[empty], side.low[empty]
            comoment[empty] = side.comoment[empty]
        return CoMoments(n=n, mean=mean, comoment=comoment, low=low)

    def take(self, index: np.ndarray, n_cells: int) -> CoMoments:
        """These moments placed at rows ``index`` of ``n_cells`` cells (the rest empty)."""
        out = CoMoments.empty(n_cells, self.n_columns)
        out.n[index] = self.n
        out.mean[index] = self.mean
        out.comoment[index] = self.comoment
        out.low[index] = self.low
        return out

    def subset(self, index: np.ndarray) -> CoMoments:
        """The moments of the cells ``index``, in that order."""
        return CoMoments(
            n=self.n[index],
            mean=self.mean[index],
            comoment=self.comoment[index],
            low=self.low[index],
        )

    @staticmethod
    def merge_labelled(
        parts: Sequence[tuple[Sequence[Hashable], CoMoments]],
    ) -> tuple[list[Any], CoMoments]:
        """Merge moments whose cells are named by labels, in the order given.

        Returns the labels in order of first appearance among the parts, and their moments.

        >>> a = CoMoments.of_rows(np.array([0, 1]), np.array([1.0, 5.0]), 2)
        >>> b = CoMoments.of_rows(np.array([0, 0]), np.array([3.0, 4.0]), 1)
        >>> labels, m = CoMoments.merge_labelled([(["x", "y"], a), (["y"], b)])
        >>> labels, m.n.tolist(), m.mean[:, 0].tolist(), m.comoment[:, 0, 0].tolist()
        (['x', 'y'], [1, 3], [1.0, 4.0], [0.0, 2.0])
        """
        if not parts:
            raise ValueError("There are no moments to merge.")
        position: dict[Any, int] = {}
        for labels, _ in parts:
            for label in labels:
                position.setdefault(label, len(position))
        size, k = len(position), parts[0][1].n_columns
        total = CoMoments.empty(size, k)
        for labels, moments in parts:
            index = np.fromiter((position[label] for label in labels), np.int64, len(labels))
            total = total.merge(moments.take(index, size))
        return list(position), total
