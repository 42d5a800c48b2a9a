"""Leave-one-out for formula models: the log likelihood per group and per row, compare, LOO-PIT.

The groups' log likelihood (effects integrated out) is checked against scipy's dense
multivariate normal of each group's rows, the rows' against scipy's normal given the drawn
effects (both to 1e-9 relative: float64 sums of a few hundred terms); the comparison must rank
the model with the covariate that generated the data above the one without it by more than
2 dse, and must accept the seed's model of the same table as the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hbm
from hbm.analysis.log_likelihood import available_units, unit_log_likelihood
from hbm.analysis.loo_pit import loo_pit

FAST = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 7, "progressbar": False}


def simulated(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 12, size=24)
    g = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.normal(0, 1, g.size)
    u = rng.normal(0, [1.5, 0.6], (len(sizes), 2))
    y = 10 + u[g, 0] + (2.0 + u[g, 1]) * x + rng.normal(0, 1.0, g.size)
    return pd.DataFrame({"g": [f"G{j:02d}" for j in g], "x": x, "y": y})


@pytest.fixture(scope="module")
def fits():
    table = simulated()
    return table, {
        "slopes": hbm.fit(table, "y ~ x + (1 + x | g)", **FAST),
        "intercepts": hbm.fit(table, "y ~ x + (1 | g)", **FAST),
        "plain": hbm.fit(table, group="g", value="y", **FAST),
    }


def test_group_log_likelihood_is_the_dense_marginal_of_each_group(fits):
    table, models = fits
    result = models["slopes"].result
    values = unit_log_likelihood(result, "groups").values.values  # (chain, draw, groups)
    posterior = result.idata["posterior"]
    for draw in (0, 123):
        beta = posterior["beta"].values[1, draw]
        sd = posterior["sd_g"].values[1, draw]
        corr = posterior["corr_g"].values[1, draw, 0]
        sigma = float(posterior["sigma"].values[1, draw])
        cov_u = np.array([[sd[0] ** 2, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], sd[1] ** 2]])
        for j, (_, rows) in enumerate(table.groupby("g", sort=False)):
            z = np.column_stack([np.ones(len(rows)), rows.x])
            cov = sigma**2 * np.eye(len(rows)) + z @ cov_u @ z.T
            expected = stats.multivariate_normal.logpdf(rows.y, z @ beta, cov)
            assert values[1, draw, j] == pytest.approx(expected, rel=1e-9)


def test_row_log_likelihood_is_the_normal_given_the_effects(fits):
    table, models = fits
    result = models["slopes"].result
    values = unit_log_likelihood(result, "rows").values.values
    posterior = result.idata["posterior"]
    codes = pd.factorize(table.g)[0]
    for draw in (5, 250):
        beta = posterior["beta"].values[0, draw]
        u = posterior["u_g"].values[0, draw]  # (groups, terms)
        sigma = float(posterior["sigma"].values[0, draw])
        mean = beta[0] + u[codes, 0] + (beta[1] + u[codes, 1]) * table.x
        expected = stats.norm.logpdf(table.y, mean, sigma)
        np.testing.assert_allclose(values[0, draw], expected, rtol=1e-9)


def test_compare_ranks_the_true_model_first_and_accepts_the_seed_model_as_the_same_data(fits):
    _, models = fits
    ranked = hbm.compare(models, unit="groups").table
    assert ranked.index[0] == "slopes"
    assert -ranked.loc["plain", "elpd_diff"] > 2 * ranked.loc["plain", "dse"]
    by_rows = hbm.compare({k: v for k, v in models.items() if k != "plain"}, unit="rows").table
    assert by_rows.index[0] == "slopes"
    other = hbm.fit(simulated(seed=4), "y ~ x + (1 + x | g)", **FAST)
    with pytest.raises(ValueError, match="different"):
        hbm.compare({"a": models["slopes"], "b": other}, unit="groups")


def test_loo_pit_of_groups_and_rows_is_in_the_unit_interval(fits):
    _, models = fits
    result = models["slopes"].result
    for unit, size in (("groups", 24), ("rows", result.model_data.n_rows)):
        pit = loo_pit(result, unit)
        assert pit.values.shape == (size,)
        assert np.all((pit.values >= 0) & (pit.values <= 1))
    # Calibrated on data from the model: the rows' PIT values are close to uniform.
    assert stats.kstest(loo_pit(result, "rows").values, "uniform").pvalue > 0.01


def test_what_formula_fits_cannot_leave_out_is_said_in_one_line(fits):
    table, models = fits
    with pytest.raises(ValueError, match="Refitting without a unit is available for"):
        models["slopes"].loo("groups", refit=True)
    crossed = table.assign(h=np.where(np.arange(len(table)) % 2, "odd", "even"))
    two = hbm.fit(crossed, "y ~ x + (1 | g) + (1 | h)", **FAST)
    assert available_units(two.result) == ("rows",)
    with pytest.raises(ValueError, match="needs one grouping factor, or nested ones, to integrate"):
        two.loo("groups")
