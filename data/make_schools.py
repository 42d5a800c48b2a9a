"""Generate ``data/schools.csv``: a seeded synthetic table of student scores in schools.

The table follows the three levels of hbm's model, with realistic numbers:

    mu            = 60                      population mean score (drawn once from Normal(60, sd 5))
    theta[j] | mu ~ Normal(mu, tau = 4)     30 school means
    y[i] | theta  ~ Normal(theta[school], sigma = 12)

School sizes are very unequal (2 to about 300 students) so that partial pooling is visible: small
schools are pulled strongly towards the grand mean, large ones hardly at all. Scores are rounded
to one decimal, as a grade book would hold them.

Run ``python data/make_schools.py`` to rewrite ``data/schools.csv`` and the packaged copy
``hbm/_data/schools.csv``; the output is identical on every run (fixed seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261123
SCHOOLS = [
    "Ashford",
    "Brookside",
    "Cedar Hill",
    "Dunmore",
    "Eastgate",
    "Fairview",
    "Glenwood",
    "Harbour View",
    "Ivy Lane",
    "Juniper",
    "Kingsley",
    "Lakeside",
    "Maple Grove",
    "Northfield",
    "Oakridge",
    "Pinecrest",
    "Queensway",
    "Riverside",
    "St. Anne's",
    "Thornbury",
    "Upton",
    "Valley Road",
    "Westbrook",
    "Yarrow",
    "Zion Park",
    "Abbey Mead",
    "Bellmont",
    "Castleton",
    "Dovecote",
    "Elmstead",
]
SIZES = [
    2,
    3,
    4,
    5,
    6,
    8,
    9,
    11,
    13,
    15,
    18,
    20,
    24,
    28,
    32,
    37,
    42,
    48,
    55,
    63,
    72,
    84,
    96,
    110,
    128,
    150,
    175,
    205,
    245,
    300,
]
TAU = 4.0
SIGMA = 12.0


def make_schools(seed: int = SEED) -> pd.DataFrame:
    """The synthetic schools table (columns ``school``, ``score``), students in school order."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(60.0, 5.0)
    sizes = rng.permutation(SIZES)
    theta = rng.normal(mu, TAU, size=len(SCHOOLS))
    school = np.repeat(SCHOOLS, sizes)
    score = rng.normal(np.repeat(theta, sizes), SIGMA)
    return pd.DataFrame({"school": school, "score": np.round(score, 1)})


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    table = make_schools()
    for target in (root / "data" / "schools.csv", root / "hbm" / "_data" / "schools.csv"):
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(target, index=False, lineterminator="\n")
        print(f"wrote {target} ({len(table)} rows, {table['school'].nunique()} schools)")


if __name__ == "__main__":
    main()
