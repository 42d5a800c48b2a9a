"""The ``hbm`` command's arguments: the parser, its option types, and the usage error.

Every default comes from :data:`hbm.core.defaults.DEFAULTS`.
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from hbm.core.defaults import DEFAULTS

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "UsageError", "build_parser"]

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
        description="Fit a hierarchical model to a CSV or Parquet table: the three-level normal "
        "model (--group, --value), or a formula (--formula) of any family (--family).",
    )
    fit.add_argument(
        "data",
        metavar="DATA",
        help="CSV (comma, semicolon or tab) or Parquet file, or a model spec (.toml) that says "
        "everything else",
    )
    fit.add_argument(
        "--formula",
        metavar="F",
        help='a model formula, e.g. "Reaction ~ Days + (Days | Subject)" (instead of --group and '
        "--value)",
    )
    fit.add_argument(
        "--family",
        default="normal",
        metavar="{normal,studentt,binomial,poisson,negbinomial}",
        help="the outcome's distribution (default normal): binomial for 0/1 rows, use[Y] or "
        "p(successes, trials); poisson / negbinomial for counts (offset(np.log(exposure))); "
        "studentt for values with outliers",
    )
    fit.add_argument("--group", metavar="COL", help="column of group labels (needed for a table)")
    fit.add_argument("--value", metavar="COL", help="column of numeric values (needed for a table)")
    fit.add_argument(
        "--se", metavar="COL", help="column of known standard errors (one row per group)"
    )
    fit.add_argument(
        "--parametrization",
        default=DEFAULTS.parametrization,
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
    fit.add_argument("--draws", type=_positive_int("--draws"), default=DEFAULTS.draws, metavar="N")
    fit.add_argument("--tune", type=_positive_int("--tune", 0), default=DEFAULTS.tune, metavar="N")
    fit.add_argument(
        "--chains", type=_positive_int("--chains"), default=DEFAULTS.chains, metavar="N"
    )
    fit.add_argument(
        "--target-accept", type=_target_accept, default=DEFAULTS.target_accept, metavar="P"
    )
    fit.add_argument(
        "--seed",
        type=_positive_int("--seed", 0),
        default=None,
        metavar="N",
        help="random seed (default: a fresh one, recorded in the results)",
    )
    fit.add_argument("--sampler", default=DEFAULTS.sampler, metavar="{nutpie,pymc}")
    fit.add_argument(
        "--likelihood",
        default=DEFAULTS.likelihood,
        metavar="{sufficient,rows}",
        help="exact sufficient statistics (default) or one term per row",
    )
    fit.add_argument(
        "--order",
        default=None,
        metavar="{first-seen,sorted}",
        help="order of the groups (default: first-seen; sorted with the duckdb engine)",
    )
    fit.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    fit.add_argument(
        "--prior-only",
        action="store_true",
        help="sample the priors and the data they imply (no fit): a prior predictive check, "
        "its plot and report",
    )
    fit.add_argument(
        "--keep-group-draws",
        action="store_true",
        help="write the group effects' draws into fit.nc however many there are (by default "
        "only up to 10 million values; past that a loaded fit draws them again exactly)",
    )
    fit.add_argument(
        "--group-draws-thin",
        type=_positive_int("--group-draws-thin"),
        default=1,
        metavar="K",
        help="with --keep-group-draws: every K-th draw of each chain",
    )
    fit.add_argument("--group-draws-float32", action="store_true", help="them as float32")
    add_engine_options(fit)
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.add_argument("--out", required=True, metavar="DIR", help="folder for the results")

    commands.add_parser("datasets", help="list the bundled datasets")
    add_curve_command(commands)
    add_reduce_command(commands)
    add_batch_commands(commands)
    add_compare_command(commands)
    return parser


def add_curve_command(commands: argparse._SubParsersAction) -> None:
    """``hbm curve DATA --curve NAME --group COL --time COL --value COL --varying P[,P] ...``."""
    curve = commands.add_parser(
        "curve",
        help="fit a named curve per group (decline, growth, epidemic), partially pooled",
        description="Fit a named curve per group; the curve's parameters named by --varying "
        "vary by group (correlated), the others are shared.",
    )
    curve.add_argument("data", metavar="DATA", help="CSV or Parquet table, one row per time")
    curve.add_argument(
        "--curve",
        required=True,
        metavar="NAME",
        help="linear, exponential, arps, harmonic, logistic, gompertz or asymptotic",
    )
    curve.add_argument("--group", required=True, metavar="COL", help="column of group labels")
    curve.add_argument("--time", required=True, metavar="COL", help="column of numeric times")
    curve.add_argument("--value", required=True, metavar="COL", help="column of values")
    curve.add_argument(
        "--varying",
        required=True,
        metavar="PARAM[,PARAM]",
        help="curve parameters that vary by group, e.g. qi,di",
    )
    curve.add_argument(
        "--fixed",
        action="append",
        default=[],
        type=_prior_assignment,
        metavar="PARAM=VALUE",
        help='hold a curve parameter at a value, e.g. "b=0.8"',
    )
    curve.add_argument("--family", default="normal", metavar="{normal,poisson,negbinomial}")
    curve.add_argument(
        "--parametrization",
        default=DEFAULTS.parametrization,
        metavar="{auto,noncentered,centered}",
    )
    curve.add_argument(
        "--prior",
        action="append",
        default=[],
        type=_prior_assignment,
        metavar="NAME=SPEC",
        help='e.g. "sd_well[log_di]=halfnormal(0.5)"; scales are sds, terms on the pooled scale',
    )
    curve.add_argument(
        "--horizon", type=float, default=None, metavar="T", help="forecast to this time"
    )
    curve.add_argument(
        "--limit", type=float, default=None, metavar="Q", help="economic limit of the forecast"
    )
    for name, default, minimum in (
        ("--draws", DEFAULTS.draws, 1),
        ("--tune", DEFAULTS.tune, 0),
        ("--chains", DEFAULTS.chains, 1),
    ):
        curve.add_argument(name, type=_positive_int(name, minimum), default=default, metavar="N")
    curve.add_argument(
        "--target-accept", type=_target_accept, default=DEFAULTS.target_accept, metavar="P"
    )
    curve.add_argument("--seed", type=_positive_int("--seed", 0), default=None, metavar="N")
    curve.add_argument("--sampler", default=DEFAULTS.sampler, metavar="{nutpie,pymc}")
    curve.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    curve.add_argument("--quiet", action="store_true", help="no progress output")
    curve.add_argument("--out", required=True, metavar="DIR", help="folder for the results")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--cluster``, shared by ``hbm fit`` and ``hbm reduce``."""
    limit = DEFAULTS.engine_switch_bytes / 2**20
    parser.add_argument(
        "--engine",
        default=DEFAULTS.engine,
        metavar="{auto,pandas,duckdb,dask}",
        help=f"where the rows are reduced (default auto: pandas up to {limit:.0f} MB, DuckDB "
        "above, out of core)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786) for --engine dask; default: a local cluster",
    )


def add_reduce_command(commands: argparse._SubParsersAction) -> None:
    reduce = commands.add_parser(
        "reduce",
        help="reduce rows to per-group statistics (Parquet) that 'hbm fit STATS.parquet' fits",
        description="Reduce a CSV or Parquet file, or a glob of them, on an engine to the "
        "statistics a fit needs, and write them as Parquet with the model description in its "
        "metadata (then 'hbm fit STATS.parquet' needs no other option): per group n, mean and "
        "ss (within-group sum of squares, centred) for --group/--value; for a --formula model, "
        "per cell of its grouping factors n, the means and the centred co-moments of its design "
        "columns (numeric and categorical covariates, C(x), interactions; the reference level "
        "of treatment coding is the first level in the data). Transformations formulae "
        "evaluates in Python (np.log(x), I(...), scale(x)) run only with --engine pandas on one "
        "file: precompute them as columns for the other engines.",
    )
    reduce.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a glob in quotes")
    reduce.add_argument("--group", metavar="COL", help="column of group labels")
    reduce.add_argument("--value", metavar="COL", help="column of numeric values")
    reduce.add_argument(
        "--formula",
        metavar="F",
        help="the model, e.g. 'y ~ x + sector + (1 + x | school)' (instead of --group/--value)",
    )
    reduce.add_argument("--order", default=None, metavar="{first-seen,sorted}")
    reduce.add_argument("--drop-missing", action="store_true", help="drop rows with missing values")
    add_engine_options(reduce)
    reduce.add_argument("--quiet", action="store_true", help="no progress output")
    reduce.add_argument("--out", required=True, metavar="STATS.parquet", help="file to write")


def add_compare_command(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="rank saved fits of the same data by leave-one-out ELPD",
        description="Rank fits (fit.nc files, or result folders holding one) of the same data by "
        "PSIS leave-one-out ELPD, best first, with arviz-stats. --unit says what is left out: "
        "groups (a new group; the default unless every fit kept its rows) or rows (a new row of "
        "a known group; fits made with --likelihood rows). --out FILE.csv writes the table and "
        "FILE.png beside it.",
    )
    compare.add_argument("fits", nargs="+", metavar="FIT", help="fit.nc, .zarr, or a result folder")
    compare.add_argument("--unit", choices=("groups", "rows"), help="what is left out")
    compare.add_argument("--out", metavar="FILE.csv", help="write the table (and FILE.png)")


def add_batch_commands(commands: argparse._SubParsersAction) -> None:
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
    batch.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="fit the specs on the workers of a Dask scheduler (tcp://host:8786); the folder "
        "DIR must be shared with them",
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
        "seen (--group LABEL --new: theta_new ~ Normal(mu, tau) per draw); for a formula model, "
        "predict the rows of a table (--data FILE: its covariates and group labels; a label the "
        "fit never saw is a new group). Without --out, print a summary per group or row; "
        "--out FILE.csv writes every draw, FILE.nc a DataTree.",
    )
    predict.add_argument("fit", metavar="FIT", help="a fit saved by hbm (.nc or .zarr)")
    predict.add_argument(
        "--group",
        action="append",
        metavar="LABEL",
        help="group label (repeat for several; fits of 'value ~ 1 + (1 | group)')",
    )
    predict.add_argument(
        "--data", metavar="FILE", help="new rows to predict (CSV or Parquet; formula models)"
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
