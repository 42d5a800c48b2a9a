"""hbm.nutpie_model: nutpie with disk-cached callbacks gives pm.sample's draws, bit for bit.

``hbm.sampling.sample`` uses :func:`hbm.nutpie_model.compile_model` instead of
``pm.sample(nuts_sampler="nutpie")`` because nutpie's own callbacks are compiled again in every
process (seconds). The replacement must change nothing but the time: same seed, same draws and
sampler statistics as ``pm.sample``, and a second process must load the callbacks from the
compile cache instead of compiling them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pymc as pm
import pytensor
import pytest

from hbm.data import grouped_data
from hbm.models import build_model
from hbm.nutpie_model import compile_model, sample_compiled
from hbm.sampling import SampleConfig, sample
from tests.conftest import simulate_rows

CONFIG = SampleConfig(draws=150, tune=150, chains=2, random_seed=20, progressbar=False)


def pm_sample(model: pm.Model, config: SampleConfig):
    with pytensor.config.change_flags(numba__fastmath=False):
        return pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            random_seed=config.random_seed,
            nuts_sampler="nutpie",
            nuts={"target_accept": config.target_accept},
            progressbar=False,
            quiet=True,
            compute_convergence_checks=False,
            model=model,
        )


def assert_identical(ours, reference) -> None:
    for group in ("posterior", "sample_stats", "observed_data"):
        mine, theirs = ours[group].to_dataset(), reference[group].to_dataset()
        assert sorted(mine.data_vars) == sorted(theirs.data_vars), group
        for name in theirs.data_vars:
            a, b = mine[name].values, theirs[name].values
            if a.dtype.kind == "f":
                assert np.array_equal(a, b, equal_nan=True), f"{group}.{name}"
            else:  # object arrays (divergence messages) hold NaN where there is none
                assert np.array_equal(a.astype(str), b.astype(str)), f"{group}.{name}"


@pytest.mark.parametrize(
    ("kind", "parametrization"),
    [("rows", "marginal"), ("rows", "noncentered"), ("summaries", "centered")],
)
def test_same_draws_as_pm_sample(eight_schools, kind, parametrization):
    if kind == "rows":
        data = grouped_data(simulate_rows(sizes=(3, 8, 2, 15, 6), seed=3), group="group", value="y")
    else:
        data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    model = build_model(data, parametrization=parametrization).model
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = compile_model(model)
    assert compiled is not None
    assert_identical(sample_compiled(compiled, model, CONFIG), pm_sample(model, CONFIG))


def test_shared_data_falls_back_to_pm_sample():
    with pm.Model() as model:
        y = pm.Data("y", np.array([1.0, 2.5, 0.3]))
        mu = pm.Normal("mu", 0, 5)
        pm.Normal("obs", mu, 1.0, observed=y)
    with pytensor.config.change_flags(numba__fastmath=False):
        assert compile_model(model) is None  # shared variables: nutpie's own path
    idata, _ = sample(model, CONFIG)  # ... which hbm.sampling.sample then takes
    assert_identical(idata, pm_sample(model, CONFIG))


CACHE_SCRIPT = """
import hbm.nutpie_model as nm
from hbm.data import grouped_data
from hbm.models import build_model
from tests.conftest import simulate_rows
import pytensor
data = grouped_data(simulate_rows(sizes=(4, 9, 3), seed=8), group="group", value="y")
with pytensor.config.change_flags(numba__fastmath=False):
    compiled = nm.compile_model(build_model(data).model)
hits = compiled.compiled_logp_func._cache_hits + compiled.compiled_expand_func._cache_hits
print("cache hits", hits)
"""


@pytest.mark.slow
def test_second_process_loads_the_callbacks_from_the_cache(tmp_path):
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    hits = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", CACHE_SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        hits.append(run.stdout.strip().splitlines()[-1])
    assert hits == ["cache hits 0", "cache hits 2"]
    assert list((tmp_path / "pytensor" / "numba").glob("*hbm_nutpie_logp*"))
