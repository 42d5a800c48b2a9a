"""``hbm reduce``: rows -> per-group statistics, on an engine, into a file that ``hbm fit`` reads.

    hbm reduce scores.parquet --group school --value score --engine duckdb --out stats.parquet
    hbm fit stats.parquet --out out/fit

:func:`reduce_source` runs the reduction on the chosen engine (:mod:`hbm.data.engines`) and
returns :class:`Statistics`: the checked :class:`~hbm.data.grouped.GroupedData`, the model
description and where the numbers came from. :meth:`Statistics.write` writes them as Parquet with
the description in the metadata (:mod:`hbm.data.stats_file`), so ``hbm fit STATS.parquet`` needs
no other option; :func:`read_statistics` reads them back and refuses options that contradict the
description.

Formulas: ``value ~ 1 + (1 | group)`` (however written) is the seed model above; any other
formula reduces to the count, means and centred co-moments of its design ``[X, Z, y]`` per cell
(:mod:`hbm.workflow.reduce_formula`), written with the formula model's description, so
``hbm fit STATS.parquet`` fits it with no other option.
"""

from __future__ import annotations

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
from hbm.data.model_data import ModelData
from hbm.data.model_data_table import LAYOUT, model_data_from_table, model_data_table
from hbm.data.stats_file import is_stats_file, read_stats, write_stats
from hbm.data.tables import read_table
from hbm.model.description import ModelDescription
from hbm.model.formula import parse_formula
from hbm.workflow.fit_formula import seed_shape
from hbm.workflow.reduce_formula import check_formula_matches, reduce_formula_source

__all__ = ["Statistics", "is_stats_file", "read_statistics", "reduce_source"]


@dataclass(frozen=True, eq=False)
class Statistics:
    """A reduction ready to fit: the data, the model description, and their provenance.

    Attributes
    ----------
    data : GroupedData or ModelData
        Per group: ``n``, ``mean``, ``ss`` (the seed model); or per cell of a formula model's
        grouping factors: ``n``, means and centred co-moments of its design columns.
    description : ModelDescription
        The model the statistics are for.
    provenance : dict
        ``engine`` (that ran), ``why`` (it was chosen), ``detail``, ``source``, ``rows``,
        ``dropped``, ``seconds``.
    """

    data: GroupedData | ModelData
    description: ModelDescription
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The statistics file's table: the group column, ``n``, ``mean``, ``ss`` (the seed
        model), or a formula model's cells (:mod:`hbm.data.model_data_table`)."""
        if isinstance(self.data, ModelData):
            return model_data_table(self.data)[0]
        return seed_table(self.data)

    def describe(self) -> str:
        """What the statistics hold, in a few words (for the console)."""
        if isinstance(self.data, ModelData):
            factors = ", ".join(f"{f.n_groups} groups of {f.name!r}" for f in self.data.factors)
            return (
                f"{self.data.n_cells} cells ({factors}): n, means and co-moments of "
                f"{len(self.data.columns)} design columns"
            )
        return (
            f"{self.data.n_groups} groups of {self.data.group!r}: n, mean, ss of "
            f"{self.data.value!r}"
        )

    def write(self, path: str | Path) -> Path:
        """Write the statistics as Parquet, with the description in the metadata."""
        if isinstance(self.data, ModelData):
            table, record = model_data_table(self.data)
            keep = {k: v for k, v in self.provenance.items() if k not in ("dropped",)}
            return write_stats(path, table, {**keep, **record}, model=self.description.to_json())
        info = {
            "groups": [self.data.group],
            "columns": [self.data.value],
            "order": self.data.order,
            "dropped": self.data.dropped,
            **{k: v for k, v in self.provenance.items() if k not in ("dropped",)},
        }
        return write_stats(path, self.to_frame(), info, model=self.description.to_json())


def _columns(group: str | None, value: str | None) -> tuple[str, str]:
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
    """Reduce a data file (or a glob of them) to the statistics of a model: the seed model's per
    group, or a formula model's per cell.

    Parameters
    ----------
    source : str or Path
        A CSV or Parquet file, or a glob (``"parts/*.parquet"``).
    group, value : str
        The group and value columns of the seed model ``value ~ 1 + (1 | group)``.
    formula : str, optional
        Any model formula instead (``"y ~ x + sector + (1 + x | school)"``): its design
        columns are reduced per cell of its grouping factors (:mod:`hbm.workflow.reduce_formula`).
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
    >>> cells = hbm.reduce("data/sleepstudy.csv", formula="Reaction ~ Days + (Days | Subject)",
    ...                    engine="duckdb")
    >>> cells.describe()
    "18 cells (18 groups of 'Subject'): n, means and co-moments of 3 design columns"
    """
    if formula is not None:
        parsed = parse_formula(formula)
        if seed_shape(parsed) is None:
            if group is not None or value is not None:
                raise ValueError(
                    f"Give either a formula or group= and value=, not both; got the formula "
                    f"{formula!r} with group={group!r}, value={value!r}."
                )
            return _reduce_formula(str(source), parsed, engine, cluster, missing, order, progress)
        seed_group, seed_value = seed_shape(parsed)  # type: ignore[misc]
        if (group, value) != (None, None) and (group, value) != (seed_group, seed_value):
            raise ValueError(
                f"The formula {formula!r} says group {seed_group!r} and value {seed_value!r}; "
                f"group={group!r} and value={value!r} contradict it (give one or the other)."
            )
        group, value = seed_group, seed_value
    group, value = _columns(group, value)
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


def _reduce_formula(
    source: str,
    parsed: Any,
    engine: str,
    cluster: str | None,
    missing: str,
    order: str | None,
    progress: Callable[[str], None] | None,
) -> Statistics:
    if order not in (None, "first-seen", "sorted"):
        raise ValueError(
            f"The 'order' option must be one of 'first-seen', 'sorted'; got {order!r}."
        )
    chosen, why = choose_engine(source, engine)
    if chosen == "duckdb" and order == "first-seen":
        raise ValueError(
            "The duckdb engine gives the groups sorted (it cannot tell the order of the rows in "
            "a file); use order='sorted' (--order sorted) or the pandas or dask engine."
        )
    data, description, provenance = reduce_formula_source(
        source,
        parsed,
        engine=chosen,
        cluster=cluster,
        missing=missing,
        order=order,
        progress=progress,
    )
    return Statistics(data=data, description=description, provenance={**provenance, "why": why})


def _formula_statistics(
    path: str | Path,
    table: pd.DataFrame,
    info: dict[str, Any],
    description: ModelDescription,
    options: dict[str, str | None],
    formula: str | None,
) -> Statistics:
    """A formula model's statistics file (see :func:`read_statistics`)."""
    where = repr(str(path))
    given = [f"--{o} {v!r}" for o, v in options.items() if v]
    if given:
        raise ValueError(
            f"The statistics file {where} holds the formula model {description.formula!r}; "
            f"{', '.join(given)} does not apply to it (leave it out, or give the formula)."
        )
    if formula is not None:
        check_formula_matches(description, formula, where)
    data = model_data_from_table(table, info, where=where)
    kept = ("engine", "why", "detail", "source", "rows")
    provenance: dict[str, Any] = {k: info[k] for k in kept if k in info}
    provenance["statistics"] = str(path)
    return Statistics(data=data, description=description, provenance=provenance)


def read_statistics(
    path: str | Path,
    *,
    group: str | None = None,
    value: str | None = None,
    se: str | None = None,
    formula: str | None = None,
) -> Statistics:
    """Read a statistics file; ``group``/``value``/``se``/``formula``, when given, must match its
    description.

    Raises
    ------
    ValueError
        Not a statistics file, a layout this hbm does not read, or options that contradict the
        description (the message names both).
    """
    table, info, model = read_stats(path)
    description = ModelDescription.from_json(model)
    where = repr(str(path))
    if info.get("layout") == LAYOUT:
        options = {"group": group, "value": value, "se": se}
        return _formula_statistics(path, table, info, description, options, formula)
    if formula is not None:
        check_formula_matches(description, formula, where)
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
