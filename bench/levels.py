"""Benchmark nested levels: the nested model at scale and against hand-written PyMC.

    python bench/levels.py                      # both parts
    python bench/levels.py --part scale         # (a) only
    python bench/levels.py --part speed         # (b) only

(a) **Scale.** 100 districts x 100 schools x about 100 pupils (50 to 150; about 1,000,000
    rows), ``hbm fit CSV --formula ... --out DIR`` end to end (CSV to report), each in its own
    process: the nested model ``y ~ 1 + (1 | district/school)`` (``auto``: the nested marginal
    form) against the two-level model of the same rows ``y ~ 1 + (1 | school)`` (the seed's
    model, its marginal form). Targets: nested within 2x the two-level wall time, peak memory
    <= 1.5 GiB.

(b) **Speed.** 20 districts x 20 schools x 50 pupils (20,000 rows), 4 chains x 1000 draws after
    1000 tuning steps, each fit in its own process: ``hbm.fit`` with its defaults, and the same
    model written by hand in PyMC (one likelihood term per row, non-centered district and school
    effects, hbm's default priors, ``pm.sample(nuts_sampler="nutpie")``). Measured: fit seconds
    (table in memory -> draws, for hbm also its exact effect draws, summary and diagnosis;
    imports excluded), the smallest bulk ESS over the intercept, both sds, sigma and every
    district and school effect, ESS per second. Target: hbm's min-ESS per second >= 100x.

School labels are unique (``S00001`` ...), so ``(1 | school)`` has the same 10,000 schools as
``(1 | district/school)``. The tables are seeded (:func:`make_table`); results go to
``bench/results/levels_*.csv`` and a summary is printed.
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

NESTED = "y ~ 1 + (1 | district/school)"
TWO_LEVEL = "y ~ 1 + (1 | school)"
SEED = 20261202
DRAWS, TUNE, CHAINS = 1000, 1000, 4
TRUTH = {"mu": 50.0, "sd_district": 3.0, "sd_school": 2.0, "sigma": 8.0}


def make_table(districts: int, schools: int, low: int, high: int, seed: int = SEED) -> pd.DataFrame:
    """Pupils in schools in districts: ``schools`` schools per district, ``low`` to ``high``
    pupils per school, from the three-level normal model with :data:`TRUTH` (seeded)."""
    rng = np.random.default_rng([seed, districts, schools, low, high])
    n_schools = districts * schools
    district_of = np.repeat(np.arange(districts), schools)
    sizes = rng.integers(low, high + 1, size=n_schools)
    school = np.repeat(np.arange(n_schools), sizes)
    u_district = rng.normal(0, TRUTH["sd_district"], districts)
    u_school = rng.normal(0, TRUTH["sd_school"], n_schools)
    y = (
        TRUTH["mu"]
        + u_district[district_of[school]]
        + u_school[school]
        + rng.normal(0, TRUTH["sigma"], school.size)
    )
    order = rng.permutation(school.size)
    return pd.DataFrame(
        {
            "district": np.array([f"D{d:03d}" for d in range(districts)])[district_of[school]][
                order
            ],
            "school": np.array([f"S{s:05d}" for s in range(n_schools)])[school][order],
            "y": y.round(2)[order],
        }
    )


def worker(method: str, path: Path, draws: int, tune: int, chains: int) -> dict[str, object]:
    """Fit ``path`` with ``method`` in this process; the measurements as JSON."""
    table = pd.read_csv(path, dtype={"district": str, "school": str})
    import arviz  # noqa: F401
    import nutpie  # noqa: F401
    import pymc as pm

    import hbm

    start = time.perf_counter()
    if method == "hbm":
        fit = hbm.fit(
            table,
            NESTED,
            **runner.sampling(draws, tune, chains, SEED),
        )
        fit.summary()
        fit.diagnose()
        seconds = time.perf_counter() - start
        post = fit.idata["posterior"]
        parts = [
            post[n].values
            for n in (
                "beta",
                "sd_district",
                "sd_district:school",
                "sigma",
                "u_district",
                "u_district:school",
            )
        ]
        idata, sampler = fit.idata, f"nutpie ({fit.parametrization})"
    elif method == "pymc":
        d_codes, d_labels = pd.factorize(table["district"])
        key = table["district"] + ":" + table["school"]
        s_codes, s_labels = pd.factorize(key)
        y = table["y"].to_numpy()
        sy = y.std()
        with pm.Model(coords={"district": list(d_labels), "school": list(s_labels)}):
            d = pm.Data("d_idx", d_codes)
            s = pm.Data("s_idx", s_codes)
            mu = pm.Normal("mu", y.mean(), 2.5 * sy)
            sd_d = pm.HalfNormal("sd_district", sy)
            sd_s = pm.HalfNormal("sd_school", sy)
            z_d = pm.Normal("z_district", 0, 1, dims="district")
            z_s = pm.Normal("z_school", 0, 1, dims="school")
            u_d = pm.Deterministic("u_district", sd_d * z_d, dims="district")
            u_s = pm.Deterministic("u_school", sd_s * z_s, dims="school")
            sigma = pm.HalfNormal("sigma", sy)
            pm.Normal("y", mu + u_d[d] + u_s[s], sigma, observed=y)
            idata = pm.sample(**runner.pymc_sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        post = idata["posterior"]
        parts = [
            post[n].values
            for n in (
                "mu",
                "sd_district",
                "sd_school",
                "sigma",
                "u_district",
                "u_school",
            )
        ]
        sampler = "nutpie (pm.sample)"
    else:
        raise ValueError(f"unknown method {method!r}")
    return runner.fit_measurements(parts, seconds, idata, sampler)


def fit_row(method: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    command = runner.worker_command(Path(__file__), method, path, args)
    return runner.fit_row(command, args.timeout, {"method": method}, runner.MEASURED_WITH_CPU)


def cli_row(label: str, formula: str, path: Path, args: argparse.Namespace) -> dict[str, object]:
    return runner.cli_row(
        [runner.hbm_executable(), "fit", str(path), "--formula", formula],
        args,
        {"model": label, "formula": formula},
        ("parametrization", "verdict", "min_ess_bulk", "divergences"),
        prefix="hbm-levels-bench-",
        fields=runner.MEASURED_WITH_CPU,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("scale", "speed", "both"), default="both")
    runner.add_fit_options(parser, draws=DRAWS, tune=TUNE, chains=CHAINS, timeout=1200.0)
    args = parser.parse_args()
    if runner.run_worker(args, worker):
        return
    folder = HERE / "data"
    folder.mkdir(exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {runner.machine()}")
    if args.part in ("scale", "both"):
        path = folder / "levels_100x100x100.csv"
        if not path.exists():
            make_table(100, 100, 50, 150).to_csv(path, index=False)
        rows = []
        for label, formula in (("two levels", TWO_LEVEL), ("nested", NESTED)):
            rows.append(cli_row(label, formula, path, args))
            print(json.dumps(rows[-1]), flush=True)
        runner.write_csv(args.out / "levels_scale.csv", rows, sorted({k for r in rows for k in r}))
        if all(r.get("status") == "ok" for r in rows):
            ratio = float(rows[1]["wall_s"]) / float(rows[0]["wall_s"])  # type: ignore[arg-type]
            cpu = float(rows[1]["cpu_s"]) / float(rows[0]["cpu_s"])  # type: ignore[arg-type]
            print(
                f"nested vs two levels: {ratio:.2f}x wall time, {cpu:.2f}x CPU time (target <= 2); "
                f"nested peak {rows[1]['peak_rss_mb']} MB (target <= 1536)"
            )
    if args.part in ("speed", "both"):
        path = folder / "levels_20x20x50.csv"
        make_table(20, 20, 50, 50).to_csv(path, index=False)
        rows = []
        for method in ("hbm", "pymc"):
            rows.append(fit_row(method, path, args))
            print(json.dumps(rows[-1]), flush=True)
        runner.write_csv(args.out / "levels_speed.csv", rows, sorted({k for r in rows for k in r}))
        ok = {r["method"]: r for r in rows if r.get("status") == "ok"}
        if "hbm" in ok and "pymc" in ok:
            ratio = float(ok["hbm"]["ess_per_s"]) / float(ok["pymc"]["ess_per_s"])
            print(f"hbm vs hand-written PyMC: {ratio:.1f}x min-ESS per second (target >= 100)")


if __name__ == "__main__":
    main()
