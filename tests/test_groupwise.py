"""Blockwise per-group quantiles and ranks equal numpy's, bit for bit."""

import numpy as np
import pytest

from hbm.analysis.groupwise import (
    DRAW_BLOCK,
    QUANTILE_BLOCK,
    group_quantiles,
    group_ranks,
    group_sd,
)

PROBS = [0.0, 0.03, 0.025, 0.25, 0.5, 0.97, 0.975, 1.0]


@pytest.mark.parametrize("n_draws", [1, 2, 7, 400, 1001])
@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
def test_quantiles_equal_numpy(n_draws, method):
    rng = np.random.default_rng(n_draws)
    values = rng.standard_normal((n_draws, 2 * QUANTILE_BLOCK + 5)) * 10.0 ** rng.integers(-3, 4)
    expected = np.quantile(values, PROBS, axis=0, method=method)
    np.testing.assert_array_equal(group_quantiles(values, PROBS, method=method), expected)


def test_quantiles_of_integers_keep_their_dtype():
    ranks = np.random.default_rng(0).integers(1, 50, size=(333, 70)).astype(np.int16)
    got = group_quantiles(ranks, [0.03, 0.97], method="inverted_cdf")
    assert got.dtype == np.int16
    np.testing.assert_array_equal(
        got, np.quantile(ranks, [0.03, 0.97], axis=0, method="inverted_cdf")
    )


def test_quantiles_with_nan_follow_numpy():
    values = np.random.default_rng(1).standard_normal((50, QUANTILE_BLOCK + 3))
    values[4, 2] = np.nan
    got = group_quantiles(values, [0.1, 0.9])
    np.testing.assert_array_equal(got, np.quantile(values, [0.1, 0.9], axis=0))
    assert np.isnan(got[:, 2]).all() and np.isfinite(np.delete(got, 2, axis=1)).all()


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="'method' option.*'nearest'"):
        group_quantiles(np.ones((3, 2)), [0.5], method="nearest")


@pytest.mark.parametrize("descending", [True, False])
def test_ranks_equal_double_argsort(descending):
    rng = np.random.default_rng(2)
    values = rng.standard_normal((DRAW_BLOCK * 2 + 17, 41))
    values[:, 5] = values[:, 6]  # ties get distinct ranks, as with argsort
    signed = -values if descending else values
    expected = signed.argsort(axis=1).argsort(axis=1) + 1
    got = group_ranks(values, descending=descending)
    np.testing.assert_array_equal(got, expected)
    assert (np.sort(got, axis=1) == np.arange(1, 42)).all()


def test_ranks_use_a_wider_type_for_many_groups():
    assert group_ranks(np.zeros((2, 40_000))).dtype == np.int32


@pytest.mark.parametrize("n_draws", [2, 5, DRAW_BLOCK + 3])
def test_sd_equals_numpy(n_draws):
    values = np.random.default_rng(n_draws).normal(3.0, 2.0, size=(n_draws, 9))
    np.testing.assert_allclose(group_sd(values), values.std(axis=0, ddof=1), rtol=1e-12)
    mean = values.mean(axis=0)
    np.testing.assert_allclose(group_sd(values, mean, ddof=0), values.std(axis=0), rtol=1e-12)
