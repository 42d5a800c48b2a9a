"""Turning the SQL engines' result tables (:mod:`hbm.data.engines.sql`) into moments.

Shared by every engine that runs the SQL (DuckDB here; Spark SQL in ``bench/engines.py``): the
first pass's shifted means and population (co)variances become counts, means and co-moments; the
cells whose mean lies far from the shift (in units of their sd) are listed for the corrected
two-pass refinement, whose sums then replace their first-pass numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from hbm.data.comoments import CellMoments
from hbm.data.engines.sql import MAX_SPREADS

__all__ = [
    "FirstPass",
    "first_pass",
    "needs_extent",
    "pilot_table",
    "refined",
    "to_refine",
    "with_extent",
]


@dataclass(frozen=True, eq=False)
class FirstPass:
    """The first pass, cells sorted by label: moments, counts of rows and of gaps, and each
    column's range (bounds from the moments until :func:`with_extent` gives the exact values)."""

    keys: list[tuple[str, ...]]
    moments: CellMoments
    minimum: np.ndarray
    maximum: np.ndarray
    rows: int
    missing_label: int
    missing: np.ndarray
    exact: bool = False

    @property
    def dropped(self) -> int:
        """Rows left out for a missing label or value."""
        return self.rows - int(self.moments.n.sum())


def first_pass(table: pd.DataFrame, n_keys: int, shift: list[float]) -> FirstPass:
    """Read :func:`hbm.data.engines.sql.moments_sql`'s result."""
    k = len(shift)
    keys = [f"k{i}" for i in range(n_keys)]
    unlabelled = table[keys].isna().any(axis=1).to_numpy()
    cells = table.loc[~unlabelled]
    cells = cells[cells["n"] > 0].sort_values(keys, kind="stable")
    n = cells["n"].to_numpy(dtype=np.int64)
    c = np.asarray(shift, dtype=float)
    mean = np.column_stack([cells[f"m{a}"].to_numpy(dtype=float) for a in range(k)]).reshape(-1, k)
    comoment = np.zeros((len(cells), k, k))
    for a in range(k):
        comoment[:, a, a] = _filled(cells[f"v{a}"]) * n
        for b in range(a + 1, k):
            comoment[:, a, b] = comoment[:, b, a] = _filled(cells[f"c{a}_{b}"]) * n
    mean = mean + c
    moments = CellMoments(n=n, mean=mean, comoment=comoment, low=np.zeros_like(mean))
    # No value lies further from its cell's mean than the square root of the cell's sum of squares.
    reach = np.sqrt(np.diagonal(comoment, axis1=1, axis2=2))
    with np.errstate(invalid="ignore"):
        low = (mean - reach).min(axis=0) if len(cells) else np.full(k, np.nan)
        high = (mean + reach).max(axis=0) if len(cells) else np.full(k, np.nan)
    label_rows = cells[keys].astype(str).itertuples(index=False, name=None)
    return FirstPass(
        keys=[tuple(row) for row in label_rows],
        moments=moments,
        minimum=low,
        maximum=high,
        rows=int(table["rows"].sum()),
        missing_label=int(table.loc[unlabelled, "rows"].sum()),
        missing=np.zeros(k, dtype=np.int64),
    )


def needs_extent(first: FirstPass) -> bool:
    """Whether the checks need :func:`hbm.data.engines.sql.extent_sql`: rows were left out (their
    counts by column), or the values may be infinite, huge, or not varying (their exact range)."""
    m = first.moments
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.nanmax(np.abs(np.concatenate([first.minimum, first.maximum]))) if m.n_cells else 0
        spread = np.diagonal(m.comoment, axis1=1, axis2=2).sum(axis=0)
    finite = bool(np.all(np.isfinite(m.mean)) and np.all(np.isfinite(m.comoment)))
    return bool(
        first.dropped > 0
        or m.n_cells == 0
        or not finite
        or not size < 1e149
        or np.any(spread == 0)
        or np.any(spread < 1e-290 * m.n.sum())
    )


def with_extent(first: FirstPass, table: pd.DataFrame) -> FirstPass:
    """The first pass with :func:`hbm.data.engines.sql.extent_sql`'s exact counts and range."""
    k = first.moments.n_columns
    row = table.iloc[0]
    return replace(
        first,
        minimum=np.array([float(row[f"lo{a}"]) for a in range(k)]),
        maximum=np.array([float(row[f"hi{a}"]) for a in range(k)]),
        missing=np.array([int(row[f"missing{a}"] or 0) for a in range(k)], dtype=np.int64),
        missing_label=int(row["unlabelled"] or 0),
        exact=True,
    )


def _filled(column: pd.Series) -> np.ndarray:
    """(Co)variances: a single row gives 0 (Spark says NaN, DuckDB 0)."""
    return np.nan_to_num(column.to_numpy(dtype=float), nan=0.0)


def to_refine(first: FirstPass, shift: list[float]) -> np.ndarray:
    """Indices of the cells whose shifted mean lies more than :data:`MAX_SPREADS` sds from 0 in
    some column (their first-pass co-moments may have lost digits)."""
    m = first.moments
    if m.n_cells == 0:
        return np.zeros(0, dtype=np.int64)
    distance = (m.mean - np.asarray(shift, dtype=float)) ** 2
    variance = np.diagonal(m.comoment, axis1=1, axis2=2) / m.n[:, None]
    far = (distance > MAX_SPREADS**2 * variance) & (variance > 0) & (m.n[:, None] > 1)
    return np.flatnonzero(far.any(axis=1))


def pilot_table(first: FirstPass, cells: np.ndarray, n_keys: int) -> pd.DataFrame:
    """The table the refinement joins: the cells' labels ``k0..`` and means ``p0..``."""
    columns: dict[str, object] = {f"k{i}": [first.keys[j][i] for j in cells] for i in range(n_keys)}
    for a in range(first.moments.n_columns):
        columns[f"p{a}"] = first.moments.mean[cells, a]
    return pd.DataFrame(columns)


def refined(first: FirstPass, cells: np.ndarray, table: pd.DataFrame, n_keys: int) -> CellMoments:
    """The first pass's moments with those of ``cells`` replaced by the refinement's sums."""
    keys = [f"k{i}" for i in range(n_keys)]
    m = first.moments
    k = m.n_columns
    where = {first.keys[j]: j for j in cells}
    index = np.array(
        [where[tuple(map(str, row))] for row in table[keys].itertuples(index=False, name=None)],
        dtype=np.int64,
    )
    if len(index) != len(cells):
        raise RuntimeError(f"The refinement returned {len(index)} cells; expected {len(cells)}.")
    mean, comoment, low = m.mean.copy(), m.comoment.copy(), m.low.copy()
    n = m.n[index].astype(float)
    pilot = m.mean[index]
    sums = np.column_stack([table[f"s{a}"].to_numpy(dtype=float) for a in range(k)])
    tiny = sums / n[:, None]  # the mean of the deviations from the pilot mean
    whole = pilot + tiny
    mean[index] = whole
    low[index] = (pilot - whole) + tiny  # what rounding ``whole`` dropped
    for a in range(k):
        for b in range(a, k):
            q = table[f"q{a}_{b}"].to_numpy(dtype=float) - n * tiny[:, a] * tiny[:, b]
            comoment[index, a, b] = comoment[index, b, a] = q
    return CellMoments(n=m.n, mean=mean, comoment=comoment, low=low)
