"""Benchmark a group-level curve: Arps declines of many wells, hbm against hand-written PyMC.

    python bench/curves.py                                  # the issue's size: 2,000 wells
    python bench/curves.py --wells 300 --draws 300 --tune 300 --chains 2   # a quick run

A field of wells from ``data/make_wells.py`` (Arps declines, varying log qi and log di,
correlated, shared b), histories of 40 to 90 months (about 60 on average), fitted with
``--varying qi,di``, each fit in its own process:

- ``hbm``: ``hbm.fit_curve(table, curve="arps", varying=["qi", "di"])`` with its defaults
  (``auto``: centered for the wells whose rows pin their curve, non-centered for the others;
  NUTS starts at a pooled least-squares fit);
- ``pymc``: the same model as a PyMC user writes it by hand: one likelihood term per row,
  non-centered effects with ``LKJCholeskyCov``, hbm's default priors,
  ``pm.sample(nuts_sampler="nutpie")``.

Measured: fit seconds (table in memory -> draws; imports excluded), the smallest bulk ESS over
beta, the sds, sigma and every well's effects (parameters both models have), ESS per second,
divergences, peak memory; and ``hbm curve`` end to end (CSV to report). Results go to
``bench/results/curves.csv`` (or ``--results``) and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "data"))

import runner  # noqa: E402
from make_wells import make_wells  # noqa: E402

SEED = 20261202


def worker(
    method: str, path: Path, draws: int, tune: int, chains: int, parametrization: str = "auto"
) -> dict[str, object]:
    """Fit ``path`` with ``method`` in this process; the measurements as JSON."""
    table = pd.read_csv(path, dtype={"well": str})
    import nutpie  # noqa: F401
    import pymc as pm
    import pytensor.tensor as pt

    import hbm
    from hbm.data.curve_data import curve_data
    from hbm.model.curve_priors import curve_default_priors
    from hbm.model.curves import CURVES

    start = time.perf_counter()
    if method == "hbm":
        fit = hbm.fit_curve(
            table,
            curve="arps",
            group="well",
            time="month",
            value="rate",
            varying=["qi", "di"],
            parametrization=parametrization,
            **runner.sampling(draws, tune, chains, SEED),
        )
        seconds = time.perf_counter() - start
        attempts = len(fit.diagnosis.attempts)
        post = fit.idata["posterior"]
        parts = [post[n].values for n in ("beta", "sd_well", "sigma", "u_well")]
        idata, sampler = fit.idata, f"nutpie ({fit.parametrization})"
    elif method == "pymc":
        data = curve_data(table, group="well", time="month", value="rate")
        priors = curve_default_priors(data, CURVES["arps"], ("qi", "di", "b"), ("qi", "di"))
        p = {name: prior.params for name, prior in priors.items()}
        with pm.Model(coords={"well": list(data.labels), "term": ["log_qi", "log_di"]}):
            g = pm.Data("g", data.codes)
            t = pm.Data("t", data.t)
            log_qi = pm.Normal("log_qi", *p["beta[log_qi]"])
            log_di = pm.Normal("log_di", *p["beta[log_di]"])
            logit_b = pm.Normal("logit_b", *p["beta[logit_b]"])
            scales = np.array([p["sd_well[log_qi]"][0], p["sd_well[log_di]"][0]])
            chol, _, _ = pm.LKJCholeskyCov("chol", n=2, eta=2.0, sd_dist=pm.HalfNormal.dist(scales))
            z = pm.Normal("z", 0, 1, dims=("well", "term"))
            u = pm.Deterministic("u", z @ chol.T, dims=("well", "term"))
            qi = pt.exp(log_qi + u[g, 0])
            di = pt.exp(log_di + u[g, 1])
            b = 2 / (1 + pt.exp(-logit_b))
            sigma = pm.HalfNormal("sigma", p["sigma"][0])
            pm.Normal("y", qi * pt.exp(-pt.log1p(b * di * t) / b), sigma, observed=data.y)
            pm.Deterministic("sd", pm.math.sqrt((chol**2).sum(axis=1)))
            idata = pm.sample(
                **runner.pymc_sampling(draws, tune, chains, SEED),
                # PyMC 6.4's initial point for chol draws from sd_dist through scipy, which fails
                # on numpy 2.5; the prior scales, uncorrelated, jittered as usual
                initvals={"chol": np.array([scales[0], 0.0, scales[1]])},
            )
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        beta = np.stack([post[n].values for n in ("log_qi", "log_di", "logit_b")], axis=-1)
        parts = [beta, post["sd"].values, post["sigma"].values, post["u"].values]
        sampler = "nutpie (pm.sample, non-centered)"
        attempts = 1
    else:
        raise ValueError(f"unknown method {method!r}")
    return {
        **runner.fit_measurements(parts, seconds, idata, sampler, digits=3),
        "attempts": attempts,
    }


def fit_row(method: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = runner.worker_command(Path(__file__), method, path, args)
    command += ["--parametrization", args.parametrization]
    return runner.fit_row(command, args.timeout, {"method": method})


def cli_row(path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = [runner.hbm_executable(), "curve", str(path), "--curve", "arps"]
    command += ["--group", "well", "--time", "month", "--value", "rate", "--varying", "qi,di"]
    return runner.cli_row(
        command,
        args,
        {"method": "hbm curve (CSV to report)"},
        lambda diagnostics: {
            "min_ess_bulk": diagnostics["min_ess_bulk"],
            "divergences": diagnostics["divergences"],
            "sampler": f"nutpie ({diagnostics['parametrization']})",
            "attempts": len(diagnostics.get("attempts") or [1]),
        },
        prefix="hbm-curve-bench-",
    )


COLUMNS = [
    "method", "sampler", "status", "wall_s", "fit_s", "min_ess_bulk", "ess_per_s",
    "divergences", "max_r_hat", "attempts", "peak_rss_mb", "load_1min",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--methods", default="hbm,pymc,cli")
    parser.add_argument(
        "--results", default="curves.csv", help="file name under bench/results (overwritten)"
    )
    parser.add_argument(
        "--parametrization",
        default="auto",
        help="hbm's (auto may refit once with more draws when a short run's ESS is low)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        measured = worker(
            args.worker, args.data, args.draws, args.tune, args.chains, args.parametrization
        )
        print(json.dumps(measured))
        return
    folder = Path(tempfile.mkdtemp(prefix="hbm-curves-"))
    table, _ = make_wells(args.wells, seed=SEED, history=(40, 90))
    path = folder / "wells.csv"
    table.to_csv(path, index=False)
    print(
        f"{args.wells} wells, {len(table)} rows; {args.chains} chains x {args.draws} draws "
        f"({args.tune} tuning); {runner.machine()}"
    )
    rows = []
    for method in args.methods.split(","):
        row = cli_row(path, args) if method == "cli" else fit_row(method, path, args)
        print(row, flush=True)
        rows.append(row)
    (HERE / "results").mkdir(exist_ok=True)
    runner.write_csv(HERE / "results" / args.results, rows, COLUMNS)
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    print(frame.to_string(index=False))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
