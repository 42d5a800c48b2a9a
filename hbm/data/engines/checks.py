"""Checks of a first pass that need the rows: missing values and infinite values.

An engine passes a ``where(test, column)`` that says where the rows satisfying an SQL ``test`` are
(``("data row 3, 8", first shown value, count)``), so the messages read as the pandas path's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hbm.data.columns import number
from hbm.data.engines.assemble import FirstPass
from hbm.data.engines.request import Request, quote_sql

__all__ = ["check_first_pass"]

Where = Callable[[str, str | None], tuple[str, object, int] | None]


def check_first_pass(first: FirstPass, request: Request, where: Where) -> None:
    """Raise the pandas path's ValueError for missing values (``missing="error"``) or
    infinite values."""
    counts = {g: 0 for g in request.groups}
    counts[request.groups[0]] = first.missing_label  # rows without a full label
    for column, gap in zip(request.columns, first.missing, strict=True):
        counts[column.name] = counts.get(column.name, 0) + int(gap)
    dropped = first.dropped
    if dropped and request.missing == "error":
        labels = [f"{quote_sql(g)} IS NULL" for g in request.groups]
        values = [f"{quote_sql(c)} IS NULL" for c in request.source_columns]
        found = where(" OR ".join(dict.fromkeys(labels + values)), None)
        at = f"; the first at {found[0]}" if found else ""
        by = ", ".join(f"{name!r}: {n}" for name, n in counts.items() if n)
        raise ValueError(
            f"{dropped} row(s) have missing values (by column: {by}){at}. Drop them with "
            "missing='drop' (CLI: --drop-missing) or fill them in."
        )
    if first.moments.n_cells == 0:
        after = f" after dropping {dropped} row(s) with missing values" if dropped else ""
        raise ValueError(f"The table has no rows with data{after}.")
    for a, column in enumerate(request.columns):
        if np.isfinite(first.minimum[a]) and np.isfinite(first.maximum[a]):
            continue
        test = f"isinf(CAST(({column.sql}) AS DOUBLE))"
        found = where(test, column.reads[0] if len(column.reads) == 1 else None)
        where_text = f"; {found[0]} holds {number(found[1])}" if found else ""
        count = found[2] if found else 0
        more = f" ({count} values in all are infinite)" if count > 1 else ""
        raise ValueError(
            f"The value column {column.name!r} must hold finite numbers{where_text}{more}."
        )
