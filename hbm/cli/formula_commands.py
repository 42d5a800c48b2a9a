"""``hbm fit`` for formula models whose rows are not read whole into memory: a table reduced on an
engine (``--engine duckdb|dask``, or a glob), or a statistics file written by ``hbm reduce``.

The rows' own path (one file, pandas) stays :func:`hbm.cli.commands.formula_command`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hbm.cli.parser import UsageError
from hbm.core.defaults import DEFAULTS

__all__ = ["formula_source", "is_formula_statistics"]


def is_formula_statistics(path: str) -> bool:
    """Whether ``path`` is a statistics file of a formula model."""
    from hbm.data.model_data_table import LAYOUT
    from hbm.data.stats_file import is_stats_file, read_stats

    if not is_stats_file(path):
        return False
    try:
        _, info, _ = read_stats(path)
    except ValueError:
        return False
    return info.get("layout") == LAYOUT


def formula_source(args: argparse.Namespace, say: Any) -> tuple[Any, Any, dict[str, Any]] | None:
    """The statistics (``Statistics``), parsed formula and provenance for ``hbm fit`` when the
    rows are not read whole into memory; ``None`` when they are (one file, pandas)."""
    from hbm.data.engines import check_engine, choose_engine
    from hbm.data.stats_file import is_stats_file
    from hbm.model.formula import parse_formula
    from hbm.workflow.reduce import read_statistics, reduce_source

    check_engine(args.engine)
    if is_stats_file(args.data):
        given = [
            o for o, v in (("--engine", args.engine != "auto"), ("--cluster", args.cluster)) if v
        ]
        for option, wanted in (
            ("--likelihood rows", args.likelihood == "rows"),
            ("--prior-only", args.prior_only),
        ):
            if wanted:
                raise UsageError(f"{option} needs the table's rows; {args.data} holds statistics")
        if given:
            raise UsageError(
                f"{args.data} holds statistics already reduced; {', '.join(given)} cannot be "
                "given for it"
            )
        stats = read_statistics(
            args.data, group=args.group, value=args.value, se=args.se, formula=args.formula
        )
        if say:
            say(
                f"hbm: statistics of {stats.data.n_rows} rows from {args.data} "
                f"(reduced by {stats.provenance.get('engine', '?')})"
            )
        return stats, parse_formula(stats.description.formula), stats.provenance
    engine, why = choose_engine(args.data, args.engine)
    if engine == "pandas" and args.cluster is None and Path(args.data).is_file():
        return None
    for option, wanted in (
        ("--likelihood rows", args.likelihood == "rows"),
        ("--prior-only", args.prior_only),
    ):
        if wanted:
            raise UsageError(
                f"{option} needs the rows in memory (the pandas engine, one file); the {engine} "
                "engine only reduces them to per-cell statistics"
            )
    stats = reduce_source(
        args.data,
        formula=args.formula,
        engine=engine,
        cluster=args.cluster,
        missing="drop" if args.drop_missing else DEFAULTS.missing,
        order=args.order,
        progress=say,
    )
    if say:
        p = stats.provenance
        say(
            f"hbm: reduced {p['rows']} rows with {p['engine']} ({why}) in {p['seconds']:.1f} s: "
            f"{p['detail']}"
        )
    return stats, parse_formula(args.formula), {**stats.provenance, "why": why}
