"""``hbm curve DATA --curve NAME --group COL --time COL --value COL --varying P[,P] --out DIR``.

Every option and the table are checked before anything is sampled or written; bad input ends in
one line ``hbm: error: ...`` and exit status 2 (:mod:`hbm.cli`).
"""

from __future__ import annotations

import argparse

from hbm.cli.parser import UsageError
from hbm.core.names import base_names

__all__ = ["curve_command"]


def curve_command(args: argparse.Namespace) -> int:
    """Fit the curve model and write its result folder."""
    from hbm.data.tables import read_table
    from hbm.inference.config import SampleConfig
    from hbm.reporting.curve_report import write_curve_outputs
    from hbm.reporting.outputs import check_output_dir
    from hbm.workflow.fit_curve import fit_curve_table

    out = check_output_dir(args.out)
    priors = _pairs(args.prior, "--prior")
    fixed = {name: _number(name, text) for name, text in _pairs(args.fixed, "--fixed").items()}
    table = read_table(args.data, group=args.group)
    config = SampleConfig(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        target_accept=args.target_accept,
        random_seed=args.seed,
        sampler=args.sampler,
        progressbar=not args.quiet,
    )
    if args.horizon is not None and not args.horizon > 0:
        raise UsageError(f"the '--horizon' option must be a positive time; got {args.horizon!r}")
    result = fit_curve_table(
        table,
        curve=args.curve,
        group=args.group,
        time=args.time,
        value=args.value,
        varying=args.varying,
        fixed=fixed,
        family=args.family,
        priors=priors,
        parametrization=args.parametrization,
        config=config,
        missing="drop" if args.drop_missing else "error",
        source=str(args.data),
    )
    write_curve_outputs(result, out, horizon=args.horizon, limit=args.limit)
    if not args.quiet:
        summary = result.summary()
        hyper = {p.name for p in result.parameters.hyperparameters}
        summary = summary[base_names(summary["param"]).isin(hyper)]
        columns = ["param", "mean", "sd", "eti94_lb", "eti94_ub", "ess_bulk", "r_hat"]
        print(summary[columns].round(3).to_string(index=False))
        d = result.diagnosed
        print(f"hbm: verdict {d.verdict}: " + " ".join(d.advice))
        print(
            f"hbm: wrote {out}/ (summary.csv, population.csv, groups.csv, forecast.csv, "
            "diagnostics.json, priors.csv, fit.nc, report.html, report.md, curves.png, "
            "forecast.png)"
        )
    return 0


def _pairs(items: list[tuple[str, str]], option: str) -> dict[str, str]:
    names = [name for name, _ in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"{option} given more than once for {', '.join(map(repr, repeated))}")
    return dict(items)


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--fixed {name}= takes a number; got {text!r}") from None
