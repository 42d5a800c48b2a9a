"""The reduction in SQL, one text for DuckDB and Spark SQL (with double-quoted identifiers).

Two statements do the work, and a third only when a cell needs it:

1. **pilot**: one complete row's values ``c`` (a shift per column).
2. **moments**: per cell ``count``, ``avg(x - c)``, ``var_pop(x - c)``, ``covar_pop(x_a - c_a,
   x_b - c_b)``: no more than the bare group-by computes. ``var_pop`` and
   ``covar_pop`` are centred (Welford's update, Chan's merge between threads), never raw sums of
   squares; but their error grows with the ratio of a cell's distance from zero to its spread
   (values near 1e9 with sd 1 keep only about 7 digits of the sum of squares). Shifting by ``c``
   brings every cell whose mean lies near the data's typical value close to zero, where the
   aggregates keep all digits.
3. **refine** (cells whose mean still lies more than :data:`MAX_SPREADS` of their sds from ``c``,
   for one column or more): the corrected two-pass algorithm for those cells alone, joined to
   their first-pass means ``p``: ``sum(x - p)`` and ``sum((x_a - p_a)(x_b - p_b))``; the exact
   mean is ``p + sum(x - p) / n`` and the co-moment ``sum(...) - n low_a low_b``.

Rows with a missing group label or a missing value in any column read are left out of every
aggregate. Only when rows were left out, or the moments hint at values too large or not varying,
does **extent** count the missing values by column and find each column's smallest and largest
value, for the checks' messages.
"""

from __future__ import annotations

from hbm.data.engines.request import Request, quote_sql

__all__ = ["MAX_SPREADS", "extent_sql", "label_sql", "moments_sql", "pilot_sql", "refine_sql"]

#: Cells whose mean lies further than this many of their sds from the shift are refined.
MAX_SPREADS = 100.0


def label_sql(column: str, kind: str) -> str:
    """A grouping column as text, as pandas would print it (``7``, not ``7.0``); ``kind`` is
    ``text``, ``integer``, ``float`` or ``other``; empty text counts as missing."""
    q = quote_sql(column)
    if kind == "text":
        return f"NULLIF(CAST({q} AS STRING), '')"
    if kind == "float":
        return (
            f"CASE WHEN {q} = trunc({q}) AND abs({q}) < 9007199254740992 "
            f"THEN CAST(CAST({q} AS BIGINT) AS STRING) ELSE CAST({q} AS STRING) END"
        )
    return f"CAST({q} AS STRING)"


def _rows(request: Request, source: str, kinds: dict[str, str]) -> str:
    """The source's rows: labels ``k0..``, the expressions ``r0..`` and ``complete``."""
    keys = [f"{label_sql(g, kinds.get(g, 'other'))} AS k{i}" for i, g in enumerate(request.groups)]
    values = [f"CAST(({c.sql}) AS DOUBLE) AS r{a}" for a, c in enumerate(request.columns)]
    return f"SELECT {', '.join(keys + values)} FROM {source}"


def _complete(request: Request) -> str:
    parts = [f"k{i} IS NOT NULL" for i in range(len(request.groups))]
    parts += [f"r{a} IS NOT NULL" for a in range(len(request.columns))]
    return " AND ".join(parts)


def pilot_sql(request: Request, source: str, kinds: dict[str, str]) -> str:
    """One complete row's values ``r0..``: the shifts."""
    values = ", ".join(f"r{a}" for a in range(len(request.columns)))
    return (
        f"SELECT {values} FROM ({_rows(request, source, kinds)}) AS t "
        f"WHERE {_complete(request)} LIMIT 1"
    )


def moments_sql(request: Request, source: str, kinds: dict[str, str], shift: list[float]) -> str:
    """Per cell: ``rows``, ``n`` (complete rows), ``m{a}`` (shifted mean), ``v{a}``
    (``var_pop``), ``c{a}_{b}`` (``covar_pop``). As lean as the bare group-by: with one column a
    missing value is skipped by the aggregates themselves and a missing label makes a cell of its
    own; with several, a row missing any of them is left out of all."""
    k = len(request.columns)
    keys = ", ".join(f"k{i}" for i in range(len(request.groups)))
    if k == 1:
        shifted = f"r0 - ({shift[0]!r}) AS x0"
    else:
        values = " AND ".join(f"r{a} IS NOT NULL" for a in range(k))
        shifted = ", ".join(
            f"CASE WHEN {values} THEN r{a} - ({shift[a]!r}) END AS x{a}" for a in range(k)
        )
    aggregates = ["count(*) AS rows", "count(x0) AS n"]
    for a in range(k):
        aggregates += [f"avg(x{a}) AS m{a}", f"var_pop(x{a}) AS v{a}"]
        aggregates += [f"covar_pop(x{a}, x{b}) AS c{a}_{b}" for b in range(a + 1, k)]
    return (
        f"SELECT {keys}, {', '.join(aggregates)} FROM "
        f"(SELECT {keys}, {shifted} FROM ({_rows(request, source, kinds)}) AS t) AS s "
        f"GROUP BY {keys}"
    )


def extent_sql(request: Request, source: str, kinds: dict[str, str]) -> str:
    """Only when a check needs them: rows without a full label (``unlabelled``), rows missing
    each column (``missing{a}``), and each column's ``lo{a}``/``hi{a}`` over complete rows."""
    complete = _complete(request)
    labels = " OR ".join(f"k{i} IS NULL" for i in range(len(request.groups)))
    parts = [f"sum(CASE WHEN {labels} THEN 1 ELSE 0 END) AS unlabelled"]
    for a in range(len(request.columns)):
        parts += [
            f"sum(CASE WHEN r{a} IS NULL THEN 1 ELSE 0 END) AS missing{a}",
            f"min(CASE WHEN {complete} THEN r{a} END) AS lo{a}",
            f"max(CASE WHEN {complete} THEN r{a} END) AS hi{a}",
        ]
    return f"SELECT {', '.join(parts)} FROM ({_rows(request, source, kinds)}) AS t"


def refine_sql(request: Request, source: str, kinds: dict[str, str], pilot: str) -> str:
    """For the cells of table ``pilot`` (``k0..``, ``p0..``: their means): ``s{a}`` =
    ``sum(x_a - p_a)`` and ``q{a}_{b}`` = ``sum((x_a - p_a)(x_b - p_b))``, for ``a <= b``."""
    k = len(request.columns)
    keys = [f"k{i}" for i in range(len(request.groups))]
    join = " AND ".join(f"t.{key} = p.{key}" for key in keys)
    deviations = ", ".join(f"t.r{a} - p.p{a} AS d{a}" for a in range(k))
    sums = [f"sum(d{a}) AS s{a}" for a in range(k)]
    sums += [f"sum(d{a} * d{b}) AS q{a}_{b}" for a in range(k) for b in range(a, k)]
    selected = ", ".join(f"t.{key} AS {key}" for key in keys)
    complete = " AND ".join(
        [f"t.{key} IS NOT NULL" for key in keys] + [f"t.r{a} IS NOT NULL" for a in range(k)]
    )
    return (
        f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM "
        f"(SELECT {selected}, {deviations} FROM ({_rows(request, source, kinds)}) AS t "
        f"JOIN {pilot} AS p ON {join} WHERE {complete}) AS d "
        f"GROUP BY {', '.join(keys)}"
    )
