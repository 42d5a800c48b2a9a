"""``hbm reduce``: rows -> per-group statistics, on an engine, into a file that ``hbm fit`` reads.

    hbm reduce scores.parquet --group school --value score --engine duckdb --out stats.parquet
    hbm fit stats.parquet --out out/fit

:func:`reduce_source` runs the reduction on the chosen engine (:mod:`hbm.data.engines`) and
returns :class:`Statistics`: the checked :class:`~hbm.data.grouped.GroupedData`, the model
description and where the numbers came from. :meth:`Statistics.write` writes them as Parquet with
the description in the metadata (:mod:`hbm.data.stats_file`), so ``hbm fit STATS.parquet`` needs
no other option; :func:`read_statistics` reads them back and refuses options that contradict the
description.

Formulas: ``formula=`` accepts the seed model's ``value ~ 1 + (1 | group)`` so far. A formula
model's reduction (the count, means and co-moments of its design ``[X, Z, y]`` per cell) is what
the engines compute for any list of column expressions; translating a formula's design columns
into those expressions is the step still to build (formula models reduce with pandas today).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.data.engines import Column, Request, choose_engine, run
from hbm.data.grouped import GroupedData, grouped_data
from hbm.data.grouped_reduced import grouped_from_reduced, grouped_from_table, seed_table
from hbm.data.stats_file import is_stats_file, read_stats, write_stats
from hbm.data.tables import read_table
from hbm.model.description import ModelDescription

__all__ = ["Statistics", "is_stats_file", "read_statistics", "reduce_source", "seed_formula"]

_NAME = r"(`[^`]+`|[A-Za-z_.][\w.]*)"
_SEED = re.compile(rf"^\s*{_NAME}\s*~\s*(?:1\s*\+\s*)?\(\s*1\s*\|\s*{_NAME}\s*\)\s*$")


@dataclass(frozen=True, eq=False)
class Statistics:
    """A reduction ready to fit: the data, the model description, and their provenance.

    Attributes
    ----------
    data : GroupedData
        Per group: ``n``, ``mean``, ``ss``.
    description : ModelDescription
        The model the statistics are for (``value ~ 1 + (1 | group)``).
    provenance : dict
        ``engine`` (that ran), ``why`` (it was chosen), ``detail``, ``source``, ``rows``,
        ``dropped``, ``seconds``.
    """

    data: GroupedData
    description: ModelDescription
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The statistics file's table: the group column, ``n``, ``mean``, ``ss``."""
        return seed_table(self.data)

    def write(self, path: str | Path) -> Path:
        """Write the statistics as Parquet, with the description in the metadata."""
        info = {
            "groups": [self.data.group],
            "columns": [self.data.value],
            "order": self.data.order,
            "dropped": self.data.dropped,
            **{k: v for k, v in self.provenance.items() if k not in ("dropped",)},
        }
        return write_stats(path, self.to_frame(), info, model=self.description.to_json())


def seed_formula(formula: str) -> tuple[str, str]:
    """``(value, group)`` of the seed model's formula ``value ~ 1 + (1 | group)``.

    >>> seed_formula("score ~ 1 + (1 | school)")
    ('score', 'school')
    """
    found = _SEED.match(formula)
    if not found:
        raise ValueError(
            f"The formula {formula!r} is not one hbm reduce can reduce yet: it takes "
            "'value ~ 1 + (1 | group)' (or --group/--value) so far; fit a formula model from its "
            "table with hbm fit DATA --formula."
        )
    return found.group(1).strip("`"), found.group(2).strip("`")


def _columns(group: str | None, value: str | None, formula: str | None) -> tuple[str, str]:
    if formula is not None:
        value_f, group_f = seed_formula(formula)
        if (group, value) != (None, None) and (group, value) != (group_f, value_f):
            raise ValueError(
                f"The formula {formula!r} says group {group_f!r} and value {value_f!r}; "
                f"group={group!r} and value={value!r} contradict it (give one or the other)."
            )
        return group_f, value_f
    missing = [name for name, given in (("group", group), ("value", value)) if given is None]
    if missing:
        raise ValueError(
            f"Name the {' and '.join(missing)} column(s) (--group/--value), or give a formula."
        )
    return group, value  # type: ignore[return-value]


def reduce_source(
    source: str | Path,
    *,
    group: str | None = None,
    value: str | None = None,
    formula: str | None = None,
    engine: str = DEFAULTS.engine,
    cluster: str | None = None,
    missing: str = DEFAULTS.missing,
    order: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Statistics:
    """Reduce a data file (or a glob of them) to the seed model's per-group statistics.

    Parameters
    ----------
    source : str or Path
        A CSV or Parquet file, or a glob (``"parts/*.parquet"``).
    group, value : str
        The group and value columns (or ``formula="value ~ 1 + (1 | group)"``).
    engine : {"auto", "pandas", "duckdb", "dask"}
        Where the rows are reduced; ``auto`` is pandas up to 200 MB, DuckDB above.
    cluster : str, optional
        A Dask scheduler's address (``engine="dask"``); without it a local cluster runs.
    missing : {"error", "drop"}
        Rows with a missing label or value: an error, or dropped and counted.
    order : {"first-seen", "sorted"}, optional
        The groups' order; by default the engine's (DuckDB's is sorted).
    progress : callable, optional
        Receives progress lines of long reductions (rows read, rate).

    Returns
    -------
    Statistics

    ``hbm.reduce`` is this function; ``hbm.fit(stats)`` fits the result and
    ``stats.write("stats.parquet")`` keeps it for ``hbm fit stats.parquet``.

    Examples
    --------
    >>> import hbm
    >>> stats = hbm.reduce("data/schools.csv", group="school", value="score")
    >>> stats.data.n_groups, stats.provenance["engine"]
    (30, 'pandas')
    >>> stats.to_frame().columns.tolist()
    ['school', 'n', 'mean', 'ss']
    """
    group, value = _columns(group, value, formula)
    if order not in (None, "first-seen", "sorted"):
        raise ValueError(
            f"The 'order' option must be one of 'first-seen', 'sorted'; got {order!r}."
        )
    chosen, why = choose_engine(str(source), engine)
    if chosen == "duckdb" and order == "first-seen":
        raise ValueError(
            "The duckdb engine gives the groups sorted (it cannot tell the order of the rows in "
            "a file); use order='sorted' (--order sorted) or the pandas or dask engine."
        )
    start = time.perf_counter()
    if chosen == "pandas" and cluster is None and Path(source).is_file():
        # one file through pandas: exactly hbm's long-standing path (line numbers in messages)
        data = grouped_data(
            read_table(source, group=group),
            group=group,
            value=value,
            order=order or DEFAULTS.order,  # type: ignore[arg-type]
            missing=missing,  # type: ignore[arg-type]
        )
        detail = "pandas, the file read whole"
    else:
        request = Request(
            source=str(source),
            groups=(group,),
            columns=(Column.plain(value),),
            missing=missing,  # type: ignore[arg-type]
        )
        reduced = run(request, chosen, cluster=cluster, progress=progress)
        data = grouped_from_reduced(reduced, group=group, value=value, order=order)  # type: ignore[arg-type]
        detail = reduced.detail
    provenance = {
        "engine": chosen,
        "why": why,
        "detail": detail,
        "source": str(source),
        "rows": data.n_rows,
        "dropped": data.dropped,
        "seconds": round(time.perf_counter() - start, 3),
    }
    description = ModelDescription.for_groups(group=group, value=value)
    return Statistics(data=data, description=description, provenance=provenance)


def read_statistics(
    path: str | Path,
    *,
    group: str | None = None,
    value: str | None = None,
    se: str | None = None,
) -> Statistics:
    """Read a statistics file; ``group``/``value``/``se``, when given, must match its description.

    Raises
    ------
    ValueError
        Not a statistics file, a layout this hbm does not read, or options that contradict the
        description (the message names both).
    """
    table, info, model = read_stats(path)
    description = ModelDescription.from_json(model)
    where = repr(str(path))
    if not description.is_seed_model or description.known_se is not None:
        raise ValueError(
            f"The statistics file {where} is for the model {description.formula!r}, which this "
            "version of hbm cannot fit from statistics."
        )
    stored = {"group": description.groups[0].factor, "value": description.response}
    given = {"group": group, "value": value}
    for option, wanted in given.items():
        if wanted is not None and wanted != stored[option]:
            raise ValueError(
                f"The statistics file {where} holds the model {description.formula!r}; "
                f"--{option} {wanted!r} does not match it (it was reduced with --{option} "
                f"{stored[option]!r}). Leave the option out or reduce again."
            )
    if se is not None:
        raise ValueError(
            f"The statistics file {where} holds the rows form ({description.formula!r}); --se "
            f"{se!r} does not match it."
        )
    data = grouped_from_table(
        table,
        group=stored["group"],
        value=stored["value"],
        order=str(info.get("order", "sorted")),
        dropped=int(info.get("dropped", 0)),
        where=where,
    )
    provenance: dict[str, Any] = {
        k: info[k] for k in ("engine", "why", "detail", "source", "rows") if k in info
    }
    provenance["statistics"] = str(path)
    return Statistics(data=data, description=description, provenance=provenance)
