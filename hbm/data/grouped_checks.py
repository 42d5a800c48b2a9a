"""The checks every reduction of the rows form passes, whichever engine made it.

:func:`hbm.data.grouped.grouped_data` (pandas) and :func:`hbm.data.grouped_reduced.
grouped_from_reduced` (any engine, or a statistics file) call the same functions, so a table gives
the same message however it was reduced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hbm.data.columns import number
from hbm.data.consistency import SAMPLE_DIMS, reserved_names

__all__ = ["check_group_name", "check_reduction"]


def check_group_name(group: str, columns: Sequence[str | None]) -> None:
    """The group column's name can name theta's dimension; the columns differ."""
    reserved = reserved_names()
    if group in reserved:
        raise ValueError(
            f"The group column may not be called {group!r}: hbm uses that name for "
            f"{'a sample dimension' if group in SAMPLE_DIMS else 'a model variable'}. "
            f"Rename the column (reserved: {', '.join(sorted(reserved))})."
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"The group, value and se columns must differ; got {list(columns)}.")
    if "/" in group or not group.strip():
        raise ValueError(
            f"The group column's name {group!r} becomes the name of theta's dimension in the "
            "results, which must be non-empty and may not contain '/'; rename the column."
        )


def check_reduction(
    group: str, value: str, n: np.ndarray, ss: np.ndarray, low: float, high: float
) -> None:
    """The rows vary, within groups too, and some group has more than one row.

    ``low`` and ``high`` are the smallest and largest value.
    """
    if low == high:
        raise ValueError(
            f"The value column {value!r} has no variation: every row is {number(low)}. "
            "There is nothing to estimate."
        )
    if n.max() == 1:
        raise ValueError(
            f"Every group in {group!r} has a single row, so the spread within groups (sigma) "
            "cannot be told apart from the spread between them (tau). Give each group's "
            "standard error in a column (se=...), or more rows per group."
        )
    if ss.sum() == 0:
        raise ValueError(
            f"The value column {value!r} does not vary within any group, so the within-group "
            "standard deviation 'sigma' would be estimated as zero. Give one row per group with a "
            "standard error (se=...) instead."
        )


def check_range_of_moments(
    value: str, n: np.ndarray, mean: np.ndarray, ss: np.ndarray, low: float, high: float
) -> None:
    """:func:`hbm.data.columns.check_range` from the moments: the rows' sd from the within- and
    between-group sums of squares, their size from the extremes."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        total = n.sum()
        grand = np.sum(n * mean) / total
        typical = float(np.sqrt((ss.sum() + np.sum(n * (mean - grand) ** 2)) / total))
        size = max(abs(low), abs(high))
    if not np.isfinite(typical) or 0 < typical < 1e-150 or size > 1e150:
        raise ValueError(
            f"The {value!r} values (from {number(low)} to {number(high)}) are "
            "too extreme to model in double precision; expected magnitudes between about "
            "1e-150 and 1e150. Rescale the column (e.g. to thousands or millionths)."
        )
