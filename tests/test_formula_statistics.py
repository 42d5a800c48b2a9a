"""Formula models, statistically: lme4's published fit, the parametrizations agree, recovery.

- sleepstudy against lme4's REML fit (``Reaction ~ Days + (Days | Subject)``: intercept 251.41,
  Days 10.47, sd intercept 24.74, sd Days 5.92, correlation 0.066, sigma 25.59): every posterior
  mean within half a posterior sd of lme4's estimate (a posterior mean of an sd sits above the
  REML estimate by a fraction of its posterior sd; half an sd is the "fraction" the issue allows).
- marginal, non-centered and centered forms sample the same posterior: their means agree within
  5 combined Monte Carlo standard errors (``sqrt(mcse_a^2 + mcse_b^2)``).
- simulated varying slopes with known values: each true value within 3.5 posterior sds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hbm

pytestmark = pytest.mark.slow

FORMULA = "Reaction ~ Days + (Days | Subject)"
LME4 = {
    "beta[Intercept]": 251.41,
    "beta[Days]": 10.47,
    "sd_Subject[Intercept]": 24.74,
    "sd_Subject[Days]": 5.92,
    "corr_Subject[Intercept, Days]": 0.066,
    "sigma": 25.59,
}


@pytest.fixture(scope="module")
def fits():
    table = hbm.datasets.load("sleepstudy")
    return {
        form: hbm.fit(table, FORMULA, parametrization=form, random_seed=20, progressbar=False)
        for form in ("marginal", "noncentered", "centered")
    }


def test_sleepstudy_agrees_with_lme4(fits):
    summary = fits["marginal"].summary().set_index("param")
    for name, value in LME4.items():
        row = summary.loc[name]
        assert abs(row["mean"] - value) < 0.5 * row["sd"], (name, row["mean"], value, row["sd"])
    assert fits["marginal"].diagnose().divergences == 0


def test_the_parametrizations_sample_the_same_posterior(fits):
    tables = {form: fit.summary().set_index("param") for form, fit in fits.items()}
    reference = tables["marginal"]
    for form in ("noncentered", "centered"):
        other = tables[form]
        for name in [*LME4, "u_Subject[308, Days]", "u_Subject[309, Intercept]"]:
            gap = abs(reference.loc[name, "mean"] - other.loc[name, "mean"])
            mcse = np.hypot(reference.loc[name, "mcse_mean"], other.loc[name, "mcse_mean"])
            assert gap < 5 * mcse, (form, name, gap, mcse)
        assert fits[form].diagnose().divergences == 0


def simulate(seed: int = 7) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    groups, per = 40, 25
    truth = {
        "beta[Intercept]": 50.0,
        "beta[x1]": 2.0,
        "beta[x2]": -1.5,
        "sd_g[Intercept]": 4.0,
        "sd_g[x1]": 1.0,
        "corr_g[Intercept, x1]": -0.4,
        "sigma": 3.0,
    }
    sd = np.array([truth["sd_g[Intercept]"], truth["sd_g[x1]"]])
    corr = truth["corr_g[Intercept, x1]"]
    cov = sd[:, None] * np.array([[1, corr], [corr, 1]]) * sd[None, :]
    u = rng.multivariate_normal(np.zeros(2), cov, size=groups)
    g = np.repeat(np.arange(groups), per)
    x1, x2 = rng.normal(0, 1.5, g.size), rng.normal(3, 1, g.size)
    y = (
        truth["beta[Intercept]"] + u[g, 0] + (truth["beta[x1]"] + u[g, 1]) * x1
        + truth["beta[x2]"] * x2 + rng.normal(0, truth["sigma"], g.size)
    )  # fmt: skip
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": [f"g{j}" for j in g]}), truth


def test_varying_slopes_recover_known_values():
    table, truth = simulate()
    fit = hbm.fit(table, "y ~ x1 + x2 + (1 + x1 | g)", random_seed=4, progressbar=False)
    summary = fit.summary().set_index("param")
    for name, value in truth.items():
        z = (summary.loc[name, "mean"] - value) / summary.loc[name, "sd"]
        assert abs(z) < 3.5, (name, summary.loc[name, "mean"], value)
    assert fit.diagnose().verdict in ("ok", "warn") and fit.diagnose().divergences == 0
