"""Generate the three "hard cases" for hierarchical samplers (``data/hard_*.csv``).

Each is a rows-form table (columns ``group``, ``value``) where the centered parametrization of
the hierarchical normal model is known to struggle; hbm's defaults must fit all three with no
divergences and R-hat <= 1.01 (``tests/test_hard_cases.py``, ``bench/hard_cases.py``):

- ``hard_tau_zero.csv``: 6 groups of 5 whose means differ *less* than the noise predicts. The
  group means spread with sd about 0.3 while the noise alone (sigma = 2 over sqrt(5)) would give
  about 0.9, so the method-of-moments estimate of tau is 0 and its posterior piles up at 0: the
  neck of the funnel.
- ``hard_three_groups.csv``: 3 groups of 10 (tau ~ 3, sigma = 4): tau is barely identified and
  its posterior is wide, reaching from 0 to far into its prior.
- ``hard_unbalanced.csv``: one group of 400 and twenty of 2 (tau = 1, sigma = 3): one group is
  measured precisely, twenty hardly at all, so no single step size suits every direction.

Run ``python data/make_hard_cases.py``; the output is identical on every run (fixed seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261124
HERE = Path(__file__).resolve().parent


def tau_zero(seed: int = SEED) -> pd.DataFrame:
    """6 groups of 5 rows; the spread of the group means is a third of what noise predicts."""
    rng = np.random.default_rng([seed, 1])
    sigma, n, groups = 2.0, 5, 6
    offsets = rng.normal(0.0, 1.0, groups)
    offsets = 0.3 * (offsets - offsets.mean()) / offsets.std(ddof=1)
    noise = rng.normal(0.0, sigma, (groups, n))
    noise -= noise.mean(axis=1, keepdims=True)  # group means are exactly 50 + offsets
    values = 50.0 + offsets[:, None] + noise
    return _table([f"g{j + 1}" for j in range(groups)], values)


def three_groups(seed: int = SEED) -> pd.DataFrame:
    """3 groups of 10 rows: tau = 3, sigma = 4."""
    rng = np.random.default_rng([seed, 2])
    theta = rng.normal(50.0, 3.0, 3)
    values = theta[:, None] + rng.normal(0.0, 4.0, (3, 10))
    return _table(["north", "south", "west"], values)


def unbalanced(seed: int = SEED) -> pd.DataFrame:
    """One group of 400 rows and twenty of 2: tau = 1, sigma = 3."""
    rng = np.random.default_rng([seed, 3])
    theta = rng.normal(10.0, 1.0, 21)
    sizes = [400] + [2] * 20
    labels = ["big"] + [f"small{j + 1:02d}" for j in range(20)]
    group = np.repeat(labels, sizes)
    value = np.repeat(theta, sizes) + rng.normal(0.0, 3.0, sum(sizes))
    return pd.DataFrame({"group": group, "value": np.round(value, 3)})


def _table(labels: list[str], values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"group": np.repeat(labels, values.shape[1]), "value": np.round(values.ravel(), 3)}
    )


CASES = {
    "hard_tau_zero": tau_zero,
    "hard_three_groups": three_groups,
    "hard_unbalanced": unbalanced,
}


def main() -> None:
    for name, make in CASES.items():
        path = HERE / f"{name}.csv"
        make().to_csv(path, index=False)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
