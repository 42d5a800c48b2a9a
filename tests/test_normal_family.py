"""The normal family module: its parameter table, log likelihoods and predictive draws.

Log likelihoods are checked against scipy written row by row (from the statistics and from the
rows, per group and per row) and, for the marginal per-group terms, against the dense
multivariate normal of each group's rows ``N(mu 1, sigma^2 I + tau^2 1 1')``. Tolerances are
float64 rounding (1e-9 relative; sums of a few hundred terms of size 10^2).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hbm.data.grouped import grouped_data
from hbm.model.families import FAMILIES, OUTCOME_FAMILIES, get_family, normal
from hbm.model.parameters import ParameterTable

REQUIRED = (
    "NAME",
    "LINKS",
    "HAS_EXACT_CONDITIONAL",
    "parameter_table",
    "reduce",
    "default_priors",
    "resolve_priors",
    "log_likelihood",
    "group_log_likelihood",
    "pointwise_log_likelihood",
    "replicate_means",
    "draw_rows",
    "observe",
    "observe_marginal",
)


#: The shape every other family shares (hbm.model.families.binomial says what each part is).
OUTCOME_REQUIRED = (
    "NAME",
    "LINK",
    "LINKS",
    "HAS_EXACT_CONDITIONAL",
    "REDUCES",
    "OFFSET_IN_WEIGHT",
    "PARAMETERS",
    "WORDS",
    "default_family_priors",
    "logp",
    "log_likelihood",
    "row_constant",
    "expected",
    "draw",
    "information",
)


def test_every_family_has_the_same_shape():
    for name, module in FAMILIES.items():
        required = REQUIRED if name == "normal" else OUTCOME_REQUIRED
        missing = [attribute for attribute in required if not hasattr(module, attribute)]
        assert not missing, f"family {name} lacks {missing}"
        assert module.NAME == name
    assert set(FAMILIES) == {"normal", *OUTCOME_FAMILIES}
    with pytest.raises(
        ValueError,
        match="'family' option must be one of 'normal', 'studentt', 'binomial', 'poisson', "
        "'negbinomial'; got 'gaus",
    ):
        get_family("gaussian")


def test_parameter_table_roles_dims_and_units(small_rows, eight_schools):
    rows = grouped_data(small_rows, group="group", value="y")
    table = normal.parameter_table(rows, "noncentered")
    assert table.names() == ["mu", "tau", "sigma", "theta", "theta_z"]
    assert [p.role for p in table] == [
        "coefficient",
        "group_sd",
        "residual_scale",
        "group_effect",
        "auxiliary",
    ]
    assert [p.units for p in table] == ["location", "scale", "scale", "location", "none"]
    assert table["theta"].dims == ("group",) and table["mu"].dims == ()
    assert [p.name for p in table.reported] == ["mu", "tau", "sigma", "theta"]
    assert [p.name for p in table.hyperparameters] == ["mu", "tau", "sigma"]
    assert [p.support for p in table.hyperparameters] == ["real", "positive", "positive"]
    assert ParameterTable.from_json(table.to_json()) == table
    summaries = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    assert normal.parameter_table(summaries).names() == ["mu", "tau", "theta"]


def test_group_and_total_log_likelihood_from_statistics_equal_the_rows(small_rows):
    data = grouped_data(small_rows, group="group", value="y", keep_rows=True)
    theta = np.array([[9.0, 11.0, 10.5, 8.0, 12.0], [10.0, 10.0, 10.0, 10.0, 10.0]])
    sigma = np.array([2.5, 4.0])
    rows = [g["y"].to_numpy() for _, g in small_rows.groupby("group", sort=False)]
    expected = np.array(
        [
            [stats.norm.logpdf(y, t, s).sum() for y, t in zip(rows, draw, strict=True)]
            for draw, s in zip(theta, sigma, strict=True)
        ]
    )
    got = normal.group_log_likelihood(data, theta, sigma)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(normal.log_likelihood(data, theta, sigma), expected.sum(axis=1))
    pointwise = normal.pointwise_log_likelihood(data.codes, data.values, theta, sigma)
    assert pointwise.shape == (2, data.n_rows)
    np.testing.assert_allclose(
        pointwise, stats.norm.logpdf(data.values, theta[:, data.codes], sigma[:, None])
    )
    np.testing.assert_allclose(pointwise.sum(axis=1), got.sum(axis=1), rtol=1e-12)


def test_summaries_log_likelihood(eight_schools):
    data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    theta = np.linspace(-5, 20, 8)[None, :]
    expected = stats.norm.logpdf(data.mean, theta, data.known_se)
    np.testing.assert_allclose(normal.group_log_likelihood(data, theta, None), expected)


@pytest.mark.parametrize(("mu", "tau", "sigma"), [(10.0, 2.0, 3.0), (-3.0, 0.4, 7.5)])
def test_marginal_group_log_likelihood_against_dense_multivariate_normal(
    small_rows, mu, tau, sigma
):
    data = grouped_data(small_rows, group="group", value="y")
    rows = [g["y"].to_numpy() for _, g in small_rows.groupby("group", sort=False)]
    dense = [
        stats.multivariate_normal.logpdf(y, np.full(len(y), mu), sigma**2 * np.eye(len(y)) + tau**2)
        for y in rows
    ]
    got = normal.marginal_group_log_likelihood(data, np.array([mu]), np.array([tau]), [sigma])
    np.testing.assert_allclose(got[0], dense, rtol=1e-10)


def test_marginal_summaries_log_likelihood(eight_schools):
    data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    got = normal.marginal_group_log_likelihood(data, np.array([4.0]), np.array([3.0]), None)
    expected = stats.norm.logpdf(data.mean, 4.0, np.sqrt(9.0 + data.known_se**2))
    np.testing.assert_allclose(got[0], expected)


def test_sampling_variance_is_sigma2_over_n_or_se2(small_rows, eight_schools):
    data = grouped_data(small_rows, group="group", value="y")
    sigma = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(
        normal.sampling_variance(data, sigma), sigma[..., None] ** 2 / data.n
    )
    summaries = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    np.testing.assert_array_equal(normal.sampling_variance(summaries, None), summaries.stderr**2)
    with pytest.raises(ValueError, match="needs sigma"):
        normal.sampling_variance(data, None)


def test_predictive_draws_have_their_distribution():
    """Replicated means are Normal(location, sqrt(variance)): z-scores of 200,000 draws have mean
    within 4.5 standard errors of 0 and sd within 1% of 1; within-group sds match sigma^2 chi2."""
    rng = np.random.default_rng(3)
    location = np.array([[1.0, -2.0, 50.0]])
    variance = np.array([0.25, 4.0, 100.0])
    draws = normal.replicate_means(rng, np.repeat(location, 200_000, axis=0), variance)
    z = (draws - location) / np.sqrt(variance)
    assert np.all(np.abs(z.mean(axis=0)) < 4.5 / np.sqrt(200_000))
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.01)
    n = np.array([2, 5, 30])
    sds = normal.replicate_within_sds(rng, np.full(200_000, 3.0), n)
    # E[s^2] = sigma^2 exactly; its sd is sigma^2 sqrt(2 / (n - 1)).
    se = 9.0 * np.sqrt(2 / (n - 1)) / np.sqrt(200_000)
    assert np.all(np.abs((sds**2).mean(axis=0) - 9.0) < 4.5 * se)
    rows = normal.draw_rows(rng, np.zeros((4, 2)), np.full((4, 1, 1), 2.0), 3)
    assert rows.shape == (4, 2, 3)
