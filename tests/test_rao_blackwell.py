"""Rao-Blackwellized group estimates against dense references and against the draws.

- The seed model's per-class algebra (:mod:`hbm.model.families.normal_rao_blackwell`) against
  the plain average of every draw's conditional moments over a draws x groups array: the same
  numbers to 1e-9 relative (only rounding differs: the class sums are centred differently).
- A formula model's effects (:func:`rao_blackwell_effects`) against a dense per-draw, per-group
  ``N(M^-1 c, M^-1)`` built with ``numpy.linalg`` from the rows: the same to 1e-9 relative.
- On a real fit, the summary's RB means and sds agree with the exact draws' means and sds within
  4.5 draws-MCSE, and the RB MCSE of the mean is smaller than the draws' (as the law of total
  variance says it must be for every group whose conditional sd is not zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
from hbm.data.grouped import grouped_data
from hbm.model.design import build_model_data
from hbm.model.families.normal_cells_draws import rao_blackwell_effects
from hbm.model.families.normal_conditional import conditional_moments
from hbm.model.families.normal_rao_blackwell import rao_blackwell_moments
from hbm.model.formula import parse_formula
from hbm.results.fit_summary import METHOD, RAO_BLACKWELL


def _dense(data, mu, tau, sigma):
    m, s = conditional_moments(data, mu, tau, sigma)  # (S, J)
    v = s**2
    mean = m.mean(axis=0)
    spread = m.var(axis=0)
    w = v + (m - mean) ** 2
    return mean, v.mean(axis=0) + spread, spread, w.var(axis=0)


@pytest.mark.parametrize("kind", ["rows", "summaries"])
def test_class_algebra_equals_the_dense_average_over_draws(kind):
    rng = np.random.default_rng(11)
    n_groups, n_draws = 300, 2000
    if kind == "rows":
        sizes = rng.integers(1, 6, n_groups)  # five classes of equal n
        g = np.repeat([f"g{j}" for j in range(n_groups)], sizes)
        y = rng.normal(50, 10, g.size) + np.repeat(rng.normal(0, 4, n_groups), sizes)
        data = grouped_data(pd.DataFrame({"g": g, "y": y}), group="g", value="y")
        sigma = rng.gamma(50, 10 / 50, n_draws)
    else:  # a different se per group: one class per group, several blocks of classes
        frame = pd.DataFrame(
            {
                "g": [f"s{j}" for j in range(n_groups)],
                "y": rng.normal(5, 3, n_groups),
                "se": rng.uniform(0.5, 6, n_groups),
            }
        )
        data = grouped_data(frame, group="g", value="y", se="se")
        sigma = None
    mu = rng.normal(50 if kind == "rows" else 5, 1, n_draws)
    tau = rng.gamma(4, 1, n_draws)
    rb = rao_blackwell_moments(data, mu, tau, sigma)
    mean, variance, spread, spread_w = _dense(data, mu, tau, sigma)
    np.testing.assert_allclose(rb.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(rb.variance, variance, rtol=1e-9)
    np.testing.assert_allclose(rb.spread, spread, rtol=1e-7, atol=1e-12 * spread.max())
    np.testing.assert_allclose(rb.spread_w, spread_w, rtol=1e-7, atol=1e-12 * spread_w.max())


FORMULA = "y ~ x1 + (1 + x1 | g)"


def test_formula_effects_equal_a_dense_conditional_per_draw_and_group():
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 7, 12)
    g = np.repeat([f"g{j}" for j in range(sizes.size)], sizes)
    x1 = rng.normal(2, 1.5, g.size)
    u = rng.normal(0, 1, (sizes.size, 2))[np.repeat(np.arange(sizes.size), sizes)]
    y = 3 + 1.5 * x1 + u[:, 0] + u[:, 1] * x1 + rng.normal(0, 0.9, g.size)
    frame = pd.DataFrame({"y": y, "x1": x1, "g": g})
    data = build_model_data(frame, parse_formula(FORMULA))
    n_draws = 150  # more than two tiles of 64 draws
    beta = np.column_stack([rng.normal(3, 0.2, n_draws), rng.normal(1.5, 0.1, n_draws)])
    sd = rng.gamma(20, 1 / 20, (n_draws, 2)) * [1.2, 0.6]
    corr = rng.uniform(-0.5, 0.7, n_draws)
    sigma = rng.gamma(30, 0.9 / 30, n_draws)
    dims = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "beta": ((*dims, "term"), beta[None]),
            "sd_g": ((*dims, "g_term"), sd[None]),
            "corr_g": ((*dims, "g_pair"), corr[None, :, None]),
            "sigma": (dims, sigma[None]),
        },
        coords={"chain": [0], "draw": np.arange(n_draws)},
    )
    rb = rao_blackwell_effects(posterior, data)
    labels = list(data.factors[0].labels)
    means = np.empty((n_draws, len(labels), 2))
    variances = np.empty((n_draws, len(labels), 2))
    for j, label in enumerate(labels):
        rows = frame[frame.g == label]
        x = np.column_stack([np.ones(len(rows)), rows.x1])
        for s in range(n_draws):
            r = np.array([[1.0, corr[s]], [corr[s], 1.0]])
            cov_u = sd[s][:, None] * r * sd[s][None, :]
            cov = np.linalg.inv(x.T @ x / sigma[s] ** 2 + np.linalg.inv(cov_u))
            means[s, j] = cov @ x.T @ (rows.y.to_numpy() - x @ beta[s]) / sigma[s] ** 2
            variances[s, j] = np.diag(cov)
    np.testing.assert_allclose(rb.mean, means.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        rb.variance, variances.mean(axis=0) + means.var(axis=0), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(rb.spread, means.var(axis=0), rtol=1e-7, atol=1e-14)


def test_summary_rows_agree_with_the_draws_within_mcse_and_their_mcse_is_smaller():
    """Eight schools in the marginal form: theta's exact draws are in the posterior, so the
    draws-based mean, sd and MCSE (ArviZ) can be set beside the summary's RB rows."""
    from hbm.results.summary import posterior_summary

    fit = hbm.fit(
        hbm.datasets.load("eight_schools"),
        group="school",
        value="effect",
        se="stderr",
        parametrization="marginal",
        random_seed=3,
        draws=1000,
        tune=500,
        chains=2,
        progressbar=False,
    )
    summary = fit.summary()
    rows = summary[summary["param"].str.startswith("theta[")].reset_index(drop=True)
    assert set(rows[METHOD]) == {RAO_BLACKWELL}
    assert set(summary.loc[~summary["param"].str.startswith("theta["), METHOD]) == {"draws"}
    assert rows["r_hat"].isna().all() and rows["ess_bulk"].isna().all()
    draws = posterior_summary(fit.idata, parameters=fit.result.parameters)
    draws = draws[draws["param"].str.startswith("theta[")].reset_index(drop=True)
    assert list(draws["param"]) == list(rows["param"])
    # means within 4.5 draws-MCSE; sds within 4.5 of the draws' MCSE of the sd
    assert np.all(np.abs(rows["mean"] - draws["mean"]) < 4.5 * draws["mcse_mean"])
    assert np.all(np.abs(rows["sd"] - draws["sd"]) < 4.5 * draws["mcse_sd"])
    assert np.all(rows["mcse_mean"] < draws["mcse_mean"])
    # the intervals are quantiles of the same exact draws: ArviZ's to 1e-9
    for column in ("eti94_lb", "eti94_ub"):
        np.testing.assert_allclose(rows[column], draws[column], rtol=1e-9)
