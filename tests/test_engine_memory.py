"""A 10M-row file goes through DuckDB within a stated memory bound.

The file (seeded, made here: 10M rows, 10,000 groups, 31 MB of Parquet) is reduced in a child
process, which reports its own peak resident memory (``VmHWM``, Linux). The bound,
:data:`BOUND_MB` = 400 MB, is the interpreter with pandas, pyarrow and DuckDB loaded (about
150 MB) plus DuckDB's memory limit (256 MB); the per-group result is small. Measured: about
205 MB (the reduction itself about 1 s).
The same file reduced twice gives the same numbers bit for bit (so the same draws): DuckDB runs
one thread, as with two it merges partial aggregates in a varying order (on this file: four
different results in four runs). (``bench/big_table.py`` measures 40M rows and a whole fit.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("duckdb")
if not Path("/proc/self/status").exists():
    pytest.skip("peak memory is read from /proc (Linux)", allow_module_level=True)

#: Peak resident memory allowed for reducing 10M rows with DuckDB (MB).
BOUND_MB = 400
ROWS, GROUPS = 10_000_000, 10_000

CHILD = """
import re, sys
from hbm.workflow.reduce import reduce_source
stats = reduce_source(sys.argv[1], group="school", value="score", engine="duckdb")
again = reduce_source(sys.argv[1], group="school", value="score", engine="duckdb")
assert (stats.data.mean == again.data.mean).all() and (stats.data.ss == again.data.ss).all()
# VmHWM: this program's peak resident memory (ru_maxrss would also count the forking parent's)
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(stats.data.n_rows, stats.data.n_groups, float(stats.data.ss.sum()), peak)
"""


def test_ten_million_rows_reduce_within_the_bound(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(10)
    labels = pa.array([f"S{j:05d}" for j in range(GROUPS)])
    codes = rng.integers(0, GROUPS, ROWS).astype(np.int32)
    scores = np.round(rng.normal(60 + rng.normal(0, 4, GROUPS)[codes], 12), 1)
    school = pa.DictionaryArray.from_arrays(pa.array(codes), labels)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"school": school, "score": scores}), path, row_group_size=1_000_000)
    means = np.bincount(codes, scores) / np.bincount(codes)
    ss = float(np.sum((scores - means[codes]) ** 2))
    del scores, codes, school

    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows, groups, total, peak_kb = done.stdout.split()
    assert (int(rows), int(groups)) == (ROWS, GROUPS)
    assert abs(float(total) - ss) / ss < 1e-9
    assert int(peak_kb) / 1024 < BOUND_MB, f"peak {int(peak_kb) / 1024:.0f} MB"
