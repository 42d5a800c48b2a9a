"""The probe of :mod:`hbm.data.engines.probe` in DuckDB SQL: one pass for counts and ranges, one
for the levels of the columns that have them (text columns, and numeric ones under ``C()``).

A text column counts as numeric when at least half of its present values read as numbers (as the
in-memory path reads a column with a typo in it); the spellings of missing (``NA``, ``null``, ...)
and empty fields are missing, as :func:`hbm.data.tables.read_table` reads them.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.data.columns import check_columns
from hbm.data.engines.duckdb_engine import _NUMERIC, _engine_message, _reader, _types
from hbm.data.engines.probe import MAX_LEVELS
from hbm.data.engines.request import Column, Request, quote_sql
from hbm.data.engines.sources import resolve_source
from hbm.data.tables import MISSING_SPELLINGS

__all__ = ["probe_duckdb"]


def probe_duckdb(
    source: str, columns: list[str], groups: tuple[str, ...], distinct: set[str]
) -> dict[str, Any]:
    """The merged-probe record (:func:`hbm.data.engines.probe.merge`'s shape) of ``columns``."""
    import duckdb

    found = resolve_source(source)
    request = Request(source, groups, tuple(Column.plain(c) for c in columns))
    with tempfile.TemporaryDirectory(prefix="hbm-duckdb-") as spill:
        config: dict[str, Any] = {
            "threads": DEFAULTS.duckdb_threads,
            "memory_limit": DEFAULTS.duckdb_memory_limit,
            "temp_directory": spill,
        }
        con = duckdb.connect(config=config)
        try:
            reader = _reader(found, request)
            types = _types(con, reader, found)
            check_columns(pd.DataFrame(columns=list(types)), [*groups, *columns])
            return _probe(con, reader, types, columns, distinct)
        except duckdb.Error as error:
            raise ValueError(_engine_message(error, found)) from None
        finally:
            con.close()


def _probe(
    con: Any, reader: str, types: dict[str, str], columns: list[str], distinct: set[str]
) -> dict[str, Any]:
    spelled = ", ".join("'" + s.replace("'", "''") + "'" for s in MISSING_SPELLINGS)
    value: dict[str, str] = {}
    numeric: dict[str, bool] = {}
    for name in columns:
        q, kind = quote_sql(name), types[name]
        if kind == "BOOLEAN" or kind.startswith(("DATE", "TIME", "INTERVAL")):
            raise ValueError(
                f"The covariate {name!r} holds {kind.lower()} values; hbm reads covariates as "
                "numbers or as text labels: convert it to one of them."
            )
        numeric[name] = kind.startswith(_NUMERIC) or kind.startswith("U")
        if numeric[name]:
            value[name] = f"NULLIF(CAST({q} AS DOUBLE), 'NaN'::DOUBLE)"
        else:
            text = f"CAST({q} AS VARCHAR)"
            value[name] = f"CASE WHEN {text} IN ({spelled}) THEN NULL ELSE {text} END"
    parts = []
    for a, name in enumerate(columns):
        v = value[name]
        number = v if numeric[name] else f"TRY_CAST(trim({v}) AS DOUBLE)"
        finite = f"CASE WHEN isfinite({number}) THEN {number} END"
        parts += [
            f"count({v}) AS present{a}",
            f"count({finite}) AS parsed{a}",
            f"min({finite}) AS lo{a}",
            f"max({finite}) AS hi{a}",
        ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {reader}").df().iloc[0]
    out: dict[str, Any] = {}
    for a, name in enumerate(columns):
        present, parsed = int(row[f"present{a}"]), int(row[f"parsed{a}"])
        out[name] = {
            "numeric": numeric[name],
            "present": present,
            "parsed": parsed,
            "min": None if pd.isna(row[f"lo{a}"]) else float(row[f"lo{a}"]),
            "max": None if pd.isna(row[f"hi{a}"]) else float(row[f"hi{a}"]),
            "levels": set(),
            "integer": types[name].startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT")),
        }
        text_levels = not numeric[name] and parsed < 0.5 * present
        if text_levels or (name in distinct and (numeric[name] or parsed >= 0.5 * present)):
            v = value[name]
            if not text_levels and not numeric[name]:
                v = f"TRY_CAST(trim({v}) AS DOUBLE)"
            found = con.execute(
                f"SELECT DISTINCT {v} AS v FROM {reader} WHERE {v} IS NOT NULL "
                f"LIMIT {MAX_LEVELS + 1}"
            ).fetchall()
            out[name]["levels"] = {r[0] for r in found}
    return out
