"""The element-by-element LKJ prior (hbm.model.lkj) against PyMC's LKJCorr, and its Jacobian.

- The density of the Cholesky factor differs from PyMC's ``LKJCorr.logp`` by a constant that
  depends on ``eta`` only (its normalizing constant): checked to 1e-10 over random factors.
- The map from unconstrained values to the factor's free entries has the log Jacobian the module
  says: checked against a finite-difference Jacobian (central differences, step 1e-6: error
  about 1e-8).
- The map gives a valid factor (unit rows) for any input.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from hbm.model.lkj import cholesky_from_unconstrained, lkj_log_density


def free_entries(y: np.ndarray, size: int) -> np.ndarray:
    lower, _ = cholesky_from_unconstrained(list(y), size)
    return np.array([lower[i][j] for i in range(1, size) for j in range(i)], dtype=float)


def as_matrix(lower: list[list[float]]) -> np.ndarray:
    size = len(lower)
    return np.array(
        [[lower[i][j] if j <= i else 0.0 for j in range(size)] for i in range(size)], dtype=float
    )


@pytest.mark.parametrize(("size", "eta"), [(2, 2.0), (3, 1.0), (4, 3.5)])
def test_density_matches_pymc_up_to_a_constant_in_eta(size, eta):
    rng = np.random.default_rng(size)
    gaps = []
    for _ in range(6):
        y = rng.normal(0, 0.8, size * (size - 1) // 2)
        lower, _ = cholesky_from_unconstrained(list(y), size)
        matrix = as_matrix(lower)
        np.testing.assert_allclose((matrix**2).sum(axis=1), 1.0, rtol=1e-12)
        reference = pm.logp(pm.LKJCorr.dist(n=size, eta=eta), matrix).eval()
        gaps.append(float(lkj_log_density(lower, eta)) - float(reference))
    np.testing.assert_allclose(gaps, gaps[0], atol=1e-10)


@pytest.mark.parametrize("size", [2, 3, 4])
def test_log_jacobian_against_finite_differences(size):
    rng = np.random.default_rng(10 + size)
    y = rng.normal(0, 0.7, size * (size - 1) // 2)
    _, log_jacobian = cholesky_from_unconstrained(list(y), size)
    step = 1e-6
    columns = []
    for k in range(y.size):
        shift = np.zeros_like(y)
        shift[k] = step
        columns.append((free_entries(y + shift, size) - free_entries(y - shift, size)) / (2 * step))
    numeric = np.linalg.slogdet(np.column_stack(columns))[1]
    assert float(log_jacobian) == pytest.approx(numeric, abs=1e-6)
