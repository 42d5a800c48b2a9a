"""hbm.convergence: the same numbers as ArviZ's summary, vectorized over parameters.

ArviZ is the reference: every statistic must agree with ``arviz.summary(kind="all",
ci_kind="eti")`` to a relative 1e-9 (the computations differ only in the order of floating-point
sums, which moves the last few bits; 1e-9 leaves room for that and nothing else), and NaNs must
be in the same places.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from hbm.diagnostics.convergence import BLOCK, STATISTICS, convergence_statistics, summary_frame

RTOL = 1e-9


def ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """AR(1) chains along the last axis (phi near 1: slow mixing, long autocorrelation)."""
    noise = rng.normal(size=shape)
    out = np.empty(shape)
    out[..., 0] = noise[..., 0]
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + noise[..., t]
    return out


def arviz_summary(dataset: xr.Dataset):
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ArviZ divides 0/0 for constants
        return az.summary(dataset, ci_prob=0.94, ci_kind="eti", round_to="none", kind="all")


def assert_same(reference, got) -> None:
    assert list(got.index) == list(reference.index)
    assert list(got.columns) == list(reference.columns)
    a, b = reference.to_numpy(float), got.to_numpy(float)
    assert np.array_equal(np.isnan(a), np.isnan(b)), "NaNs in different places"
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=0, equal_nan=True)


@pytest.mark.parametrize(
    ("chains", "draws", "groups"),
    [(4, 1000, 40), (4, 101, 12), (2, 300, 5), (1, 200, 6), (3, 7, 4), (2, 3, 3)],
)
def test_agrees_with_arviz(chains, draws, groups):
    rng = np.random.default_rng(chains * 1000 + draws)
    theta = np.moveaxis(ar1(rng, (groups, chains, draws), 0.6), 0, -1) + np.arange(groups)
    theta[..., 0] = np.round(theta[..., 0])  # many ties
    theta[..., 1] = 2.5  # a constant: ESS = size, R-hat NaN, as in ArviZ
    theta[..., 2] = ar1(rng, (chains, draws), 0.995)  # long autocorrelation: the FFT path
    dataset = xr.Dataset(
        {
            "mu": (("chain", "draw"), ar1(rng, (chains, draws), 0.3)),
            "theta": (("chain", "draw", "school"), theta),
        },
        coords={"school": [f"s{j}" for j in range(groups)]},
    )
    assert_same(arviz_summary(dataset), summary_frame(dataset, ["mu", "theta"]))


def test_nans_and_two_dimensional_parameters_follow_arviz():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(4, 200, 2, 3))
    values[1, 5, 0, 1] = np.nan
    dataset = xr.Dataset(
        {"x": (("chain", "draw", "a", "b"), values)},
        coords={"a": ["p", "q"], "b": [1, 2, 3]},
    )
    got = summary_frame(dataset, ["x"])
    assert got.index[0] == "x[p, 1]"
    assert_same(arviz_summary(dataset), got)


def test_blocks_and_threads_do_not_change_the_numbers():
    """Each parameter's statistics depend on its own draws only, whatever block it falls in."""
    rng = np.random.default_rng(7)
    draws = ar1(rng, (2 * BLOCK + 17, 4, 400), 0.5)
    everything = convergence_statistics(draws)
    for rows in (slice(0, 3), slice(BLOCK - 2, BLOCK + 5), slice(2 * BLOCK, None)):
        part = convergence_statistics(draws[rows])
        for name in STATISTICS:
            assert np.array_equal(part[name], everything[name][rows], equal_nan=True), name


def test_only_and_bad_input():
    draws = np.random.default_rng(1).normal(size=(3, 2, 100))
    some = convergence_statistics(draws, only=("r_hat", "ess_tail"))
    assert set(some) == {"r_hat", "ess_tail"}
    assert np.array_equal(some["r_hat"], convergence_statistics(draws)["r_hat"])
    with pytest.raises(ValueError, match=r"Unknown statistics \['rhat'\]"):
        convergence_statistics(draws, only=("rhat",))
    with pytest.raises(ValueError, match=r"shape \(parameter, chain, draw\); got \(2, 100\)"):
        convergence_statistics(draws[0])


@pytest.mark.slow
def test_ten_thousand_groups_agree_with_arviz_on_a_sample():
    """The size the vectorization is for: spot-check 40 of 10,000 groups against ArviZ."""
    rng = np.random.default_rng(11)
    theta = rng.normal(size=(4, 1000, 10_000)) + 0.3 * ar1(rng, (4, 1000, 1), 0.9)
    dataset = xr.Dataset(
        {"theta": (("chain", "draw", "g"), theta)}, coords={"g": np.arange(10_000)}
    )
    got = summary_frame(dataset, ["theta"])
    pick = rng.choice(10_000, size=40, replace=False)
    assert_same(arviz_summary(dataset.isel(g=np.sort(pick))), got.iloc[np.sort(pick)])
