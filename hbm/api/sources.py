"""Where ``hbm.fit`` gets a path's data: its statistics file, its rows, or its reduction on an
engine (for ``value ~ 1 + (1 | group)`` and for formula models)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.workflow.reduce import Statistics, is_stats_file, read_statistics, reduce_source

__all__ = ["formula_source", "read_or_reduce"]


def read_or_reduce(
    path: str | Path,
    group: str | None,
    value: str | None,
    se: str | None,
    likelihood: str,
    prior_only: bool,
    engine: str,
    cluster: str | None,
    missing: str,
    order: str,
    progressbar: bool,
) -> pd.DataFrame | Statistics:
    """A path's statistics file, its rows (what needs them), or its reduction on ``engine``."""
    if is_stats_file(path):
        return read_statistics(path, group=group, value=value, se=se)
    if likelihood == "rows" or se is not None or prior_only:
        from hbm.data.tables import read_table

        return read_table(path, group=group)
    return reduce_source(
        path,
        group=group,
        value=value,
        engine=engine,
        cluster=cluster,
        missing=missing,
        order=None if order == DEFAULTS.order else order,
        progress=print if progressbar else None,
    )


def formula_source(
    path: str | Path,
    formula: str,
    likelihood: str,
    prior_only: bool,
    engine: str,
    cluster: str | None,
    missing: str,
    order: str,
    progressbar: bool,
) -> pd.DataFrame | Statistics:
    """A path given with a formula: its statistics file (checked against the formula), its rows
    (one file on pandas, or what needs the rows), or its reduction on ``engine``."""
    from hbm.data.engines import choose_engine
    from hbm.data.tables import read_table
    from hbm.model.formula import formula_variables, parse_formula

    if is_stats_file(path):
        return read_statistics(path, formula=formula)
    chosen, _ = choose_engine(str(path), engine)
    in_memory = chosen == "pandas" and cluster is None and Path(path).is_file()
    if in_memory or likelihood == "rows" or prior_only:
        return read_table(path, group=formula_variables(parse_formula(formula))[2])
    return reduce_source(
        path,
        formula=formula,
        engine=chosen,
        cluster=cluster,
        missing=missing,
        order=None if order == DEFAULTS.order else order,
        progress=print if progressbar else None,
    )
