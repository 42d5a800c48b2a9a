"""A table bigger than pandas should hold: ``hbm fit --engine duckdb`` on 40M rows, 10,000 groups.

    python bench/big_table.py --rows 40000000 --out bench/results/big_table.csv

Makes (once, seeded, a few row groups at a time so the making stays small) a Parquet file of
``--rows`` rows in 10,000 schools (``bench/engines.py``'s table: scores near 60), then measures,
each in its own process under ``/usr/bin/time -v`` (peak resident memory of the process):

1. the bare DuckDB group-by on the same file and settings (``count``, ``avg``, ``var_pop``);
2. ``hbm reduce --engine duckdb`` (the reduction alone, written as statistics);
3. ``hbm fit --engine duckdb`` end to end (reduce, sample, summary, report, ``fit.nc``).

The issue's targets: the fit at most 1 GiB peak, the reduction within 2x the bare group-by.
Measure on a quiet machine (the timings move with the load; the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from engines import make  # noqa: E402

BARE = """
import sys, time, duckdb
from hbm.core.defaults import DEFAULTS
con = duckdb.connect(config={{"threads": DEFAULTS.duckdb_threads,
                              "memory_limit": DEFAULTS.duckdb_memory_limit}})
start = time.perf_counter()
rows = con.execute("SELECT school, count(*), avg(score), var_pop(score) "
                   "FROM read_parquet('{path}') GROUP BY school").fetchall()
print("SECONDS", time.perf_counter() - start, len(rows))
"""


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak resident MB of ``command`` (``/usr/bin/time -v``), and its output."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return seconds, int(peak.group(1)) / 1024 if peak else float("nan"), done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000_000)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    path = make(args.data, args.rows)["scores"]
    size = path.stat().st_size / 2**20
    print(f"{path} ({args.rows:,} rows, {size:.0f} MB); load {os.getloadavg()[0]:.1f}")
    python = sys.executable
    hbm = [python, "-m", "hbm.cli"]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        inner, peak, output = timed([python, "-c", BARE.format(path=path)])
        bare = float(re.search(r"SECONDS (\S+)", output).group(1))  # type: ignore[union-attr]
        results.append(("bare DuckDB group-by (query only)", bare, inner, peak))
        stats = Path(folder) / "stats.parquet"
        command = [
            *hbm,
            "reduce",
            str(path),
            "--group",
            "school",
            "--value",
            "score",
            "--engine",
            "duckdb",
            "--out",
            str(stats),
        ]
        seconds, peak, output = timed(command)
        reduced = re.search(r"in (\d+\.\d+) s:", output)
        reduce_s = float(reduced.group(1)) if reduced else float("nan")
        results.append(("hbm reduce --engine duckdb (reduction only)", reduce_s, seconds, peak))
        out = Path(folder) / "fit"
        command = [
            *hbm,
            "fit",
            str(path),
            "--group",
            "school",
            "--value",
            "score",
            "--engine",
            "duckdb",
            "--seed",
            str(args.seed),
            "--out",
            str(out),
        ]
        seconds, peak, output = timed(command)
        results.append(("hbm fit --engine duckdb (end to end)", float("nan"), seconds, peak))
    print(f"{'what':<48} {'inner s':>8} {'process s':>10} {'peak MB':>8}")
    for what, inner_s, seconds, peak in results:
        print(f"{what:<48} {inner_s:8.2f} {seconds:10.2f} {peak:8.0f}")
    print(f"reduction / bare group-by: {reduce_s / bare:.2f}x; load {os.getloadavg()[0]:.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        lines = ["what,inner_s,process_s,peak_mb"]
        lines += [f"{w},{i:.3f},{s:.3f},{p:.0f}" for w, i, s, p in results]
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
