"""One PyTensor Op for the per-group part of the normal marginal likelihood, with its gradient.

With one grouping factor, the marginal log likelihood of a formula model
(:mod:`hbm.model.families.normal_cells`) needs, per group ``j``, a ``q x q`` matrix and a
``q``-vector::

    P_j = Z_j'Z_j + s2 Lambda,        b_j = ZW_j a

(``s2 = sigma^2``, ``Lambda = Sigma^-1``, ``ZW_j`` the group's ``q x K`` cross-products of its
varying columns with the shifted design columns, ``a`` the residuals' coefficients), and from
them two sums over the groups::

    A = sum_j log|P_j|,               B = sum_j b_j' P_j^-1 b_j

:class:`GroupMarginal` computes both in one pass over the groups, together with their
derivatives (``v_j = P_j^-1 b_j``)::

    dA/ds2 = sum_j tr(P_j^-1 Lambda)    dA/dLambda = s2 sum_j P_j^-1
    dB/da  = 2 sum_j ZW_j' v_j          dB/ds2 = -sum_j v_j' Lambda v_j
    dB/dLambda = -s2 sum_j v_j v_j'

so that NUTS's log density and gradient cost one loop over the groups. Written as elementwise
tensor algebra instead, the same computation is a graph of hundreds of nodes that PyTensor
rewrites for seconds on every fit, and its evaluation makes a pass over the groups per node.

The Op runs in numba (nutpie's backend; cached on disk like PyTensor's own Ops; the kernels are
in :mod:`hbm.model.families.normal_marginal_kernels`) and in numpy (``perform``, for PyTensor's
other backends). The statistics are one ``(J, P)`` matrix, a row per
group (:func:`pack_groups`): ``q * K`` entries of ``ZW_j`` (row-major), then the lower triangle
of ``Z_j'Z_j`` row by row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor import as_tensor_variable, dmatrix, dscalar, dvector

__all__ = ["GroupMarginal", "group_marginal_numpy", "pack_groups"]


def pack_groups(zw: np.ndarray, ztz: np.ndarray) -> np.ndarray:
    """``ZW`` (J, q, K) and ``Z'Z`` (J, q, q) as the Op's ``(J, q K + q (q + 1) / 2)`` matrix."""
    n_groups, q, _ = zw.shape
    lower = np.tril_indices(q)
    return np.ascontiguousarray(
        np.concatenate([zw.reshape(n_groups, -1), ztz[:, lower[0], lower[1]]], axis=1)
    )


def _unpack(stats: np.ndarray, q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    n_groups = stats.shape[0]
    zw = stats[:, : q * k].reshape(n_groups, q, k)
    ztz = np.empty((n_groups, q, q))
    lower = np.tril_indices(q)
    ztz[:, lower[0], lower[1]] = stats[:, q * k :]
    ztz[:, lower[1], lower[0]] = stats[:, q * k :]
    return zw, ztz


def group_marginal_numpy(
    stats: np.ndarray, a: np.ndarray, s2: float, lam: np.ndarray, q: int, k: int
) -> tuple[Any, ...]:
    """The Op's seven outputs with numpy, all groups at once (see the module docstring)."""
    zw, ztz = _unpack(stats, q, k)
    p = ztz + s2 * lam
    lower = np.linalg.cholesky(p)
    log_det = 2.0 * np.log(np.diagonal(lower, axis1=1, axis2=2)).sum()
    b = zw @ a
    inverse = np.linalg.inv(p)
    v = np.einsum("jab,jb->ja", inverse, b)
    outer = np.einsum("ja,jb->ab", v, v)
    inverse_sum = inverse.sum(axis=0)
    return (
        np.asarray(log_det),
        np.asarray(float(np.einsum("ja,ja->", b, v))),
        np.asarray(float(np.sum(inverse_sum * lam.T))),
        s2 * inverse_sum,
        2.0 * np.einsum("jak,ja->k", zw, v),
        np.asarray(-float(np.sum(outer * lam))),
        -s2 * outer,
    )


class GroupMarginal(Op):
    """``A``, ``B`` and their derivatives for ``q`` varying terms and ``K`` design columns.

    Inputs: ``stats`` (J, P), ``a`` (K,), ``s2`` (scalar), ``lam`` (q, q). Outputs: ``A``, ``B``,
    ``dA/ds2``, ``dA/dLambda``, ``dB/da``, ``dB/ds2``, ``dB/dLambda``. Only ``A`` and ``B`` are
    meant to be used; the rest feed :meth:`pullback`.
    """

    __props__ = ("q", "k")

    def __init__(self, q: int, k: int) -> None:
        self.q, self.k = int(q), int(k)

    def make_node(self, *inputs: Any) -> Apply:
        stats, a, s2, lam = inputs
        inputs = tuple(as_tensor_variable(x, dtype="float64") for x in (stats, a, s2, lam))
        outputs = [dscalar(), dscalar(), dscalar(), dmatrix(), dvector(), dscalar(), dmatrix()]
        return Apply(self, list(inputs), outputs)

    def perform(self, node: Apply, inputs: Any, outputs: Any) -> None:
        stats, a, s2, lam = inputs
        values = group_marginal_numpy(stats, a, float(s2), lam, self.q, self.k)
        for storage, value in zip(outputs, values, strict=True):
            storage[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node: Apply, shapes: list[Any]) -> list[Any]:
        q, k = self.q, self.k
        return [(), (), (), (q, q), (k,), (), (q, q)]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # The statistics are data: no derivative is taken with respect to them.
        return [[False] * 7] + [[True] * 7 for _ in range(3)]

    def pullback(self, inputs: Any, outputs: Any, cotangents: Any) -> list[Any]:
        for g in cotangents[2:]:
            if not isinstance(g.type, DisconnectedType):
                raise NotImplementedError("GroupMarginal has no second derivatives.")
        g_a, g_b = (None if isinstance(g.type, DisconnectedType) else g for g in cotangents[:2])
        _, _, da_ds2, da_dlam, db_da, db_ds2, db_dlam = outputs
        a, s2, lam = inputs[1:]
        grad_a, grad_s2, grad_lam = a.zeros_like(), s2.zeros_like(), lam.zeros_like()
        if g_a is not None:
            grad_s2 = grad_s2 + g_a * da_ds2
            grad_lam = grad_lam + g_a * da_dlam
        if g_b is not None:
            grad_a = grad_a + g_b * db_da
            grad_s2 = grad_s2 + g_b * db_ds2
            grad_lam = grad_lam + g_b * db_dlam
        return [disconnected_type(), grad_a, grad_s2, grad_lam]


def _register_numba() -> None:
    """The numba implementation of :class:`GroupMarginal` (imported with nutpie's backend)."""
    from pytensor.link.numba.dispatch.basic import (
        numba_njit,
        register_funcify_default_op_cache_key,
    )

    from hbm.model.families.normal_marginal_kernels import marginal_kernel, source_version

    @register_funcify_default_op_cache_key(GroupMarginal)
    def numba_funcify_group_marginal(op: GroupMarginal, node: Apply, **kwargs: Any) -> Any:
        return numba_njit(marginal_kernel(op.q, op.k)), source_version()


_register_numba()
