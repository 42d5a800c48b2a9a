"""What each ``hbm`` command does once its arguments are parsed.

Heavy libraries are imported inside the commands, so ``hbm --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hbm.cli.parser import EXIT_INTERRUPTED, UsageError
from hbm.core.defaults import DEFAULTS

__all__ = ["COMMANDS", "fit_command", "fit_spec_command", "is_spec_file"]


def datasets_command() -> int:
    from hbm.data.datasets import describe

    print(describe().to_string(index=False))
    return 0


def fit_command(args: argparse.Namespace) -> int:
    from hbm.inference.config import SampleConfig
    from hbm.model.parametrizations import check_likelihood, check_parametrization
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.workflow.fit import fit_grouped

    out = check_output_dir(args.out)
    check_parametrization(args.parametrization)
    check_likelihood(args.likelihood)
    names = [name for name, _ in args.prior]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--prior given more than once for {', '.join(map(repr, repeated))}")
    config = SampleConfig(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        target_accept=args.target_accept,
        random_seed=args.seed,
        sampler=args.sampler,
        progressbar=not args.quiet,
    )
    data, reduction, notes = _fit_data(args)
    priors = None
    if args.priors_preset or args.prior:
        from hbm.model.families.normal import resolve_priors

        preset = resolve_priors(data, args.priors_preset) if args.priors_preset else {}
        given = resolve_priors(data, dict(args.prior))
        priors = {**preset, **{name: given[name] for name in names}}
    for note in notes:  # after every option is checked: bad input prints only its error
        _say(note)
    result = fit_grouped(
        data,
        priors=priors,
        parametrization=args.parametrization,
        likelihood=args.likelihood,
        config=config,
        source=str(args.data),
        reduction=reduction,
    )
    write_outputs(result, out)
    if not args.quiet:
        summary = result.summary()
        columns = ["param", "mean", "sd", "eti94_lb", "eti94_ub", "ess_bulk", "r_hat"]
        print(summary[columns].round(3).to_string(index=False))
        d = result.diagnosed
        print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
        print(
            f"hbm: wrote {out}/ (summary.csv, groups.csv, diagnostics.json, priors.csv, fit.nc, "
            "report.html, report.md, shrinkage.png)"
        )
    return 0


def _fit_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None, list[str]]:
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
        if args.likelihood == "rows":
            raise UsageError(
                f"--likelihood rows needs the table's rows; {args.data} holds each group's n, "
                "mean and ss"
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
        raise UsageError(f"the following arguments are required: {', '.join(missing)}")
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
            keep_rows=args.likelihood == "rows",
        )
        del table
        # the default on a small file records nothing new: such fits stay as they were
        default = args.engine == "auto" and why.endswith("read whole with pandas")
        reduction = None if default else {"engine": "pandas", "why": why}
        if say:
            notes.append(f"hbm: engine pandas ({why})")
    else:
        for option, given in (("--se", args.se), ("--likelihood rows", args.likelihood == "rows")):
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
        data, reduction = stats.data, {**stats.provenance, "why": why}
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
        _say(_reduction_line(stats.provenance, why, stats.data.order))
        if stats.data.dropped:
            _say_err(f"hbm: dropped {stats.data.dropped} row(s) with missing values")
        print(
            f"hbm: wrote {target} ({stats.data.n_groups} groups of {stats.data.group!r}: "
            f"n, mean, ss of {stats.data.value!r}; model {stats.description.formula!r})"
        )
    return 0


def is_spec_file(data: str) -> bool:
    return str(data).lower().endswith(".toml")


def fit_spec_command(args: argparse.Namespace, argv: list[str]) -> int:
    """``hbm fit SPEC.toml --out DIR``: the spec says everything but where the results go."""
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.workflow.specs import fit_spec, read_spec

    allowed = ("--out", "--quiet")
    options = [a.split("=")[0] for a in argv[1:] if a.startswith("--")]
    given = sorted({o for o in options if not any(name.startswith(o) for name in allowed)})
    if given:
        raise UsageError(
            f"with a model spec ({args.data}) the spec file says the columns, priors and "
            f"sampling; {', '.join(given)} cannot be given too (edit the spec instead)"
        )
    out = check_output_dir(args.out)
    spec = read_spec(args.data)
    result = fit_spec(spec, progressbar=not args.quiet)
    write_outputs(result, out)
    if not args.quiet:
        d = result.diagnosed
        print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
        print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, ...)")
    return 0


def batch_command(args: argparse.Namespace) -> int:
    from hbm.workflow.batch import run_batch

    try:
        rows = run_batch(
            args.specs,
            args.out,
            jobs=args.jobs,
            progress=None if args.quiet else _say,
            cluster=args.cluster,
        )
    except KeyboardInterrupt:
        print(
            f"hbm: interrupted; finished specs are in {args.out}/, the others are marked failed "
            "in index.csv and no unfinished result was left.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    failed = sum(row["status"] == "failed" for row in rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    if not args.quiet:
        print(
            "hbm: batch "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f"; wrote {args.out}/index.csv and index.html"
        )
    return 1 if failed else 0


def _say(line: str) -> None:
    print(line, flush=True)


def report_command(args: argparse.Namespace) -> int:
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.results.io import load_result

    out = check_output_dir(args.out)
    write_outputs(load_result(args.fit), out)
    print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, shrinkage.png)")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hbm.analysis.predict import predict, prediction_summary, write_predictions
    from hbm.core.seeds import new_seed
    from hbm.results.io import load_result

    target = Path(args.out) if args.out else None
    if target is not None and target.suffix.lower() not in (".csv", ".nc"):
        raise UsageError(f"--out must name a .csv or .nc file; got {args.out!r}")
    if target is not None and not target.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(target.parent)!r} does not exist")
    fit = load_result(args.fit)
    seed = new_seed() if args.seed is None else args.seed
    tree = predict(
        fit,
        **{"new_groups" if args.new else "groups": args.group},
        rows=args.rows,
        se=args.se,
        draws=args.draws,
        random_seed=seed,
    )
    if target is None:
        print(prediction_summary(tree).round(3).to_string())
        print(f"hbm: seed {seed}")
    else:
        write_predictions(tree, target)
        size = tree["predictions"]["y"].size
        print(f"hbm: wrote {target} ({size} predicted values, seed {seed})")
    return 0


COMMANDS = {
    "reduce": reduce_command,
    "batch": batch_command,
    "report": report_command,
    "predict": predict_command,
}
