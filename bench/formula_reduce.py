"""A formula model's reduction out of core: ``hbm reduce --formula ... --engine duckdb`` vs pandas.

    python bench/formula_reduce.py --rows 10000000 --out bench/results/formula_reduce.csv

Makes (once, seeded, one row group at a time so the making stays small) a Parquet file of
``--rows`` rows in 10,000 schools with a numeric covariate near 1e6 (``x``), a categorical one
(``sector``: three levels), another numeric one (``ses``) and the response, then reduces the
formula ``score ~ x + sector + ses:sector + (1 + x | school)`` (eight design columns) with each
engine, each in its own process under ``/usr/bin/time -v`` (peak resident memory), and checks
that the two give the same cell statistics (counts identical; the largest difference of the
means relative to the cell's scale of the column, or the column's scale where it is constant in
the cell, and of the co-moments relative to ``sqrt(C_aa C_bb)``, printed). Measure on a quiet
machine: the timings move with the load (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from big_table import timed  # noqa: E402

FORMULA = "score ~ x + sector + ses:sector + (1 + x | school)"
SCHOOLS = 10_000
CHUNK = 1_000_000


def make(path: Path, rows: int, seed: int = 17) -> None:
    """The seeded table, written a row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    effects = rng.normal(0, 1, (SCHOOLS, 2))
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            school = rng.integers(0, SCHOOLS, n)
            sector = rng.choice(np.array(["public", "catholic", "independent"]), n)
            x = 1e6 + rng.normal(0, 1, n)
            ses = rng.normal(0, 1, n)
            score = (
                60
                + effects[school, 0]
                + (0.5 + 0.1 * effects[school, 1]) * (x - 1e6)
                + 2.0 * (sector == "public")
                + 0.3 * ses * (sector == "catholic")
                + rng.normal(0, 5, n)
            )
            table = pa.table(
                {
                    "school": pa.array([f"s{c:05d}" for c in school]),
                    "sector": pa.array(sector),
                    "x": x,
                    "ses": ses,
                    "score": score,
                }
            )
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def compare(a: Path, b: Path) -> tuple[bool, float, float]:
    """Counts identical; the largest mean and co-moment differences, relative to scale."""
    from hbm.workflow.reduce import read_statistics

    x, y = read_statistics(a).data, read_statistics(b).data
    order = {label: i for i, label in enumerate(y.factors[0].labels)}
    index = np.array([order[label] for label in x.factors[0].labels])[x.factors[0].cells]
    back = np.argsort(y.factors[0].cells)
    mx, my = x.moments, y.moments.subset(back[index])
    same = bool(np.array_equal(mx.n, my.n))
    spread = np.sqrt(np.diagonal(my.comoment, axis1=1, axis2=2) / my.n[:, None])
    _, overall, total = my.totals()  # a column constant in a cell: the column's own scale
    column = np.maximum(np.abs(overall), np.sqrt(np.diag(total) / my.n.sum()))
    scale = np.where(spread > 0, np.maximum(np.abs(my.mean), spread), column)
    mean = float(np.max(np.abs((mx.mean + mx.low) - (my.mean + my.low)) / scale))
    d = np.diagonal(my.comoment, axis1=1, axis2=2)
    bound = np.maximum(np.sqrt(d[:, :, None] * d[:, None, :]), 1e-300)
    comoment = float(np.max(np.abs(mx.comoment - my.comoment) / bound))
    return same, mean, comoment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, help="where the Parquet file is kept (made once)")
    parser.add_argument("--out", type=Path, help="CSV of the timings")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hbm-formula-bench-"))
    data = args.data or folder / f"formula_{args.rows}.parquet"
    if not data.exists():
        make(data, args.rows)
    hbm = str(Path(sys.executable).with_name("hbm"))
    print(f"load average {os.getloadavg()}; {data} ({data.stat().st_size / 2**20:.0f} MB)")
    rows = []
    for engine in ("duckdb", "pandas"):
        out = folder / f"{engine}.parquet"
        command = [hbm, "reduce", str(data), "--formula", FORMULA, "--engine", engine]
        command += ["--order", "sorted", "--quiet", "--out", str(out)]
        seconds, peak, _ = timed(command)
        print(f"{engine}: {seconds:.1f} s, peak {peak:.0f} MB")
        rows.append((engine, args.rows, round(seconds, 2), round(peak)))
    same, mean, comoment = compare(folder / "duckdb.parquet", folder / "pandas.parquet")
    print(f"counts identical: {same}; means {mean:.1e}, co-moments {comoment:.1e} (relative)")
    if args.out:
        lines = ["engine,rows,seconds,peak_mb"] + [",".join(map(str, r)) for r in rows]
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
