"""Three levels, statistically: the nested marginal form and the non-centered form give the same
posterior, and the marginal form recovers the parameters of simulated pupils in schools in
districts (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.analysis.levels import variance_decomposition

FORMULA = "y ~ x + (1 | district/school)"
TRUTH = {"beta[Intercept]": 10.0, "beta[x]": 1.5, "sd_district[Intercept]": 2.0,
         "sd_district:school[Intercept]": 1.0, "sigma": 3.0}  # fmt: skip


def three_levels(districts: int, schools: int, pupils: int, seed: int) -> pd.DataFrame:
    """Pupils in schools in districts from :data:`TRUTH`; school labels repeat per district."""
    rng = np.random.default_rng(seed)
    n_schools = districts * schools
    district = np.repeat(np.arange(districts), schools * pupils)
    school = np.repeat(np.arange(n_schools), pupils)
    x = rng.normal(0, 1, school.size)
    y = (
        TRUTH["beta[Intercept]"]
        + TRUTH["beta[x]"] * x
        + rng.normal(0, TRUTH["sd_district[Intercept]"], districts)[district]
        + rng.normal(0, TRUTH["sd_district:school[Intercept]"], n_schools)[school]
        + rng.normal(0, TRUTH["sigma"], school.size)
    )
    return pd.DataFrame(
        {"district": [f"d{d}" for d in district], "school": [str(s % schools) for s in school],
         "x": x, "y": y}
    )  # fmt: skip


@pytest.mark.slow
def test_nested_marginal_and_non_centered_posteriors_agree():
    """Posterior means of the population parameters and of every effect agree to within 4.5
    combined Monte Carlo standard errors (a z-score over 4 + 12 + 60 + 5 means; both forms sample
    the same posterior, so a larger gap would be a bug, not chance: P(|z| > 4.5) ~ 7e-6 each)."""
    table = three_levels(districts=6, schools=5, pupils=8, seed=11)
    draws = {"draws": 1000, "tune": 1000, "chains": 4, "progressbar": False, "random_seed": 3}
    marginal = hbm.fit(table, FORMULA, parametrization="marginal", **draws)
    noncentered = hbm.fit(table, FORMULA, parametrization="noncentered", target_accept=0.95,
                          **draws)  # fmt: skip
    assert marginal.parametrization == "marginal"
    assert noncentered.parametrization == "noncentered"
    a = marginal.summary().set_index("param")
    b = noncentered.summary().set_index("param")
    assert a.index.equals(b.index) and len(a) == 5 + 6 + 30
    z = (a["mean"] - b["mean"]) / np.hypot(a["mcse_mean"], b["mcse_mean"])
    assert z.abs().max() < 4.5, z.abs().sort_values().tail()
    # the sds of the posterior too (their MCSE): both forms see the same spread
    zs = (a["sd"] - b["sd"]) / np.hypot(a["mcse_sd"], b["mcse_sd"])
    assert zs.abs().max() < 4.5, zs.abs().sort_values().tail()


@pytest.mark.slow
def test_three_levels_recovered():
    """Simulated from :data:`TRUTH` (40 districts x 8 schools x 15 pupils): every population
    parameter's 99% interval holds its true value, and the variance shares' intervals hold the
    true shares (one seeded draw of the data; with 5 + 3 intervals of 99% a miss by chance has
    probability below 0.08, and the seed fixes the outcome)."""
    table = three_levels(districts=40, schools=8, pupils=15, seed=5)
    fit = hbm.fit(table, FORMULA, draws=1000, tune=1000, chains=4, random_seed=2,
                  progressbar=False)  # fmt: skip
    assert fit.parametrization == "marginal" and fit.diagnose().verdict == "ok"
    posterior = fit.idata["posterior"]
    for name, value in TRUTH.items():
        variable, _, label = name.partition("[")
        values = posterior[variable]
        if label:
            values = values.sel({values.dims[-1]: label.rstrip("]")})
        low, high = np.quantile(values.values.reshape(-1), [0.005, 0.995])
        assert low < value < high, (name, low, high)
    components = ("sd_district[Intercept]", "sd_district:school[Intercept]", "sigma")
    variances = np.array([TRUTH[n] ** 2 for n in components])
    shares = variances / variances.sum()
    table = variance_decomposition(fit.result, ci_prob=0.99).set_index("component")
    assert table.index.tolist() == ["district", "district:school", "residual"]
    for component, share in zip(table.index, shares, strict=True):
        low, high = table.loc[component, ["share_eti99_lb", "share_eti99_ub"]]
        assert low < share < high, (component, low, high, share)
