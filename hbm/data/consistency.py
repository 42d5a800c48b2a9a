"""The checks a ``GroupedData`` runs on its own fields: do they form a consistent reduction?

A ``GroupedData`` may come from a file or a user rather than from :func:`hbm.data.grouped.
grouped_data`, so it checks that its labels, counts, means and sums of squares agree with each
other, and says which field is wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.core.names import RESERVED

__all__ = ["SAMPLE_DIMS", "check_fields", "reserved_names"]

SAMPLE_DIMS = ("chain", "draw")


def reserved_names() -> frozenset[str]:
    """Names the group column may not have: the sample dimensions and hbm's variable names (the
    group column's name becomes the name of ``theta``'s dimension)."""
    return frozenset({*SAMPLE_DIMS, *RESERVED})


def check_fields(data: Any) -> None:
    """Raise a ValueError/TypeError if a GroupedData's fields are not a consistent reduction."""
    for name in ("group", "value"):
        if not isinstance(getattr(data, name), str):
            raise TypeError(
                f"GroupedData.{name} must be a column name (str); got {getattr(data, name)!r}."
            )
    if data.group in reserved_names() or "/" in data.group or not data.group.strip():
        raise ValueError(
            f"GroupedData.group may not be {data.group!r} (reserved, empty or has '/')."
        )
    labels = data.labels
    if not isinstance(labels, tuple) or not all(isinstance(label, str) for label in labels):
        raise TypeError("GroupedData.labels must be a tuple of str.")
    if len(set(labels)) != len(labels) or len(labels) < 2:
        raise ValueError(f"GroupedData.labels must be at least 2 distinct labels; got {labels!r}.")
    if data.order not in ("first-seen", "sorted"):
        raise ValueError(f"GroupedData.order must be 'first-seen' or 'sorted'; got {data.order!r}.")
    if (data.se is None) != (data.stderr is None):
        raise ValueError("GroupedData.se and GroupedData.stderr must be given together.")
    size = len(labels)
    arrays = {"n": data.n, "mean": data.mean, "ss": data.ss}
    if data.stderr is not None:
        arrays["stderr"] = data.stderr
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.shape != (size,) or not np.issubdtype(array.dtype, np.number):
            raise ValueError(
                f"GroupedData.{name} must be {size} numbers (one per label); got {array.shape}."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"GroupedData.{name} must be finite.")
    if np.any(np.asarray(data.n) < 1) or np.any(np.asarray(data.n) != np.round(data.n)):
        raise ValueError("GroupedData.n must hold whole numbers >= 1.")
    if np.any(np.asarray(data.ss) < 0):
        raise ValueError("GroupedData.ss must hold sums of squares >= 0.")
    if data.stderr is not None and np.any(np.asarray(data.stderr) <= 0):
        raise ValueError("GroupedData.stderr must hold standard errors > 0.")
    if (data.codes is None) != (data.values is None):
        raise ValueError("GroupedData.codes and GroupedData.values must be given together.")
    if data.codes is not None and data.values is not None:
        codes = np.asarray(data.codes)
        if codes.shape != np.shape(data.values) or codes.size != int(np.sum(data.n)):
            raise ValueError("GroupedData.codes and .values must hold one entry per row.")
        if codes.size and (codes.min() < 0 or codes.max() >= size):
            raise ValueError(f"GroupedData.codes must lie in 0..{size - 1}.")
