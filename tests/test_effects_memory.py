"""Varying slopes and nested levels of 25,000 groups stay within a stated memory bound.

``y ~ x + (1 + x | g)``, 25,000 groups of 1 to 3 rows, 2 chains x 250 draws, fitted in the
marginal form: its group effects' draws would be 500 x 25,000 x 2 float64 = 191 MB, past
``DEFAULTS.group_draws_max_values`` (10M values), so the fit does not hold them, and its groups'
log likelihood (500 x 25,000 = 12.5M values) is past ``DEFAULTS.loo_max_values``, so no
consumer makes it whole either. The summary (Rao-Blackwellized rows, every interval from the
exact draws made again a block of 1,024 groups at a time), the coefficients' table and every
output file (``write_outputs``: summary.csv, groups.csv, the report and its figures, fit.nc) are
computed after the fit, and the largest memory numpy and Python held at once during each
(``tracemalloc``, which sees numpy's buffers) must stay under **90 MB**: below even one term's
draws x groups (95 MB), and half of all of them. What they need: one block of draws (500 x 1,024
x 2 = 8 MB) and its sorted copies for the quantiles, tiles of the conditional's algebra (64 draws
x 1,024 groups per array), the tables (50,000 rows) and the per-group statistics; measured about
30 MB (summary), 25 MB (coefficients) and 50 MB (every output file) on the 2-core machine.

The nested fit ``y ~ x + (1 + x | d) + (1 | d:s)`` (20 districts, 25,000 schools of 1 to 3
rows, 2 x 250 draws) holds its districts' draws and not its schools' (500 x 25,000 float64 =
95 MB); its summary (every level's rows Rao-Blackwellized: the pass up over a block of
districts' subtrees and the chain moments going down, in tiles of at most 500,000 chain entries,
merged into running sums per group; the intervals from the schools' draws, a block at a time,
each drawn given its district's draws), the schools' coefficients and level shrinkage (the same
moments), and LOO-PIT by district (a new district's mean sums its schools' variances, one draw at
a time) must each stay under **60 MB** (measured about 43, 29, 29 and 18 MB): one block's draws
(4 MB) and the pass up in tiles (about eight 4 MB arrays, and the chain moments), the running
sums (seven 25,000-value arrays per level), the per-block quantiles and the tables.

The fits and the measurements run in a fresh Python process, so that what the rest of the suite
allocated (and caches) cannot move the numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

N_GROUPS, DRAWS = 25_000, 250
BOUND_MB = 90
NESTED_BOUND_MB = 60

CHILD = """
import json, sys, tempfile, tracemalloc
import numpy as np, pandas as pd
import hbm
from hbm.analysis.effects import group_coefficients
from hbm.reporting.outputs import write_outputs
from hbm.results.fit_summary import fit_summary

n_groups, draws = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
g = np.repeat(np.arange(n_groups), rng.integers(1, 4, n_groups))
x = rng.normal(0, 1, g.size)
a, b = rng.normal(0, 0.5, n_groups), rng.normal(0, 0.3, n_groups)
y = 1 + a[g] + (0.5 + b[g]) * x + rng.normal(0, 1, g.size)
table = pd.DataFrame({"g": [f"g{j}" for j in g], "x": x, "y": y})
fit = hbm.fit(table, formula="y ~ x + (1 + x | g)", parametrization="marginal", random_seed=1,
              draws=draws, tune=150, chains=2, progressbar=False)
result = fit.result
peaks = {}
def measure(name, work):
    tracemalloc.start()
    out = work()
    peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out
summary = measure("summary", lambda: fit_summary(result.idata, result.data, result.parameters))
coefficients = measure("coefficients", lambda: group_coefficients(result))
folder = tempfile.mkdtemp()
measure("outputs", lambda: write_outputs(result, folder + "/out"))
print(json.dumps({
    "held": "u_g" in result.idata["posterior"],
    "log_likelihood": "log_likelihood" in result.idata.children,
    "summary_rows": len(summary), "coefficient_rows": len(coefficients),
    "methods": sorted(set(summary["method"])), "peaks": peaks,
}))
"""


NESTED_CHILD = """
import json, sys, tracemalloc
import numpy as np, pandas as pd
import hbm
from hbm.analysis.effects import group_coefficients
from hbm.analysis.levels import level_shrinkage
from hbm.analysis.loo_pit import loo_pit
from hbm.results.fit_summary import fit_summary

n_groups, draws = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
district = np.repeat(np.arange(20), n_groups // 20)
school = np.repeat(np.arange(district.size), rng.integers(1, 4, district.size))
d = district[school]
x = rng.normal(0, 1, school.size)
y = (1 + rng.normal(0, 0.5, 20)[d] + rng.normal(0, 0.3, district.size)[school] + x
     + rng.normal(0, 1, school.size))
table = pd.DataFrame({"d": [f"d{j}" for j in d], "s": [f"s{j}" for j in school], "x": x, "y": y})
fit = hbm.fit(table, formula="y ~ x + (1 + x | d) + (1 | d:s)", parametrization="marginal",
              random_seed=1, draws=draws, tune=150, chains=2, progressbar=False)
result = fit.result
peaks = {}
def measure(name, work):
    tracemalloc.start()
    out = work()
    peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out
summary = measure("summary", lambda: fit_summary(result.idata, result.data, result.parameters))
coefficients = measure("coefficients", lambda: group_coefficients(result, "d:s"))
measure("levels", lambda: level_shrinkage(result, "d:s"))
pit = measure("loo_pit", lambda: loo_pit(result, "groups"))
posterior = result.idata["posterior"]
print(json.dumps({
    "held": sorted(n for n in posterior.data_vars if n.startswith("u_")),
    "summary_rows": len(summary), "coefficient_rows": len(coefficients),
    "pit": len(pit.values), "peaks": peaks,
    "effect_methods": sorted(set(summary.loc[summary["param"].str.startswith("u_"), "method"])),
}))
"""


def _run(child: str) -> dict:
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", child, str(N_GROUPS), str(DRAWS)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_varying_slopes_fit_of_many_groups_stays_within_the_bound():
    report = _run(CHILD)
    assert not report["held"] and not report["log_likelihood"]
    assert report["summary_rows"] > 2 * N_GROUPS and report["coefficient_rows"] == 2 * N_GROUPS
    assert "rao-blackwellized" in report["methods"]
    for name, peak in report["peaks"].items():
        assert peak < BOUND_MB, f"{name}: peak {peak:.0f} MB"


@pytest.mark.slow
def test_a_nested_fit_of_many_groups_stays_within_the_bound():
    report = _run(NESTED_CHILD)
    assert report["held"] == ["u_d"]  # the schools' draws are past the limit: not held
    assert report["summary_rows"] > N_GROUPS and report["coefficient_rows"] == N_GROUPS
    assert report["pit"] == 20
    assert report["effect_methods"] == ["rao-blackwellized"]  # every level's rows
    for name, peak in report["peaks"].items():
        assert peak < NESTED_BOUND_MB, f"{name}: peak {peak:.0f} MB"
