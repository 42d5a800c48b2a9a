"""``GroupedData`` from an engine's reduction, or from a statistics file's table.

The seed model's reduction is one grouping column and one numeric column: its co-moment is the
within-group sum of squares. The checks are those of :func:`hbm.data.grouped.grouped_data`
(:mod:`hbm.data.grouped_checks`), so a table fails with the same words however it was reduced.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from hbm.data.engines.request import Reduced
from hbm.data.grouped import GroupedData
from hbm.data.grouped_checks import check_group_name, check_range_of_moments, check_reduction

__all__ = ["grouped_from_reduced", "grouped_from_table", "seed_table"]


def grouped_from_reduced(
    reduced: Reduced,
    *,
    group: str,
    value: str,
    order: Literal["first-seen", "sorted"] | None = None,
) -> GroupedData:
    """The seed model's data from an engine's reduction of ``(group, value)``.

    ``order="sorted"`` sorts the groups' labels; ``None`` keeps the engine's order (first-seen for
    pandas and Dask, sorted for DuckDB, which cannot tell the order of the rows in a file).
    """
    if reduced.columns != (value,) or any(len(key) != 1 for key in reduced.keys):
        raise ValueError(
            f"The seed model's reduction is one group column and one value column; got the "
            f"columns {list(reduced.columns)}."
        )
    check_group_name(group, [group, value])
    moments = reduced.moments
    labels = [key[0] for key in reduced.keys]
    n, mean, ss = moments.n, moments.mean[:, 0], moments.comoment[:, 0, 0]
    kept: Literal["first-seen", "sorted"] = reduced.order
    if order == "sorted" and reduced.order != "sorted":
        index = np.argsort(np.asarray(labels, dtype=object), kind="stable")
        labels, n, mean, ss = [labels[i] for i in index], n[index], mean[index], ss[index]
        kept = "sorted"
    after = (
        f" after dropping {reduced.dropped} row(s) with missing values" if reduced.dropped else ""
    )
    if len(labels) < 2:
        raise ValueError(
            f"The group column {group!r} has {len(labels)} distinct value(s) "
            f"({', '.join(map(repr, labels))}){after}; a hierarchical model needs at least 2 "
            "groups."
        )
    low, high = float(reduced.minimum[0]), float(reduced.maximum[0])
    check_range_of_moments(value, n, mean, ss, low, high)
    check_reduction(group, value, n, ss, low, high)
    return GroupedData(
        group=group,
        value=value,
        se=None,
        labels=tuple(labels),
        order=kept,
        n=np.asarray(n, dtype=np.int64),
        mean=np.asarray(mean, dtype=float),
        ss=np.asarray(ss, dtype=float),
        dropped=reduced.dropped,
    )


def seed_table(data: GroupedData) -> pd.DataFrame:
    """The statistics file's table of the seed model: the group column, ``n``, ``mean``, ``ss``."""
    return pd.DataFrame(
        {
            data.group: pd.array(data.labels, dtype="string"),
            "n": data.n,
            "mean": data.mean,
            "ss": data.ss,
        }
    )


def grouped_from_table(
    table: pd.DataFrame, *, group: str, value: str, order: str, dropped: int, where: str
) -> GroupedData:
    """Read :func:`seed_table`'s table back (from a statistics file named by ``where``)."""
    missing = [c for c in (group, "n", "mean", "ss") if c not in table.columns]
    if missing:
        raise ValueError(
            f"The statistics file {where} lacks the column(s) {', '.join(map(repr, missing))}; "
            f"expected {group!r}, 'n', 'mean' and 'ss'."
        )
    return GroupedData(
        group=group,
        value=value,
        se=None,
        labels=tuple(str(label) for label in table[group]),
        order=order,  # type: ignore[arg-type]
        n=table["n"].to_numpy(dtype=np.int64),
        mean=table["mean"].to_numpy(dtype=float),
        ss=table["ss"].to_numpy(dtype=float),
        dropped=dropped,
    )
