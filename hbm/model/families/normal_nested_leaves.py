"""The innermost level's passes of the nested marginal kernel when it has one varying term.

Most groups sit at the innermost level, and with one varying term (``(1 | a/b)``) each is a
scalar: its own block ``D = z'z + s2 lambda``, cross row ``C`` and ``t = z'W a`` come from its
statistics alone. These two loops are the kernel's hot path; see
:mod:`hbm.model.families.normal_nested_numba` for the whole algebra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["build_scalar_leaves"]


def build_scalar_leaves(k: int, row_leaf: int, njit: Any) -> tuple[Any, Any]:
    """The passes up and down over scalar innermost groups, for ``k`` design columns and
    ``row_leaf`` statistics per group; compiled with ``njit``."""

    @njit
    def up_scalar_leaves(  # type: ignore[no-untyped-def]
        stats, structure, a, s2, lam, width, start, parents_at, n_groups, out_m, out_v, totals
    ):
        """The pass up over innermost groups of one varying term: scalars only."""
        log_det = 0.0
        quad = 0.0
        for g in range(n_groups):
            base = start + g * row_leaf
            d = stats[base + k] + s2 * lam
            if not d > 0.0:
                totals[0] = np.inf
                return
            t = 0.0
            for col in range(k):
                t += stats[base + col] * a[col]
            inverse = 1.0 / d
            dt = inverse * t
            log_det += np.log(d)
            quad += t * dt
            if width:
                parent = structure[parents_at + g]
                cross = base + k + 1
                for m in range(width):
                    cm = stats[cross + m]
                    out_v[parent * width + m] -= cm * dt
                    scaled = cm * inverse
                    for n in range(width):
                        out_m[(parent * width + m) * width + n] -= scaled * stats[cross + n]
        totals[0] = log_det
        totals[1] = quad

    @njit
    def down_scalar_leaves(  # type: ignore[no-untyped-def]
        stats,
        structure,
        a,
        s2,
        lam,
        width,
        start,
        parents_at,
        n_groups,
        prev_s,
        prev_v,
        totals,
        db_da,
    ):
        """The pass down over innermost groups of one varying term: sums of ``S_oo`` and
        ``x^2`` in ``totals``, ``dB/da`` accumulated."""
        sum_s = 0.0
        sum_x2 = 0.0
        for g in range(n_groups):
            base = start + g * row_leaf
            inverse = 1.0 / (stats[base + k] + s2 * lam)
            t = 0.0
            for col in range(k):
                t += stats[base + col] * a[col]
            parent = structure[parents_at + g] if width else 0
            cross = base + k + 1
            s_own = inverse
            for m in range(width):
                t -= stats[cross + m] * prev_v[parent * width + m]
                em = inverse * stats[cross + m]
                for n in range(width):
                    s_own += (
                        em * prev_s[(parent * width + m) * width + n] * inverse * stats[cross + n]
                    )
            x = inverse * t
            sum_s += s_own
            sum_x2 -= x * x
            for col in range(k):
                db_da[col] += 2.0 * stats[base + col] * x
        totals[0] = sum_s
        totals[1] = sum_x2

    return up_scalar_leaves, down_scalar_leaves
