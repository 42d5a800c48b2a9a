"""The pandas engine: each file read whole into memory (:func:`hbm.data.tables.read_table`), checked
and reduced; the files of a glob are merged by label (Chan's update), in the order of their names.

Labels keep their first-seen order, so one file gives the statistics of
:func:`hbm.data.grouped.grouped_data`, bit for bit.
"""

from __future__ import annotations

import time

import numpy as np

from hbm.data.comoments import CellMoments
from hbm.data.engines.frames import reduce_frame
from hbm.data.engines.request import Reduced, Request
from hbm.data.engines.sources import resolve_source
from hbm.data.tables import read_table

__all__ = ["reduce_pandas"]


def reduce_pandas(request: Request) -> Reduced:
    """Reduce ``request.source`` in memory with pandas."""
    start = time.perf_counter()
    source = resolve_source(request.source)
    parts = []
    for file in source.files:
        table = read_table(file, group=request.groups[0])
        try:
            parts.append(reduce_frame(table, request))
        except ValueError as error:
            if len(source.files) == 1:
                raise
            raise ValueError(f"{file}: {error}") from None
        del table
    if len(parts) == 1:
        keys, moments = parts[0].keys, parts[0].moments
    else:
        merged, moments = CellMoments.merge_labelled([(p.keys, p.moments) for p in parts])
        keys = list(merged)
    rows = sum(p.rows for p in parts)
    if rows == 0:
        dropped = sum(p.dropped for p in parts)
        raise ValueError(
            f"The table has no rows with data after dropping {dropped} row(s) with missing values."
        )
    return Reduced(
        keys=keys,
        moments=moments,
        columns=tuple(c.name for c in request.columns),
        minimum=np.min([p.minimum for p in parts], axis=0),
        maximum=np.max([p.maximum for p in parts], axis=0),
        rows=rows,
        dropped=sum(p.dropped for p in parts),
        engine="pandas",
        detail=f"pandas, {len(source.files)} file(s) read whole",
        order="first-seen",
        seconds=time.perf_counter() - start,
    )
