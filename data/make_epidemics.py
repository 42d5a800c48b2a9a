"""Generate ``data/epidemics.csv``: a seeded synthetic epidemic, cumulative case counts per country.

Each country's expected cumulative reported cases follow a logistic curve (R's ``SSlogis``,
hbm's ``logistic``)

    mu(t) = asym / (1 + exp((xmid - t) / scal)),   t = days since the region's first case

with the countries' parameters drawn from a population, as hbm's curve model assumes:

    asym ~ Normal(1500, 400)                 final size in cases (kept above 200)
    xmid ~ Normal(70, 15)                    day of the peak of new cases
    scal = 10                                shared: days for the curve to rise by a factor e
    cases ~ NegBinomial(mu(t), alpha = 60)   reported counts: variance mu + mu^2 / 60

(the negative binomial family's parametrization, :mod:`hbm.model.families.negbinomial`: a count
family with a log link fits it as ``hbm curve ... --family negbinomial``; the normal family's
constant sd does not hold, the spread grows with the count). Countries report weekly
(t = 0, 7, 14, ...) up to a last report between day 35 and day 150, so some are past their peak
and some are still early, where their own rows cannot tell the final size: its estimate must come
from the other countries. Each week's report is drawn on its own (the counts are not forced to be
monotone), as the model assumes.

Run ``python data/make_epidemics.py [N_COUNTRIES] [OUT.csv]`` (default 30 countries, writing
``data/epidemics.csv`` and the packaged copy ``hbm/_data/epidemics.csv``); the output is
identical on every run (fixed seed). The truth is written beside a custom output as
``OUT.truth.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261202
ASYM, SD_ASYM = 1500.0, 400.0
XMID, SD_XMID = 70.0, 15.0
SCAL = 10.0
ALPHA = 60.0


def make_epidemics(
    n_countries: int, seed: int = SEED, last: tuple[int, int] = (35, 150)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows (country, day, cases) and each country's true asym, xmid and last report day
    (uniform between ``last``'s bounds, rounded down to a week)."""
    rng = np.random.default_rng(seed)
    asym = np.maximum(rng.normal(ASYM, SD_ASYM, size=n_countries), 200.0)
    xmid = rng.normal(XMID, SD_XMID, size=n_countries)
    days = (rng.uniform(*last, size=n_countries) // 7 * 7).astype(int)
    names = [f"C{i + 1:02d}" for i in range(n_countries)]
    rows = []
    for name, a, x, d in zip(names, asym, xmid, days, strict=True):
        t = np.arange(0, d + 1, 7, dtype=float)
        mu = a / (1 + np.exp((x - t) / SCAL))
        cases = rng.negative_binomial(ALPHA, ALPHA / (ALPHA + mu))
        rows.append(pd.DataFrame({"country": name, "day": t.astype(int), "cases": cases}))
    table = pd.concat(rows, ignore_index=True)
    table["cases"] = table["cases"].astype(np.int64)
    truth = pd.DataFrame({"country": names, "asym": asym, "xmid": xmid, "scal": SCAL, "last": days})
    return table, truth


def main(argv: list[str]) -> None:
    root = Path(__file__).resolve().parent
    n_countries = int(argv[0]) if argv else 30
    table, truth = make_epidemics(n_countries)
    if len(argv) > 1:
        out = Path(argv[1])
        table.to_csv(out, index=False)
        truth.to_csv(out.with_suffix(".truth.csv"), index=False)
        return
    for path in (root / "epidemics.csv", root.parent / "hbm" / "_data" / "epidemics.csv"):
        table.to_csv(path, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
