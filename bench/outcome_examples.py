"""The outcome families' CLI examples end to end, with default settings: a table per family.

    nice python bench/outcome_examples.py            # seven fits, about 5 minutes on 2 shared cores
    python bench/outcome_examples.py --only cbpp     # one of them

Each example is the issue's command line, run as ``hbm fit CSV --formula F --family FAM --out
DIR`` in its own process (4 chains x 1000 draws after 1000 tuning steps, seed 1, ``auto``):

- ``surgical``: the BUGS "Surgical" data shipped with hbm, ``p(deaths, operations)``;
- ``cbpp``: lme4's cbpp (contagious bovine pleuropneumonia: 15 herds, 4 periods),
  ``p(incidence, size) ~ C(period) + (1 | herd)``;
- ``pupils``: 0/1 rows with a continuous covariate, 300 schools of 1 to 40 pupils (sparse);
- ``survey``: a Y/N text column, ``use[Y] ~ age + urban + (1 | district)``, 60 districts;
- ``counts``: deaths with exposure, ``deaths ~ C(age) + offset(np.log(exposure)) + (1 |
  region)``: categorical terms only, so the rows reduce exactly to (exposure, count) per cell;
- ``defects``: overdispersed counts, negative binomial;
- ``scores``: a continuous outcome with outliers, Student-t.

Every table except cbpp and surgical is simulated here with a fixed seed. Measured: the rows and
the units the likelihood sees (cells or rows), the parametrization ``auto`` chose and why, the
runs (2 when the first needed the safer refit), divergences, max R-hat, min bulk ESS, wall
seconds of the whole command (CSV to report, imports included). Results:
``bench/results/outcome_examples.csv`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from runner import machine, measure, write_csv  # noqa: E402

SEED = 20261202

#: lme4's cbpp (also Rdatasets csv/lme4/cbpp.csv): herd incidence size period, per row.
CBPP = """1 2 14 1;1 3 12 2;1 4 9 3;1 0 5 4;2 3 22 1;2 1 18 2;2 1 21 3;3 8 22 1;3 2 16 2;3 0 16 3;
3 2 20 4;4 2 10 1;4 0 10 2;4 2 9 3;4 0 6 4;5 5 18 1;5 0 25 2;5 0 24 3;5 1 4 4;6 3 17 1;6 0 17 2;
6 0 18 3;6 1 20 4;7 8 16 1;7 1 10 2;7 3 9 3;7 0 5 4;8 12 34 1;9 2 9 1;9 0 6 2;9 0 8 3;9 0 6 4;
10 1 22 1;10 1 22 2;10 0 18 3;10 2 22 4;11 0 25 1;11 5 27 2;11 3 22 3;11 1 22 4;12 2 10 1;
12 1 8 2;12 0 6 3;12 0 5 4;13 1 21 1;13 2 24 2;13 0 19 3;13 0 23 4;14 11 19 1;14 0 2 2;14 0 3 3;
14 0 2 4;15 1 19 1;15 1 15 2;15 1 15 3;15 0 15 4"""


def cbpp() -> pd.DataFrame:
    rows = [row.split() for row in CBPP.replace("\n", "").split(";")]
    table = pd.DataFrame(rows, columns=["herd", "incidence", "size", "period"])
    return table.astype({"incidence": int, "size": int, "period": int})


def pupils(rng: np.random.Generator) -> pd.DataFrame:
    sizes = rng.integers(1, 41, 300)
    g = np.repeat(np.arange(300), sizes)
    ses = rng.normal(size=g.size)
    eta = 0.5 + 0.6 * ses + rng.normal(0, 0.7, 300)[g]
    return pd.DataFrame(
        {
            "school": [f"S{j:03d}" for j in g],
            "ses": ses,
            "passed": rng.binomial(1, special.expit(eta)),
        }
    )


def survey(rng: np.random.Generator) -> pd.DataFrame:
    sizes = rng.integers(2, 60, 60)
    g = np.repeat(np.arange(60), sizes)
    age = rng.normal(0, 9, g.size).round()
    urban = rng.binomial(1, 0.3, g.size)
    eta = -0.7 - 0.02 * age + 0.7 * urban + rng.normal(0, 0.5, 60)[g]
    use = np.where(rng.binomial(1, special.expit(eta)) == 1, "Y", "N")
    return pd.DataFrame(
        {"district": [f"D{j:02d}" for j in g], "age": age, "urban": urban, "use": use}
    )


def counts(rng: np.random.Generator, overdispersed: bool = False) -> pd.DataFrame:
    ages = np.array(["40-49", "50-59", "60-69", "70+"])
    g = np.repeat(np.arange(50), 40)
    age = rng.integers(0, 4, g.size)
    exposure = rng.uniform(50, 500, g.size).round(1)
    rate = np.exp(-5.0 + 0.6 * age + rng.normal(0, 0.4, 50)[g])
    mu = exposure * rate
    if overdispersed:
        mu = rng.gamma(2.0, mu / 2.0)
    return pd.DataFrame(
        {
            "region": [f"R{j:02d}" for j in g],
            "age": ages[age],
            "exposure": exposure,
            "deaths": rng.poisson(mu),
        }
    )


def defects(rng: np.random.Generator) -> pd.DataFrame:
    g = np.repeat(np.arange(40), 25)
    load = rng.normal(size=g.size)
    mu = np.exp(1.0 + 0.3 * load + rng.normal(0, 0.5, 40)[g])
    return pd.DataFrame(
        {
            "machine": [f"M{j:02d}" for j in g],
            "load": load,
            "defects": rng.poisson(rng.gamma(2.0, mu / 2.0)),
        }
    )


def scores(rng: np.random.Generator) -> pd.DataFrame:
    g = np.repeat(np.arange(30), 20)
    hours = rng.uniform(0, 10, g.size)
    score = 50 + 2.0 * hours + rng.normal(0, 5, 30)[g] + 6 * rng.standard_t(3, g.size)
    return pd.DataFrame({"klass": [f"C{j:02d}" for j in g], "hours": hours, "score": score})


def examples() -> dict[str, tuple[pd.DataFrame, str, str]]:
    import hbm

    rng = np.random.default_rng(SEED)
    return {
        "surgical": (
            hbm.datasets.load("surgical"),
            "p(deaths, operations) ~ 1 + (1 | hospital)",
            "binomial",
        ),
        "cbpp": (cbpp(), "p(incidence, size) ~ C(period) + (1 | herd)", "binomial"),
        "pupils": (pupils(rng), "passed ~ ses + (1 | school)", "binomial"),
        "survey": (survey(rng), "use[Y] ~ age + urban + (1 | district)", "binomial"),
        "counts": (
            counts(rng),
            "deaths ~ C(age) + offset(np.log(exposure)) + (1 | region)",
            "poisson",
        ),
        "defects": (defects(rng), "defects ~ load + (1 | machine)", "negbinomial"),
        "scores": (scores(rng), "score ~ hours + (1 | klass)", "studentt"),
    }


def run_example(name: str, table: pd.DataFrame, formula: str, family: str, work: Path) -> dict:
    path = work / f"{name}.csv"
    table.to_csv(path, index=False)
    out = work / name
    hbm = str(Path(sys.executable).with_name("hbm"))
    command = [
        hbm,
        "fit",
        str(path),
        "--formula",
        formula,
        "--family",
        family,
        "--seed",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    result = measure(command, timeout=900, env=dict(os.environ))
    row: dict[str, object] = {
        "example": name,
        "family": family,
        "formula": formula,
        "rows": len(table),
        "wall_s": result["wall_s"],
        "peak_mb": result["peak_rss_mb"],
        "load": result["load_1min"],
    }
    if result["returncode"] != 0:
        row["error"] = result["stderr"].strip().splitlines()[-1:]
        return row
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    run = json.loads(_attr(out / "fit.nc", "hbm_run"))
    data = json.loads(_attr(out / "fit.nc", "hbm_data"))
    row.update(
        units=data.get("n_units", ""),
        form=data.get("units", ""),
        parametrization=", ".join(f"{g} {f}" for g, f in run.get("forms", {}).items()),
        runs=len(diagnostics.get("attempts", [])),
        divergences=diagnostics["divergences"],
        first_run_divergences=diagnostics["attempts"][0]["divergences"],
        max_r_hat=round(diagnostics["max_r_hat"], 4),
        min_ess_bulk=round(diagnostics["min_ess_bulk"]),
        verdict=diagnostics["verdict"],
        reason=diagnostics["parametrization_reason"],
        files=" ".join(sorted(p.name for p in out.iterdir())),
    )
    return row


def _attr(path: Path, name: str) -> str:
    import xarray as xr

    with xr.open_datatree(path) as tree:
        return str(tree.attrs[name])


COLUMNS = [
    "example",
    "family",
    "formula",
    "rows",
    "form",
    "units",
    "parametrization",
    "runs",
    "first_run_divergences",
    "divergences",
    "max_r_hat",
    "min_ess_bulk",
    "verdict",
    "wall_s",
    "peak_mb",
    "load",
    "reason",
    "files",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--keep", default=None, help="folder to keep the CSVs and results in")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hbm-outcomes-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (table, formula, family) in examples().items():
        if args.only and name not in args.only:
            continue
        rows.append(run_example(name, table, formula, family, work))
        print(json.dumps(rows[-1]), flush=True)
    if args.only is None:
        write_csv(HERE / "results" / "outcome_examples.csv", rows, COLUMNS)
    print(f"\nMachine: {machine()}. 4 chains x 1000 draws after 1000 tuning steps, seed 1.\n")
    shown = [c for c in COLUMNS if c not in ("formula", "verdict", "reason", "files")]
    table = pd.DataFrame(rows).reindex(columns=shown).fillna("").astype(str)
    print("| " + " | ".join(shown) + " |\n|" + "---|" * len(shown))
    for _, row in table.iterrows():
        print("| " + " | ".join(row) + " |")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
