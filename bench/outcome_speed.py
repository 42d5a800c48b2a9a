"""Benchmark the outcome families: exact reduction of 0/1 rows, and Poisson against PyMC and Bambi.

    nice python bench/outcome_speed.py --part reduce   # (a)
    nice python bench/outcome_speed.py --part speed    # (b) needs the bench extra (Bambi)
    python bench/outcome_speed.py --groups 200 --rows 50 --part speed   # a smaller (b)

(a) ``hbm fit`` end to end (CSV to report, in its own process) of a binomial model with
    ``(1 | g)`` on 10,000 groups, given two ways: 1,000,000 0/1 rows (``y ~ 1 + (1 | g)``) and
    the same data as 10,000 (successes, trials) rows (``p(s, n) ~ 1 + (1 | g)``). Both reduce to
    the same 10,000 cells, so the posterior is the same; the issue's target is the 0/1 rows
    within 1.5x the time of the (s, n) rows.

(b) ``y ~ x1 + x2 + (1 | g)``, Poisson, 1000 groups x 100 rows (continuous covariates: the
    likelihood keeps the rows), each fit in its own process:

    - ``hbm``: ``hbm.fit(table, formula, family="poisson")`` with its defaults (``auto``);
    - ``pymc``: the model a PyMC user writes by hand: one term per row, non-centered effects,
      ``pm.sample(nuts_sampler="nutpie")``, hbm's default priors;
    - ``bambi``: ``bmb.Model(formula, table, family="poisson")`` with its defaults, PyMC's NUTS.

    Measured: fit seconds (table in memory -> draws; imports excluded; for hbm also the part of
    it spent compiling and sampling, ``sampling_s``), the leapfrog steps of the kept draws (all
    chains: gradient evaluations after tuning), the smallest bulk ESS over the coefficients, the
    group sd and every group effect (the parameters all three have), ESS per second,
    divergences. The issue's target: hbm's min-ESS per second >= 10x each other's.

4 chains x 1000 draws after 1000 tuning steps unless ``--draws/--tune/--chains`` say otherwise.
Results go to ``bench/results/outcome_reduce.csv`` and ``outcome_speed.csv``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runner  # noqa: E402

SEED = 20261202
DRAWS, TUNE, CHAINS = 1000, 1000, 4
POISSON = "y ~ x1 + x2 + (1 | g)"
TRUTH = {"b0": 0.5, "b1": 0.3, "b2": -0.2, "sd": 0.5}


def binomial_tables(groups: int, rows: int, folder: Path) -> tuple[Path, Path]:
    """``groups`` groups of about ``rows`` 0/1 rows, and the same as (s, n) per group."""
    rng = np.random.default_rng([SEED, groups, rows])
    sizes = rng.integers(rows // 2, 3 * rows // 2 + 1, groups)
    g = np.repeat(np.arange(groups), sizes)
    p = special.expit(-1.0 + rng.normal(0, 0.6, groups))
    y = rng.binomial(1, p[g])
    labels = np.array([f"G{j:05d}" for j in range(groups)])
    order = rng.permutation(g.size)
    rows_path, cells_path = folder / "binary_rows.csv", folder / "binary_cells.csv"
    pd.DataFrame({"g": labels[g][order], "y": y[order]}).to_csv(rows_path, index=False)
    pd.DataFrame(
        {"g": labels, "s": np.bincount(g, weights=y, minlength=groups).astype(int), "n": sizes}
    ).to_csv(cells_path, index=False)
    return rows_path, cells_path


def poisson_table(groups: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng([SEED, groups, rows])
    g = np.repeat(np.arange(groups), rows)
    x1, x2 = rng.normal(0, 1, g.size), rng.normal(2, 1.5, g.size)
    eta = TRUTH["b0"] + TRUTH["b1"] * x1 + TRUTH["b2"] * x2 + rng.normal(0, TRUTH["sd"], groups)[g]
    labels = np.array([f"G{j:04d}" for j in range(groups)])
    return pd.DataFrame(
        {"g": labels[g], "x1": x1.round(4), "x2": x2.round(4), "y": rng.poisson(np.exp(eta))}
    )


def worker(method: str, path: Path, draws: int, tune: int, chains: int) -> dict[str, object]:
    """Fit ``path`` with ``method`` in this process; the measurements as JSON."""
    table = pd.read_csv(path, dtype={"g": str})
    import nutpie  # noqa: F401
    import pymc as pm

    import hbm

    if method == "bambi":
        import bambi as bmb
    split: dict[str, float] = {}
    start = time.perf_counter()
    if method == "hbm":
        fit = hbm.fit(
            table,
            POISSON,
            family="poisson",
            **runner.sampling(draws, tune, chains, SEED),
        )
        seconds = time.perf_counter() - start
        post = fit.idata["posterior"]
        parts = {"beta": post["beta"].values, "sd": post["sd_g"].values, "u": post["u_g"].values}
        idata, sampler = fit.idata, f"nutpie ({fit.parametrization}: {fit.reason})"
        # compiling + sampling, as the fit records it; the rest of fit_s is the data, the model
        # and the results (summary, diagnosis, data groups)
        split["sampling_s"] = round(json.loads(fit.idata.attrs["hbm_run"])["sampling_seconds"], 2)
    elif method == "pymc":
        codes, labels = pd.factorize(table["g"])
        y = table["y"].to_numpy()
        x1, x2 = table["x1"].to_numpy(), table["x2"].to_numpy()
        pooled = float(np.log(max(y.mean(), 0.5 / len(y))))
        with pm.Model(coords={"g": list(labels)}):
            g = pm.Data("g_idx", codes)
            # hbm's defaults: the intercept at the covariates' means, normal(log pooled, 2.5)
            b0 = pm.Normal("b0", pooled, 2.5)
            b1 = pm.Normal("b1", 0, 2.5 / x1.std())
            b2 = pm.Normal("b2", 0, 2.5 / x2.std())
            sd = pm.HalfNormal("sd", 1.0)
            z = pm.Normal("z", 0, 1, dims="g")
            u = pm.Deterministic("u", z * sd, dims="g")
            eta = b0 + b1 * (x1 - x1.mean()) + b2 * (x2 - x2.mean()) + u[g]
            pm.Poisson("y", pm.math.exp(eta), observed=y)
            idata = pm.sample(**runner.pymc_sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        parts = {
            "beta": np.stack([post[n].values for n in ("b0", "b1", "b2")], axis=-1),
            "sd": post["sd"].values,
            "u": post["u"].values,
        }
        sampler = "nutpie (pm.sample, non-centered)"
    elif method == "bambi":
        model = bmb.Model(POISSON, table, family="poisson")
        idata = model.fit(**runner.sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        parts = {
            "beta": np.stack([post[n].values for n in ("Intercept", "x1", "x2")], axis=-1),
            "sd": post["1|g_sigma"].values,
            "u": post["1|g"].values,
        }
        sampler = "pymc NUTS (Bambi default)"
    else:
        raise ValueError(f"unknown method {method!r}")
    measured = runner.fit_measurements(parts.values(), seconds, idata, sampler)
    steps = idata["sample_stats"].get("n_steps")
    leapfrog = {"leapfrog_steps": None if steps is None else int(steps.values.sum())}
    head = {key: measured.pop(key) for key in ("sampler", "fit_s")}
    return {**head, **split, **leapfrog, **measured}


def fit_row(method: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = runner.worker_command(Path(__file__), method, path, args)
    return runner.fit_row(command, args.timeout, {"method": method})


def cli_row(label: str, path: Path, formula: str, args: argparse.Namespace) -> dict[str, object]:
    hbm = runner.hbm_executable()
    return runner.cli_row(
        [hbm, "fit", str(path), "--formula", formula, "--family", "binomial"],
        args,
        {"table": label, "formula": formula},
        lambda diagnostics: {
            "parametrization": diagnostics.get("parametrization"),
            "min_ess_bulk": round(diagnostics["min_ess_bulk"], 1),
            "divergences": diagnostics["divergences"],
            "runs": len(diagnostics.get("attempts", [])),
        },
        prefix="hbm-outcome-bench-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("reduce", "speed", "both"), default="both")
    parser.add_argument("--groups", type=int, default=None, help="(b): groups (default 1000)")
    parser.add_argument("--rows", type=int, default=100, help="(b): rows per group")
    parser.add_argument("--methods", nargs="*", default=["hbm", "pymc", "bambi"])
    runner.add_fit_options(parser, draws=DRAWS, tune=TUNE, chains=CHAINS, timeout=1800.0)
    args = parser.parse_args()
    if runner.run_worker(args, worker):
        return
    folder = HERE / "data"
    folder.mkdir(exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps"
    print(f"machine: {runner.machine()}; {settings}")
    if args.part in ("reduce", "both"):
        rows_path, cells_path = binomial_tables(10_000, 100, folder)
        rows = [
            cli_row("1,000,000 0/1 rows", rows_path, "y ~ 1 + (1 | g)", args),
            cli_row("10,000 (s, n) rows", cells_path, "p(s, n) ~ 1 + (1 | g)", args),
        ]
        for row in rows:
            print(json.dumps(row), flush=True)
        runner.write_csv(
            args.out / "outcome_reduce.csv", rows, sorted({k for r in rows for k in r})
        )
        if all(r.get("status") == "ok" for r in rows):
            ratio = float(rows[0]["wall_s"]) / float(rows[1]["wall_s"])  # type: ignore[arg-type]
            print(f"0/1 rows vs (s, n) rows: {ratio:.2f}x the time (target <= 1.5x)")
    if args.part in ("speed", "both"):
        groups = args.groups or 1000
        path = folder / f"poisson_{groups}_{args.rows}.csv"
        poisson_table(groups, args.rows).to_csv(path, index=False)
        rows = []
        for method in args.methods:
            rows.append({"table": f"{groups} x {args.rows}", **fit_row(method, path, args)})
            print(json.dumps(rows[-1]), flush=True)
        runner.write_csv(args.out / "outcome_speed.csv", rows, sorted({k for r in rows for k in r}))
        ok = {r["method"]: r for r in rows if r.get("status") == "ok"}
        for other in ("pymc", "bambi"):
            if "hbm" in ok and other in ok:
                ratio = float(ok["hbm"]["ess_per_s"]) / float(ok[other]["ess_per_s"])
                print(f"hbm vs {other}: {ratio:.1f}x min-ESS per second (target >= 10x)")


if __name__ == "__main__":
    main()
