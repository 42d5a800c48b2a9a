"""One PyTensor Op for the nested marginal likelihood's per-group algebra, with its gradient.

For grouping factors that form a chain (districts > schools > classes), every effect integrated
out, the normal model's log density needs ``A = log|P|`` and ``B = b'P^-1 b``
(:mod:`hbm.model.families.normal_nested_algebra` gives the algebra and the notation).
:class:`NestedMarginal` computes both with one pass over each level's groups up (innermost
first: each group's own block factorised, its message added to its parent) and one pass down
(outermost first: ``v = P^-1 b`` and the blocks of ``P^-1`` on each group's chain), and with
them the derivatives::

    dA/ds2 = sum_g tr(S_g Lambda_l)     dA/dLambda_l = s2 sum_{g in l} S_g
    dB/da  = 2 sum_g ZW_g' v_g          dB/ds2 = -sum_g v_g' Lambda_l v_g
    dB/dLambda_l = -s2 sum_{g in l} v_g v_g'

(``S_g`` the own block of ``P^-1``, ``v_g`` the own part of ``v``). The inputs are flat so that
the Op has the same five inputs whatever the number of levels:

- ``stats``: every level's ``(J_l, P_l)`` matrix, row-major, one after the other; a group's row
  is ``ZW_g`` (``q_l x K``, row-major), the lower triangle of ``Z_g'Z_g`` row by row, then
  ``Z_g'Z_m`` for the ancestor levels (``q_l x A_l``, row-major) (:func:`pack_levels`);
- ``structure`` (int64): ``J_0, ..., J_{L-1}``, then the parents of levels ``1 .. L-1``;
- ``a`` (K,), ``s2`` (scalar), ``lams``: every level's ``Lambda_l`` row-major, one after the other.

The numba implementation runs with nutpie's backend (cached on disk like PyTensor's own Ops);
``perform`` runs the numpy algebra for PyTensor's other backends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor import as_tensor_variable, dscalar, dvector

from hbm.model.families.normal_nested_algebra import Levels, gradient_pieces
from hbm.model.families.normal_nested_numba import register_numba

__all__ = ["NestedMarginal", "pack_levels", "unpack_levels"]


def row_width(q: int, k: int, ancestors: int) -> int:
    """Entries of one group's row of statistics."""
    return q * k + q * (q + 1) // 2 + q * ancestors


def pack_levels(levels: Levels) -> tuple[np.ndarray, np.ndarray]:
    """``levels`` as the Op's flat ``stats`` and ``structure``."""
    parts = []
    for level, q in enumerate(levels.qs):
        n_groups = levels.zw[level].shape[0]
        lower = np.tril_indices(q)
        parts.append(
            np.concatenate(
                [
                    levels.zw[level].reshape(n_groups, -1),
                    levels.ztz[level][:, lower[0], lower[1]],
                    levels.cross[level].reshape(n_groups, -1),
                ],
                axis=1,
            ).reshape(-1)
        )
    structure = np.concatenate(
        [np.asarray(levels.sizes(), dtype=np.int64), *levels.parents[1:]]
    ).astype(np.int64)
    return np.ascontiguousarray(np.concatenate(parts)), structure


def unpack_levels(stats: np.ndarray, structure: np.ndarray, qs: tuple[int, ...], k: int) -> Levels:
    """The inverse of :func:`pack_levels`."""
    depth = len(qs)
    sizes = [int(s) for s in structure[:depth]]
    parents = [np.zeros(0, dtype=np.int64)]
    start = depth
    for level in range(1, depth):
        parents.append(np.asarray(structure[start : start + sizes[level]], dtype=np.int64))
        start += sizes[level]
    zw, ztz, cross = [], [], []
    offset = 0
    for level, q in enumerate(qs):
        width = int(sum(qs[:level]))
        size = row_width(q, k, width)
        block = stats[offset : offset + sizes[level] * size].reshape(sizes[level], size)
        offset += sizes[level] * size
        zw.append(block[:, : q * k].reshape(sizes[level], q, k))
        lower = np.tril_indices(q)
        square = np.empty((sizes[level], q, q))
        square[:, lower[0], lower[1]] = block[:, q * k : q * k + len(lower[0])]
        square[:, lower[1], lower[0]] = block[:, q * k : q * k + len(lower[0])]
        ztz.append(square)
        cross.append(block[:, q * k + len(lower[0]) :].reshape(sizes[level], q, width))
    return Levels(tuple(qs), zw, ztz, cross, parents)


def nested_marginal_numpy(
    stats: np.ndarray,
    structure: np.ndarray,
    a: np.ndarray,
    s2: float,
    lams: np.ndarray,
    qs: tuple[int, ...],
    k: int,
) -> tuple[Any, ...]:
    """The Op's seven outputs with numpy (see the module docstring)."""
    levels = unpack_levels(stats, structure, qs, k)
    lam_list, offset = [], 0
    for q in qs:
        lam_list.append(np.asarray(lams[offset : offset + q * q]).reshape(1, q, q))
        offset += q * q
    pieces = gradient_pieces(levels, np.asarray(a)[None], np.array([s2]), lam_list)
    n_lams = int(sum(q * q for q in qs))
    if pieces["failed"]:  # some D not positive definite: a point outside the support
        zeros = np.zeros(n_lams)
        return (np.inf, 0.0, 0.0, zeros, np.zeros(k), 0.0, zeros.copy())
    return (
        pieces["A"],
        pieces["B"],
        pieces["dA_ds2"],
        np.concatenate([m.reshape(-1) for m in pieces["dA_dlam"]]),
        pieces["dB_da"],
        pieces["dB_ds2"],
        np.concatenate([m.reshape(-1) for m in pieces["dB_dlam"]]),
    )


class NestedMarginal(Op):
    """``A``, ``B`` and their derivatives for levels of ``qs`` varying terms and ``K`` columns.

    Inputs: ``stats``, ``structure``, ``a`` (K,), ``s2``, ``lams`` (see the module docstring).
    Outputs: ``A``, ``B``, ``dA/ds2``, ``dA/dlams``, ``dB/da``, ``dB/ds2``, ``dB/dlams``; only
    ``A`` and ``B`` are meant to be used, the rest feed :meth:`pullback`.
    """

    __props__ = ("qs", "k")

    def __init__(self, qs: tuple[int, ...], k: int) -> None:
        self.qs, self.k = tuple(int(q) for q in qs), int(k)

    def make_node(self, *inputs: Any) -> Apply:
        stats, structure, a, s2, lams = inputs
        stats = as_tensor_variable(stats, dtype="float64")
        structure = as_tensor_variable(structure, dtype="int64")
        a, s2, lams = (as_tensor_variable(x, dtype="float64") for x in (a, s2, lams))
        outputs = [dscalar(), dscalar(), dscalar(), dvector(), dvector(), dscalar(), dvector()]
        return Apply(self, [stats, structure, a, s2, lams], outputs)

    def perform(self, node: Apply, inputs: Any, outputs: Any) -> None:
        stats, structure, a, s2, lams = inputs
        values = nested_marginal_numpy(stats, structure, a, float(s2), lams, self.qs, self.k)
        for storage, value in zip(outputs, values, strict=True):
            storage[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node: Apply, shapes: list[Any]) -> list[Any]:
        n_lams = sum(q * q for q in self.qs)
        return [(), (), (), (n_lams,), (self.k,), (), (n_lams,)]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # The statistics and the structure are data: no derivative is taken with respect to them.
        return [[False] * 7, [False] * 7] + [[True] * 7 for _ in range(3)]

    def pullback(self, inputs: Any, outputs: Any, cotangents: Any) -> list[Any]:
        for g in cotangents[2:]:
            if not isinstance(g.type, DisconnectedType):
                raise NotImplementedError("NestedMarginal has no second derivatives.")
        g_a, g_b = (None if isinstance(g.type, DisconnectedType) else g for g in cotangents[:2])
        _, _, da_ds2, da_dlam, db_da, db_ds2, db_dlam = outputs
        a, s2, lams = inputs[2:]
        grad_a, grad_s2, grad_lam = a.zeros_like(), s2.zeros_like(), lams.zeros_like()
        if g_a is not None:
            grad_s2 = grad_s2 + g_a * da_ds2
            grad_lam = grad_lam + g_a * da_dlam
        if g_b is not None:
            grad_a = grad_a + g_b * db_da
            grad_s2 = grad_s2 + g_b * db_ds2
            grad_lam = grad_lam + g_b * db_dlam
        return [disconnected_type(), disconnected_type(), grad_a, grad_s2, grad_lam]


register_numba(NestedMarginal)
