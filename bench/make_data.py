"""Seeded synthetic benchmark tables: students' scores in schools of unequal size.

The table follows hbm's three levels, like ``data/make_schools.py`` but larger::

    mu = 60,  theta[j] ~ Normal(mu, tau = 4),  y[i] ~ Normal(theta[school[i]], sigma = 12)

with school sizes drawn uniformly from a range (20 to 199 students by default, so about 110 per
school), scores rounded to one decimal and rows shuffled (a school's students are not
contiguous, as in a real export). Labels are ``S00001``, ``S00002``, ... The output is identical
on every run for the same arguments.

    python bench/make_data.py --schools 1000 --out bench/data/schools_1000.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261124
MU, TAU, SIGMA = 60.0, 4.0, 12.0

#: The benchmark sizes: name -> (schools, smallest school, largest school).
SIZES: dict[str, tuple[int, int, int]] = {
    "small": (100, 5, 95),  # about 50 students per school, 5,000 rows
    "medium": (1_000, 20, 199),  # about 110 per school, 110,000 rows
    "large": (10_000, 20, 199),  # about 110 per school, 1.1 million rows
}


def make_table(schools: int, low: int = 20, high: int = 199, seed: int = SEED) -> pd.DataFrame:
    """A ``(school, score)`` table with ``schools`` schools of ``low`` to ``high`` students."""
    if schools < 2 or not 1 <= low <= high:
        raise ValueError(f"need schools >= 2 and 1 <= low <= high; got {schools}, {low}, {high}")
    rng = np.random.default_rng([seed, schools, low, high])
    sizes = rng.integers(low, high + 1, size=schools)
    theta = rng.normal(MU, TAU, size=schools)
    codes = np.repeat(np.arange(schools), sizes)
    scores = np.round(rng.normal(theta[codes], SIGMA), 1)
    order = rng.permutation(codes.size)
    width = len(str(schools))
    labels = np.array([f"S{j + 1:0{width}d}" for j in range(schools)], dtype=object)
    table = pd.DataFrame({"school": labels[codes[order]], "score": scores[order]})
    table.attrs["theta"] = theta
    return table


def write_table(path: Path, schools: int, low: int = 20, high: int = 199) -> Path:
    """Write :func:`make_table` to ``path`` as CSV (skipped when it already exists)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    make_table(schools, low, high).to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), help="one of the benchmark sizes")
    parser.add_argument("--schools", type=int, help="number of schools (instead of --size)")
    parser.add_argument("--low", type=int, default=20, help="smallest school (default 20)")
    parser.add_argument("--high", type=int, default=199, help="largest school (default 199)")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args()
    if args.size:
        schools, low, high = SIZES[args.size]
    elif args.schools:
        schools, low, high = args.schools, args.low, args.high
    else:
        parser.error("give --size or --schools")
    if args.out.exists():
        args.out.unlink()
    write_table(args.out, schools, low, high)
    print(f"wrote {args.out} ({schools} schools)")


if __name__ == "__main__":
    main()
