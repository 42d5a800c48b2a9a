"""The LKJ prior on a correlation matrix's Cholesky factor, written element by element.

PyMC's ``LKJCorr`` and triangular solves compile to numba slowly (tens of seconds for a model of
two varying terms); written as scalar operations over the ``q x q`` entries, as here, the whole
model compiles in seconds. The unconstrained parameters ``y`` (one per pair) map to the Cholesky
factor ``L`` of a correlation matrix by Stan's canonical-partial-correlation transform::

    z_ij = tanh(y_ij);   L_i0 = z_i0;   L_ij = z_ij sqrt(1 - sum_{k<j} L_ik^2);
    L_ii = sqrt(1 - sum_{k<i} L_ik^2)

with log Jacobian ``sum_{i>j} log(1 - z_ij^2) + 1/2 log(1 - sum_{k<j} L_ik^2)``, and the LKJ
density of ``L`` is ``sum_{i>=1} (q - i - 1 + 2 (eta - 1)) log L_ii`` up to a constant that
depends on ``eta`` only (``tests/test_lkj.py`` checks both against PyMC's ``LKJCorr``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Entries", "cholesky_from_unconstrained", "lkj_cholesky", "lkj_log_density"]

#: A ``q x q`` lower-triangular matrix as nested lists of scalars (``None`` above the diagonal).
Entries = list[list[Any]]


def cholesky_from_unconstrained(y: list[Any], size: int) -> tuple[Entries, Any]:
    """The Cholesky factor (entries) of a correlation matrix from ``size (size-1)/2``
    unconstrained scalars ``y`` (row by row), and the log Jacobian of the map."""
    tanh = _lib(y[0]).tanh if y else np.tanh
    log = _lib(y[0]).log if y else np.log
    lower: Entries = [[None] * size for _ in range(size)]
    lower[0][0] = 1.0
    log_jacobian: Any = 0.0
    k = 0
    for i in range(1, size):
        sum_squares: Any = 0.0
        for j in range(i):
            z = tanh(y[k])
            k += 1
            log_jacobian = log_jacobian + log(1.0 - z**2)
            if j == 0:
                lower[i][j] = z
            else:
                log_jacobian = log_jacobian + 0.5 * log(1.0 - sum_squares)
                lower[i][j] = z * (1.0 - sum_squares) ** 0.5
            sum_squares = sum_squares + lower[i][j] ** 2
        lower[i][i] = (1.0 - sum_squares) ** 0.5
    return lower, log_jacobian


def lkj_log_density(lower: Entries, eta: Any) -> Any:
    """The LKJ log density of a correlation matrix's Cholesky factor, up to a constant in eta."""
    size = len(lower)
    if size < 2:
        return 0.0
    log = _lib(lower[1][1]).log
    return sum((size - i - 1 + 2.0 * (eta - 1.0)) * log(lower[i][i]) for i in range(1, size))


def lkj_cholesky(name: str, size: int, eta: Any) -> Entries:
    """Add the unconstrained ``name`` (one value per pair) and its LKJ prior to the model in
    context; return the Cholesky factor's entries."""
    import pymc as pm

    raw = pm.Flat(name, shape=size * (size - 1) // 2)
    y = [raw[k] for k in range(size * (size - 1) // 2)]
    lower, log_jacobian = cholesky_from_unconstrained(y, size)
    pm.Potential(f"{name}_lkj", lkj_log_density(lower, eta) + log_jacobian)
    return lower


def _lib(value: Any) -> Any:
    """numpy for numbers and arrays, pytensor.tensor for symbolic values."""
    if isinstance(value, int | float | np.ndarray | np.generic):
        return np
    import pytensor.tensor as pt

    return pt
