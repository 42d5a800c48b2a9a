"""``hbm compare`` and ``hbm fit ... --prior-only``: choosing a model, and checking its priors.

Heavy libraries are imported inside the commands, so ``hbm --help`` stays quick.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hbm.cli.parser import UsageError

__all__ = [
    "compare_command",
    "prior_only_command",
    "prior_only_spec_command",
    "write_prior_check",
]


def compare_command(args: argparse.Namespace) -> int:
    """Rank saved fits by leave-one-out ELPD; print the table, and with ``--out FILE.csv`` write
    it and ``FILE.png`` beside it. Every check runs before anything is written."""
    from hbm.analysis.compare import read_fit
    from hbm.workflow.compare import compare, model_names

    target = Path(args.out) if args.out else None
    if target is not None and target.suffix.lower() != ".csv":
        raise UsageError(f"--out must name a .csv file (the plot goes beside it); got {args.out!r}")
    if target is not None and not target.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(target.parent)!r} does not exist")
    if len(args.fits) < 2:
        raise UsageError(
            f"hbm compare needs at least two fits; got {len(args.fits)} ({args.fits[0]!r})"
        )
    files = [_fit_file(path) for path in args.fits]
    if len(set(files)) < len(files):
        twice = next(p for p, f in zip(args.fits, files, strict=True) if files.count(f) > 1)
        raise UsageError(f"the fit {twice!r} is given more than once")
    names = model_names(args.fits)
    fits = {name: read_fit(path) for name, path in zip(names, args.fits, strict=True)}
    ranked = compare(fits, unit=args.unit)
    print(ranked.table.to_string(float_format=lambda x: f"{x:.4g}"))
    for note in ranked.notes():
        print(f"hbm: {note}")
    if target is not None:
        csv, png = ranked.write(target)
        print(f"hbm: wrote {csv} and {png}")
    return 0


def prior_only_spec_command(args: argparse.Namespace, spec: Any, out: Path) -> int:
    """``hbm fit SPEC.toml --prior-only --out DIR``: the spec's data, priors, draws and seed."""
    from hbm.data.grouped import grouped_data
    from hbm.data.tables import read_table

    if spec.formula is not None:
        from hbm.model.formula import formula_variables, parse_formula
        from hbm.workflow.prior_only import prior_only_formula

        table = read_table(spec.data, group=formula_variables(parse_formula(spec.formula))[2])
        check = prior_only_formula(
            table, spec.formula, priors=spec.priors, draws=spec.draws * spec.chains,
            random_seed=spec.seed, order=spec.order, missing=spec.missing,
        )  # fmt: skip
        return write_prior_check(args, check, out)
    table = read_table(spec.data, group=spec.group)
    data = grouped_data(
        table, group=spec.group, value=spec.value, se=spec.se, order=spec.order,
        missing=spec.missing, keep_rows=True,
    )  # fmt: skip
    args.seed = spec.seed
    return prior_only_command(args, data, spec.priors, out, draws=spec.draws * spec.chains)


def _fit_file(path: str) -> Path:
    given = Path(path)
    inside = given.is_dir() and given.suffix.lower() != ".zarr"
    return (given / "fit.nc" if inside else given).resolve()


def prior_only_command(
    args: argparse.Namespace, data: Any, priors: Any, out: Path, *, draws: int | None = None
) -> int:
    """``hbm fit DATA ... --prior-only --out DIR``: the prior predictive folder, no sampling."""
    from hbm.workflow.prior_only import prior_only

    draws = args.draws * args.chains if draws is None else draws
    check = prior_only(data, priors=priors, draws=draws, random_seed=args.seed)
    return write_prior_check(args, check, out)


def write_prior_check(args: argparse.Namespace, check: Any, out: Path) -> int:
    """Write a prior predictive check's folder and say what it shows."""
    check.write(out)
    if not args.quiet:
        columns = ["quantity", "what", "mean", "sd", "q3", "q50", "q97"]
        print(check.summary()[columns].round(3).to_string(index=False))
        for line in check.advice():
            print(f"hbm: {line}")
        print(
            f"hbm: wrote {out}/ (prior_summary.csv, priors.csv, prior.nc, report.html, report.md, "
            "prior_predictive.png)"
        )
    return 0
