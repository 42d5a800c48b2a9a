"""Shared fixtures: small seeded tables, so every test is reproducible without downloads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def simulate_rows(
    *,
    n_groups: int = 6,
    sizes: tuple[int, ...] | None = None,
    mu: float = 10.0,
    tau: float = 2.0,
    sigma: float = 3.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows-form table drawn from the three-level model (group labels g0, g1, ...).

    The true group means are kept in ``table.attrs["theta"]``.
    """
    rng = np.random.default_rng(seed)
    sizes = sizes or tuple(int(s) for s in rng.integers(2, 30, size=n_groups))
    theta = rng.normal(mu, tau, size=len(sizes))
    labels = np.repeat([f"g{j}" for j in range(len(sizes))], sizes)
    values = rng.normal(np.repeat(theta, sizes), sigma)
    table = pd.DataFrame({"group": labels, "y": values})
    table.attrs["theta"] = theta
    return table


@pytest.fixture
def small_rows() -> pd.DataFrame:
    """Five groups of unequal size (1 to 12 rows), including a single-row group."""
    return simulate_rows(sizes=(3, 1, 7, 12, 5), seed=42)


@pytest.fixture
def eight_schools() -> pd.DataFrame:
    import hbm

    return hbm.datasets.load("eight_schools")
