"""Benchmark a varying-slopes model: hbm against hand-written PyMC and Bambi, and at scale.

    python bench/formula.py                       # both parts (about 10 minutes on 2 cores)
    python bench/formula.py --part speed          # (a) only
    python bench/formula.py --part scale          # (b) only

(a) ``y ~ x1 + x2 + (1 + x1 | g)`` on 300 groups of 20 to 80 rows (about 15,000 rows), 4 chains x
    1000 draws after 1000 tuning steps, each fit in its own process:

    - ``hbm``: ``hbm.fit(table, formula)`` with its defaults (``auto``: the marginal form);
    - ``pymc``: the model a PyMC user writes by hand: one likelihood term per row, non-centered
      effects with ``LKJCholeskyCov``, ``pm.sample(nuts_sampler="nutpie")``, hbm's default priors;
    - ``bambi``: ``bmb.Model(formula, table)`` with its defaults (uncorrelated intercept and slope:
      Bambi cannot fit correlated varying slopes), PyMC's NUTS.

    Measured: fit seconds (table in memory -> draws; imports excluded: also the modules the fits
    import on first use, the same ones for every method, see ``SHARED_LATE_IMPORTS``; the
    number still imported inside the timer is ``late_imports``), the smallest bulk ESS over
    the coefficients, the group sds, sigma and every group effect (the parameters all three
    models have), ESS per second, divergences, peak memory.

(b) ``hbm fit --formula`` end to end (CSV to report) on 10,000 groups of about 10 rows and of
    about 100 rows (100,000 and 1,000,000 rows): time and peak memory; the cost should follow the
    groups, not the rows.

Results go to ``bench/results/formula_*.csv`` and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runner  # noqa: E402

FORMULA = "y ~ x1 + x2 + (1 + x1 | g)"
SEED = 20261201
DRAWS, TUNE, CHAINS = 1000, 1000, 4
TRUTH = {"b0": 20.0, "b1": 1.5, "b2": -0.8, "sd0": 2.0, "sd1": 0.7, "corr": 0.3, "sigma": 2.5}


def make_table(groups: int, low: int, high: int, seed: int = SEED) -> pd.DataFrame:
    """``groups`` groups of ``low`` to ``high`` rows from the varying-slopes model (seeded)."""
    rng = np.random.default_rng([seed, groups, low, high])
    sizes = rng.integers(low, high + 1, size=groups)
    sd = np.array([TRUTH["sd0"], TRUTH["sd1"]])
    corr = np.array([[1.0, TRUTH["corr"]], [TRUTH["corr"], 1.0]])
    u = rng.multivariate_normal(np.zeros(2), sd[:, None] * corr * sd[None, :], size=groups)
    g = np.repeat(np.arange(groups), sizes)
    x1, x2 = rng.normal(0, 1, g.size), rng.normal(5, 2, g.size)
    y = (
        TRUTH["b0"]
        + u[g, 0]
        + (TRUTH["b1"] + u[g, 1]) * x1
        + TRUTH["b2"] * x2
        + rng.normal(0, TRUTH["sigma"], g.size)
    )
    labels = np.array([f"G{j:05d}" for j in range(groups)])
    order = rng.permutation(g.size)
    columns = {"g": labels[g], "x1": x1.round(4), "x2": x2.round(4), "y": y.round(3)}
    return pd.DataFrame({name: values[order] for name, values in columns.items()})


#: Modules that the fits import on first use (inside the timer unless imported before it): xarray
#: probes for dask and sparse arrays the first time it makes a DataArray (every method's draws go
#: through xarray), PyTensor loads its numba backend when a model is first compiled for nutpie and
#: its C linker for PyMC's initial-point function, nutpie its Arrow library for the draws.
#: Imported before the timer for every method alike, so that "imports excluded" holds for all
#: three; ``late_imports`` in the results counts the modules still imported inside it (numba's
#: typing modules, loaded as its compiler first starts, stay inside: that is compiling).
SHARED_LATE_IMPORTS = (
    "dask.array",
    "sparse",
    "pytensor.link.numba.dispatch",
    "pytensor.link.c.cvm",
    "nutpie.compile_pymc",
    "arro3.core",
)
#: hbm's own modules that ``hbm.fit`` loads on first use (``import hbm`` is lazy), and formulae,
#: which hbm imports when it parses a formula (Bambi imports it with ``import bambi``).
HBM_LATE_IMPORTS = (
    "formulae",
    "hbm.api.facade",
    "hbm.workflow.fit_formula",
    "hbm.model.families.normal_marginal_op",
)


def preimport(names: tuple[str, ...]) -> None:
    """Import ``names`` that are installed (an optional one that is not is skipped)."""
    import importlib
    import importlib.util

    for name in names:
        top = name.split(".")[0]
        if importlib.util.find_spec(top) is not None:
            importlib.import_module(name)


def worker(method: str, path: Path, draws: int, tune: int, chains: int) -> dict[str, object]:
    """Fit ``path`` with ``method`` in this process; the measurements as JSON."""
    table = pd.read_csv(path, dtype={"g": str})
    import arviz  # noqa: F401
    import nutpie  # noqa: F401
    import pymc as pm

    import hbm

    hbm_fit = hbm.fit
    if method == "bambi":
        import bambi as bmb
    preimport(SHARED_LATE_IMPORTS + (HBM_LATE_IMPORTS if method == "hbm" else ()))
    modules = set(sys.modules)
    start = time.perf_counter()
    if method == "hbm":
        fit = hbm_fit(
            table,
            FORMULA,
            **runner.sampling(draws, tune, chains, SEED),
        )
        seconds = time.perf_counter() - start
        post = fit.idata["posterior"]
        parts = {
            "beta": post["beta"].values,
            "sd": post["sd_g"].values,
            "sigma": post["sigma"].values,
            "u": post["u_g"].values,
        }
        idata, sampler = fit.idata, f"nutpie ({fit.parametrization})"
    elif method == "pymc":
        codes, labels = pd.factorize(table["g"])
        y = table["y"].to_numpy()
        x1, x2 = table["x1"].to_numpy(), table["x2"].to_numpy()
        sy, s1, s2 = y.std(), x1.std(), x2.std()
        with pm.Model(coords={"g": list(labels), "term": ["Intercept", "x1"]}):
            g = pm.Data("g_idx", codes)
            b0 = pm.Normal("b0", y.mean(), 2.5 * sy)
            b1 = pm.Normal("b1", 0, 2.5 * sy / s1)
            b2 = pm.Normal("b2", 0, 2.5 * sy / s2)
            chol, _, _ = pm.LKJCholeskyCov(
                "chol", n=2, eta=2.0, sd_dist=pm.HalfNormal.dist(np.array([sy, sy / s1]))
            )
            z = pm.Normal("z", 0, 1, dims=("g", "term"))
            u = pm.Deterministic("u", z @ chol.T, dims=("g", "term"))
            sigma = pm.HalfNormal("sigma", sy)
            mu = b0 + u[g, 0] + (b1 + u[g, 1]) * x1 + b2 * x2
            pm.Normal("y", mu, sigma, observed=y)
            pm.Deterministic("sd", pm.math.sqrt((chol**2).sum(axis=1)))
            idata = pm.sample(
                **runner.pymc_sampling(draws, tune, chains, SEED),
                # Without a starting value for chol, PyMC 6.4's initial point draws the sds from
                # sd_dist through scipy, which fails on numpy 2.5 ("cannot set WRITEABLE flag");
                # the population sds at the data's scale, uncorrelated, and jittered as usual.
                initvals={"chol": np.array([sy, 0.0, sy / s1])},
            )
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        parts = {
            "beta": np.stack([post[n].values for n in ("b0", "b1", "b2")], axis=-1),
            "sd": post["sd"].values,
            "sigma": post["sigma"].values,
            "u": post["u"].values,
        }
        sampler = "nutpie (pm.sample)"
    elif method == "bambi":
        model = bmb.Model(FORMULA, table)
        idata = model.fit(**runner.sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        parts = {
            "beta": np.stack([post[n].values for n in ("Intercept", "x1", "x2")], axis=-1),
            "sd": np.stack([post["1|g_sigma"].values, post["x1|g_sigma"].values], axis=-1),
            "sigma": post["sigma"].values,
            "u": np.stack([post["1|g"].values, post["x1|g"].values], axis=-1),
        }
        sampler = "pymc NUTS (Bambi default)"
    else:
        raise ValueError(f"unknown method {method!r}")
    late = sorted(set(sys.modules) - modules)
    packages = sorted({name.split(".")[0] for name in late})
    print(f"{method}: {len(late)} modules imported inside the timer: {packages}", file=sys.stderr)
    return {
        **runner.fit_measurements(parts.values(), seconds, idata, sampler),
        "late_imports": len(late),
    }


def fit_row(method: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = runner.worker_command(Path(__file__), method, path, args)
    return runner.fit_row(command, args.timeout, {"method": method})


def cli_row(label: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = [runner.hbm_executable(), "fit", str(path), "--formula", FORMULA]
    read = ("verdict", "min_ess_bulk", "divergences")
    return runner.cli_row(command, args, {"table": label}, read, prefix="hbm-formula-bench-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("speed", "scale", "both"), default="both")
    runner.add_fit_options(parser, draws=DRAWS, tune=TUNE, chains=CHAINS, timeout=1200.0)
    args = parser.parse_args()
    if runner.run_worker(args, worker):
        return
    folder = HERE / "data"
    folder.mkdir(exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {runner.machine()}")
    if args.part in ("speed", "both"):
        path = folder / "slopes_300.csv"
        make_table(300, 20, 80).to_csv(path, index=False)
        rows = []
        for method in ("hbm", "pymc", "bambi"):
            rows.append(fit_row(method, path, args))
            print(json.dumps(rows[-1]), flush=True)
        runner.write_csv(args.out / "formula_speed.csv", rows, list(rows[0]))
        ok = {r["method"]: r for r in rows if r.get("status") == "ok"}
        for other in ("pymc", "bambi"):
            if "hbm" in ok and other in ok:
                ratio = float(ok["hbm"]["ess_per_s"]) / float(ok[other]["ess_per_s"])
                print(f"hbm vs {other}: {ratio:.1f}x min-ESS per second")
    if args.part in ("scale", "both"):
        rows = []
        for label, (low, high) in {"10,000 x ~10": (5, 15), "10,000 x ~100": (50, 150)}.items():
            path = folder / f"slopes_10000_{low}_{high}.csv"
            if not path.exists():
                make_table(10_000, low, high).to_csv(path, index=False)
            rows.append(cli_row(label, path, args))
            print(json.dumps(rows[-1]), flush=True)
        runner.write_csv(args.out / "formula_scale.csv", rows, sorted({k for r in rows for k in r}))
        if all(r.get("status") == "ok" for r in rows):
            print(f"100 vs 10 rows per group: {rows[1]['wall_s'] / rows[0]['wall_s']:.2f}x time")


if __name__ == "__main__":
    main()
