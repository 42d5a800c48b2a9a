"""The ``hbm`` command line.

    hbm fit DATA --group COL --value COL [--se COL]
            [--parametrization auto|centered|noncentered|marginal] [--prior NAME=SPEC ...]
            [--draws N] [--tune N] [--chains N] [--seed N]
            [--sampler nutpie|pymc] --out DIR
    hbm fit SPEC.toml --out DIR
    hbm batch SPEC... --out DIR [--jobs N]
    hbm report FIT.nc --out DIR
    hbm predict FIT.nc --group LABEL [--new] [--rows N] [--se X] [--draws N] [--seed N] [--out FILE]
    hbm datasets

Bad input ends in one line ``hbm: error: ...`` naming the culprit, exit status 2, and no output
written. Heavy libraries are imported only once a command runs, so ``hbm --help`` is quick.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # "argument --draws: the '--draws' option must be ..." says the option's name twice.
        named = re.match(r"argument (\S+): (.*\1.*)$", message, flags=re.DOTALL)
        raise UsageError(named.group(2) if named else message)


def _positive_int(option: str, minimum: int = 1):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise argparse.ArgumentTypeError(f"the '{option}' option must be {what}; got {text!r}")
        return value

    return convert


def _target_accept(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"the '--target-accept' option must be a number between 0 and 1 (exclusive); "
            f"got {text!r}"
        )
    return value


def _prior_assignment(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise argparse.ArgumentTypeError(
            f'--prior takes NAME=SPEC, e.g. --prior "tau=halfcauchy(5)"; got {text!r}'
        )
    return name.strip(), spec.strip()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hbm`` command."""
    parser = _Parser(
        prog="hbm",
        description="Bayesian hierarchical normal models on PyMC: fit, diagnose, report.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    fit = commands.add_parser(
        "fit",
        help="fit a table and write summary.csv, diagnostics.json, fit.nc, report.html, "
        "shrinkage.png",
        description="Fit the three-level hierarchical normal model to a CSV or Parquet table.",
    )
    fit.add_argument(
        "data",
        metavar="DATA",
        help="CSV (comma, semicolon or tab) or Parquet file, or a model spec (.toml) that says "
        "everything else",
    )
    fit.add_argument("--group", metavar="COL", help="column of group labels (needed for a table)")
    fit.add_argument("--value", metavar="COL", help="column of numeric values (needed for a table)")
    fit.add_argument(
        "--se", metavar="COL", help="column of known standard errors (one row per group)"
    )
    fit.add_argument(
        "--parametrization",
        default="auto",
        metavar="{auto,centered,noncentered,marginal}",
        help="model form (default: auto, which says what it chose and why)",
    )
    fit.add_argument(
        "--prior",
        action="append",
        default=[],
        type=_prior_assignment,
        metavar="NAME=SPEC",
        help='e.g. "mu=normal(0, 5)", "tau=halfcauchy(5)", "tau=1" (fixed); scales are sds',
    )
    fit.add_argument(
        "--priors-preset",
        choices=("default", "seed"),
        help="start from a preset: 'seed' is the worked example (mu ~ Normal(60, sd √5), tau = 1)",
    )
    fit.add_argument("--draws", type=_positive_int("--draws"), default=1000, metavar="N")
    fit.add_argument("--tune", type=_positive_int("--tune", 0), default=1000, metavar="N")
    fit.add_argument("--chains", type=_positive_int("--chains"), default=4, metavar="N")
    fit.add_argument("--target-accept", type=_target_accept, default=0.95, metavar="P")
    fit.add_argument(
        "--seed",
        type=_positive_int("--seed", 0),
        default=None,
        metavar="N",
        help="random seed (default: a fresh one, recorded in the results)",
    )
    fit.add_argument("--sampler", default="nutpie", metavar="{nutpie,pymc}")
    fit.add_argument(
        "--likelihood",
        default="sufficient",
        metavar="{sufficient,rows}",
        help="exact sufficient statistics (default) or one term per row",
    )
    fit.add_argument("--order", default="first-seen", metavar="{first-seen,sorted}")
    fit.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.add_argument("--out", required=True, metavar="DIR", help="folder for the results")

    commands.add_parser("datasets", help="list the bundled datasets")
    _add_batch_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from hbm import __version__

            print(f"hbm {__version__}")
            return 0
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "datasets":
            return _datasets()
        if args.command in _MORE_COMMANDS:
            return _MORE_COMMANDS[args.command](args)
        if _is_spec_file(args.data):
            return _fit_spec(args, sys.argv[1:] if argv is None else list(argv))
        return _fit(args)
    except UsageError as error:
        return _fail(str(error))
    except (ValueError, TypeError) as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(_os_error(error))
    except KeyboardInterrupt as interrupt:
        why = f" ({interrupt})" if str(interrupt) else ""
        print(f"hbm: interrupted{why}; no result folder was written.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str) -> int:
    line = " ".join(message.split())  # one line, whatever the message held
    print(f"hbm: error: {line}", file=sys.stderr)
    return EXIT_USAGE


def _os_error(error: OSError) -> str:
    """An operating-system error (no space, no permission, ...) as a sentence naming the path."""
    if not error.filename:
        return str(error)
    reason = error.strerror or type(error).__name__
    target = f"{str(error.filename)!r}"
    if error.filename2:
        target += f" -> {str(error.filename2)!r}"
    return f"{reason}: {target} (nothing was written)."


def _datasets() -> int:
    from hbm.datasets import describe

    print(describe().to_string(index=False))
    return 0


def _fit(args: argparse.Namespace) -> int:
    from hbm.data import grouped_data
    from hbm.fitting import fit_grouped
    from hbm.models import check_likelihood, check_parametrization
    from hbm.outputs import check_output_dir, write_outputs
    from hbm.sampling import SampleConfig
    from hbm.tables import read_table

    missing = [o for o, v in (("--group", args.group), ("--value", args.value)) if v is None]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}")
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
    table = read_table(args.data, group=args.group)
    data = grouped_data(
        table,
        group=args.group,
        value=args.value,
        se=args.se,
        order=args.order,
        missing="drop" if args.drop_missing else "error",
        keep_rows=args.likelihood == "rows",
    )
    del table
    if data.dropped and not args.quiet:
        print(
            f"hbm: dropped {data.dropped} row(s) with missing values (--drop-missing)",
            file=sys.stderr,
        )
    priors = None
    if args.priors_preset or args.prior:
        from hbm.priors import resolve_priors

        preset = resolve_priors(data, args.priors_preset) if args.priors_preset else {}
        given = resolve_priors(data, dict(args.prior))
        priors = {**preset, **{name: given[name] for name in names}}
    result = fit_grouped(
        data,
        priors=priors,
        parametrization=args.parametrization,
        likelihood=args.likelihood,
        config=config,
        source=str(args.data),
    )
    write_outputs(result, out)
    if not args.quiet:
        summary = result.summary()
        columns = ["param", "mean", "sd", "eti94_lb", "eti94_ub", "ess_bulk", "r_hat"]
        print(summary[columns].round(3).to_string(index=False))
        d = result.diagnosis
        print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
        print(
            f"hbm: wrote {out}/ (summary.csv, diagnostics.json, priors.csv, fit.nc, report.html, "
            "report.md, shrinkage.png)"
        )
    return 0


# ---- model specs, batches, saved fits and predictions (issue 5) -------------------------------


def _add_batch_commands(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser(
        "batch",
        help="fit many model specs (.toml) into DIR/<name>/ with DIR/index.csv and index.html",
        description="Fit every spec into DIR/<spec file stem>/; list them in DIR/index.csv and "
        "DIR/index.html. Specs unchanged since their finished result (spec, data file, hbm "
        "version) are skipped; a failing spec is recorded and the others go on. Exit status 1 "
        "if any spec failed.",
    )
    batch.add_argument("specs", nargs="+", metavar="SPEC", help="model spec files (.toml)")
    batch.add_argument("--out", required=True, metavar="DIR", help="folder for the results")
    batch.add_argument(
        "--jobs",
        type=_positive_int("--jobs"),
        default=1,
        metavar="N",
        help="specs fitted at the same time, each in its own process (default 1)",
    )
    batch.add_argument("--quiet", action="store_true", help="no progress lines")

    report = commands.add_parser(
        "report",
        help="rebuild the result files (report.html, summary.csv, ...) from a saved fit",
        description="Read a saved fit (fit.nc or .zarr) and write summary.csv, diagnostics.json, "
        "priors.csv, fit.nc, report.html and shrinkage.png into DIR.",
    )
    report.add_argument("fit", metavar="FIT", help="a fit saved by hbm (.nc or .zarr)")
    report.add_argument("--out", required=True, metavar="DIR", help="folder for the results")

    predict = commands.add_parser(
        "predict",
        help="posterior predictive draws for existing or new groups of a saved fit",
        description="Predict new values in existing groups (--group LABEL) or in groups never "
        "seen (--group LABEL --new: theta_new ~ Normal(mu, tau) per draw). Without --out, print "
        "a summary per group; --out FILE.csv writes every draw, FILE.nc a DataTree.",
    )
    predict.add_argument("fit", metavar="FIT", help="a fit saved by hbm (.nc or .zarr)")
    predict.add_argument(
        "--group",
        action="append",
        required=True,
        metavar="LABEL",
        help="group label (repeat for several)",
    )
    predict.add_argument("--new", action="store_true", help="the labels are new groups")
    predict.add_argument(
        "--rows",
        type=_positive_int("--rows"),
        default=1,
        metavar="N",
        help="predicted values per group and draw (default 1)",
    )
    predict.add_argument(
        "--se",
        type=float,
        metavar="X",
        help="standard error of a new estimate (summaries-form fits only)",
    )
    predict.add_argument(
        "--draws",
        type=_positive_int("--draws"),
        metavar="N",
        help="use N posterior draws picked at random (default: all)",
    )
    predict.add_argument(
        "--seed",
        type=_positive_int("--seed", 0),
        metavar="N",
        help="random seed (default: a fresh one, printed)",
    )
    predict.add_argument("--out", metavar="FILE", help="write the draws to FILE (.csv or .nc)")


def _is_spec_file(data: str) -> bool:
    return str(data).lower().endswith(".toml")


def _fit_spec(args: argparse.Namespace, argv: list[str]) -> int:
    """``hbm fit SPEC.toml --out DIR``: the spec says everything but where the results go."""
    from hbm.outputs import check_output_dir, write_outputs
    from hbm.spec import fit_spec, read_spec

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
        d = result.diagnosis
        print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
        print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, ...)")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from hbm.batch import run_batch

    try:
        rows = run_batch(
            args.specs, args.out, jobs=args.jobs, progress=None if args.quiet else _say
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


def _report(args: argparse.Namespace) -> int:
    from hbm.io import load_fit
    from hbm.outputs import check_output_dir, write_outputs

    out = check_output_dir(args.out)
    write_outputs(load_fit(args.fit), out)
    print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, shrinkage.png)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hbm.io import load_fit
    from hbm.predict import predict, prediction_summary, write_predictions
    from hbm.sampling import new_seed

    target = Path(args.out) if args.out else None
    if target is not None and target.suffix.lower() not in (".csv", ".nc"):
        raise UsageError(f"--out must name a .csv or .nc file; got {args.out!r}")
    if target is not None and not target.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(target.parent)!r} does not exist")
    fit = load_fit(args.fit)
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


_MORE_COMMANDS = {"batch": _batch, "report": _report, "predict": _predict}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
