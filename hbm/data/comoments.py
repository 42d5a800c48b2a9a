"""Per-cell count, mean vector and centred co-moment matrix of numeric columns: exact, mergeable.

A formula model's rows reduce, per cell (a group, or a combination of groups of several grouping
factors), to the statistics of the design columns ``W = [X, Z, y]``::

    n_c,   m_c = mean of the cell's rows of W,   C_c = sum_i (w_i - m_c)(w_i - m_c)'

From them, any quadratic form of a linear combination of the columns is exact: with
``r_i = w_i' a``, ``sum_i r_i^2 = a' C_c a + n_c (m_c' a)^2`` and ``sum_i r_i = n_c m_c' a``; so the
normal likelihood of a cell's rows given the coefficients costs ``K^2`` operations, whatever the
number of rows. The co-moments are centred (never raw cross-products: with values near 1e6 they
lose digits) and computed a chunk of rows at a time, merged with the multivariate form of Chan,
Golub and LeVeque's update::

    n = n_a + n_b,   d = m_b - m_a,   m = m_a + d n_b / n,   C = C_a + C_b + d d' n_a n_b / n

Each mean also keeps its ``low`` part, the digits below float64's resolution at its magnitude
(see :mod:`hbm.data.reduce`, the one-column case), so merged chunks lose nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbm.data.reduce import CHUNK_ROWS

__all__ = ["CellMoments", "cell_moments"]


@dataclass(frozen=True, eq=False)
class CellMoments:
    """Count, mean vector and centred co-moment matrix of ``K`` columns in each of ``C`` cells.

    Attributes
    ----------
    n : ndarray of int64 (C,)
    mean : ndarray (C, K)
    low : ndarray (C, K)
        The part of each mean below the resolution of ``mean``.
    comoment : ndarray (C, K, K)
        ``sum_i (w_i - m)(w_i - m)'`` over the cell's rows.

    Examples
    --------
    >>> w = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]])
    >>> m = CellMoments.of_rows(np.array([0, 0, 1]), w, 2)
    >>> m.n.tolist(), m.mean.tolist(), m.comoment[0].tolist()
    ([2, 1], [[2.0, 4.0], [5.0, 1.0]], [[2.0, 4.0], [4.0, 8.0]])
    """

    n: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    comoment: np.ndarray

    @classmethod
    def of_rows(cls, codes: np.ndarray, values: np.ndarray, n_cells: int) -> CellMoments:
        """The moments of one chunk of rows: cell code (0..C-1) and ``K`` values per row."""
        values = np.asarray(values, dtype=float)
        n_columns = values.shape[1]
        n = np.bincount(codes, minlength=n_cells)
        present = n > 0
        mean = np.zeros((n_cells, n_columns))
        low = np.zeros((n_cells, n_columns))
        deviations = np.empty_like(values)
        for k in range(n_columns):
            total = np.bincount(codes, weights=values[:, k], minlength=n_cells)
            mean[present, k] = total[present] / n[present]
            deviations[:, k] = values[:, k] - mean[codes, k]
            residual = np.bincount(codes, weights=deviations[:, k], minlength=n_cells)
            low[present, k] = residual[present] / n[present]
        comoment = np.zeros((n_cells, n_columns, n_columns))
        for k in range(n_columns):
            for j in range(k + 1):
                product = deviations[:, k] * deviations[:, j]
                comoment[:, k, j] = np.bincount(codes, weights=product, minlength=n_cells)
                comoment[:, j, k] = comoment[:, k, j]
        return cls(n=n.astype(np.int64), mean=mean, low=low, comoment=comoment)

    def merge(self, other: CellMoments) -> CellMoments:
        """The moments of the rows of both (the pairwise update, with the means' low parts)."""
        n = self.n + other.n
        total = np.maximum(n, 1).astype(float)
        share = np.where(n > 0, other.n / total, 0.0)[:, None]
        delta = (other.mean - self.mean) + (other.low - self.low)
        step = delta * share
        mean = self.mean + step
        low = ((self.mean - mean) + step) + self.low
        weight = (self.n * share[:, 0])[:, None, None]
        comoment = self.comoment + other.comoment + weight * delta[:, :, None] * delta[:, None, :]
        # A cell empty on one side is the other side's, exactly: through the update its
        # ``mean + low`` would be rounded into ``delta`` and the low part lost.
        for side, empty in ((other, self.n == 0), (self, other.n == 0)):
            mean[empty], low[empty] = side.mean[empty], side.low[empty]
            comoment[empty] = side.comoment[empty]
        return CellMoments(n=n, mean=mean, low=low, comoment=comoment)

    @property
    def n_columns(self) -> int:
        """Number of columns ``K``."""
        return int(self.mean.shape[1])

    @classmethod
    def empty(cls, n_cells: int, n_columns: int) -> CellMoments:
        """The moments of no rows."""
        return cls(
            n=np.zeros(n_cells, dtype=np.int64),
            mean=np.zeros((n_cells, n_columns)),
            low=np.zeros((n_cells, n_columns)),
            comoment=np.zeros((n_cells, n_columns, n_columns)),
        )

    def take(self, index: np.ndarray, n_cells: int) -> CellMoments:
        """These moments placed at cells ``index`` of ``n_cells`` cells (the rest empty)."""
        out = CellMoments.empty(n_cells, self.n_columns)
        out.n[index], out.mean[index] = self.n, self.mean
        out.low[index], out.comoment[index] = self.low, self.comoment
        return out

    def subset(self, index: np.ndarray) -> CellMoments:
        """The moments of the cells ``index``, in that order."""
        return CellMoments(
            n=self.n[index],
            mean=self.mean[index],
            low=self.low[index],
            comoment=self.comoment[index],
        )

    @staticmethod
    def merge_labelled(
        parts: Sequence[tuple[Sequence[Hashable], CellMoments]],
    ) -> tuple[list[Any], CellMoments]:
        """Merge moments whose cells are named by labels (partitions, files, machines), in the
        order given: the labels in order of first appearance, and their moments.

        >>> a = CellMoments.of_rows(np.array([0, 1]), np.array([[1.0], [5.0]]), 2)
        >>> b = CellMoments.of_rows(np.array([0, 0]), np.array([[3.0], [4.0]]), 1)
        >>> labels, m = CellMoments.merge_labelled([(["x", "y"], a), (["y"], b)])
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
        total = CellMoments.empty(size, k)
        for labels, moments in parts:
            index = np.fromiter((position[label] for label in labels), np.int64, len(labels))
            total = total.merge(moments.take(index, size))
        return list(position), total

    @property
    def n_cells(self) -> int:
        """Number of cells ``C``."""
        return int(self.n.shape[0])

    def totals(self) -> tuple[int, np.ndarray, np.ndarray]:
        """Count, mean vector and centred co-moment matrix of all rows together, ``(N, m, C)``."""
        n_rows = int(self.n.sum())
        weights = self.n / n_rows
        grand = weights @ self.mean + weights @ self.low
        deviation = self.mean + self.low - grand
        comoment = self.comoment.sum(axis=0) + np.einsum(
            "c,ck,cj->kj", self.n.astype(float), deviation, deviation
        )
        return n_rows, grand, comoment


def cell_moments(
    codes: np.ndarray, values: np.ndarray, n_cells: int, *, chunk_rows: int = CHUNK_ROWS
) -> CellMoments:
    """Reduce rows to per-cell moments, a chunk at a time, merged exactly.

    Examples
    --------
    >>> w = np.array([[1.0], [2.0], [3.0], [6.0]])
    >>> cell_moments(np.array([0, 1, 0, 1]), w, 2, chunk_rows=3).comoment[:, 0, 0].tolist()
    [2.0, 8.0]
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
    moments = CellMoments.of_rows(codes[:chunk_rows], values[:chunk_rows], n_cells)
    for start in range(chunk_rows, len(codes), chunk_rows):
        part = slice(start, start + chunk_rows)
        moments = moments.merge(CellMoments.of_rows(codes[part], values[part], n_cells))
    return moments
