"""The league's ranks at scale: blockwise ranks equal all-at-once ranks; the sketch is exact where
it says so and within its stated bound elsewhere.

The draws here are posterior-like (``theta_j = m_j + s_j z``, groups of five precisions) and made
by the same :class:`~hbm.results.group_draws.GroupDraws` machinery a fit that does not hold its
draws uses (standard normals from :class:`~hbm.model.group_noise.GroupNoise`, redrawn per block).
"""

from __future__ import annotations

import numpy as np
import pytest

from hbm.analysis.groupwise import group_ranks
from hbm.analysis.league import _from_ranks, _ranks_in_blocks, _sketched
from hbm.analysis.league_sketch import ranks_from_sketch, sketch_draws
from hbm.model.group_noise import GroupNoise
from hbm.results.group_draws import GroupDraws

PROBS = [0.03, 0.97]


def posterior_like(n_groups: int, n_draws: int, seed: int = 0) -> GroupDraws:
    rng = np.random.default_rng(seed)
    sd = np.sqrt(1.0 / (1.0 / 4.0 + rng.integers(1, 6, n_groups) / 36.0))  # tau 2, sigma 6
    mean = rng.normal(0.0, 2.0, n_groups) * (1 - sd**2 / 4.0)

    def redraw(draws: slice, groups: slice | np.ndarray, z: np.ndarray) -> np.ndarray:
        return z * sd[groups][None, :, None] + mean[groups][None, :, None]

    noise = GroupNoise(seed=seed, tag=1, n_draws=n_draws, n_groups=n_groups)
    return GroupDraws(
        name="theta",
        group="g",
        labels=tuple(f"g{j}" for j in range(n_groups)),
        terms=None,
        n_chains=1,
        n_per_chain=n_draws,
        exact=True,
        _noise=noise,
        _redraw=redraw,
    )


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_blockwise_ranks_equal_all_at_once(higher_is_better):
    draws = posterior_like(3000, 50)
    whole = group_ranks(draws.all()[:, :, 0], descending=higher_is_better)
    assert np.array_equal(_ranks_in_blocks(draws, higher_is_better), whole)


def test_sketch_ranks_are_exact_in_the_tails_and_bounded_between():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(6, 20_000)) * rng.uniform(0.5, 2, 20_000)
    tail, k = 200, 5000
    sketch = sketch_draws(scores, tail=tail, bins=1024, k=k)
    exact = group_ranks(scores, descending=True)
    read = ranks_from_sketch(scores, np.arange(6), sketch)
    tails = (exact <= tail) | (exact > 20_000 - tail)
    assert np.array_equal(read[tails], exact[tails])
    assert np.abs(read - exact).max() <= sketch.max_error
    assert sketch.max_error < 20_000 / 100  # a bin holds well under 1% of the groups


def test_sketched_league_against_the_exact_league():
    """20,000 groups x 200 draws, ranked exactly and by the sketch (tail 1,000, 4,096 bins):
    P(best) and P(top / bottom quarter) are equal, every mean rank and rank bound is within
    the stated bound ``max_error`` (here measured too: far below it on average)."""
    draws = posterior_like(20_000, 200, seed=1)
    exact = _from_ranks(_ranks_in_blocks(draws, True), PROBS, "exact")
    sketch = _sketched(draws, PROBS, True)
    assert sketch.method == "sketch" and sketch.max_error > 0
    for name in ("p_best", "p_top", "p_bottom"):
        assert np.array_equal(getattr(sketch, name), getattr(exact, name)), name
    error = np.abs(sketch.rank - exact.rank)
    assert error.max() <= sketch.max_error
    assert error.mean() < sketch.max_error / 4
    for name in ("rank_lb", "rank_ub"):
        assert np.abs(getattr(sketch, name) - getattr(exact, name)).max() <= sketch.max_error + 1
    assert "within" in sketch.describe() and "exact" in exact.describe()
