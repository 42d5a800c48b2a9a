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

with ``r_j'r_j`` and ``Z_j'r_j`` from cross-products of columns shifted by their means (never raw
cross-products: the raw form loses digits at large intercepts). The per-group ``q x q`` algebra is
one Op with its own gradient (:mod:`hbm.model.families.normal_marginal_op`); the numpy functions
:func:`cholesky_unrolled` and :func:`solve_unrolled` do the same algebra element by element for
the exact draws of the effects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Packed",
    "cholesky_unrolled",
    "observe_cells",
    "observe_marginal_cells",
    "pack_moments",
    "solve_unrolled",
]

#: Names of the potentials that carry the likelihood.
GIVEN_EFFECTS, MARGINAL = "y_given_effects", "y_marginal"


class Packed:
    """Per-cell (or per-group) statistics as rows of one matrix ``(P, C)``: every statistic a
    contiguous vector over the cells, which is what an elementwise loop reads fastest.

    ``rows`` maps a statistic's key (``"n"``, ``("m", k)``, ``("c", i, j)`` with ``i >= j``,
    ``("z", i, j)``) to its row; :func:`pack_moments` makes both.
    """

    def __init__(self, matrix: Any, rows: dict[Any, int]) -> None:
        self.matrix, self.rows = matrix, rows

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and key[0] in ("c", "z") and key[1] < key[2]:
            key = (key[0], key[2], key[1])
        return self.matrix[self.rows[key]]


def pack_moments(
    n: np.ndarray, mean: np.ndarray, comoment: np.ndarray, ztz: np.ndarray | None = None
) -> tuple[np.ndarray, dict[Any, int]]:
    """The statistics of :class:`Packed` as a ``(P, C)`` array and its row index."""
    rows: dict[Any, int] = {"n": 0}
    parts = [np.asarray(n, dtype=float)]
    for k in range(mean.shape[1]):
        rows[("m", k)] = len(parts)
        parts.append(mean[:, k])
    for i in range(comoment.shape[1]):
        for j in range(i + 1):
            rows[("c", i, j)] = len(parts)
            parts.append(comoment[:, i, j])
    if ztz is not None:
        for i in range(ztz.shape[1]):
            for j in range(i + 1):
                rows[("z", i, j)] = len(parts)
                parts.append(ztz[:, i, j])
    return np.ascontiguousarray(np.stack(parts)), rows


def observe_cells(moments: Packed, coefficients: list[Any], sigma: Any) -> None:
    """Add the likelihood of every cell given its coefficients: one entry per column of ``W``,
    each a scalar or a vector over the cells (``coefficients[k]`` multiplies column ``k``)."""
    import pymc as pm

    n = moments["n"]
    k = len(coefficients)
    squares: Any = 0.0
    for i in range(k):
        for j in range(i + 1):
            term = moments[("c", i, j)] * coefficients[i] * coefficients[j]
            squares = squares + (term if i == j else 2.0 * term)
    offset = sum(moments[("m", i)] * coefficients[i] for i in range(k))
    total = squares + n * offset**2
    loglik = -0.5 * n.sum() * pm.math.log(2 * np.pi * sigma**2) - total.sum() / (2 * sigma**2)
    pm.Potential(GIVEN_EFFECTS, loglik)


def observe_marginal_cells(
    stats: Any,
    totals: dict[str, Any],
    coefficients: list[Any],
    sigma: Any,
    precision: list[list[Any]],
    log_det_sigma: Any,
    constant: int | None,
    intercept: Any = None,
) -> None:
    """Add the likelihood of every group with its effects integrated out (one grouping factor).

    ``stats`` is the per-group matrix of :func:`hbm.model.families.normal_marginal_op.pack_groups`
    (``sum_i z_it (w_ik - shift_k)`` and ``Z'Z``, from
    :func:`hbm.model.families.normal_cells_conditional.marginal_statistics`);
    ``totals`` holds the shared ``gram`` (K, K), ``shift`` (K,), ``n_rows`` and ``n_groups``;
    ``coefficients`` is the population vector over ``W`` (``r_i = w_i' a``); ``precision`` holds
    the entries of ``Sigma^-1`` and ``log_det_sigma`` is ``log|Sigma|``; ``constant`` is the
    position of the constant column (the intercept), which takes the shift; ``intercept``, when
    given, is the population intercept at the covariates' means (the shift of the population
    columns), from which the constant column's coefficient is computed without cancellation.

    Per group only ``q`` products with ``K`` coefficients and a ``q x q`` factorisation remain,
    done in one pass over the groups by
    :class:`~hbm.model.families.normal_marginal_op.GroupMarginal`;
    ``sum_j r_j'r_j = a~' gram a~`` is one number for all groups.
    """
    import pymc as pm
    import pytensor.tensor as pt

    k = len(coefficients)
    shifted = list(coefficients)
    if constant is not None and intercept is None:
        shift = totals["shift"]
        shifted[constant] = coefficients[constant] + sum(
            coefficients[i] * shift[i] for i in range(k) if not _zero(coefficients[i])
        )
    elif constant is not None:
        # The same number written without the large terms that cancel: with the population's
        # intercept at the covariates' means (beta_centred), a~ on the constant column is
        # shift_y - beta_centred[Intercept].
        shifted[constant] = totals["shift"][k - 1] - intercept
    from hbm.model.families.normal_marginal_op import GroupMarginal

    q = len(precision)
    sigma2 = sigma**2
    lam = pt.stack([pt.stack([pt.as_tensor(x) for x in row]) for row in precision])
    a = pt.stack([pt.as_tensor(x, dtype="float64") for x in shifted])
    squares = a @ totals["gram"] @ a  # sum_j r_j'r_j over all rows
    # A = sum_j log|P_j|, B = sum_j b_j' P_j^-1 b_j with P_j = Z'Z + sigma^2 Sigma^-1 = sigma^2 M_j
    # and b_j = Z_j' r_j: log|M_j| = log|P_j| - q log sigma^2, c'M^-1 c = b'P^-1 b / sigma^2.
    outputs: Any = GroupMarginal(q, k)(stats, a, sigma2, lam)
    log_det_p, quad = outputs[0], outputs[1]
    n_rows, n_groups = totals["n_rows"], totals["n_groups"]
    loglik = (
        -0.5 * n_rows * np.log(2 * np.pi)
        - n_rows * pm.math.log(sigma)
        - 0.5 * n_groups * log_det_sigma
        + 0.5 * n_groups * q * pm.math.log(sigma2)
        - 0.5 * (squares - quad) / sigma2
        - 0.5 * log_det_p
    )
    pm.Potential(MARGINAL, loglik)


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
