"""The numba kernels of :class:`~hbm.model.families.normal_marginal_op.GroupMarginal`.

One pass over the groups computes ``A = sum_j log|P_j|``, ``B = sum_j b_j' P_j^-1 b_j`` and their
derivatives (the formulas are in :mod:`hbm.model.families.normal_marginal_op`). The general loop
handles any ``q``; for ``q = 1`` and ``q = 2`` the same operations, in the same order, are written
with local scalars, which the compiler keeps in registers (a quarter less time per gradient; the
values are equal bit for bit, ``tests/test_linear_likelihood.py``). :func:`source_version`
changes with this module's kernels, so that PyTensor's disk cache never serves a kernel compiled
from an earlier version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["marginal_kernel", "source_version"]


def marginal_kernel(q: int, k: int, *, general: bool = False) -> Any:
    """The Python function that numba compiles for :class:`GroupMarginal` with ``q`` varying
    terms and ``k`` design columns.

    For ``q = 1`` and ``q = 2`` (a varying intercept; an intercept and a slope: the common cases)
    the per-group matrices are held in local scalars instead of small arrays, so that the loop
    over the groups keeps them in registers: a quarter less time per gradient, the same operations
    in the same order as the general loop (``general=True``), so the same values bit for bit
    (``tests/test_linear_likelihood.py`` checks it).
    """
    if q == 1 and not general:
        return _kernel_one(k)
    if q == 2 and not general:
        return _kernel_two(k)
    return _kernel_general(q, k)


def _kernel_one(k: int) -> Any:
    def group_marginal_one(stats, a, s2_array, lam):  # type: ignore[no-untyped-def]
        s2 = s2_array.item()
        log_det = 0.0
        quad = 0.0
        da_ds2 = 0.0
        db_ds2 = 0.0
        a00 = 0.0
        d00 = 0.0
        db_da = np.zeros(k)
        l00 = lam[0, 0]
        failed = False
        for j in range(stats.shape[0]):
            p00 = stats[j, k] + s2 * l00
            b0 = 0.0
            for c in range(k):
                b0 += stats[j, c] * a[c]
            if p00 <= 0.0:
                failed = True
                break
            i00 = 1.0 / p00
            log_det += np.log(p00)
            v0 = i00 * b0
            quad += b0 * v0
            a00 += i00
            da_ds2 += i00 * l00
            d00 -= v0 * v0
            db_ds2 -= v0 * l00 * v0
            for c in range(k):
                db_da[c] += 2.0 * stats[j, c] * v0
        if failed:  # P_j not positive: a point outside the support
            log_det = np.inf
        da_dlam = np.empty((1, 1))
        db_dlam = np.empty((1, 1))
        da_dlam[0, 0] = a00 * s2
        db_dlam[0, 0] = d00 * s2
        return (
            np.asarray(log_det),
            np.asarray(quad),
            np.asarray(da_ds2),
            da_dlam,
            db_da,
            np.asarray(db_ds2),
            db_dlam,
        )

    return group_marginal_one


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


def source_version() -> int:
    """A number that changes with the numba implementation's source, so that PyTensor's disk
    cache never serves a kernel compiled from an earlier version of it."""
    import hashlib
    import inspect

    source = "".join(
        inspect.getsource(f) for f in (marginal_kernel, _kernel_one, _kernel_two, _kernel_general)
    )
    return int(hashlib.sha256(source.encode()).hexdigest()[:15], 16)
