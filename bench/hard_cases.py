"""Fit the three hard cases (``data/hard_*.csv``) with hbm's default settings, over many seeds.

For every case, sampler and seed this runs ``hbm.fit_grouped`` exactly as ``hbm fit`` would with
no options (``parametrization="auto"``, 4 chains x 1000 draws, 1000 tuning steps, target_accept
0.9; ``--target-accept`` changes the last, to compare) and records the first run and the final
result (``auto`` refits once with safer settings when the first run shows divergences or low
ESS). Other parametrizations can be asked for, for contrast; they get no refit.

    python bench/hard_cases.py --seeds 10 --samplers nutpie pymc \
        --parametrizations auto centered

writes ``bench/results/hard_cases.csv`` (one row per fit) and prints a summary per case.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import hbm
from hbm.data.grouped import grouped_data
from hbm.inference.config import SampleConfig

ROOT = Path(__file__).resolve().parents[1]
CASES = ("hard_tau_zero", "hard_three_groups", "hard_unbalanced")


def run(
    seeds: int, samplers: list[str], parametrizations: list[str], target_accept: float = 0.9
) -> pd.DataFrame:
    """One row per (case, parametrization, sampler, seed)."""
    rows = []
    for case in CASES:
        data = grouped_data(
            pd.read_csv(ROOT / "data" / f"{case}.csv"), group="group", value="value"
        )
        for parametrization in parametrizations:
            for sampler in samplers:
                for seed in range(seeds):
                    start = time.perf_counter()
                    fit = hbm.fit_grouped(
                        data,
                        parametrization=parametrization,
                        config=SampleConfig(
                            random_seed=seed,
                            sampler=sampler,  # type: ignore[arg-type]
                            target_accept=target_accept,
                            progressbar=False,
                        ),
                    )
                    d = fit.diagnosis
                    first = d.attempts[0]
                    rows.append(
                        {
                            "case": case,
                            "asked": parametrization,
                            "target_accept": target_accept,
                            "parametrization": fit.parametrization,
                            "sampler": sampler,
                            "seed": seed,
                            "attempts": len(d.attempts),
                            "first_divergences": first["divergences"],
                            "divergences": d.divergences,
                            "max_r_hat": d.max_r_hat,
                            "min_ess_bulk": d.min_ess_bulk,
                            "min_ess_tail": d.min_ess_tail,
                            "verdict": d.verdict,
                            "seconds": round(time.perf_counter() - start, 2),
                        }
                    )
                    print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--samplers", nargs="+", default=["nutpie", "pymc"])
    parser.add_argument("--parametrizations", nargs="+", default=["auto"])
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hard_cases.csv")
    args = parser.parse_args()
    table = run(args.seeds, args.samplers, args.parametrizations, args.target_accept)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    summary = table.groupby(["case", "asked", "sampler"]).agg(
        fits=("seed", "size"),
        refits=("attempts", lambda a: int((a > 1).sum())),
        first_divergent=("first_divergences", lambda v: int((v > 0).sum())),
        final_divergent=("divergences", lambda v: int((v > 0).sum())),
        final_divergences=("divergences", "sum"),
        max_r_hat=("max_r_hat", "max"),
        min_ess_bulk=("min_ess_bulk", "min"),
        min_ess_tail=("min_ess_tail", "min"),
        median_seconds=("seconds", "median"),
    )
    print(summary.to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
