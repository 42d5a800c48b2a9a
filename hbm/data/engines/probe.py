"""A first, light pass over a source: what kind each covariate is, and its levels.

A formula's design cannot be written as column expressions before the data say which covariates
are categorical and which levels they hold (the first, sorted, is treatment coding's reference).
:func:`hbm.data.engines.probe` asks the engine for it, in the terms of
:func:`hbm.model.design_info.design_info`'s record of a variable:

- a numeric column (or a text column whose values are mostly numbers, as the in-memory path
  reads it): ``{"kind": "numeric", "values": [min, max]}``, or every distinct value, sorted, when
  the formula makes levels of it (``C(x)``: ``distinct``);
- any other column: ``{"kind": "categoric", "values": sorted distinct labels}``.

The pandas engine probes each file, the Dask engine each partition (on the workers), with
:func:`probe_frame`; DuckDB runs it in SQL (:mod:`hbm.data.engines.duckdb_probe`).

>>> import pandas as pd
>>> table = pd.DataFrame({"s": ["b", "a", None], "x": [1.5, 2.0, 3.0]})
>>> part = probe_frame(table, ["s", "x"], set())
>>> finish(merge([part]), distinct=set())
{'s': {'kind': 'categoric', 'values': ['a', 'b']}, 'x': {'kind': 'numeric', 'values': [1.5, 3.0]}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from hbm.data.columns import check_columns, labels_as_strings

__all__ = ["MAX_LEVELS", "finish", "merge", "probe_files", "probe_frame"]

#: A categorical covariate with more levels than this is refused out of core: its design would
#: have as many columns, and each cell a co-moment matrix of their square.
MAX_LEVELS = 1000

Variables = dict[str, dict[str, Any]]


def probe_frame(table: pd.DataFrame, columns: Iterable[str], distinct: set[str]) -> dict[str, Any]:
    """One table's (file's, partition's) part of the probe, as plain data."""
    columns = list(columns)
    check_columns(table, columns)
    out: dict[str, Any] = {}
    for name in columns:
        column = table[name]
        numeric = pd.api.types.is_numeric_dtype(column.dtype) and not (
            pd.api.types.is_bool_dtype(column.dtype)
            or isinstance(column.dtype, pd.CategoricalDtype)
        )
        if numeric:
            values = column.to_numpy(dtype=float, na_value=np.nan)
            parsed = values
            present = int(np.count_nonzero(~np.isnan(values)))
        else:
            text = labels_as_strings(column)
            present = int(text.notna().sum())
            parsed = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        finite = parsed[np.isfinite(parsed)]
        levels: set[Any] = set()
        if not numeric:
            levels = set(text.dropna().unique().tolist()[: MAX_LEVELS + 1])
        elif name in distinct:
            levels = set(np.unique(finite).tolist()[: MAX_LEVELS + 1])
        out[name] = {
            "numeric": numeric,
            "present": present,
            "parsed": int(finite.size),
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
            "levels": sorted(levels, key=str),
            "integer": bool(numeric and pd.api.types.is_integer_dtype(column.dtype)),
        }
    return out


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The probes of several tables as one."""
    out: dict[str, Any] = {}
    for part in parts:
        for name, seen in part.items():
            if name not in out:
                out[name] = {**seen, "levels": set(seen["levels"])}
                continue
            total = out[name]
            total["numeric"] = total["numeric"] and seen["numeric"]
            total["integer"] = total["integer"] and seen["integer"]
            total["present"] += seen["present"]
            total["parsed"] += seen["parsed"]
            for key, pick in (("min", min), ("max", max)):
                both = [v for v in (total[key], seen[key]) if v is not None]
                total[key] = pick(both) if both else None
            total["levels"] |= set(seen["levels"])
    return out


def finish(merged: dict[str, Any], distinct: Iterable[str]) -> Variables:
    """Each column's record (see the module docstring); a column of text that is mostly
    numbers is numeric, as the in-memory path reads it (its bad values are reported later)."""
    distinct = set(distinct)
    out: Variables = {}
    for name, seen in merged.items():
        numeric = seen["numeric"] or (seen["present"] and seen["parsed"] >= 0.5 * seen["present"])
        if numeric:
            if name in distinct:
                values = sorted(float(v) for v in seen["levels"] if _is_number(v))
                if seen["integer"]:
                    values = [int(v) for v in values]  # type: ignore[misc]
            else:
                values = [v for v in (seen["min"], seen["max"]) if v is not None]
            out[name] = {"kind": "numeric", "values": values}
            continue
        levels = sorted(str(v) for v in seen["levels"])
        out[name] = {"kind": "categoric", "values": levels}
    for name, variable in out.items():
        if len(variable["values"]) > MAX_LEVELS and (
            variable["kind"] == "categoric" or name in distinct
        ):
            raise ValueError(
                f"The covariate {name!r} has more than {MAX_LEVELS} distinct values; as a "
                "categorical covariate each would be a column of the design. Group its values, "
                "or use it as a grouping factor: (1 | " + name + ")."
            )
    return out


def _is_number(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def probe_files(
    source: str, columns: list[str], groups: tuple[str, ...], distinct: set[str]
) -> dict[str, Any]:
    from hbm.data.engines.sources import resolve_source
    from hbm.data.tables import read_table

    parts = []
    found = resolve_source(source)
    for file in found.files:
        table = read_table(file, group=list(groups))
        work = lambda t=table: probe_frame(t, columns, distinct)  # noqa: E731
        parts.append(_labelled(file, found.files, work))
        del table
    return merge(parts)


def _labelled(file: str, files: tuple[str, ...], work: Callable[[], dict[str, Any]]):
    try:
        return work()
    except ValueError as error:
        if len(files) == 1:
            raise
        raise ValueError(f"{file}: {error}") from None
