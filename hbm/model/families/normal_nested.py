"""The normal family's likelihood of nested grouping factors with every effect integrated out.

For factors that form a chain (:mod:`hbm.data.nesting`), the rows of a formula model are
``y ~ N(X beta, sigma^2 I + sum_l Z_l Sigma_l Z_l')`` with all group effects integrated out, and
(the Woodbury identity and the matrix determinant lemma, as for one factor in
:mod:`hbm.model.families.normal_cells`)::

    log p(y) = -N/2 log(2 pi) - N log sigma - 1/2 sum_l J_l log|Sigma_l|
               + 1/2 (sum_l J_l q_l) log sigma^2 - 1/2 (r'r - B) / sigma^2 - 1/2 A

with ``A = log|P|``, ``B = b'P^-1 b``, ``P = Z'Z + sigma^2 Lambda``, ``b = Z'r``, ``r = y - X beta``
(:mod:`hbm.model.families.normal_nested_algebra` computes them level by level,
:class:`~hbm.model.families.normal_nested_op.NestedMarginal` in the model's graph). The
statistics come from the per-cell moments, with the columns shifted by their grand means as in
the one-factor form (:func:`nested_statistics`): a million rows cost what their groups cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.data.model_data import ModelData
from hbm.data.nesting import Nesting
from hbm.model.families.normal_cells_conditional import group_statistics, marginal_statistics
from hbm.model.families.normal_nested_algebra import Levels

__all__ = ["NESTED_MARGINAL", "nested_levels", "nested_statistics", "observe_nested_marginal"]

#: The name of the potential that carries the nested marginal likelihood.
NESTED_MARGINAL = "y_marginal"


def nested_levels(data: ModelData, nesting: Nesting, shift: np.ndarray) -> Levels:
    """Every level's statistics (:class:`~hbm.model.families.normal_nested_algebra.Levels`),
    from the per-cell moments, columns shifted by ``shift``."""
    zw, ztz, cross = [], [], []
    columns: list[list[int]] = []
    for factor in nesting.factors:
        stats = group_statistics(data, factor)
        n, mean, comoment = stats["n"], stats["mean"], stats["comoment"]
        own = list(factor.columns)
        mz = mean[:, own]
        zw.append(
            comoment[:, own, :] + n[:, None, None] * (mz[:, :, None] * (mean - shift)[:, None, :])
        )
        ztz.append(stats["ztz"])
        ancestors = [c for level in columns for c in level]
        ma = mean[:, ancestors]
        cross.append(
            comoment[:, own][:, :, ancestors] + n[:, None, None] * (mz[:, :, None] * ma[:, None, :])
        )
        columns.append(own)
    return Levels(
        qs=tuple(f.n_terms for f in nesting.factors),
        zw=zw,
        ztz=ztz,
        cross=cross,
        parents=list(nesting.parents),
    )


def nested_statistics(data: ModelData, nesting: Nesting) -> dict[str, Any]:
    """What the nested marginal form needs: the levels' statistics, and over all rows the
    shifted ``gram`` (K, K), ``shift`` (K,), ``constant`` (K,), ``n_rows`` and ``level_groups``
    (J_l per level); see :func:`~hbm.model.families.normal_cells_conditional.marginal_statistics`
    for the shift."""
    overall = marginal_statistics(data, nesting.factors[0])
    levels = nested_levels(data, nesting, overall["shift"])
    return {
        "levels": levels,
        "gram": overall["gram"],
        "shift": overall["shift"],
        "constant": overall["constant"],
        "n_rows": overall["n_rows"],
        "level_groups": np.array([f.n_groups for f in nesting.factors], dtype=float),
    }


def observe_nested_marginal(
    stats: Any,
    structure: Any,
    totals: dict[str, Any],
    coefficients: list[Any],
    sigma: Any,
    precisions: list[list[list[Any]]],
    log_dets: list[Any],
    constant: int | None,
    intercept: Any = None,
) -> None:
    """Add the likelihood of all rows with every level's effects integrated out.

    ``stats`` and ``structure`` are the shared flat inputs of
    :func:`~hbm.model.families.normal_nested_op.pack_levels`; ``totals`` holds the shared
    ``gram``, ``shift``, ``n_rows`` and ``level_groups``; ``coefficients`` is the population
    vector over ``W``; ``precisions[l]`` the entries of ``Sigma_l^-1`` and ``log_dets[l]`` its
    ``log|Sigma_l|``, levels outermost first; ``constant`` and ``intercept`` as for
    :func:`~hbm.model.families.normal_cells.observe_marginal_cells`.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from hbm.model.families.normal_nested_op import NestedMarginal

    k = len(coefficients)
    shifted = list(coefficients)
    if constant is not None and intercept is None:
        shift = totals["shift"]
        shifted[constant] = coefficients[constant] + sum(
            coefficients[i] * shift[i]
            for i in range(k)
            if not (isinstance(coefficients[i], float) and coefficients[i] == 0.0)
        )
    elif constant is not None:
        shifted[constant] = totals["shift"][k - 1] - intercept
    qs = tuple(len(p) for p in precisions)
    sigma2 = sigma**2
    lams = pt.stack(
        [pt.as_tensor(x, dtype="float64") for p in precisions for row in p for x in row]
    )
    a = pt.stack([pt.as_tensor(x, dtype="float64") for x in shifted])
    squares = a @ totals["gram"] @ a
    outputs: Any = NestedMarginal(qs, k)(stats, structure, a, sigma2, lams)
    log_det_p, quad = outputs[0], outputs[1]
    n_rows, groups = totals["n_rows"], totals["level_groups"]
    effects = sum(groups[level] * q for level, q in enumerate(qs))
    log_det_sigma = sum(groups[level] * log_dets[level] for level in range(len(qs)))
    loglik = (
        -0.5 * n_rows * np.log(2 * np.pi)
        - n_rows * pm.math.log(sigma)
        - 0.5 * log_det_sigma
        + 0.5 * effects * pm.math.log(sigma2)
        - 0.5 * (squares - quad) / sigma2
        - 0.5 * log_det_p
    )
    pm.Potential(NESTED_MARGINAL, loglik)
