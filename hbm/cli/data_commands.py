"""``hbm reduce``, and how ``hbm fit`` gets its data: a statistics file, or a table reduced on
an engine (pandas, DuckDB, Dask).

Progress goes to stdout, so that bad input leaves one line on stderr; heavy libraries are
imported inside the functions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hbm.cli.parser import UsageError
from hbm.core.defaults import DEFAULTS

__all__ = ["fit_data", "reduce_command"]


def fit_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None, list[str]]:
    """The data of ``hbm fit`` (a statistics file, or a table reduced on an engine), its
    provenance for the run record, and the lines that say how it was read."""
    from hbm.data.engines import check_engine, choose_engine
    from hbm.workflow.reduce import is_stats_file, read_statistics, reduce_source

    check_engine(args.engine)
    say = None if args.quiet else _say  # progress on stdout: stderr is for the one error line
    notes: list[str] = []
    if is_stats_file(args.data):
        given = [
            o for o, v in (("--engine", args.engine != "auto"), ("--cluster", args.cluster)) if v
        ]
        if given:
            raise UsageError(
                f"{args.data} holds statistics already reduced; {', '.join(given)} cannot be "
                "given for it"
            )
        if args.likelihood == "rows" or args.prior_only:
            option = "--likelihood rows" if args.likelihood == "rows" else "--prior-only"
            raise UsageError(
                f"{option} needs the table's rows; {args.data} holds each group's n, mean and ss"
            )
        stats = read_statistics(args.data, group=args.group, value=args.value, se=args.se)
        if say:
            notes.append(
                f"hbm: statistics of {stats.data.n_rows} rows from {args.data} "
                f"(reduced by {stats.provenance.get('engine', '?')})"
            )
        return stats.data, stats.provenance, notes
    missing = [o for o, v in (("--group", args.group), ("--value", args.value)) if v is None]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)} (or --formula)"
        )
    engine, why = choose_engine(args.data, args.engine)
    missing_rows = "drop" if args.drop_missing else DEFAULTS.missing
    if engine == "pandas" and args.cluster is None and Path(args.data).is_file():
        from hbm.data.grouped import grouped_data
        from hbm.data.tables import read_table

        table = read_table(args.data, group=args.group)
        data = grouped_data(
            table,
            group=args.group,
            value=args.value,
            se=args.se,
            order=args.order or DEFAULTS.order,  # type: ignore[arg-type]
            missing=missing_rows,  # type: ignore[arg-type]
            keep_rows=args.likelihood == "rows" or args.prior_only,
        )
        del table
        # the default on a small file records nothing new: such fits stay as they were
        default = args.engine == "auto" and why.endswith("read whole with pandas")
        reduction = None if default else {"engine": "pandas", "why": why}
        if say:
            notes.append(f"hbm: engine pandas ({why})")
    else:
        rows_needed = (
            ("--se", args.se),
            ("--likelihood rows", args.likelihood == "rows"),
            ("--prior-only", args.prior_only),
        )
        for option, given in rows_needed:
            if given:
                raise UsageError(
                    f"{option} needs the rows in memory (the pandas engine); the {engine} engine "
                    "only reduces them to per-group statistics"
                )
        stats = reduce_source(
            args.data,
            group=args.group,
            value=args.value,
            engine=engine,
            cluster=args.cluster,
            missing=missing_rows,
            order=args.order,
            progress=say,
        )
        data, reduction = stats.data, {**stats.provenance, "why": why}  # type: ignore[assignment]
        if say:
            notes.append(_reduction_line(stats.provenance, why, data.order))
    if data.dropped and say:
        _say_err(f"hbm: dropped {data.dropped} row(s) with missing values (--drop-missing)")
    return data, reduction, notes


def _reduction_line(provenance: dict[str, Any], why: str, order: str) -> str:
    return (
        f"hbm: reduced {provenance['rows']} rows with {provenance['engine']} ({why}) in "
        f"{provenance['seconds']:.1f} s: {provenance['detail']}; groups in {order} order"
    )


def _say_err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def reduce_command(args: argparse.Namespace) -> int:
    from hbm.data.engines import choose_engine
    from hbm.workflow.reduce import reduce_source

    target = Path(args.out)
    if target.suffix.lower() not in (".parquet", ".pq"):
        raise UsageError(f"--out must name a .parquet file; got {args.out!r}")
    if target.is_dir():
        raise UsageError(f"--out {args.out!r} is a folder; expected a .parquet file")
    if not target.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(target.parent)!r} does not exist")
    engine, why = choose_engine(args.data, args.engine)
    stats = reduce_source(
        args.data,
        group=args.group,
        value=args.value,
        formula=args.formula,
        engine=engine,
        cluster=args.cluster,
        missing="drop" if args.drop_missing else DEFAULTS.missing,
        order=args.order,
        progress=None if args.quiet else _say,
    )
    stats = type(stats)(stats.data, stats.description, {**stats.provenance, "why": why})
    stats.write(target)
    if not args.quiet:
        order = getattr(stats.data, "order", None) or stats.provenance.get("order", "")
        _say(_reduction_line(stats.provenance, why, order))
        if stats.data.dropped:
            _say_err(f"hbm: dropped {stats.data.dropped} row(s) with missing values")
        print(f"hbm: wrote {target} ({stats.describe()}; model {stats.description.formula!r})")
    return 0


def _say(line: str) -> None:
    print(line, flush=True)
