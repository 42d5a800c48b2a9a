"""Statistical checks with real chains (marked slow; `make test` runs them).

Tolerances come from Monte Carlo standard errors (MCSE): a posterior mean estimated from the draws
is off from the exact posterior mean by about one MCSE, so two estimates of the same quantity agree
within ``4 * sqrt(mcse_1^2 + mcse_2^2)`` with probability above 0.9999 each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hbm
from tests.conftest import simulate_rows

pytestmark = pytest.mark.slow

#: posteriordb reference posterior "eight_schools-eight_schools_noncentered" (mean, sd), from
#: 10,000 draws: its own MCSE is at most sd / sqrt(10,000 / 2) (ESS at least half the draws).
POSTERIORDB = {
    "mu": (4.41, 3.31),
    "tau": (3.60, 3.20),
    "theta[A]": (6.15, None),
    "theta[B]": (4.94, None),
    "theta[C]": (3.91, None),
    "theta[D]": (4.80, None),
    "theta[E]": (3.61, None),
    "theta[F]": (4.05, None),
    "theta[G]": (6.32, None),
    "theta[H]": (4.88, None),
}
LONG = {"draws": 2500, "tune": 1000, "chains": 4, "progressbar": False}


@pytest.mark.parametrize("parametrization", ["noncentered", "marginal", "auto"])
def test_eight_schools_matches_posteriordb(eight_schools, parametrization):
    fit = hbm.fit(
        eight_schools,
        group="school",
        value="effect",
        se="stderr",
        priors={"mu": "normal(0, 5)", "tau": "halfcauchy(5)"},
        parametrization=parametrization,
        random_seed=2026,
        **LONG,
    )
    summary = fit.summary().set_index("param")
    for param, (ref_mean, ref_sd) in POSTERIORDB.items():
        sd = summary.loc[param, "sd"]
        ref_mcse = (ref_sd or sd) / np.sqrt(5000)
        # The reference is printed to 2 decimals: add 0.005 rounding error.
        tolerance = 4 * np.hypot(summary.loc[param, "mcse_mean"], ref_mcse) + 0.005
        assert abs(summary.loc[param, "mean"] - ref_mean) < tolerance, (param, tolerance)
        if ref_sd is not None:
            assert summary.loc[param, "sd"] == pytest.approx(ref_sd, rel=0.06)
    assert fit.diagnosis.max_r_hat <= 1.01


def test_parametrizations_agree_where_all_sample_well():
    # Many rows per group and a clear between-group spread: no funnel, all three sample well.
    table = simulate_rows(sizes=(20, 35, 50, 25, 40, 30, 45, 60), mu=50, tau=4, sigma=6, seed=9)
    fits = {
        p: hbm.fit(table, group="group", value="y", parametrization=p, random_seed=11, **LONG)
        for p in ("centered", "noncentered", "marginal")
    }
    summaries = {p: f.summary().set_index("param") for p, f in fits.items()}
    for p, f in fits.items():
        assert f.diagnosis.divergences == 0, p
    reference = summaries["marginal"]
    for p in ("centered", "noncentered"):
        other = summaries[p]
        tolerance = 4 * np.hypot(reference["mcse_mean"], other["mcse_mean"])
        gap = (reference["mean"] - other["mean"]).abs()
        assert (gap < tolerance).all(), pd.DataFrame({"gap": gap, "tolerance": tolerance})
        # Posterior sds agree within 10% (the sd's own Monte Carlo error is a few percent here).
        np.testing.assert_allclose(other["sd"], reference["sd"], rtol=0.1)


@pytest.mark.parametrize("parametrization", ["auto", "noncentered"])
def test_parameter_recovery(parametrization):
    truth = {"mu": 10.0, "tau": 2.0, "sigma": 3.0}
    rng = np.random.default_rng(5)
    sizes = tuple(int(s) for s in rng.integers(5, 40, size=40))
    table = simulate_rows(sizes=sizes, seed=5, **truth)
    fit = hbm.fit(
        table,
        group="group",
        value="y",
        parametrization=parametrization,
        random_seed=3,
        draws=1000,
        tune=1000,
        chains=4,
        progressbar=False,
    )
    summary = fit.summary().set_index("param")
    # |posterior mean - truth| < 4 MCSE + 3 posterior sd: the posterior mean of a well-specified
    # model is within a few posterior sds of the truth, and the draws add their MCSE.
    for name, value in truth.items():
        row = summary.loc[name]
        assert abs(row["mean"] - value) < 4 * row["mcse_mean"] + 3 * row["sd"], (name, row)
    # The group means: the truth lies in the 94% interval for most groups (binomial(40, 0.94)
    # gives fewer than 32 hits with probability < 1e-4).
    theta = table.attrs["theta"]
    rows = summary.loc[[f"theta[g{j}]" for j in range(len(sizes))]]
    inside = (rows["eti94_lb"].to_numpy() < theta) & (theta < rows["eti94_ub"].to_numpy())
    assert inside.sum() >= 32
    assert fit.diagnosis.divergences == 0
