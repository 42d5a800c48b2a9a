"""Generate ``data/wells.csv``: a seeded synthetic field of oil wells with Arps declines.

Each well's monthly average rate (barrels per day) follows a hyperbolic (Arps) decline

    q(t) = qi / (1 + b di t)^(1/b),   t = 0, 1, 2, ... months on production

with the field's parameters drawn from a population, as hbm's curve model assumes:

    log qi ~ Normal(log 600, 0.45)      initial rate: median 600 bbl/d
    log di ~ Normal(log 0.10, 0.35)     initial decline: median 10% per month
    corr(log qi, log di) = 0.4          wells that start high decline faster
    b      = 0.9                        shared hyperbolic exponent
    rate   = q(t) + Normal(0, 12)       measurement and operating noise, bbl/d

Histories are very unequal — 3 to 120 months, about log-uniform — so a young well's forecast
must borrow its decline from its neighbours. Rates are rounded to one decimal and kept at zero
or above.

Run ``python data/make_wells.py [N_WELLS] [OUT.csv]`` (default 60 wells, writing
``data/wells.csv`` and the packaged copy ``hbm/_data/wells.csv``); the output is identical on
every run (fixed seed). The truth is written beside a custom output as ``OUT.truth.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261202
QI, DI, B = 600.0, 0.10, 0.9
SD_LOG_QI, SD_LOG_DI, CORR = 0.45, 0.35, 0.4
SIGMA = 12.0


def make_wells(
    n_wells: int, seed: int = SEED, history: tuple[int, int] = (3, 120)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The field's rows (well, month, rate) and each well's true qi, di and history length
    (months, about log-uniform between ``history``'s bounds)."""
    rng = np.random.default_rng(seed)
    cov = np.array(
        [
            [SD_LOG_QI**2, CORR * SD_LOG_QI * SD_LOG_DI],
            [CORR * SD_LOG_QI * SD_LOG_DI, SD_LOG_DI**2],
        ]
    )
    effects = rng.multivariate_normal([0.0, 0.0], cov, size=n_wells)
    qi = QI * np.exp(effects[:, 0])
    di = DI * np.exp(effects[:, 1])
    months = np.round(np.exp(rng.uniform(*np.log(history), size=n_wells))).astype(int)
    rows = []
    names = [f"W{i + 1:04d}" for i in range(n_wells)]
    for name, q, d, m in zip(names, qi, di, months, strict=True):
        t = np.arange(m, dtype=float)
        rate = q / (1 + B * d * t) ** (1 / B) + rng.normal(0.0, SIGMA, size=m)
        rows.append(pd.DataFrame({"well": name, "month": t.astype(int), "rate": rate}))
    table = pd.concat(rows, ignore_index=True)
    table["rate"] = table["rate"].clip(lower=0).round(1)
    truth = pd.DataFrame({"well": names, "qi": qi, "di": di, "b": B, "months": months})
    return table, truth


def main(argv: list[str]) -> None:
    root = Path(__file__).resolve().parent
    n_wells = int(argv[0]) if argv else 60
    table, truth = make_wells(n_wells)
    if len(argv) > 1:
        out = Path(argv[1])
        table.to_csv(out, index=False)
        truth.to_csv(out.with_suffix(".truth.csv"), index=False)
        return
    for path in (root / "wells.csv", root.parent / "hbm" / "_data" / "wells.csv"):
        table.to_csv(path, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
