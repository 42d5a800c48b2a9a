"""Checking and converting the columns of a user's table, with messages that point at the culprit.

Used by :func:`hbm.data.grouped_data`. Every problem is a ``ValueError`` (or a ``TypeError`` for a
column name that is not text) whose message names the column, shows the first bad value and says
where it is: ``line 7`` for a table read by :func:`hbm.tables.read_table` (its index holds line
numbers of the file), ``row index 6`` for any other DataFrame.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "check_columns",
    "check_labels",
    "check_range",
    "labels_as_strings",
    "number",
    "numeric_column",
    "position",
    "positions",
]


def position(index: pd.Index, i: int) -> str:
    """Where row ``i`` (0-based position) of a table is, in the words of its index."""
    label = index[i]
    shown = str(label) if isinstance(label, int | np.integer) else repr(label)
    if index.name in ("line", "data row"):
        return f"{index.name} {shown}"
    if index.name is not None:
        return f"row {shown} (index {str(index.name)!r})"
    return f"row index {shown}"


def positions(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    """The first ``limit`` places where ``mask`` is true, e.g. ``line 3, 8, 9``."""
    where = np.flatnonzero(mask)
    first = position(index, int(where[0]))
    rest = [position(index, int(i)).split(" ")[-1] for i in where[1:limit]]
    more = ", ..." if where.size > limit else ""
    return ", ".join([first, *rest]) + more


def number(value: object) -> str:
    """A number as a person writes it: ``3``, ``0.25``, ``inf`` (never ``np.float64(3.0)``)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(value)
    if math.isinf(x) or math.isnan(x):
        return str(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def check_columns(table: pd.DataFrame, columns: Sequence[str | None]) -> None:
    """Each of ``columns`` is a string naming exactly one column of ``table``."""
    existing = [str(c) for c in table.columns]
    for name in columns:
        if not isinstance(name, str):
            raise TypeError(f"Column names must be strings; got {name!r}.")
        if name not in existing:
            raise ValueError(
                f"The table has no column {name!r}; its columns are "
                f"{', '.join(map(repr, existing)) or '(none)'}.{_did_you_mean(name, existing)}"
            )
        where = [i for i, c in enumerate(existing, start=1) if c == name]
        if len(where) > 1:
            raise ValueError(
                f"The table has {len(where)} columns named {name!r} (columns "
                f"{', '.join(map(str, where))}); rename them so that each name is used once."
            )
        if name not in table.columns:  # e.g. a column named 1 (an int) asked for as "1"
            raise ValueError(
                f"The table's column {name!r} is not named by a string; rename its columns "
                "to strings (table.columns = table.columns.astype(str))."
            )


def _did_you_mean(name: str, existing: list[str]) -> str:
    folded = {c.strip().casefold(): c for c in existing}
    if name.strip().casefold() in folded:
        return f" Did you mean {folded[name.strip().casefold()]!r}?"
    close = difflib.get_close_matches(name, existing, n=1, cutoff=0.75)
    return f" Did you mean {close[0]!r}?" if close else ""


def labels_as_strings(column: pd.Series) -> pd.Series:
    """Group labels as strings (missing as ``None`` or NaN).

    Integral numbers print without a decimal point (``1224``, not ``1224.0``); text is kept as it
    is (``"007"`` stays ``"007"``). Each distinct value is converted once, not each row.
    """
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        return column  # pandas' str dtype is text already: no per-row conversion (1M rows: 1.3 s)
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable cells, such as lists
        first = next(i for i, v in enumerate(column) if not isinstance(v, Hashable))
        raise ValueError(
            f"The group column {column.name!r} must hold labels (text or numbers); "
            f"{position(column.index, first)} holds {column.iloc[first]!r}."
        ) from None
    text = np.array([None, *(_label(u) for u in np.asarray(uniques, dtype=object))], dtype=object)
    return pd.Series(text[codes + 1], index=column.index, dtype=object)


def _label(value: object) -> str:
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return str(number)
    return str(value)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def numeric_column(column: pd.Series, name: str, role: str) -> np.ndarray:
    """The column as float64 (missing as NaN), or a ValueError showing the first bad value.

    ``role`` names the column in messages, e.g. ``"value column"``.
    """
    what = f"The {role} {name!r}"
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{what} holds true/false values; expected numbers.")
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ValueError(f"{what} holds dates or times ({dtype}); expected numbers.")
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(f"{what} holds complex numbers; expected real numbers.")
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
    else:
        cells = [_to_float(v) for v in column.to_numpy(dtype=object)]
        values = np.array([x for x, _ in cells], dtype=float)
        bad = np.array([b for _, b in cells], dtype=bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            shown = column.iloc[first]
            hint = ""
            if isinstance(shown, str) and _looks_like_decimal_comma(shown):
                hint = " (a decimal comma? write 1.5, or save the file separated by semicolons)"
            raise ValueError(
                f"{what} must hold numbers; {position(column.index, first)} holds {shown!r}"
                f"{hint}{_more(int(bad.sum()), 'value', 'is not a number', 'are not numbers')}."
            )
    infinite = np.isinf(values)
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        raise ValueError(
            f"{what} must hold finite numbers; {position(column.index, first)} holds "
            f"{number(values[first])}"
            f"{_more(int(infinite.sum()), 'value', 'is infinite', 'are infinite')}."
        )
    return values


def _more(count: int, noun: str, one: str, many: str) -> str:
    return "" if count == 1 else f" ({count} {noun}s in all {many})"


def _to_float(value: object) -> tuple[float, bool]:
    """A cell as ``(float, is_bad)``: NaN when missing (not bad) or not a number (bad)."""
    if _is_missing(value):
        return math.nan, False
    if isinstance(value, bool | np.bool_):
        return math.nan, True
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return math.nan, False
    try:
        return float(value), False  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan, True


def _looks_like_decimal_comma(text: str) -> bool:
    parts = text.strip().lstrip("-").split(",")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def check_range(name: str, values: np.ndarray, *, spread: bool = True) -> None:
    """Values too large (or, with ``spread``, varying too little) for float64 arithmetic; say so.

    ``spread=True`` (rows, standard errors): the values' spread or size sets the model's scale, so
    it must lie between about 1e-150 and 1e150. ``spread=False`` (summary estimates, whose scale
    comes from the standard errors): only their size is bounded. Values that do not vary at all
    pass (the callers say what that means for their form).
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        size = float(np.max(np.abs(values)))
        typical = float(np.std(values)) if spread else 1.0
        fine = np.isfinite(typical) and np.isfinite(float(np.sum(values**2)))
    if not fine or 0 < typical < 1e-150 or size > 1e150:
        raise ValueError(
            f"The {name!r} values (from {number(np.min(values))} to {number(np.max(values))}) are "
            "too extreme to model in double precision; expected magnitudes between about "
            "1e-150 and 1e150. Rescale the column (e.g. to thousands or millionths)."
        )


def check_labels(labels: pd.Series, group: str) -> None:
    """Labels are saved as text in netCDF: no NUL characters, and encodable as UTF-8."""
    if not _storable(group):
        raise ValueError(
            f"The group column's name {group!r} holds a character that cannot be saved."
        )
    unique = pd.unique(labels.dropna())  # each distinct label checked once, not each row
    bad = [label for label in unique if isinstance(label, str) and not _storable(label)]
    if bad:
        first = int(np.flatnonzero((labels == bad[0]).to_numpy(dtype=bool))[0])
        raise ValueError(
            f"The group column {group!r} holds a label that cannot be saved as text "
            f"(a NUL character or an undecodable byte): {position(labels.index, first)} holds "
            f"{bad[0]!r}."
        )


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
