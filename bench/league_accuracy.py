"""The league sketch's error, measured against exact ranks on a case where both can be computed.

    python bench/league_accuracy.py --groups 200000 --draws 200

Posterior-like draws of ``--groups`` group means (``theta_j = m_j + s_j z``: groups of 1 to 5
rows, tau = 4, sigma = 12, as ``bench/make_data.py``; exact conditional sds), made by the
machinery a fit that does not hold its draws uses (:class:`hbm.results.group_draws.GroupDraws`
over :class:`hbm.model.group_noise.GroupNoise`), ranked twice: exactly (every draw's ranks kept,
``hbm.analysis.league`` "exact, in blocks") and by the sketch ("sketch"). Prints one JSON line:
the sketch's stated bound (``max_error``), the largest and mean absolute errors of the mean rank
and of the rank interval's bounds, and whether P(best), P(top quarter) and P(bottom quarter) are
equal; and the seconds of each.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hbm.analysis.league import _from_ranks, _ranks_in_blocks, _sketched
from hbm.model.group_noise import GroupNoise
from hbm.results.group_draws import GroupDraws

PROBS = [0.03, 0.97]


def draws_of(n_groups: int, n_draws: int, seed: int = 0) -> GroupDraws:
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 6, n_groups)
    tau2, sigma2 = 16.0, 144.0
    s2 = sigma2 / n
    theta = rng.normal(60.0, 4.0, n_groups)
    ybar = theta + rng.normal(0.0, 1.0, n_groups) * np.sqrt(s2)
    pooling = s2 / (s2 + tau2)
    mean = pooling * 60.0 + (1 - pooling) * ybar
    sd = np.sqrt((1 - pooling) * s2)

    def redraw(draws: slice, groups: slice | np.ndarray, z: np.ndarray) -> np.ndarray:
        return z * sd[groups][None, :, None] + mean[groups][None, :, None]

    return GroupDraws(
        name="theta",
        group="school",
        labels=tuple(f"s{j}" for j in range(n_groups)),
        terms=None,
        n_chains=1,
        n_per_chain=n_draws,
        exact=True,
        _noise=GroupNoise(seed=seed, tag=1, n_draws=n_draws, n_groups=n_groups),
        _redraw=redraw,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200_000)
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args()
    draws = draws_of(args.groups, args.draws)
    start = time.perf_counter()
    exact = _from_ranks(_ranks_in_blocks(draws, True), PROBS, "exact, in blocks")
    exact_s = time.perf_counter() - start
    start = time.perf_counter()
    sketch = _sketched(draws, PROBS, True)
    sketch_s = time.perf_counter() - start
    error = np.abs(sketch.rank - exact.rank)
    out = {
        "groups": args.groups,
        "draws": args.draws,
        "tail": sketch.tail,
        "max_error_bound": sketch.max_error,
        "mean_rank_max_abs_error": round(float(error.max()), 2),
        "mean_rank_mean_abs_error": round(float(error.mean()), 3),
        "mean_rank_max_error_share_of_groups": float(error.max() / args.groups),
        "rank_lb_max_abs_error": int(np.abs(sketch.rank_lb - exact.rank_lb).max()),
        "rank_ub_max_abs_error": int(np.abs(sketch.rank_ub - exact.rank_ub).max()),
        "p_best_equal": bool(np.array_equal(sketch.p_best, exact.p_best)),
        "p_top_equal": bool(np.array_equal(sketch.p_top, exact.p_top)),
        "p_bottom_equal": bool(np.array_equal(sketch.p_bottom, exact.p_bottom)),
        "exact_s": round(exact_s, 1),
        "sketch_s": round(sketch_s, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
