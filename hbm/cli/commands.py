"""What each ``hbm`` command does once its arguments are parsed.

Heavy libraries are imported inside the commands, so ``hbm --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hbm.cli.curve_command import curve_command
from hbm.cli.data_commands import fit_data, reduce_command
from hbm.cli.family_options import check_family_options
from hbm.cli.formula_commands import formula_source, is_formula_statistics
from hbm.cli.group_draws_options import kept_group_draws
from hbm.cli.model_choice import (
    compare_command,
    prior_only_command,
    prior_only_spec_command,
    write_prior_check,
)
from hbm.cli.parser import EXIT_INTERRUPTED, UsageError
from hbm.core.defaults import DEFAULTS
from hbm.core.names import base_names

__all__ = ["COMMANDS", "fit_command", "fit_spec_command", "is_spec_file"]


def datasets_command() -> int:
    from hbm.data.datasets import describe

    print(describe().to_string(index=False))
    return 0


def formula_command(args: argparse.Namespace) -> int:
    """``hbm fit DATA --formula F --out DIR``."""
    from hbm.data.tables import read_table
    from hbm.model.families import get_family
    from hbm.model.formula import formula_variables, parse_formula
    from hbm.model.outcome_design import outcome_formula
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.workflow.fit_formula import fit_formula

    given = [
        o for o, v in (("--group", args.group), ("--value", args.value), ("--se", args.se)) if v
    ]
    if given and args.formula is not None:
        raise UsageError(
            f"--formula cannot be given together with {', '.join(given)}: the formula names the "
            "columns (--group/--value is the shorthand for 'value ~ 1 + (1 | group)')"
        )
    if args.priors_preset:
        raise UsageError(
            "--priors-preset is for 'value ~ 1 + (1 | group)'; give a formula model's priors "
            'with --prior, e.g. --prior "sd_Subject=halfnormal(10)"'
        )
    if args.prior_only and args.family != "normal":
        raise UsageError(
            f"--prior-only is for the normal family so far; not for --family {args.family}"
        )
    out = check_output_dir(args.out)
    kept = kept_group_draws(args)
    _check_repeated_priors(args)
    get_family(args.family)
    if args.family != "normal" and (args.engine not in ("auto", "pandas") or args.cluster):
        raise UsageError(
            f"a {args.family} model is fitted to the table's rows, read with pandas in this "
            "version; --engine and --cluster are for the normal family"
        )
    # statistics, or rows reduced on an engine: the normal family only
    say = None if args.quiet else _say
    reduced = formula_source(args, say) if args.family == "normal" else None
    if reduced is not None:  # statistics, or rows reduced on an engine
        from hbm.model.parametrizations import check_parametrization
        from hbm.workflow.fit_formula import fit_model_data

        check_parametrization(args.parametrization)
        stats, parsed, reduction = reduced
        result = fit_model_data(
            stats.data,
            parsed,
            priors=dict(args.prior) or None,
            parametrization=args.parametrization,
            config=_config(args),
            source=str(args.data),
            reduction=reduction,
        )
        write_outputs(result, out, keep_group_draws=kept)
        _finished(result, out, args.quiet)
        return 0
    parsed = parse_formula(args.formula)
    if args.family != "normal":
        parsed = outcome_formula(parsed, args.family)[0]
    _, _, factors = formula_variables(parsed)
    table = read_table(args.data, group=factors)
    if args.prior_only:
        from hbm.workflow.prior_only import prior_only_formula

        check = prior_only_formula(
            table,
            args.formula,
            priors=dict(args.prior) or None,
            draws=args.draws * args.chains,
            random_seed=args.seed,
            order=args.order or DEFAULTS.order,
            missing="drop" if args.drop_missing else DEFAULTS.missing,
        )
        return write_prior_check(args, check, out)
    result = fit_formula(
        table,
        args.formula,
        family=args.family,
        priors=dict(args.prior) or None,
        parametrization=args.parametrization,
        likelihood=args.likelihood,
        config=_config(args),
        order=args.order or DEFAULTS.order,
        missing="drop" if args.drop_missing else DEFAULTS.missing,
        source=str(args.data),
    )
    del table
    write_outputs(result, out, keep_group_draws=kept)
    _finished(result, out, args.quiet)
    return 0


def fit_command(args: argparse.Namespace) -> int:
    from hbm.model.parametrizations import check_likelihood, check_parametrization
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.workflow.fit import fit_grouped

    if args.family != "normal":  # the rows, read with pandas, and a formula
        check_family_options(args)
        return formula_command(args)
    if args.formula is None and is_formula_statistics(args.data):
        return formula_command(args)
    if args.formula is not None:
        seed = _seed_columns(args)
        if seed is None:
            return formula_command(args)
        # 'value ~ 1 + (1 | group)' out of memory: the seed model's own path, as --group/--value
        args.group, args.value = seed
        args.formula = None
    out = check_output_dir(args.out)
    kept = kept_group_draws(args)
    check_parametrization(args.parametrization)
    check_likelihood(args.likelihood)
    names = _check_repeated_priors(args)
    config = _config(args)
    data, reduction, notes = fit_data(args)
    priors = None
    if args.priors_preset or args.prior:
        from hbm.model.families.normal import resolve_priors

        preset = resolve_priors(data, args.priors_preset) if args.priors_preset else {}
        given = resolve_priors(data, dict(args.prior))
        priors = {**preset, **{name: given[name] for name in names}}
    if args.prior_only:
        return prior_only_command(args, data, priors, out)
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
    write_outputs(result, out, keep_group_draws=kept)
    _finished(result, out, args.quiet)
    return 0


def _seed_columns(args: argparse.Namespace) -> tuple[str, str] | None:
    """``(group, value)`` of a seed-model formula whose rows are not read whole with pandas
    (a statistics file, an engine, a glob); ``None`` otherwise (the formula path reads them)."""
    from hbm.data.engines import check_engine, choose_engine
    from hbm.data.stats_file import is_stats_file
    from hbm.model.formula import parse_formula
    from hbm.workflow.fit_formula import seed_shape

    check_engine(args.engine)
    seed = seed_shape(parse_formula(args.formula))
    if seed is None or args.group or args.value or args.se:
        return None
    if is_formula_statistics(args.data):
        return None  # the formula is checked against the file's model there
    if not is_stats_file(args.data):
        engine, _ = choose_engine(args.data, args.engine)
        if engine == "pandas" and args.cluster is None and Path(args.data).is_file():
            return None
    return seed


def _check_repeated_priors(args: argparse.Namespace) -> list[str]:
    names = [name for name, _ in args.prior]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--prior given more than once for {', '.join(map(repr, repeated))}")
    return names


def _config(args: argparse.Namespace) -> Any:
    from hbm.inference.config import SampleConfig

    return SampleConfig(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        target_accept=args.target_accept,
        random_seed=args.seed,
        sampler=args.sampler,
        progressbar=not args.quiet,
    )


def _finished(result: Any, out: Any, quiet: bool) -> None:
    """The summary's hyperparameter rows, the verdict and what was written."""
    if quiet:
        return
    summary = result.summary()
    if not result.description.is_seed_model:  # group effects: in summary.csv, not the console
        hyper = {p.name for p in result.parameters.hyperparameters}
        summary = summary[base_names(summary["param"]).isin(hyper)]
    columns = ["param", "mean", "sd", "eti94_lb", "eti94_ub", "ess_bulk", "r_hat"]
    print(summary[columns].round(3).to_string(index=False))
    d = result.diagnosed
    print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
    print(
        f"hbm: wrote {out}/ (summary.csv, diagnostics.json, priors.csv, fit.nc, report.html, "
        "report.md, shrinkage.png)"
    )


def is_spec_file(data: str) -> bool:
    return str(data).lower().endswith(".toml")


def fit_spec_command(args: argparse.Namespace, argv: list[str]) -> int:
    """``hbm fit SPEC.toml --out DIR``: the spec says everything but where the results go."""
    from hbm.reporting.outputs import check_output_dir, write_outputs
    from hbm.workflow.specs import fit_spec, read_spec

    allowed = ("--out", "--quiet", "--prior-only")
    options = [a.split("=")[0] for a in argv[1:] if a.startswith("--")]
    given = sorted({o for o in options if not any(name.startswith(o) for name in allowed)})
    if given:
        raise UsageError(
            f"with a model spec ({args.data}) the spec file says the columns, priors and "
            f"sampling; {', '.join(given)} cannot be given too (edit the spec instead)"
        )
    out = check_output_dir(args.out)
    spec = read_spec(args.data)
    if args.prior_only:
        return prior_only_spec_command(args, spec, out)
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
    result = load_result(args.fit)
    if result.description.curve is not None:
        from hbm.reporting.curve_report import write_curve_outputs

        write_curve_outputs(result, out)
        print(f"hbm: wrote {out}/ (summary.csv, forecast.csv, fit.nc, report.html, curves.png)")
        return 0
    write_outputs(result, out)
    print(f"hbm: wrote {out}/ (summary.csv, diagnostics.json, fit.nc, report.html, shrinkage.png)")
    return 0


def predict_command(args: argparse.Namespace) -> int:

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
    if not fit.description.is_seed_model:
        return _predict_rows(args, fit, seed, target)
    if args.data is not None or not args.group:
        raise UsageError(
            "this fit is of 'value ~ 1 + (1 | group)': name the groups with --group LABEL "
            "(and --new for groups never seen), not --data"
        )
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


def _predict_rows(args: argparse.Namespace, fit: Any, seed: int, target: Any) -> int:
    """``hbm predict FIT --data FILE`` for a formula model."""
    from hbm.analysis.predict import write_predictions
    from hbm.analysis.predict_rows import predict_rows, row_summary
    from hbm.data.tables import read_table

    if args.data is None or args.group or args.new or args.se is not None or args.rows != 1:
        raise UsageError(
            f"this fit is of {fit.description.formula!r}: give the rows to predict with --data "
            "FILE (its covariates and group labels; --group, --new, --se and --rows are for "
            "'value ~ 1 + (1 | group)')"
        )
    table = read_table(args.data, group=[f.name for f in fit.model_data.factors])
    if fit.description.family != "normal":
        from hbm.analysis.predict_outcome import predict_outcome

        tree = predict_outcome(fit, table, draws=args.draws, random_seed=seed)
    else:
        tree = predict_rows(fit, table, draws=args.draws, random_seed=seed)
    if target is None:
        print(row_summary(tree).round(3).to_string())
        print(f"hbm: seed {seed}")
    else:
        write_predictions(tree, target)
        size = tree["predictions"]["y"].size
        print(f"hbm: wrote {target} ({size} predicted values, seed {seed})")
    return 0


COMMANDS = {
    "curve": curve_command,
    "reduce": reduce_command,
    "batch": batch_command,
    "report": report_command,
    "predict": predict_command,
    "compare": compare_command,
}
