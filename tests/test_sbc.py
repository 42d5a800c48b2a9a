"""Simulation-based calibration (``bench/sbc.py``) with a small count, for the marginal and
non-centered forms (the centered one may fail in the funnel regime the design creates; its
numbers are in the notes, from ``python bench/sbc.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import hbm
from hbm.data.grouped import grouped_data
from hbm.inference.config import SampleConfig

BENCH = Path(__file__).resolve().parents[1] / "bench" / "sbc.py"


@pytest.fixture(scope="module")
def sbc():
    spec = importlib.util.spec_from_file_location("hbm_bench_sbc", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.slow
def test_marginal_and_noncentered_ranks_are_uniform(sbc):
    # 100 simulations, 10 bins of 10 ranks: 10 expected per bin. Twenty tests (two
    # parametrizations x five parameters x chi-square and ECDF) each at 0.0005: a 1% chance
    # that a correct model fails.
    settings = sbc.Settings(sims=100, bins=10)
    ranks = sbc.run_sbc(["marginal", "noncentered"], settings)
    summary = sbc.uniformity(ranks, settings)
    assert len(summary) == 10 and (summary["sims"] == 100).all()
    smallest = summary[["p_value", "ecdf_p_value"]].min(axis=None)
    assert smallest >= 0.0005, summary.to_string()
    figure = sbc.plot_ranks(ranks, "marginal", settings)
    assert len(figure.axes) == 5


@pytest.mark.slow
def test_sbc_detects_a_model_that_does_not_match_the_simulation(sbc):
    # Negative control: the truth's tau is drawn from a prior 3 times wider than the model's, so
    # true values sit above most posterior draws and the tau ranks cannot look uniform.
    settings = sbc.Settings(sims=60, bins=10)
    ranks = sbc.run_sbc(["marginal"], settings, truth_priors={"tau": "halfnormal(3)"})
    summary = sbc.uniformity(ranks, settings).set_index("parameter")
    # Both tests must flag it, at the threshold the test above uses.
    assert summary.loc["tau", "p_value"] < 0.0005
    assert summary.loc["tau", "ecdf_p_value"] < 0.0005


@pytest.mark.slow
def test_the_compiled_once_model_is_hbms_model(sbc):
    # The SBC fast path (model compiled once, data swapped in) must give the posterior that
    # hbm.fit_grouped gives for the same data: means agree within 4 combined MCSEs.
    rng = np.random.default_rng(11)
    priors = hbm.resolve_priors(sbc._design(), sbc.PRIORS)
    _, table = sbc.simulate(rng, priors)
    data = grouped_data(table, group="group", value="value")
    settings = sbc.Settings(draws=1000, tune=1000)
    draws, _ = sbc.Compiled("marginal", sbc._design(), priors).draws(data, 3, settings)
    fit = hbm.fit_grouped(
        data,
        priors=sbc.PRIORS,
        parametrization="marginal",
        config=SampleConfig(draws=1000, tune=1000, chains=2, random_seed=3, progressbar=False),
    )
    table = fit.summary().set_index("param")
    for name in ("mu", "tau", "sigma", "theta[g1]"):
        values = draws[name]
        mcse = values.std() / np.sqrt(values.size / 2)  # ESS at least half the draws here
        mcse_fit = table.loc[name, "mcse_mean"]
        assert abs(values.mean() - table.loc[name, "mean"]) < 4 * np.hypot(mcse, mcse_fit), name
