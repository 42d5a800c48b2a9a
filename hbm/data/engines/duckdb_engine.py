"""The DuckDB engine: the reduction in SQL, embedded and out of core.

DuckDB streams the files (CSV or Parquet, one or a glob) through the SQL of
:mod:`hbm.data.engines.sql` with a memory limit (:data:`hbm.core.defaults.DEFAULTS`
``.duckdb_memory_limit``; it spills to a temporary folder beyond it), so a file larger than memory
reduces in the memory of its groups. Text files are read as :func:`hbm.data.tables.read_table`
reads them: the delimiter and decimal comma it detects, group labels as text (``007`` keeps its
zeros, only an empty field is a missing label), and the usual spellings of missing (``NA``,
``null``, ...) in value columns. Bad values are reported as the pandas path reports them, with the
data row (and the file, for a glob) where the engine can tell it.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.data.columns import check_columns
from hbm.data.engines import assemble, sql
from hbm.data.engines.checks import check_first_pass
from hbm.data.engines.request import Reduced, Request, quote_sql
from hbm.data.engines.sources import Source, resolve_source
from hbm.data.tables import MISSING_SPELLINGS, text_format

__all__ = ["reduce_duckdb"]

#: Seconds between progress lines of a long reduction.
PROGRESS_EVERY = 2.0
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")


def reduce_duckdb(
    request: Request,
    *,
    memory_limit: str = DEFAULTS.duckdb_memory_limit,
    threads: int = DEFAULTS.duckdb_threads,
    progress: Callable[[str], None] | None = None,
) -> Reduced:
    """Reduce ``request.source`` with DuckDB (see the module docstring)."""
    import duckdb

    start = time.perf_counter()
    source = resolve_source(request.source)
    with tempfile.TemporaryDirectory(prefix="hbm-duckdb-") as spill:
        config: dict[str, Any] = {
            "threads": threads,
            "memory_limit": memory_limit,
            "temp_directory": spill,
        }
        con = duckdb.connect(config=config)
        try:
            # progress is tracked (for query_progress) but never printed by DuckDB itself
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
            con.execute("SET progress_bar_time = 0")
            reader = _reader(source, request)
            types = _types(con, reader, source)
            check_columns(pd.DataFrame(columns=list(types)), list(request.source_columns))
            frame = _normalised(con, reader, types, request, source)
            kinds = {g: _kind(types[g]) for g in request.groups}
            pilot = con.execute(sql.pilot_sql(request, frame, kinds)).fetchall()
            if not pilot:
                raise ValueError(_no_rows(con, reader, request, source))
            shift = [float(v) for v in pilot[0]]
            text = sql.moments_sql(request, frame, kinds, shift)
            table = _run(con, text, source, progress)
            first = assemble.first_pass(table, len(request.groups), shift)
            if assemble.needs_extent(first):
                extent = con.execute(sql.extent_sql(request, frame, kinds)).df()
                first = assemble.with_extent(first, extent)
            check_first_pass(
                first, request, lambda test, column: _where(con, frame, source, test, column=column)
            )
            moments = first.moments
            cells = assemble.to_refine(first, shift)
            if cells.size:
                con.register("hbm_pilot", assemble.pilot_table(first, cells, len(request.groups)))
                refine = sql.refine_sql(request, frame, kinds, "hbm_pilot")
                moments = assemble.refined(
                    first, cells, con.execute(refine).df(), len(request.groups)
                )
        except duckdb.Error as error:
            raise ValueError(_engine_message(error, source)) from None
        finally:
            con.close()
    refined = f", {cells.size} cell(s) refined by a second pass" if cells.size else ""
    return Reduced(
        keys=first.keys,
        moments=moments,
        columns=tuple(c.name for c in request.columns),
        minimum=first.minimum,
        maximum=first.maximum,
        rows=int(moments.n.sum()),
        dropped=first.dropped,
        engine="duckdb",
        detail=f"DuckDB {duckdb.__version__}, {threads} thread(s), memory limit {memory_limit}"
        f"{refined}",
        order="sorted",
        seconds=time.perf_counter() - start,
    )


def _reader(source: Source, request: Request) -> str:
    files = "[" + ", ".join(_literal(f) for f in source.files) + "]"
    if source.kind == "parquet":
        return f"read_parquet({files}, union_by_name = true, filename = true)"
    encoding, delimiter, decimal, _ = text_format(source.files[0])
    encoding = {"utf-8-sig": "utf-8", "cp1252": "latin-1"}.get(encoding, encoding)
    types = ", ".join(f"{_literal(g)}: 'VARCHAR'" for g in request.groups)
    return (
        f"read_csv({files}, header = true, delim = {_literal(delimiter)}, "
        f"decimal_separator = {_literal(decimal)}, encoding = {_literal(encoding)}, "
        f"types = {{{types}}}, union_by_name = true, filename = true)"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _types(con: Any, reader: str, source: Source) -> dict[str, str]:
    described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    return {str(row[0]): str(row[1]) for row in described if row[0] != "filename"}


def _kind(duck_type: str) -> str:
    if duck_type == "VARCHAR":
        return "text"
    if duck_type.startswith(_INTEGER) or duck_type.startswith("U"):
        return "integer"
    if duck_type in ("FLOAT", "DOUBLE"):
        return "float"
    return "other"


def _normalised(con: Any, reader: str, types: dict[str, str], request: Request, source: Source):
    """The source as a subquery whose value columns are numbers: a text column (a file with
    ``NA`` or a decimal comma in it) is converted, after checking that every field is a number
    or a spelling of missing."""
    _, _, decimal, _ = text_format(source.files[0]) if source.kind == "csv" else ("", "", ".", [])
    selected = []
    for name in request.source_columns:
        q = quote_sql(name)
        if name in request.groups:
            selected.append(q)
            continue
        if name in request.labels:  # a categorical covariate: text, the spellings of missing
            spelled = ", ".join(_literal(s) for s in MISSING_SPELLINGS)
            text = f"CAST({q} AS VARCHAR)"
            selected.append(f"CASE WHEN {text} IN ({spelled}) THEN NULL ELSE {text} END AS {q}")
            continue
        kind = types[name]
        if kind.startswith(_NUMERIC) or kind.startswith("U"):
            # NaN in a float column is missing, as for pandas (DuckDB counts NaN equal to NaN)
            number = f"CAST({q} AS DOUBLE)"
            nan = kind in ("FLOAT", "DOUBLE")
            selected.append(
                f"NULLIF({number}, 'NaN'::DOUBLE) AS {q}" if nan else f"{number} AS {q}"
            )
            continue
        if kind == "BOOLEAN":
            raise ValueError(
                f"The value column {name!r} holds true/false values; expected numbers."
            )
        if kind.startswith(("DATE", "TIME", "INTERVAL")):
            raise ValueError(
                f"The value column {name!r} holds dates or times ({kind}); expected numbers."
            )
        missing = ", ".join(_literal(s) for s in MISSING_SPELLINGS)
        text = f"trim(CAST({q} AS VARCHAR))"
        if decimal == ",":
            text = f"replace({text}, ',', '.')"
        number = f"CASE WHEN trim(CAST({q} AS VARCHAR)) IN ({missing}) THEN NULL ELSE {text} END"
        bad = f"({number}) IS NOT NULL AND TRY_CAST(({number}) AS DOUBLE) IS NULL"
        found = _where(con, reader, source, f"{bad}", column=name, limit=1)
        if found:
            where, shown, count = found
            raise ValueError(
                f"The value column {name!r} must hold numbers; {where} holds {shown!r}"
                f"{'' if count == 1 else f' ({count} values in all are not numbers)'}."
            )
        selected.append(f"TRY_CAST(({number}) AS DOUBLE) AS {q}")
    return f"(SELECT {', '.join(selected)}, filename FROM {reader}) AS src"


def _where(
    con: Any, rows: str, source: Source, test: str, *, column: str | None = None, limit: int = 5
) -> tuple[str, object, int] | None:
    """Where the rows for which ``test`` holds are: ``("data row 3, 8", first value, count)``.

    Only on the way to an error: it numbers the rows, which costs a pass in file order.
    """
    shown = quote_sql(column) if column else "NULL"
    numbered = (
        f"SELECT filename, row_number() OVER (PARTITION BY filename) AS row, {shown} AS shown, * "
        f"FROM {rows}"
    )
    found = con.execute(
        f"SELECT filename, row, shown, count(*) OVER () FROM ({numbered}) WHERE {test} "
        f"ORDER BY filename, row LIMIT {limit}"
    ).fetchall()
    if not found:
        return None
    rows = ", ".join(str(r[1]) for r in found)
    file = f" of {found[0][0]!r}" if len(source.files) > 1 else ""
    more = ", ..." if found[0][3] > len(found) else ""
    return f"data row {rows}{more}{file}", found[0][2], int(found[0][3])


def _no_rows(con: Any, reader: str, request: Request, source: Source) -> str:
    total = con.execute(f"SELECT count(*) FROM {reader}").fetchone()[0]
    if total == 0:
        return f"The data {source.text!r} has a header but no data rows."
    columns = ", ".join(map(repr, request.source_columns))
    return f"The data {source.text!r} has no row in which {columns} all hold values."


def _run(con: Any, text: str, source: Source, progress: Callable[[str], None] | None):
    """Run the main query; every :data:`PROGRESS_EVERY` seconds tell ``progress`` how far it has
    read, and how fast."""
    if progress is None:
        return con.execute(text).df()
    done = threading.Event()
    start = time.perf_counter()
    total = _parquet_rows(source)

    def report() -> None:
        while not done.wait(PROGRESS_EVERY):
            share = con.query_progress()
            if share is None or share < 0:
                continue
            seconds = time.perf_counter() - start
            if total:
                rows = total * share / 100
                progress(
                    f"hbm: reading {source.text}: {share:.0f}% ({rows / 1e6:.1f}M of "
                    f"{total / 1e6:.1f}M rows, {rows / seconds / 1e6:.1f}M rows/s)"
                )
            else:
                size = source.bytes * share / 100
                progress(
                    f"hbm: reading {source.text}: {share:.0f}% ({size / 1e6:.0f} of "
                    f"{source.bytes / 1e6:.0f} MB, {size / seconds / 1e6:.0f} MB/s)"
                )

    watcher = threading.Thread(target=report, daemon=True)
    watcher.start()
    try:
        return con.execute(text).df()
    finally:
        done.set()
        watcher.join()


def _parquet_rows(source: Source) -> int:
    if source.kind != "parquet":
        return 0
    import pyarrow.parquet as pq

    return int(sum(pq.read_metadata(f).num_rows for f in source.files))


def _engine_message(error: Exception, source: Source) -> str:
    text = " ".join(str(error).split())
    return f"DuckDB could not read {source.text!r}: {text}"
