"""Benchmark hbm against a hand-written PyMC model and Bambi, on the same seeded tables, in one run.

    python bench/run.py                      # all sizes (about 15-20 minutes on 2 cores)
    python bench/run.py --sizes small        # a quick look (about a minute)
    make bench BENCH_SIZES=small,medium      # the same through make (installs the bench extra)

Every fit runs in its own subprocess, so its wall time includes nothing of the others and its
peak memory is its own (the larger of ``wait4``'s ``ru_maxrss`` and the sampled resident memory of
its whole process tree, which counts PyMC's worker processes too). For each table (see
``bench/make_data.py``: schools x students, unequal sizes) it fits, with 4 chains x 1000 draws
after 1000 tuning steps:

- ``hbm``: ``hbm.fit`` with default settings (``auto`` = ``marginal``), then the same again (its
  compile cache now warm for this table), then ``centered`` and ``noncentered``;
- ``pymc``: the model a PyMC user writes by hand, as in PyMC's radon example: one likelihood term
  per row, non-centered, sampled with ``pm.sample(nuts_sampler="nutpie")``, hbm's default priors;
- ``bambi``: ``bmb.Model("score ~ 1 + (1|school)", table).fit(...)`` with Bambi's defaults
  (its priors, PyMC's own NUTS), skipped above ``--bambi-max-schools``;
- ``hbm fit`` (the CLI) end to end: CSV read to report, all result files written.

Measured per fit: ``fit_s`` (table in memory -> draws, diagnostics included where the method does
them; imports and CSV reading excluded), ``wall_s`` (the whole subprocess), min bulk ESS over
``mu``, ``tau``, ``sigma`` and every ``theta`` (ArviZ's definition, computed the same way for
every method), ESS per second of ``fit_s``, divergences, max R-hat, peak memory, and the 1-minute
load average when the fit started (the machine may be shared: compare rows with similar load).
Results go to ``bench/results/fits.csv``, ``ratios.csv`` (hbm / others) and ``targets.csv``, and a
Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from make_data import SIZES, write_table  # noqa: E402
from runner import (  # noqa: E402
    add_fit_options,
    fit_measurements,
    hbm_executable,
    last_line,
    machine,
    measure,
    pymc_sampling,
    run_worker,
    sampling,
    sampling_options,
    worker_command,
    write_csv,
)

DRAWS, TUNE, CHAINS, SEED = 1000, 1000, 4, 20261124
FIT_METHODS = ("hbm", "hbm (2nd run)", "hbm centered", "hbm noncentered", "pymc", "bambi")
HBM_PARAMETRIZATION = {
    "hbm": "auto",
    "hbm (2nd run)": "auto",
    "hbm centered": "centered",
    "hbm noncentered": "noncentered",
}
COLUMNS = (
    "size",
    "schools",
    "rows",
    "method",
    "sampler",
    "status",
    "fit_s",
    "wall_s",
    "min_ess_bulk",
    "ess_per_s",
    "divergences",
    "max_r_hat",
    "peak_rss_mb",
    "load_1min",
    "compiled",
    "note",
)


# --------------------------------------------------------------------------------------------
# worker: one fit, in its own process
# --------------------------------------------------------------------------------------------


def worker(method: str, path: Path, draws: int, tune: int, chains: int) -> dict[str, object]:
    """Fit ``path`` with ``method``; return the measurements as a JSON-ready dict."""
    import pandas as pd

    table = pd.read_csv(path, dtype={"school": str})
    # Libraries are imported before the clock starts: fit_s is model, compilation and sampling.
    import arviz  # noqa: F401
    import nutpie  # noqa: F401
    import pymc  # noqa: F401
    import pytensor

    import hbm

    hbm_fit = hbm.fit  # the function (loads hbm's modules); never `import hbm.fit`, a module
    if method == "bambi":
        import bambi  # noqa: F401
    cache = Path(pytensor.config.base_compiledir) / "numba"
    cached_before = len(list(cache.glob("*"))) if cache.is_dir() else 0
    start = time.perf_counter()
    if method.startswith("hbm"):
        parametrization = HBM_PARAMETRIZATION[method]
        fit = hbm_fit(
            table,
            group="school",
            value="score",
            parametrization=parametrization,
            **sampling(draws, tune, chains, SEED),
        )
        seconds = time.perf_counter() - start
        idata, sampler = fit.idata, f"nutpie ({fit.parametrization})"
        post = idata["posterior"]
        parts = [post[name].values for name in ("mu", "tau", "sigma", "theta")]
    elif method == "pymc":
        import pymc as pm

        codes, labels = pd.factorize(table["school"])
        y = table["score"].to_numpy()
        center, scale = float(y.mean()), float(y.std())
        with pm.Model(coords={"school": list(labels)}):
            school = pm.Data("school_idx", codes)
            mu = pm.Normal("mu", center, 2.5 * scale)
            tau = pm.HalfNormal("tau", scale)
            theta_z = pm.Normal("theta_z", 0.0, 1.0, dims="school")
            theta = pm.Deterministic("theta", mu + tau * theta_z, dims="school")
            sigma = pm.HalfNormal("sigma", scale)
            pm.Normal("y", theta[school], sigma, observed=y)
            idata = pm.sample(**pymc_sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        sampler = "nutpie (pm.sample)"
        post = idata["posterior"]
        parts = [post[name].values for name in ("mu", "tau", "sigma", "theta")]
    elif method == "bambi":
        import bambi as bmb

        model = bmb.Model("score ~ 1 + (1|school)", table)
        idata = model.fit(**sampling(draws, tune, chains, SEED))
        seconds = time.perf_counter() - start
        sampler = "pymc NUTS (Bambi default)"
        post = idata["posterior"]
        intercept = post["Intercept"].values
        parts = [
            intercept,
            post["1|school_sigma"].values,
            post["sigma"].values,
            post["1|school"].values + intercept[..., None],
        ]
    else:
        raise ValueError(f"unknown method {method!r}")

    written = (len(list(cache.glob("*"))) if cache.is_dir() else 0) - cached_before
    measured = fit_measurements(parts, seconds, idata, sampler)
    # "compiled" after "sampler", as the rows have always been printed
    return {
        "sampler": measured.pop("sampler"),
        "compiled": "yes" if written else "no (warm cache)",
        **measured,
    }


# --------------------------------------------------------------------------------------------
# parent: subprocesses, memory, tables
# --------------------------------------------------------------------------------------------


def fit_row(size: str, method: str, path: Path, args: argparse.Namespace, timeout: float) -> dict:
    command = worker_command(Path(__file__), method, path, args)
    run = measure(command, timeout)
    row = {
        "wall_s": run["wall_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "load_1min": run["load_1min"],
    }
    if run["timed_out"]:
        return {**row, "status": f"timeout ({timeout:.0f} s limit)", "note": "killed"}
    if run["returncode"] != 0:
        return {**row, "status": "error", "note": last_line(run["stderr"])}
    result = json.loads(run["stdout"].strip().splitlines()[-1])
    return {**row, **result, "status": "ok"}


def cli_row(path: Path, args: argparse.Namespace) -> dict:
    out = Path(tempfile.mkdtemp(prefix="hbm-bench-")) / "result"
    command = [hbm_executable(), "fit", str(path), "--group", "school", "--value", "score"]
    command += ["--seed", "1", "--quiet", *sampling_options(args), "--out", str(out)]
    run = measure(command, args.timeout)
    row = {
        "method": "hbm fit (CLI, CSV to report)",
        "sampler": "nutpie (auto)",
        "wall_s": run["wall_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "load_1min": run["load_1min"],
        "status": "ok" if run["returncode"] == 0 else f"exit {run['returncode']}",
    }
    if run["returncode"] == 0:
        diagnostics = json.loads((out / "diagnostics.json").read_text())
        files = sorted(p.name for p in out.iterdir())
        row.update(
            min_ess_bulk=round(diagnostics["min_ess_bulk"], 1),
            divergences=diagnostics["divergences"],
            max_r_hat=diagnostics["max_r_hat"],
            note="wrote " + ", ".join(files),
        )
    shutil.rmtree(out.parent, ignore_errors=True)
    return row


def targets(results: list[dict], args: argparse.Namespace) -> list[dict]:
    """The issue's targets: hbm --help, eight schools warm, 10,000 schools end to end, ratio."""
    rows = []
    hbm = str(Path(sys.executable).with_name("hbm"))
    helps = [measure([hbm, "--help"], 60) for _ in range(5)]
    best = min(r["wall_s"] for r in helps)
    rows.append(
        {
            "target": "hbm --help < 1 s",
            "measured": f"{best:.2f} s (best of 5)",
            "pass": best < 1.0,
            "load_1min": helps[0]["load_1min"],
        }
    )
    out = Path(tempfile.mkdtemp(prefix="hbm-bench-"))
    eight = [
        hbm,
        "fit",
        str(ROOT / "data" / "eight_schools.csv"),
        "--group",
        "school",
        "--value",
        "effect",
        "--se",
        "stderr",
        "--seed",
        "1",
        "--quiet",
    ]
    runs = [measure([*eight, "--out", str(out / f"e{i}")], 300) for i in range(3)]
    warm = sorted(r["wall_s"] for r in runs[1:])[0]
    rows.append(
        {
            "target": "eight schools 'hbm fit', warm compile cache <= 6 s",
            "measured": f"{warm:.2f} s (best of runs 2-3; run 1: {runs[0]['wall_s']:.2f} s)",
            "pass": warm <= 6.0,
            "load_1min": runs[1]["load_1min"],
        }
    )
    shutil.rmtree(out, ignore_errors=True)
    for row in results:
        if row["size"] == "large" and row["method"].startswith("hbm fit (CLI"):
            ok = row["status"] == "ok" and row["wall_s"] <= 20 and row["peak_rss_mb"] <= 1536
            rows.append(
                {
                    "target": "10,000 schools / 1.1M rows 'hbm fit' <= 20 s, <= 1.5 GiB",
                    "measured": f"{row['wall_s']:.1f} s, {row['peak_rss_mb']:.0f} MB",
                    "pass": ok,
                    "load_1min": row["load_1min"],
                }
            )
    for ratio in ratio_rows(results):
        if ratio["size"] == "medium" and ratio["other"] == "pymc":
            value = ratio["ess_per_s_ratio"]
            rows.append(
                {
                    "target": "1000 schools: hbm min-ESS/s >= 100x hand-written PyMC's",
                    "measured": f"{value}x",
                    "pass": value != "" and value >= 100,
                    "load_1min": "",
                }
            )
    return rows


def ratio_rows(results: list[dict]) -> list[dict]:
    """hbm (default) against each other method of the same size: ESS/s and time ratios."""
    out = []
    for size in dict.fromkeys(r["size"] for r in results):
        rows = {r["method"]: r for r in results if r["size"] == size}
        base = rows.get("hbm")
        if not base or base.get("status") != "ok":
            continue
        for other, row in rows.items():
            if other.startswith("hbm"):
                continue
            ok = row.get("status") == "ok" and row.get("ess_per_s")
            out.append(
                {
                    "size": size,
                    "hbm": "hbm",
                    "other": other,
                    "ess_per_s_ratio": round(base["ess_per_s"] / row["ess_per_s"], 1) if ok else "",
                    "fit_time_ratio": round(row["fit_s"] / base["fit_s"], 1) if ok else "",
                    "note": "" if ok else row.get("status", ""),
                }
            )
    return out


def markdown(results: list[dict], ratios: list[dict], goals: list[dict]) -> str:
    lines = [
        "| schools × rows | method | fit s | wall s | min ESS | ESS/s | div | max R-hat | "
        "peak MB | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.get("status") != "ok":
            lines.append(
                f"| {r['schools']:,} × {r['rows']:,} | {r['method']} | — | "
                f"{r.get('wall_s', '')} | {r['status']} | | | | "
                f"{r.get('peak_rss_mb', '')} | {r.get('load_1min', '')} |"
            )
            continue
        lines.append(
            f"| {r['schools']:,} × {r['rows']:,} | {r['method']} | {r.get('fit_s', '—')} | "
            f"{r['wall_s']} | {r.get('min_ess_bulk', '')} | {r.get('ess_per_s', '—')} | "
            f"{r.get('divergences', '')} | {r.get('max_r_hat', '')} | {r['peak_rss_mb']:.0f} | "
            f"{r['load_1min']} |"
        )
    lines += ["", "| size | hbm vs | ESS/s ratio | fit-time ratio |", "|---|---|---:|---:|"]
    lines += [
        f"| {r['size']} | {r['other']} | {r['ess_per_s_ratio'] or r['note']} | "
        f"{r['fit_time_ratio']} |"
        for r in ratios
    ]
    lines += ["", "| target | measured | pass | load |", "|---|---|---|---:|"]
    lines += [
        f"| {g['target']} | {g['measured']} | {'yes' if g['pass'] else 'NO'} | {g['load_1min']} |"
        for g in goals
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="small,medium,large", help=f"comma-separated, of {', '.join(SIZES)}"
    )
    parser.add_argument(
        "--methods",
        default=",".join(FIT_METHODS),
        help="comma-separated fit methods (the CLI row always runs)",
    )
    parser.add_argument(
        "--pymc-timeout",
        type=float,
        default=300.0,
        help="limit in seconds for the hand-written PyMC fit at 10,000 schools",
    )
    parser.add_argument("--bambi-max-schools", type=int, default=1000)
    limit = "limit for any other fit"
    add_fit_options(
        parser, draws=DRAWS, tune=TUNE, chains=CHAINS, timeout=900.0, timeout_help=limit
    )
    args = parser.parse_args()
    if run_worker(args, worker):
        return

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [s for s in sizes if s not in SIZES] + [m for m in methods if m not in FIT_METHODS]
    if unknown:
        parser.error(
            f"unknown size or method {unknown}; sizes {list(SIZES)}, methods {list(FIT_METHODS)}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {machine()}; {args.chains} chains x {args.draws} draws after {args.tune}",
        flush=True,
    )
    results: list[dict] = []
    started = time.perf_counter()
    for size in sizes:
        schools, low, high = SIZES[size]
        path = write_table(HERE / "data" / f"{size}.csv", schools, low, high)
        rows = sum(1 for _ in path.open()) - 1
        for method in methods:
            base = {"size": size, "schools": schools, "rows": rows, "method": method}
            if method == "bambi" and schools > args.bambi_max_schools:
                results.append(
                    {
                        **base,
                        "status": "skipped",
                        "note": f"Bambi above {args.bambi_max_schools} schools takes "
                        "too long for one benchmark run",
                    }
                )
                continue
            timeout = args.pymc_timeout if method == "pymc" and size == "large" else args.timeout
            row = {**base, **fit_row(size, method, path, args, timeout)}
            results.append(row)
            print(
                f"{size:6s} {method:16s} {row.get('status'):10s} fit {row.get('fit_s', '-')} s "
                f"wall {row.get('wall_s')} s ESS/s {row.get('ess_per_s', '-')} "
                f"peak {row.get('peak_rss_mb')} MB load {row.get('load_1min')}",
                flush=True,
            )
        row = {"size": size, "schools": schools, "rows": rows, **cli_row(path, args)}
        results.append(row)
        print(
            f"{size:6s} hbm fit (CLI)    {row['status']:10s} wall {row['wall_s']} s "
            f"peak {row['peak_rss_mb']} MB load {row['load_1min']}",
            flush=True,
        )
    ratios = ratio_rows(results)
    goals = targets(results, args)
    write_csv(args.out / "fits.csv", results, list(COLUMNS))
    write_csv(
        args.out / "ratios.csv",
        ratios,
        ["size", "hbm", "other", "ess_per_s_ratio", "fit_time_ratio", "note"],
    )
    write_csv(args.out / "targets.csv", goals, ["target", "measured", "pass", "load_1min"])
    table = markdown(results, ratios, goals)
    (args.out / "README.md").write_text(
        f"Machine: {machine()}. {args.chains} chains × {args.draws} draws after {args.tune} "
        f"tuning steps. Run took {(time.perf_counter() - started) / 60:.1f} min.\n\n{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
