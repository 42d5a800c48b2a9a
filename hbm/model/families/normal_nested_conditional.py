"""Nested group effects, exactly: every level's draws top down, and each outermost group's
log likelihood with everything below it integrated out.

Given ``beta``, ``sigma`` and every level's ``Sigma_l``, the effects of a chain of nested factors
are jointly Gaussian; :mod:`hbm.model.families.normal_nested_algebra` factorises their precision
innermost first, which leaves each group's conditional given its ancestors::

    u_g | u_ancestors ~ N(D_g^-1 (t_g - C_g u_ancestors), sigma^2 D_g^-1)

so :mod:`hbm.model.families.normal_nested_draws` draws the outermost level's effects, then each
next level's given the draws above it: exact draws of every level, once per posterior draw, a
block of groups at a time, from streams of their own derived from the fit's seed.

The same pass splits the marginal log likelihood over the outermost groups (their subtrees share
no rows and no effects): :func:`nested_root_log_likelihood` gives, per draw, each district's log
density with its own effect and every school (and class) in it integrated out — what leaving a
whole district out needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.core.names import INTERCEPT
from hbm.data.model_data import ModelData
from hbm.data.nesting import Nesting
from hbm.model.families.normal_cells_conditional import (
    group_statistics,
)
from hbm.model.families.normal_nested import nested_statistics
from hbm.model.families.normal_nested_algebra import sum_to_parents, upward

__all__ = ["coefficients_of", "nested_root_log_likelihood"]

#: Values (draws x groups x chain entries) held per block of draws, at most (the pass up holds
#: about eight arrays of that size: 32 MB).
BLOCK_VALUES = 500_000
#: Draws per block, at most.
DRAW_BLOCK = 64


def _block_size(nesting: Nesting) -> int:
    widths = np.cumsum([f.n_terms for f in nesting.factors])
    per_draw = sum(f.n_groups * int(w) ** 2 for f, w in zip(nesting.factors, widths, strict=True))
    return int(max(1, min(DRAW_BLOCK, BLOCK_VALUES // max(per_draw, 1))))


def _coefficients(
    stats: dict[str, Any],
    n_population: int,
    intercept: int | None,
    beta: np.ndarray,
    centred_intercept: np.ndarray | None,
) -> np.ndarray:
    """The residuals' coefficients over ``W`` per draw (``-beta``, 0, ``+1``), the columns'
    shift taken on the constant column (as the model's graph does)."""
    k = stats["gram"].shape[0]
    a = np.zeros((beta.shape[0], k))
    a[:, :n_population] = -beta
    a[:, -1] = 1.0
    constant = np.flatnonzero(stats["constant"])
    if constant.size:
        where = int(constant[0])
        if centred_intercept is not None and where == intercept:
            a[:, where] = stats["shift"][-1] - centred_intercept
        else:
            a[:, where] += a @ stats["shift"]
    return a


def _precisions(covariances: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per level ``Sigma_l^-1`` (S, q, q), and ``log|Sigma_l|`` per level and draw (L, S)."""
    return (
        [np.linalg.inv(c) for c in covariances],
        np.stack([np.linalg.slogdet(c)[1] for c in covariances]),
    )


def nested_root_log_likelihood(
    data: ModelData,
    nesting: Nesting,
    beta: np.ndarray,
    sigma: np.ndarray,
    covariances: list[np.ndarray],
    centred_intercept: np.ndarray | None = None,
) -> np.ndarray:
    """Each outermost group's log density, every effect in it integrated out: ``(S, J_0)``.

    ``beta`` (S, p), ``sigma`` (S,), ``covariances`` per level (outermost first) ``(S, q, q)``;
    ``centred_intercept`` (S,), when given, is the intercept at the covariates' means.
    """
    stats = nested_statistics(data, nesting)
    levels = stats["levels"]
    root = nesting.factors[0]
    grouped = group_statistics(data, root)
    centre = grouped["mean"] - stats["shift"]
    k = centre.shape[1]
    squares = grouped["comoment"] + grouped["n"][:, None, None] * (
        centre[:, :, None] * centre[:, None, :]
    )
    squares = squares.reshape(root.n_groups, k * k)
    n = grouped["n"]
    counts = [
        np.bincount(nesting.roots(level), minlength=root.n_groups).astype(float)
        for level in range(nesting.depth)
    ]
    roots = [nesting.roots(level) for level in range(nesting.depth)]
    intercept = data.population.index(INTERCEPT) if INTERCEPT in data.population else None
    out = np.empty((len(sigma), root.n_groups))
    block = _block_size(nesting)
    for start in range(0, len(sigma), block):
        part = slice(start, min(start + block, len(sigma)))
        a = _coefficients(
            stats, len(data.population), intercept, beta[part], _part(centred_intercept, part)
        )
        s2 = sigma[part] ** 2
        lams, log_det_sigma = _precisions([c[part] for c in covariances])
        up = upward(levels, a, s2, lams)
        log_det = np.zeros((len(s2), root.n_groups))
        quad = np.zeros((len(s2), root.n_groups))
        penalty = np.zeros((len(s2), root.n_groups))
        for level in range(nesting.depth):
            q = levels.qs[level]
            log_det += sum_to_parents(up.log_det[level], roots[level], root.n_groups)
            quad += sum_to_parents(up.quad[level], roots[level], root.n_groups)
            penalty += counts[level][None] * (
                log_det_sigma[level][:, None] - q * np.log(s2)[:, None]
            )
        outer = (a[:, :, None] * a[:, None, :]).reshape(len(s2), k * k)
        rr = outer @ squares.T
        out[part] = (
            -0.5 * n * np.log(2 * np.pi)
            - n * np.log(sigma[part, None])
            - 0.5 * penalty
            - 0.5 * (rr - quad) / s2[:, None]
            - 0.5 * log_det
        )
        out[part][up.failed] = -np.inf
    return out


#: The residuals' coefficients per draw (the exact draws of :mod:`normal_nested_draws`).
coefficients_of = _coefficients


def _part(values: np.ndarray | None, part: slice) -> np.ndarray | None:
    return None if values is None else values[part]
