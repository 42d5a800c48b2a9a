"""The normal family's likelihood of a formula model, from per-cell moments, in PyMC.

Every cell's rows are ``y_i = w_i' a_c`` residuals away from their expected value, for a vector
``a_c`` over the design columns ``W = [X, Z, y]`` (``-beta`` on the population columns, ``-u`` on
the group columns of the cell's groups, ``+1`` on ``y``). From the cell's count ``n``, mean ``m``
and centred co-moment ``C`` (:mod:`hbm.data.comoments`)::

    sum_i r_i^2 = a' C a + n (m' a)^2,   log p(rows | a, sigma) = -n/2 log(2 pi sigma^2)
                                                                  - sum_i r_i^2 / (2 sigma^2)

— exact, and ``K^2`` operations per cell whatever its number of rows (:func:`observe_cells`).

With one grouping factor the group effects integrate out exactly (:func:`observe_marginal_cells`):
``y_j ~ N(X_j beta, sigma^2 I + Z_j Sigma Z_j')``, whose log density follows from the Woodbury
identity and the matrix determinant lemma with ``q x q`` matrices only (``q`` varying terms)::

    M_j = Z_j'Z_j / sigma^2 + Sigma^-1,   c_j = Z_j' r_j / sigma^2,   r_j = y_j - X_j beta
    log p(y_j) = -n_j/2 log(2 pi) - n_j log sigma - 1/2 log|Sigma| - 1/2 log|M_j|
                 - 1/2 (r_j'r_j / sigma^2 - c_j' M_j^-1 c_j)

with ``r_j'r_j`` and ``Z_j'r_j`` from the centred moments (never raw cross-products: the raw form
loses digits at large intercepts). ``M_j`` is factored by a Cholesky decomposition written out
element by element over the groups (``q`` is small), so the graph is elementwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["cholesky_unrolled", "observe_cells", "observe_marginal_cells", "solve_unrolled"]

#: Names of the potentials that carry the likelihood.
GIVEN_EFFECTS, MARGINAL = "y_given_effects", "y_marginal"


def observe_cells(moments: dict[str, Any], coefficients: list[Any], sigma: Any) -> None:
    """Add the likelihood of every cell given its coefficients: one entry per column of ``W``,
    each a scalar or a vector over the cells (``coefficients[k]`` multiplies column ``k``)."""
    import pymc as pm

    n, mean, comoment = moments["n"], moments["mean"], moments["comoment"]
    k = len(coefficients)
    squares: Any = 0.0
    for i in range(k):
        for j in range(i + 1):
            term = comoment[:, i, j] * coefficients[i] * coefficients[j]
            squares = squares + (term if i == j else 2.0 * term)
    offset = sum(mean[:, i] * coefficients[i] for i in range(k))
    total = squares + n * offset**2
    loglik = -0.5 * n.sum() * pm.math.log(2 * np.pi * sigma**2) - total.sum() / (2 * sigma**2)
    pm.Potential(GIVEN_EFFECTS, loglik)


def observe_marginal_cells(
    moments: dict[str, Any],
    coefficients: list[Any],
    sigma: Any,
    precision: list[list[Any]],
    log_det_sigma: Any,
    columns: Sequence[int],
) -> None:
    """Add the likelihood of every group with its effects integrated out (one grouping factor).

    ``moments`` are per group; ``coefficients`` is the population vector over ``W`` (one scalar
    per column); ``precision`` holds the entries of ``Sigma^-1`` and ``log_det_sigma`` is
    ``log|Sigma|``; ``columns`` are the varying terms' positions in ``W``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n, mean, comoment = moments["n"], moments["mean"], moments["comoment"]
    ztz = moments["ztz"]  # (J, q, q): Z'Z per group, data
    k, q = len(coefficients), len(columns)
    # C a, one vector over the groups per column, then r'r and Z'r from the centred moments
    spread = [
        sum(comoment[:, i, j] * coefficients[j] for j in range(k) if not _zero(coefficients[j]))
        for i in range(k)
    ]
    offset = sum(mean[:, i] * coefficients[i] for i in range(k) if not _zero(coefficients[i]))
    squares = (
        sum(spread[i] * coefficients[i] for i in range(k) if not _zero(coefficients[i]))
        + n * offset**2
    )
    sigma2 = sigma**2
    c = [(spread[col] + n * mean[:, col] * offset) / sigma2 for col in columns]
    entries = [[ztz[:, i, j] / sigma2 + precision[i][j] for j in range(q)] for i in range(q)]
    lower = cholesky_unrolled(entries)
    v = solve_unrolled(lower, c)
    quad = sum(v_i**2 for v_i in v)
    log_det_m = 2.0 * sum(pt.log(lower[i][i]) for i in range(q))
    loglik = (
        -0.5 * n * np.log(2 * np.pi)
        - n * pm.math.log(sigma)
        - 0.5 * log_det_sigma
        - 0.5 * log_det_m
        - 0.5 * (squares / sigma2 - quad)
    )
    pm.Potential(MARGINAL, loglik.sum())


def _zero(value: Any) -> bool:
    return isinstance(value, float) and value == 0.0


def cholesky_unrolled(entries: list[list[Any]]) -> list[list[Any]]:
    """The Cholesky factor of symmetric positive definite matrices given entry by entry.

    ``entries[i][j]`` (``j <= i`` used) are arrays of any common shape (one matrix per element);
    the result ``L[i][j]`` (``j <= i``) has ``L L' = M`` elementwise. Works on numpy arrays and on
    PyTensor tensors alike.
    """
    q = len(entries)
    lower: list[list[Any]] = [[None] * q for _ in range(q)]
    for i in range(q):
        for j in range(i + 1):
            s = entries[i][j]
            for k in range(j):
                s = s - lower[i][k] * lower[j][k]
            lower[i][j] = s**0.5 if i == j else s / lower[j][j]
    return lower


def solve_unrolled(lower: list[list[Any]], b: list[Any]) -> list[Any]:
    """``L^-1 b`` by forward substitution, element by element (see :func:`cholesky_unrolled`)."""
    out: list[Any] = []
    for i, value in enumerate(b):
        for k in range(i):
            value = value - lower[i][k] * out[k]
        out.append(value / lower[i][i])
    return out
