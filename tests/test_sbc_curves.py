"""``bench/sbc_curves.py``: its simulation follows the curve model, and its fast path (the curve
model compiled once, the rows swapped in) is the model ``hbm.fit_curve`` fits. The calibration
itself (ranks uniform over hundreds of simulations) is measured by running the bench; its
results are in ``bench/results/sbc_curves_*``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import hbm

BENCH = Path(__file__).resolve().parents[1] / "bench" / "sbc_curves.py"


@pytest.fixture(scope="module")
def sbc():
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("hbm_bench_sbc_curves", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _design(sbc):
    rows = {"g": np.repeat(sbc.LABELS, sbc.SIZES), "t": sbc.times(), "y": np.ones(93)}
    return sbc.rows(sbc.pd.DataFrame(rows))


def _priors(sbc):
    return sbc.resolved_priors(_design(sbc))


def test_the_simulation_follows_the_exponential_model(sbc):
    priors = _priors(sbc)
    assert priors["beta[log_qi]"].text() == "normal(4.6, 0.5)"
    truth, table = sbc.simulate(np.random.default_rng(3), priors)
    assert len(table) == sum(sbc.SIZES) == 93
    assert set(sbc.PARAMETERS) <= set(truth) and -1 < truth["corr_g[log_qi, log_di]"] < 1
    data = sbc.rows(table)
    assert data.labels == sbc.LABELS and np.array_equal(data.t, sbc.times())
    # the noise-free curve of the first group, from the truth, is what the rows scatter around
    first = table[table["g"] == "g01"]
    qi = np.exp(truth["beta[log_qi]"] + truth["u_g[g01, log_qi]"])
    di = np.exp(truth["beta[log_di]"] + truth["u_g[g01, log_di]"])
    residual = first["y"] - qi * np.exp(-di * first["t"])
    assert np.all(np.abs(residual) < 6 * truth["sigma"])  # 3 rows, 6 sd: fails with p < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("parametrization", ["noncentered", "partial"])
def test_the_compiled_once_model_is_hbms_curve_model(sbc, parametrization):
    # The fast path (rows swapped into a compiled model) must give the posterior hbm.fit_curve
    # gives on the same rows: means agree within 4 combined MCSEs. ``partial`` against ``auto``,
    # which centers the same groups (its reason says how many; this simulation mixes the forms).
    seed = 34 if parametrization == "partial" else 11  # 34: 5 of the 10 groups centered
    _, table = sbc.simulate(np.random.default_rng(seed), _priors(sbc))
    settings = sbc.Settings(draws=1000, tune=1000)
    if parametrization == "partial":
        compiled = sbc.Partial(_design(sbc))
    else:
        compiled = sbc.Compiled("noncentered", _design(sbc))  # compiled on other rows (all 1)
    draws, _ = compiled.draws(sbc.rows(table), 3, settings)
    fit = hbm.fit_curve(
        table,
        curve="exponential",
        group="g",
        time="t",
        value="y",
        varying=["qi", "di"],
        priors=sbc.PRIORS,
        parametrization="auto" if parametrization == "partial" else "noncentered",
        draws=1000,
        tune=1000,
        chains=2,
        random_seed=3,
        progressbar=False,
    )
    if parametrization == "partial":
        n, k = len(sbc.LABELS), int(sbc.centered_groups(sbc.rows(table)).sum())
        assert 0 < k < n and fit.parametrization == "partial"
        assert f"{k} of {n} groups centered, {n - k} non-centered" in fit.reason
    summary = fit.summary().set_index("param")
    for name in ("beta[log_qi]", "beta[log_di]", "sigma", "u_g[g01, log_di]"):
        values = draws[name]
        mcse = values.std() / np.sqrt(values.size / 4)  # ESS at least a quarter of the draws
        assert abs(values.mean() - summary.loc[name, "mean"]) < 4 * np.hypot(
            mcse, summary.loc[name, "mcse_mean"]
        ), name
