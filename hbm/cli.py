"""The ``hbm`` command line.

    hbm fit DATA --group COL --value COL [--se COL] [--parametrization auto|centered|noncentered|marginal]
            [--prior NAME=SPEC ...] [--draws N] [--tune N] [--chains N] [--seed N]
            [--sampler nutpie|pymc] --out DIR
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


def _positive_int(option: str, minimum: int = 1):  # noqa: ANN202
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
            f"--prior takes NAME=SPEC, e.g. --prior \"tau=halfcauchy(5)\"; got {text!r}"
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
    fit.add_argument("data", metavar="DATA", help="CSV (comma, semicolon or tab) or Parquet file")
    fit.add_argument("--group", required=True, metavar="COL", help="column of group labels")
    fit.add_argument("--value", required=True, metavar="COL", help="column of numeric values")
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
        help="e.g. \"mu=normal(0, 5)\", \"tau=halfcauchy(5)\", \"tau=1\" (fixed); scales are sds",
    )
    fit.add_argument(
        "--priors-preset",
        choices=("default", "seed"),
        help="start from a preset: 'seed' is the worked example (mu ~ Normal(60, sd √5), tau = 1)",
    )
    fit.add_argument("--draws", type=_positive_int("--draws"), default=1000, metavar="N")
    fit.add_argument("--tune", type=_positive_int("--tune", 0), default=1000, metavar="N")
    fit.add_argument("--chains", type=_positive_int("--chains"), default=4, metavar="N")
    fit.add_argument("--target-accept", type=_target_accept, default=0.9, metavar="P")
    fit.add_argument(
        "--seed", type=_positive_int("--seed", 0), default=None, metavar="N",
        help="random seed (default: a fresh one, recorded in the results)",
    )
    fit.add_argument("--sampler", default="nutpie", metavar="{nutpie,pymc}")
    fit.add_argument(
        "--likelihood", default="sufficient", metavar="{sufficient,rows}",
        help="exact sufficient statistics (default) or one term per row",
    )
    fit.add_argument("--order", default="first-seen", metavar="{first-seen,sorted}")
    fit.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.add_argument("--out", required=True, metavar="DIR", help="folder for the results")

    commands.add_parser("datasets", help="list the bundled datasets")
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
    from hbm.fit import fit_grouped
    from hbm.models import check_likelihood, check_parametrization
    from hbm.outputs import check_output_dir, write_outputs
    from hbm.sampling import SampleConfig
    from hbm.tables import read_table

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
        print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, shrinkage.png)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
