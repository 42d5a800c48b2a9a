"""Marginal variant: theta drawn exactly from its conjugate normal conditional posterior."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hbm.data.grouped import grouped_data
from hbm.model.families.normal import conditional_moments
from hbm.model.families.normal import draw_group_means as draw_theta

CHAINS, DRAWS = 4, 5000


def fixed_posterior(mu: float, tau: float, sigma: float | None) -> xr.Dataset:
    shape = (CHAINS, DRAWS)
    variables = {"mu": np.full(shape, mu), "tau": np.full(shape, tau)}
    if sigma is not None:
        variables["sigma"] = np.full(shape, sigma)
    return xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in variables.items()},
        coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)},
    )


def closed_form(mu, tau, noise_var, ybar):
    """Precision-weighted conjugate update, written independently of hbm's formula."""
    precision = 1 / tau**2 + 1 / noise_var
    return (mu / tau**2 + ybar / noise_var) / precision, np.sqrt(1 / precision)


def check_draws(theta: xr.DataArray, mean: np.ndarray, sd: np.ndarray) -> None:
    """Sample mean within 4 standard errors; sample sd within 4 of its standard errors.

    With S = 20,000 independent draws the standard error of the mean is sd / sqrt(S) and that of
    the sd is about sd / sqrt(2 S) (normal draws), so 4 of them is a false-alarm rate below 1e-4
    per group.
    """
    draws = theta.values.reshape(-1, theta.shape[-1])
    n = draws.shape[0]
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * sd / np.sqrt(n))
    assert np.all(np.abs(draws.std(0, ddof=1) - sd) < 4 * sd / np.sqrt(2 * n))


def test_rows_form_draws_match_closed_form(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    mu, tau, sigma = 9.0, 1.5, 3.0
    theta = draw_theta(fixed_posterior(mu, tau, sigma), data, random_seed=3)
    assert theta.dims == ("chain", "draw", "group")
    assert list(theta["group"].values) == list(data.labels)
    mean, sd = closed_form(mu, tau, sigma**2 / data.n, data.mean)
    moments = conditional_moments(data, np.array(mu), np.array(tau), np.array(sigma))
    np.testing.assert_allclose(moments[0], mean, rtol=1e-12)
    np.testing.assert_allclose(moments[1], sd, rtol=1e-12)
    check_draws(theta, mean, sd)


def test_summaries_form_draws_match_closed_form(eight_schools):
    data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    mu, tau = 4.0, 3.0
    theta = draw_theta(fixed_posterior(mu, tau, None), data, random_seed=5)
    mean, sd = closed_form(mu, tau, data.stderr**2, data.mean)
    check_draws(theta, mean, sd)


def test_small_tau_is_finite_and_pools_completely(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    mean, sd = conditional_moments(data, np.array(2.0), np.array(1e-12), np.array(3.0))
    np.testing.assert_allclose(mean, 2.0)
    assert np.all(np.isfinite(sd)) and np.all(sd < 1e-11)


def test_same_seed_same_draws_other_seed_other_draws(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    posterior = fixed_posterior(9.0, 1.5, 3.0)
    first = draw_theta(posterior, data, random_seed=11)
    assert np.array_equal(first.values, draw_theta(posterior, data, random_seed=11).values)
    assert not np.array_equal(first.values, draw_theta(posterior, data, random_seed=12).values)


def test_rows_form_needs_sigma(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    with pytest.raises(ValueError, match="needs sigma"):
        conditional_moments(data, np.array(1.0), np.array(1.0), None)
