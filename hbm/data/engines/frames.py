"""The reduction of a pandas table (the pandas engine's files, the Dask engine's partitions).

Columns are checked and converted as :func:`hbm.data.grouped.grouped_data` checks them (messages
name the column, the first bad value and where it is), labels become text, and the rows are
reduced a chunk at a time with :class:`hbm.data.comoments.CellMoments` (for one column the numbers
of :func:`hbm.data.reduce.group_moments`, bit for bit).

>>> import pandas as pd
>>> from hbm.data.engines.request import Column, Request
>>> request = Request("-", ("g",), (Column.plain("y"),))
>>> part = reduce_frame(pd.DataFrame({"g": ["a", "b", "a"], "y": [1.0, 2.0, 3.0]}), request)
>>> part.keys, part.moments.n.tolist(), part.moments.comoment[:, 0, 0].tolist()
([('a',), ('b',)], [2, 1], [2.0, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hbm.data.columns import check_columns, labels_as_strings, numeric_column, positions
from hbm.data.comoments import CellMoments
from hbm.data.engines.request import Request
from hbm.data.reduce import CHUNK_ROWS

__all__ = ["FramePart", "reduce_frame"]


@dataclass(frozen=True, eq=False)
class FramePart:
    """One table's moments, with its cells' labels in first-seen order."""

    keys: list[tuple[str, ...]]
    moments: CellMoments
    minimum: np.ndarray
    maximum: np.ndarray
    rows: int
    dropped: int


def reduce_frame(table: pd.DataFrame, request: Request) -> FramePart:
    """Check and reduce ``table`` (its index says where a row is, as in ``read_table``)."""
    check_columns(table, list(request.source_columns))
    text = (*request.groups, *request.labels)
    labels = {g: labels_as_strings(table[g]) for g in dict.fromkeys(text)}
    numbers = {
        name: numeric_column(table[name], name, "value column")
        for name in request.source_columns
        if name not in labels
    }
    gaps = {g: labels[g].isna().to_numpy() for g in labels}
    gaps |= {name: np.isnan(values) for name, values in numbers.items()}
    is_missing = np.logical_or.reduce(list(gaps.values()))
    dropped = int(is_missing.sum())
    if dropped and request.missing == "error":
        counts = ", ".join(f"{name!r}: {int(gap.sum())}" for name, gap in gaps.items() if gap.any())
        raise ValueError(
            f"{dropped} row(s) have missing values (by column: {counts}); the first at "
            f"{positions(table.index, is_missing)}. Drop them with missing='drop' "
            "(CLI: --drop-missing) or fill them in."
        )
    keep = ~is_missing
    if dropped:
        table = table.loc[keep]
    shown = pd.DataFrame({name: values[keep] for name, values in numbers.items()}, copy=False)
    for g in labels:
        shown[g] = labels[g].to_numpy()[keep]
    values = np.column_stack([column.frame(shown) for column in request.columns])
    if len(request.groups) == 1:
        codes, uniques = pd.factorize(shown[request.groups[0]], sort=False)
        keys: list[tuple[str, ...]] = [(str(label),) for label in uniques]
    else:
        codes, uniques = pd.MultiIndex.from_frame(shown[list(request.groups)]).factorize()
        keys = [tuple(map(str, label)) for label in uniques]
    k = values.shape[1]
    moments = CellMoments.of_rows(codes[:CHUNK_ROWS], values[:CHUNK_ROWS], len(keys))
    for start in range(CHUNK_ROWS, len(codes), CHUNK_ROWS):
        part = slice(start, start + CHUNK_ROWS)
        moments = moments.merge(CellMoments.of_rows(codes[part], values[part], len(keys)))
    if len(codes) == 0:
        moments = CellMoments.empty(0, k)
    return FramePart(
        keys=keys,
        moments=moments,
        minimum=values.min(axis=0) if len(codes) else np.full(k, np.inf),
        maximum=values.max(axis=0) if len(codes) else np.full(k, -np.inf),
        rows=len(codes),
        dropped=dropped,
    )
