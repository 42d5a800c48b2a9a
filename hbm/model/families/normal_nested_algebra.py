"""The algebra of nested group effects integrated out, level by level, with numpy.

Grouping factors that form a chain (:mod:`hbm.data.nesting`: districts > schools > classes) give
every group ``g`` of level ``l`` one parent, and ``q_l`` effects ``u_g ~ N(0, Sigma_l)``. With
``r = W a`` the residuals of the population part (``a`` over the design columns ``W``), every
effect integrated out, the rows are ``N(0, s2 I + Z Sigma Z')`` and (Woodbury, determinant
lemma) their log density needs, with ``P = Z'Z + s2 Lambda`` (``Lambda`` the block diagonal of
the ``Sigma_l^-1``) and ``b = Z'r``::

    A = log|P|,        B = b' P^-1 b

``P`` couples a group only with its ancestors (their rows are shared), so eliminating the
innermost groups first never fills in anything but ancestor blocks: each group ``g`` holds a
matrix ``T_g`` over its **chain** (its ancestors' effects, outermost first, then its own) and a
vector ``t_g``; its own rows give the own block ``Z_g'Z_g + s2 Lambda_l``, the cross blocks
``Z_g' Z_m`` with each ancestor level ``m`` and ``b_g``, and its children's messages are added
in. With ``D`` the own block, ``C`` the own-by-ancestors block and ``t_o`` the own part of ``t``::

    A += log|D|,   B += t_o' D^-1 t_o,
    message to the parent:  T_anc - C' D^-1 C,   t_anc - C' D^-1 t_o

— one pass over the groups per level, innermost first; nothing larger than a chain
(``sum_l q_l`` effects) is ever formed. Going back down, outermost first, gives ``v = P^-1 b``
(``v_o = D^-1 (t_o - C v_anc)``), the blocks of ``P^-1`` over each chain (``E = D^-1 C``,
``S_oo = D^-1 + E S_anc E'``, ``S_o,anc = -E S_anc``) for the gradient, and exact draws of every
effect: given its ancestors' draws, ``u_o ~ N(D^-1 (t_o - C u_anc), s2 D^-1)``.

Everything here takes a leading axis of ``B`` parameter values (a block of posterior draws, or
one point), so the Op's numpy path (:mod:`hbm.model.families.normal_nested_op`), the exact draws
and the per-group log likelihood (:mod:`hbm.model.families.normal_nested_conditional`) share
it; the Op's numba path is an independent loop over groups, tested against it and against a
dense multivariate normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Levels",
    "Upward",
    "downward",
    "gradient_pieces",
    "sample_effects",
    "solve_lower",
    "solve_lower_transposed",
    "sum_to_parents",
    "upward",
]


@dataclass(frozen=True, eq=False)
class Levels:
    """The statistics of a chain of nested levels, outermost first.

    Attributes
    ----------
    qs : tuple of int
        Varying terms per level.
    zw : list of ndarray (J_l, q_l, K)
        Per group: ``sum_i z_i (w_i - shift)'`` over its rows (all its descendants' rows).
    ztz : list of ndarray (J_l, q_l, q_l)
        Per group: ``Z'Z`` of its own varying columns over its rows.
    cross : list of ndarray (J_l, q_l, A_l)
        Per group: ``Z_l' Z_m`` over its rows, for the ancestor levels ``m < l`` side by side
        (``A_l = q_0 + ... + q_{l-1}`` columns).
    parents : list of ndarray of int64 (J_l,)
        The parent of every group (empty for the outermost level).
    """

    qs: tuple[int, ...]
    zw: list[np.ndarray] = field(repr=False)
    ztz: list[np.ndarray] = field(repr=False)
    cross: list[np.ndarray] = field(repr=False)
    parents: list[np.ndarray] = field(repr=False)

    @property
    def depth(self) -> int:
        return len(self.qs)

    def ancestors_width(self, level: int) -> int:
        """``A_l``: the number of effects of a level-``l`` group's ancestors."""
        return int(sum(self.qs[:level]))

    def sizes(self) -> list[int]:
        return [int(z.shape[0]) for z in self.zw]


@dataclass(eq=False)
class Upward:
    """What the pass from the innermost level up leaves per level (leading axis: ``B`` values).

    ``chol`` (B, J, q, q) the Cholesky factor of ``D``, ``dinv`` its inverse ``D^-1``, ``cmat``
    (B, J, q, A) the block ``C``, ``t`` (B, J, q) the own part of ``t_g``; ``log_det`` and
    ``quad`` (B, J): each group's ``log|D|`` and ``t_o' D^-1 t_o``; ``failed`` (B,): where some
    ``D`` was not positive definite.
    """

    chol: list[np.ndarray]
    dinv: list[np.ndarray]
    cmat: list[np.ndarray]
    t: list[np.ndarray]
    log_det: list[np.ndarray]
    quad: list[np.ndarray]
    failed: np.ndarray


def sum_to_parents(values: np.ndarray, parents: np.ndarray, n_parents: int) -> np.ndarray:
    """``values`` (B, J, ...) summed over the groups of each parent: (B, n_parents, ...)."""
    order = np.argsort(parents, kind="stable")
    sorted_parents = parents[order]
    starts = np.flatnonzero(np.r_[True, sorted_parents[1:] != sorted_parents[:-1]])
    out = np.zeros((values.shape[0], n_parents, *values.shape[2:]))
    out[:, sorted_parents[starts]] = np.add.reduceat(values[:, order], starts, axis=1)
    return out


def upward(
    levels: Levels, a: np.ndarray, s2: np.ndarray, lams: list[np.ndarray], top: int = 0
) -> Upward:
    """The pass from the innermost level up (see the module docstring).

    ``a`` (B, K) the residuals' coefficients (the shift already on the constant column), ``s2``
    (B,) the residual variance, ``lams`` per level (B, q_l, q_l) the precision ``Sigma_l^-1``.
    ``top`` stops the pass at that level (its groups' ``D``, ``C`` and ``t`` need only their own
    subtrees): the lists then hold levels ``top`` to the innermost, ``[0]`` being ``top``.
    """
    depth = levels.depth
    n_values = a.shape[0]
    sizes = levels.sizes()
    out = Upward([], [], [], [], [], [], np.zeros(n_values, dtype=bool))
    incoming: tuple[np.ndarray, np.ndarray] | None = None
    for level in reversed(range(top, depth)):
        q, width = levels.qs[level], levels.ancestors_width(level)
        chain = width + q
        n_groups = sizes[level]
        if incoming is None:
            matrix = np.zeros((n_values, n_groups, chain, chain))
            vector = np.zeros((n_values, n_groups, chain))
        else:
            matrix, vector = incoming
        own = slice(width, chain)
        matrix[:, :, own, own] += levels.ztz[level][None] + (
            s2[:, None, None, None] * lams[level][:, None]
        )
        if width:
            cross = levels.cross[level]
            matrix[:, :, own, :width] += cross[None]
            matrix[:, :, :width, own] += np.swapaxes(cross, 1, 2)[None]
        vector[:, :, own] += np.einsum("jqk,bk->bjq", levels.zw[level], a)
        d = matrix[:, :, own, own]
        chol, failed = _cholesky(d)
        out.failed |= failed
        dinv = _inverse_from_cholesky(chol)
        t_own = vector[:, :, own]
        dt = np.einsum("bjqr,bjr->bjq", dinv, t_own)
        out.log_det.insert(0, 2.0 * np.log(np.diagonal(chol, axis1=2, axis2=3)).sum(axis=2))
        out.quad.insert(0, np.einsum("bjq,bjq->bj", t_own, dt))
        cmat = matrix[:, :, own, :width]
        out.chol.insert(0, chol)
        out.dinv.insert(0, dinv)
        out.cmat.insert(0, cmat.copy())
        out.t.insert(0, t_own.copy())
        if level > top:
            e = np.einsum("bjqr,bjra->bjqa", dinv, cmat)
            message = matrix[:, :, :width, :width] - np.einsum("bjqa,bjqc->bjac", cmat, e)
            message_vector = vector[:, :, :width] - np.einsum("bjqa,bjq->bja", cmat, dt)
            parents, n_parents = levels.parents[level], sizes[level - 1]
            incoming = (
                sum_to_parents(message, parents, n_parents),
                sum_to_parents(message_vector, parents, n_parents),
            )
    return out


def downward(levels: Levels, up: Upward) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Going back down: per level ``v_o`` (B, J, q) and the own block of ``P^-1`` (B, J, q, q)."""
    solutions, inverse_blocks = [], []
    previous_v: np.ndarray | None = None
    previous_s: np.ndarray | None = None
    for level in range(levels.depth):
        dinv, cmat, t_own = up.dinv[level], up.cmat[level], up.t[level]
        if level == 0 or previous_v is None or previous_s is None:
            x = np.einsum("bjqr,bjr->bjq", dinv, t_own)
            s_own = dinv
            chain_v, chain_s = x, dinv
        else:
            parents = levels.parents[level]
            vp, sp = previous_v[:, parents], previous_s[:, parents]
            x = np.einsum("bjqr,bjr->bjq", dinv, t_own - np.einsum("bjqa,bja->bjq", cmat, vp))
            e = np.einsum("bjqr,bjra->bjqa", dinv, cmat)
            es = np.einsum("bjqa,bjac->bjqc", e, sp)
            s_own = dinv + np.einsum("bjqc,bjrc->bjqr", es, e)
            chain_v = np.concatenate([vp, x], axis=2)
            top = np.concatenate([sp, -np.swapaxes(es, 2, 3)], axis=3)
            bottom = np.concatenate([-es, s_own], axis=3)
            chain_s = np.concatenate([top, bottom], axis=2)
        solutions.append(x)
        inverse_blocks.append(s_own)
        if level + 1 < levels.depth:
            previous_v, previous_s = chain_v, chain_s
    return solutions, inverse_blocks


def sample_effects(
    levels: Levels, up: Upward, s2: np.ndarray, noise: list[np.ndarray]
) -> list[np.ndarray]:
    """Exact draws of every level's effects, outermost first, given standard normals ``noise``
    per level (B, J_l, q_l): ``u_o = D^-1 (t_o - C u_anc) + sqrt(s2) L^-T z`` (``D = L L'``)."""
    effects: list[np.ndarray] = []
    chains: list[np.ndarray] = []
    scale = np.sqrt(s2)[:, None, None]
    for level in range(levels.depth):
        chol, cmat, t_own = up.chol[level], up.cmat[level], up.t[level]
        rhs = t_own
        if level:
            anc = chains[-1][:, levels.parents[level]]
            rhs = t_own - np.einsum("bjqa,bja->bjq", cmat, anc)
        # L^-T (L^-1 rhs + sqrt(s2) z) = D^-1 rhs + sqrt(s2) L^-T z
        y = _solve_lower(chol, rhs) + scale * noise[level]
        u = _solve_lower_transposed(chol, y)
        effects.append(u)
        chains.append(u if not level else np.concatenate([anc, u], axis=2))
    return effects


def _cholesky(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Cholesky factors of ``d`` (B, J, q, q); where some matrix of a value is not
    positive definite, that value's factors are the identity and it is marked failed.

    Written out over the q x q entries, each an operation on all (B, J) matrices at once: q is
    small (at most a few terms) and J large (10,000 schools), where LAPACK's per-matrix calls
    cost a hundred times more than the arithmetic."""
    q = d.shape[-1]
    if q == 1:
        positive = d[..., 0, 0] > 0.0  # False for NaN too
        failed = ~positive.all(axis=1)
        low = np.sqrt(np.where(positive, d[..., 0, 0], 1.0))[..., None, None]
        low[failed] = 1.0
        return low, failed
    low = np.zeros_like(d)
    bad = ~np.isfinite(d).all(axis=(2, 3))
    for i in range(q):
        for m in range(i + 1):
            value = d[..., i, m] - np.einsum("bjc,bjc->bj", low[..., i, :m], low[..., m, :m])
            if i == m:
                positive = value > 0.0
                bad |= ~positive
                low[..., i, i] = np.sqrt(np.where(positive, value, 1.0))
            else:
                low[..., i, m] = value / low[..., m, m]
    failed = bad.any(axis=1)
    low[failed] = np.eye(q)
    return low, failed


def _inverse_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """``D^-1 = L^-T L^-1`` from the batched factors ``L``, entry by entry (see
    :func:`_cholesky`)."""
    q = chol.shape[-1]
    if q == 1:
        return 1.0 / (chol * chol)
    inv_low = np.zeros_like(chol)
    for i in range(q):
        inv_low[..., i, i] = 1.0 / chol[..., i, i]
        for m in range(i):
            value = -np.einsum("bjc,bjc->bj", chol[..., i, m:i], inv_low[..., m:i, m])
            inv_low[..., i, m] = value * inv_low[..., i, i]
    return np.einsum("bjcq,bjcr->bjqr", inv_low, inv_low)


def _solve_lower(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``L^-1 rhs`` by forward substitution, for (B, J, q, q) and (B, J, q)."""
    q = chol.shape[-1]
    out = np.empty_like(rhs)
    for i in range(q):
        value = rhs[..., i].copy()
        for k in range(i):
            value -= chol[..., i, k] * out[..., k]
        out[..., i] = value / chol[..., i, i]
    return out


def _solve_lower_transposed(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``L^-T rhs`` by back substitution."""
    q = chol.shape[-1]
    out = np.empty_like(rhs)
    for i in reversed(range(q)):
        value = rhs[..., i].copy()
        for k in range(i + 1, q):
            value -= chol[..., k, i] * out[..., k]
        out[..., i] = value / chol[..., i, i]
    return out


def gradient_pieces(
    levels: Levels, a: np.ndarray, s2: np.ndarray, lams: list[np.ndarray]
) -> dict[str, Any]:
    """``A``, ``B`` and their derivatives for one value (B = 1), the Op's numpy path:
    ``dA/ds2 = sum tr(S_oo Lambda)``, ``dA/dLambda_l = s2 sum S_oo``, ``dB/da = 2 sum ZW' v``,
    ``dB/ds2 = -sum v' Lambda v``, ``dB/dLambda_l = -s2 sum v v'``."""
    up = upward(levels, a, s2, lams)
    if up.failed.any():
        return {"failed": True}
    solutions, blocks = downward(levels, up)
    out: dict[str, Any] = {
        "failed": False,
        "A": float(sum(x.sum() for x in up.log_det)),
        "B": float(sum(x.sum() for x in up.quad)),
        "dA_ds2": 0.0,
        "dB_ds2": 0.0,
        "dB_da": np.zeros(a.shape[1]),
        "dA_dlam": [],
        "dB_dlam": [],
    }
    for level in range(levels.depth):
        lam, x, s_own = lams[level][0], solutions[level][0], blocks[level][0]
        total = s_own.sum(axis=0)
        outer = np.einsum("jq,jr->qr", x, x)
        out["dA_ds2"] += float(np.sum(total * lam.T))
        out["dB_ds2"] -= float(np.sum(outer * lam))
        out["dB_da"] += 2.0 * np.einsum("jqk,jq->k", levels.zw[level], x)
        out["dA_dlam"].append(s2[0] * total)
        out["dB_dlam"].append(-s2[0] * outer)
    return out


#: Public names of the triangular solves (the exact draws of :mod:`normal_nested_draws`).
solve_lower = _solve_lower
solve_lower_transposed = _solve_lower_transposed
