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

The Op runs in numba (nutpie's backend; cached on disk like PyTensor's own Ops) and in numpy
(``perform``, for PyTensor's other backends). The statistics are one ``(J, P)`` matrix, a row per
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

    @register_funcify_default_op_cache_key(GroupMarginal)
    def numba_funcify_group_marginal(op: GroupMarginal, node: Apply, **kwargs: Any) -> Any:
        return numba_njit(marginal_kernel(op.q, op.k)), _source_version()


def marginal_kernel(q: int, k: int, *, general: bool = False) -> Any:
    """The Python function that numba compiles for :class:`GroupMarginal` with ``q`` varying
    terms and ``k`` design columns.

    For ``q = 2`` (an intercept and a slope, the common case) the per-group matrices are held in
    local scalars instead of small arrays, so that the loop over the groups keeps them in
    registers: a quarter less time per gradient, the same operations in the same order as the
    general loop (``general=True``), so the same values bit for bit
    (``tests/test_linear_likelihood.py`` checks it).
    """
    if q == 2 and not general:
        return _kernel_two(k)
    return _kernel_general(q, k)


def _kernel_two(k: int) -> Any:
    offset = 2 * k

    def group_marginal_two(stats, a, s2_array, lam):  # type: ignore[no-untyped-def]
        s2 = s2_array.item()
        log_det = 0.0
        quad = 0.0
        da_ds2 = 0.0
        db_ds2 = 0.0
        a00 = a01 = a10 = a11 = 0.0  # sums of P_j^-1 (dA/dLambda before the factor s2)
        d00 = d01 = d10 = d11 = 0.0  # minus the sums of v_j v_j' (dB/dLambda likewise)
        db_da = np.zeros(k)
        l00, l01, l10, l11 = lam[0, 0], lam[0, 1], lam[1, 0], lam[1, 1]
        failed = False
        for j in range(stats.shape[0]):
            p00 = stats[j, offset] + s2 * l00
            p10 = stats[j, offset + 1] + s2 * l10
            p11 = stats[j, offset + 2] + s2 * l11
            b0 = 0.0
            for c in range(k):
                b0 += stats[j, c] * a[c]
            b1 = 0.0
            for c in range(k):
                b1 += stats[j, k + c] * a[c]
            det = p00 * p11 - p10 * p10
            if p00 <= 0.0 or det <= 0.0:
                failed = True
                break
            scale = 1.0 / det
            i00 = p11 * scale
            i11 = p00 * scale
            i01 = -p10 * scale
            log_det += np.log(det)
            v0 = i00 * b0 + i01 * b1
            v1 = i01 * b0 + i11 * b1
            # the general loop's order: i = 0 (m = 0, 1), its db_da, then i = 1
            quad += b0 * v0
            a00 += i00
            da_ds2 += i00 * l00
            d00 -= v0 * v0
            db_ds2 -= v0 * l00 * v0
            a01 += i01
            da_ds2 += i01 * l10
            d01 -= v0 * v1
            db_ds2 -= v0 * l01 * v1
            for c in range(k):
                db_da[c] += 2.0 * stats[j, c] * v0
            quad += b1 * v1
            a10 += i01
            da_ds2 += i01 * l01
            d10 -= v1 * v0
            db_ds2 -= v1 * l10 * v0
            a11 += i11
            da_ds2 += i11 * l11
            d11 -= v1 * v1
            db_ds2 -= v1 * l11 * v1
            for c in range(k):
                db_da[c] += 2.0 * stats[j, k + c] * v1
        if failed:  # P_j not positive definite: a point outside the support
            log_det = np.inf
        da_dlam = np.empty((2, 2))
        db_dlam = np.empty((2, 2))
        da_dlam[0, 0], da_dlam[0, 1], da_dlam[1, 0], da_dlam[1, 1] = a00, a01, a10, a11
        db_dlam[0, 0], db_dlam[0, 1], db_dlam[1, 0], db_dlam[1, 1] = d00, d01, d10, d11
        for i in range(2):
            for m in range(2):
                da_dlam[i, m] *= s2
                db_dlam[i, m] *= s2
        return (
            np.asarray(log_det),
            np.asarray(quad),
            np.asarray(da_ds2),
            da_dlam,
            db_da,
            np.asarray(db_ds2),
            db_dlam,
        )

    return group_marginal_two


def _kernel_general(q: int, k: int) -> Any:
    offset = q * k

    def group_marginal(stats, a, s2_array, lam):  # type: ignore[no-untyped-def]
        s2 = s2_array.item()
        log_det = 0.0
        quad = 0.0
        da_ds2 = 0.0
        db_ds2 = 0.0
        da_dlam = np.zeros((q, q))
        db_da = np.zeros(k)
        db_dlam = np.zeros((q, q))
        p = np.empty((q, q))
        inverse = np.empty((q, q))
        low = np.zeros((q, q))
        inv_low = np.zeros((q, q))
        b = np.empty(q)
        v = np.empty(q)
        failed = False
        for j in range(stats.shape[0]):
            row = stats[j]
            position = offset
            for i in range(q):
                for m in range(i + 1):
                    p[i, m] = row[position] + s2 * lam[i, m]
                    p[m, i] = p[i, m]
                    position += 1
                total = 0.0
                for c in range(k):
                    total += row[i * k + c] * a[c]
                b[i] = total
            if q == 1:
                if p[0, 0] <= 0.0:
                    failed = True
                    break
                inverse[0, 0] = 1.0 / p[0, 0]
                log_det += np.log(p[0, 0])
                v[0] = inverse[0, 0] * b[0]
            elif q == 2:
                det = p[0, 0] * p[1, 1] - p[1, 0] * p[1, 0]
                if p[0, 0] <= 0.0 or det <= 0.0:
                    failed = True
                    break
                scale = 1.0 / det
                inverse[0, 0] = p[1, 1] * scale
                inverse[1, 1] = p[0, 0] * scale
                inverse[0, 1] = inverse[1, 0] = -p[1, 0] * scale
                log_det += np.log(det)
                v[0] = inverse[0, 0] * b[0] + inverse[0, 1] * b[1]
                v[1] = inverse[1, 0] * b[0] + inverse[1, 1] * b[1]
            else:
                # Cholesky factor L of P_j, L^-1, then P^-1 = L^-T L^-1 and v = P^-1 b
                product = 1.0
                for i in range(q):
                    for m in range(i + 1):
                        value = p[i, m]
                        for c in range(m):
                            value -= low[i, c] * low[m, c]
                        if i == m:
                            if value <= 0.0:
                                failed = True
                                break
                            low[i, i] = np.sqrt(value)
                            product *= value
                        else:
                            low[i, m] = value / low[m, m]
                    if failed:
                        break
                if failed:
                    break
                log_det += np.log(product)
                for i in range(q):
                    inv_low[i, i] = 1.0 / low[i, i]
                    for m in range(i):
                        value = 0.0
                        for c in range(m, i):
                            value -= low[i, c] * inv_low[c, m]
                        inv_low[i, m] = value * inv_low[i, i]
                for i in range(q):
                    for m in range(i + 1):
                        value = 0.0
                        for c in range(i, q):
                            value += inv_low[c, i] * inv_low[c, m]
                        inverse[i, m] = inverse[m, i] = value
                for i in range(q):
                    value = 0.0
                    for c in range(q):
                        value += inverse[i, c] * b[c]
                    v[i] = value
            for i in range(q):
                quad += b[i] * v[i]
                for m in range(q):
                    da_dlam[i, m] += inverse[i, m]
                    da_ds2 += inverse[i, m] * lam[m, i]
                    db_dlam[i, m] -= v[i] * v[m]
                    db_ds2 -= v[i] * lam[i, m] * v[m]
                for c in range(k):
                    db_da[c] += 2.0 * row[i * k + c] * v[i]
        if failed:  # P_j not positive definite: a point outside the support
            log_det = np.inf
        for i in range(q):
            for m in range(q):
                da_dlam[i, m] *= s2
                db_dlam[i, m] *= s2
        return (
            np.asarray(log_det),
            np.asarray(quad),
            np.asarray(da_ds2),
            da_dlam,
            db_da,
            np.asarray(db_ds2),
            db_dlam,
        )

    return group_marginal


def _source_version() -> int:
    """A number that changes with the numba implementation's source, so that PyTensor's disk
    cache never serves a kernel compiled from an earlier version of it."""
    import hashlib
    import inspect

    source = "".join(
        inspect.getsource(f)
        for f in (_register_numba, marginal_kernel, _kernel_two, _kernel_general)
    )
    return int(hashlib.sha256(source.encode()).hexdigest()[:15], 16)


_register_numba()
