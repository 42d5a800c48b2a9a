"""hbm.nutpie_model: nutpie with disk-cached callbacks gives pm.sample's draws, bit for bit.

``hbm.sampling.sample`` uses :func:`hbm.nutpie_model.compile_model` instead of
``pm.sample(nuts_sampler="nutpie")`` because nutpie's own callbacks are compiled again in every
process (seconds). The replacement must change nothing but the time: same seed, same draws and
sampler statistics as ``pm.sample``, and a second process must load the callbacks from the
compile cache instead of compiling them, also for a dataset it has never seen (hbm's models hold
the data in shared variables, which the callbacks read from nutpie's ``user_data``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pymc as pm
import pytensor
import pytest

from hbm.data.grouped import grouped_data
from hbm.inference.config import SampleConfig
from hbm.inference.nutpie_model import compile_model, sample_compiled
from hbm.inference.sampling import sample
from hbm.model.build import build_model
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


def test_shared_data_is_read_from_user_data():
    with pm.Model() as model:
        y = pm.Data("y", np.array([1.0, 2.5, 0.3]))
        scale = pm.Data("scale", np.array(5.0))
        mu = pm.Normal("mu", 0, scale)
        index = pm.Data("index", np.array([0, 0, 0]))  # PyMC stores integers as int32
        pm.Deterministic("shifted", mu + scale)
        pm.Normal("obs", mu + y[index] * 0.1, 1.0, observed=y)
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = compile_model(model)
    assert compiled is not None  # hbm's callbacks read the shared arrays from user_data
    assert_identical(sample_compiled(compiled, model, CONFIG), pm_sample(model, CONFIG))


def test_shared_data_it_does_not_read_falls_back_to_pm_sample():
    with pm.Model() as model:
        z = pm.Data("z", np.array([1.0 + 2.0j, 2.5 - 1.0j]))
        mu = pm.Normal("mu", 0, 5)
        pm.Normal("obs", mu, 1.0, observed=pytensor.tensor.real(z))
    with pytensor.config.change_flags(numba__fastmath=False):
        assert compile_model(model) is None  # complex shared data: nutpie's own path
    idata, _ = sample(model, CONFIG)  # ... which hbm.sampling.sample then takes
    assert_identical(idata, pm_sample(model, CONFIG))


def standardized_model(sizes, seed, shift, parametrization, likelihood="sufficient"):
    """The model hbm.fit samples for a simulated table shifted by ``shift``."""
    from hbm.model.families.normal import parameter_table, resolve_priors
    from hbm.model.standardize import Standardization

    table = simulate_rows(sizes=sizes, seed=seed)
    table["y"] += shift
    data = grouped_data(table, group="group", value="y", keep_rows=likelihood == "rows")
    unit = Standardization.of(data)
    priors = unit.priors(resolve_priors(data, None), parameter_table(data, parametrization))
    built = build_model(
        unit.data(data), priors, parametrization=parametrization, likelihood=likelihood
    )
    return built.model


def cache_keys(model):
    """PyTensor's numba cache keys of nutpie's log-density and expand functions for ``model``."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = compile_model(model)
    assert compiled is not None
    functions = (compiled.logp_func, compiled.expand_func)
    return tuple(CACHED_SRC_FUNCTIONS[f.vm.jit_fn.py_func] for f in functions)


@pytest.mark.parametrize(
    ("parametrization", "likelihood", "sizes"),
    [
        # marginal samples (mu, tau, sigma) whatever the number of groups: one key for all data
        ("marginal", "sufficient", ((3, 8, 2, 15, 6), (4, 9, 5, 7, 3, 2, 11))),
        # the others sample theta, and nutpie's vector of parameters has a static length (kept:
        # a graph without it rounds differently from pm.sample's): one key per number of groups,
        # whatever the values, group sizes and number of rows
        ("centered", "sufficient", ((3, 8, 2, 15, 6), (4, 9, 5, 7, 3))),
        ("noncentered", "rows", ((3, 8, 2, 15, 6), (4, 9, 5, 7, 30))),
        ("centered", "rows", ((3, 8, 2, 15, 6), (2, 2, 5, 7, 3))),
    ],
)
def test_new_data_give_the_same_compile_cache_keys(parametrization, likelihood, sizes):
    first = standardized_model(sizes[0], 3, 0.0, parametrization, likelihood)
    second = standardized_model(sizes[1], 4, 250.0, parametrization, likelihood)
    assert cache_keys(first) == cache_keys(second)


CACHE_SCRIPT = """
import sys
import pytensor
import hbm.inference.nutpie_model as nm
from tests.test_nutpie_model import standardized_model
sizes = tuple(int(n) for n in sys.argv[1].split(","))
model = standardized_model(sizes, int(sys.argv[2]), float(sys.argv[3]), "marginal")
with pytensor.config.change_flags(numba__fastmath=False):
    compiled = nm.compile_model(model)
hits = compiled.compiled_logp_func._cache_hits + compiled.compiled_expand_func._cache_hits
print("cache hits", hits)
"""


@pytest.mark.slow
def test_a_new_dataset_loads_everything_from_the_cache(tmp_path):
    """The second process fits other data (other size, values, priors): it compiles nothing."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = tmp_path / "pytensor" / "numba"
    hits, files = [], []
    for args in (["4,9,3", "8", "0"], ["5,2,8,6,7,12,3", "9", "1e4"]):
        run = subprocess.run(
            [sys.executable, "-c", CACHE_SCRIPT, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        hits.append(run.stdout.strip().splitlines()[-1])
        files.append(sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()))
    assert hits == ["cache hits 0", "cache hits 2"]
    assert any("hbm_nutpie_logp" in str(p) for p in files[0])
    assert files[1] == files[0]  # nothing new was compiled for the second dataset
