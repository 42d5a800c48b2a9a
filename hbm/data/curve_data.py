"""``CurveData``: the rows of a group-level curve model, checked, in group and time order.

A curve model is nonlinear in its parameters, so there are no sufficient statistics to reduce
to: the rows are kept (time, value, the group's code), sorted by group and then by time.

>>> import pandas as pd
>>> table = pd.DataFrame({"well": ["a", "a", "b"], "month": [1, 0, 0], "rate": [9.0, 10.0, 5.0]})
>>> data = curve_data(table, group="well", time="month", value="rate")
>>> data.labels, data.n.tolist(), data.t.tolist()
(('a', 'b'), [2, 1], [0.0, 1.0, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hbm.data.columns import check_columns, check_labels, labels_as_strings, numeric_column

__all__ = ["CurveData", "curve_data"]


@dataclass(frozen=True, eq=False)
class CurveData:
    """The rows of a curve model.

    Attributes
    ----------
    group, time, value : str
        The columns: grouping factor, time, observed value.
    labels : tuple of str
        The groups in first-seen order.
    codes : ndarray of int64 (N,)
        Each row's group (index into ``labels``).
    t, y : ndarray of float64 (N,)
        Each row's time and value; rows sorted by group, then time.
    dropped : int
        Rows left out because a cell was missing (``missing="drop"``).
    """

    group: str
    time: str
    value: str
    labels: tuple[str, ...]
    codes: np.ndarray = field(repr=False)
    t: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    dropped: int = 0

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.y.size)

    @property
    def n(self) -> np.ndarray:
        """Rows per group."""
        return np.bincount(self.codes, minlength=self.n_groups)

    def rows_of(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """``(t, y)`` of one group."""
        where = self.codes == self.labels.index(label)
        return self.t[where], self.y[where]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (stored in a fit as ``hbm_data``)."""
        n = self.n
        return {
            "kind": "curve",
            "group": self.group,
            "time": self.time,
            "value": self.value,
            "n_rows": self.n_rows,
            "n_groups": self.n_groups,
            "rows_per_group": {"min": int(n.min()), "max": int(n.max())},
            "time_range": [float(self.t.min()), float(self.t.max())],
            "dropped_missing": self.dropped,
        }


def curve_data(
    table: pd.DataFrame, *, group: str, time: str, value: str, missing: str = "error"
) -> CurveData:
    """Check ``table``'s three columns and return its rows as :class:`CurveData`.

    Raises
    ------
    ValueError
        Naming the column and the first bad value: a missing or non-numeric time or value, a
        missing label, fewer than one row.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame; got {type(table).__name__}.")
    check_columns(table, [group, time, value])
    if len({group, time, value}) < 3:
        raise ValueError(
            f"The group, time and value columns must be three different columns; got "
            f"{group!r}, {time!r}, {value!r}."
        )
    if missing not in ("error", "drop"):
        raise ValueError(f"The 'missing' option must be 'error' or 'drop'; got {missing!r}.")
    labels = labels_as_strings(table[group])
    t = numeric_column(table[time], time, "time column")
    y = numeric_column(table[value], value, "value column")
    absent = labels.isna().to_numpy() | np.isnan(t) | np.isnan(y)
    if absent.any() and missing == "error":
        first = int(np.flatnonzero(absent)[0])
        column = next(
            name
            for name, bad in (
                (group, labels.isna().to_numpy()),
                (time, np.isnan(t)),
                (value, np.isnan(y)),
            )
            if bad[first]
        )
        raise ValueError(
            f"The column {column!r} has a missing value in row {table.index[first]!r} "
            f"({int(absent.sum())} row(s) with missing values in all); pass missing='drop' "
            "(--drop-missing) to leave such rows out."
        )
    keep = ~absent
    if not keep.any():
        raise ValueError("The table has no complete rows to fit a curve to.")
    labels = labels[keep]
    check_labels(labels, group)
    codes, uniques = pd.factorize(labels, sort=False)
    t, y = t[keep], y[keep]
    order = np.lexsort((t, codes))
    return CurveData(
        group=group,
        time=time,
        value=value,
        labels=tuple(str(u) for u in uniques),
        codes=codes[order].astype(np.int64),
        t=t[order],
        y=y[order],
        dropped=int(absent.sum()),
    )
