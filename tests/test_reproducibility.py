"""Same seed, same draws: also between a cold compile and a warm compile cache.

PyTensor's numba backend caches compiled functions on disk. With numba's fast-math on (PyTensor's
default), a freshly compiled log density and the one loaded back from the cache differ in the last
bits, and NUTS amplifies that into different draws (see hbm/sampling.py). hbm compiles with
fast-math off; this test runs the same fit in two fresh processes sharing a new, empty compile
directory: the first compiles cold, the second loads from the cache. Their draws must be
identical bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, sys
import hbm
from tests.conftest import simulate_rows
table = simulate_rows(sizes=(3, 8, 2, 15, 6, 4), seed=1)
fit = hbm.fit(table, group="group", value="y", parametrization="noncentered", random_seed=123,
              draws=300, tune=300, chains=2, progressbar=False)
digest = hashlib.sha256()
for name in ("mu", "tau", "sigma", "theta"):
    digest.update(fit.idata.posterior[name].values.tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_cold_and_warm_compile_cache_give_identical_draws(tmp_path):
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digests = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        digests.append(run.stdout.strip().splitlines()[-1])
    assert (tmp_path / "pytensor" / "numba").exists()  # the cache was really written and reused
    assert digests[0] == digests[1]


def curve_digest() -> str:
    """A count curve fit's starting values (hex) and the SHA-256 of its draws, as JSON."""
    import hashlib

    import hbm

    fit = hbm.fit_curve(
        hbm.datasets.load("epidemics"), curve="logistic", group="country", time="day",
        value="cases", varying=["asym", "xmid"], family="negbinomial", random_seed=7, draws=60,
        tune=100, chains=2, progressbar=False,
    )  # fmt: skip
    digest = hashlib.sha256()
    for name in sorted(fit.idata.posterior.data_vars):
        digest.update(fit.idata.posterior[name].values.tobytes())
    start = json.loads(fit.idata.attrs["hbm_run"])["start"]
    return json.dumps([digest.hexdigest(), {k: float(v).hex() for k, v in start.items()}])


@pytest.mark.slow
def test_a_curve_fit_gives_the_same_draws_in_two_processes():
    """A count curve fit (pooled least-squares start, auto's per-group choice) here and in a
    second process with one BLAS thread (the start's least squares): the starting values bit for
    bit and the draws identical. (Twice in one process: ``tests/test_curve_fit.py``; cold against
    warm compile cache: the test above.)"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    script = "from tests.test_reproducibility import curve_digest; print(curve_digest())"
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=root,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == curve_digest()
