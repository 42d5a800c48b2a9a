"""The funnel plot's control limits against the binomial and Poisson formulas (Spiegelhalter 2005).

For a group of ``n`` trials and target ``theta0``, the limit at probability ``p`` is
``(r_p - alpha) / n`` with ``r_p`` the ``p``-quantile of Binomial(n, theta0) and ``alpha =
(F(r_p) - p) / (F(r_p) - F(r_p - 1))``: checked here by summing the binomial probabilities by
hand (math.comb), and against the normal approximation ``theta0 +- z_p sqrt(theta0 (1 - theta0)
/ n)`` where ``n`` is large (tolerance 1% of the half width: the binomial's skewness moves its
quantiles by about ``(z^2 - 1)(1 - 2 theta0) / (6 n)``, 0.9% of it at the smallest ``n`` here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hbm.analysis.institutional_funnel import control_limits


def _binomial_cdf(r: int, n: int, p: float) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(r + 1)) if r >= 0 else 0


def _hand_limit(n: int, target: float, prob: float) -> float:
    r = 0
    while _binomial_cdf(r, n, target) < prob:
        r += 1
    at, below = _binomial_cdf(r, n, target), _binomial_cdf(r - 1, n, target)
    alpha = (at - prob) / (at - below)
    return max((r - alpha) / n, 0.0)


@pytest.mark.parametrize("n", [5, 20, 47, 148, 810])
@pytest.mark.parametrize("prob", [0.95, 0.998])
def test_binomial_limits_equal_the_formula_by_hand(n, prob):
    target = 0.074
    low, high = control_limits("binomial", target, np.array([float(n)]), prob)
    tail = (1 - prob) / 2
    assert high[0] == pytest.approx(_hand_limit(n, target, 1 - tail), abs=1e-12)
    assert low[0] == pytest.approx(_hand_limit(n, target, tail), abs=1e-12)


def test_binomial_limits_tend_to_the_normal_approximation():
    target, n = 0.1, np.array([20_000.0, 80_000.0])
    for prob, z in ((0.95, 1.959963984540054), (0.998, 3.090232306167813)):
        low, high = control_limits("binomial", target, n, prob)
        half = z * np.sqrt(target * (1 - target) / n)
        # the binomial's skewness moves its quantiles by (z^2 - 1)(1 - 2p) / (6 n): under 1%
        assert np.all(np.abs(high - (target + half)) < 0.01 * half)
        assert np.all(np.abs(low - (target - half)) < 0.01 * half)


def test_poisson_limits_tend_to_the_normal_approximation():
    target, exposure = 0.5, np.array([40_000.0])
    low, high = control_limits("poisson", target, exposure, 0.95)
    half = 1.959963984540054 * np.sqrt(target / exposure)
    np.testing.assert_allclose(
        [low[0], high[0]], [target - half[0], target + half[0]], atol=0.01 * half[0]
    )


def test_limits_narrow_with_size_and_stay_in_range():
    sizes = np.array([3.0, 10, 30, 100, 1000])
    low, high = control_limits("binomial", 0.05, sizes, 0.998)
    assert np.all(np.diff(high - low) < 0)
    assert np.all(low >= 0) and np.all(high <= 1)
