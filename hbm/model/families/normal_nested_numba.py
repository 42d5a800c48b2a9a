"""The numba kernel of :class:`~hbm.model.families.normal_nested_op.NestedMarginal`.

The same algebra as :mod:`hbm.model.families.normal_nested_algebra` (read it there), as loops:
one pass over each level's groups up (innermost first), one down (outermost first). The
innermost level — most of the groups — is handled apart: its groups receive no messages, so
their own block ``D``, cross block ``C`` and vector ``t`` come from their statistics alone, and
the pass down computes them again rather than storing them (a group costs a few dozen floating
point operations either way, and memory traffic is what a pass over 10,000 groups spends its time
on). The levels above store ``D^-1``, ``C`` and ``t`` from the pass up, and the blocks of
``P^-1`` and ``v`` over each chain for the level below.

PyTensor caches the compiled kernel on disk, keyed by :func:`source_version`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.model.families.normal_nested_leaves import build_scalar_leaves

__all__ = ["register_numba", "source_version"]


def register_numba(op_class: type) -> None:
    """Register the numba implementation of ``op_class`` (the NestedMarginal Op)."""
    from pytensor.link.numba.dispatch.basic import (
        numba_njit,
        register_funcify_default_op_cache_key,
    )

    @register_funcify_default_op_cache_key(op_class)
    def numba_funcify_nested_marginal(op: Any, node: Any, **kwargs: Any) -> Any:
        return build_kernel(op.qs, op.k, numba_njit), source_version()


def build_kernel(qs_tuple: tuple[int, ...], k: int, njit: Any) -> Any:
    """The kernel for levels of ``qs_tuple`` varying terms and ``k`` design columns."""
    qs = np.asarray(qs_tuple, dtype=np.int64)
    depth = len(qs_tuple)
    widths = np.concatenate([[0], np.cumsum(qs)]).astype(np.int64)  # A_l = widths[l]
    lam_offsets = np.concatenate([[0], np.cumsum(qs * qs)]).astype(np.int64)
    rows = np.array(
        [q * k + q * (q + 1) // 2 + q * widths[i] for i, q in enumerate(qs_tuple)], np.int64
    )
    n_lams = int(lam_offsets[-1])
    chain_max = int(widths[depth])
    leaf = depth - 1

    @njit
    def own_block(stats, base, q, width, a, s2, lam, d, c, t):  # type: ignore[no-untyped-def]
        """A group's own statistics: ``D = Z'Z + s2 Lambda``, ``C``, ``t = ZW a``."""
        p = base + q * k
        for i in range(q):
            for m in range(i + 1):
                d[i, m] = stats[p] + s2 * lam[i * q + m]
                d[m, i] = d[i, m]
                p += 1
        for i in range(q):
            for m in range(width):
                c[i, m] = stats[p]
                p += 1
            total = 0.0
            for col in range(k):
                total += stats[base + i * k + col] * a[col]
            t[i] = total

    @njit
    def invert(d, q, low, inv_low, dinv):  # type: ignore[no-untyped-def]
        """``D^-1`` through its Cholesky factor; ``log|D|``, or inf if not positive definite."""
        if q == 1:
            if not d[0, 0] > 0.0:
                return np.inf
            dinv[0, 0] = 1.0 / d[0, 0]
            return np.log(d[0, 0])
        log_det = 0.0
        for i in range(q):
            for m in range(i + 1):
                value = d[i, m]
                for c in range(m):
                    value -= low[i, c] * low[m, c]
                if i == m:
                    if not value > 0.0:
                        return np.inf
                    low[i, i] = np.sqrt(value)
                    log_det += np.log(value)
                else:
                    low[i, m] = value / low[m, m]
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
                dinv[i, m] = value
                dinv[m, i] = value
        return log_det

    up_scalar_leaves, down_scalar_leaves = build_scalar_leaves(k, int(rows[leaf]), njit)

    @njit
    def kernel(stats, structure, a, s2_array, lams):  # type: ignore[no-untyped-def]
        s2 = s2_array.item()
        sizes = structure[:depth]
        parent_start = np.zeros(depth, dtype=np.int64)
        stat_start = np.zeros(depth, dtype=np.int64)
        keep_d = np.zeros(depth + 1, dtype=np.int64)
        keep_c = np.zeros(depth + 1, dtype=np.int64)
        keep_t = np.zeros(depth + 1, dtype=np.int64)
        position = depth
        total = 0
        for level in range(depth):
            if level:
                parent_start[level] = position
                position += sizes[level]
            stat_start[level] = total
            total += sizes[level] * rows[level]
            q = qs[level]
            stored = sizes[level] if level < leaf else 0
            keep_d[level + 1] = keep_d[level] + stored * q * q
            keep_c[level + 1] = keep_c[level] + stored * q * widths[level]
            keep_t[level + 1] = keep_t[level] + stored * q
        dinv_all = np.empty(keep_d[depth])
        c_all = np.empty(keep_c[depth])
        t_all = np.empty(keep_t[depth])
        d = np.zeros((chain_max, chain_max))
        dinv = np.zeros((chain_max, chain_max))
        low = np.zeros((chain_max, chain_max))
        inv_low = np.zeros((chain_max, chain_max))
        c = np.zeros((chain_max, chain_max))
        t = np.zeros(chain_max)
        dt = np.zeros(chain_max)
        e = np.zeros((chain_max, chain_max))
        work = np.zeros((chain_max, chain_max))
        vec = np.zeros(chain_max)
        totals = np.zeros(2)
        log_det = 0.0
        quad = 0.0
        incoming = np.zeros(1)
        incoming_v = np.zeros(1)
        for level in range(depth - 1, -1, -1):
            q = qs[level]
            width = widths[level]
            chain = width + q
            lam = lams[lam_offsets[level] : lam_offsets[level + 1]]
            if level:
                out_m = np.zeros(sizes[level - 1] * width * width)
                out_v = np.zeros(sizes[level - 1] * width)
            else:
                out_m = np.zeros(1)
                out_v = np.zeros(1)
            if level == leaf and q == 1:
                up_scalar_leaves(
                    stats,
                    structure,
                    a,
                    s2,
                    lam[0],
                    width,
                    stat_start[level],
                    parent_start[level],
                    sizes[level],
                    out_m,
                    out_v,
                    totals,
                )
                if totals[0] == np.inf:
                    log_det = np.inf
                    break
                log_det += totals[0]
                quad += totals[1]
                incoming = out_m
                incoming_v = out_v
                continue
            for g in range(sizes[level]):
                base = stat_start[level] + g * rows[level]
                own_block(stats, base, q, width, a, s2, lam, d, c, t)
                if level < leaf:  # add the children's messages, then keep D^-1, C, t
                    for i in range(chain):
                        vec[i] = incoming_v[g * chain + i]
                        for m in range(chain):
                            work[i, m] = incoming[(g * chain + i) * chain + m]
                    for i in range(q):
                        t[i] += vec[width + i]
                        for m in range(q):
                            d[i, m] += work[width + i, width + m]
                        for m in range(width):
                            c[i, m] += work[width + i, m]
                value = invert(d, q, low, inv_low, dinv)
                if value == np.inf:
                    log_det = np.inf
                    break
                log_det += value
                for i in range(q):
                    total_dt = 0.0
                    for m in range(q):
                        total_dt += dinv[i, m] * t[m]
                    dt[i] = total_dt
                    quad += t[i] * total_dt
                if level < leaf:
                    d0 = keep_d[level] + g * q * q
                    for i in range(q):
                        t_all[keep_t[level] + g * q + i] = t[i]
                        for m in range(q):
                            dinv_all[d0 + i * q + m] = dinv[i, m]
                        for m in range(width):
                            c_all[keep_c[level] + (g * q + i) * width + m] = c[i, m]
                if level:
                    parent = structure[parent_start[level] + g]
                    for i in range(q):
                        for m in range(width):
                            value = 0.0
                            for j in range(q):
                                value += dinv[i, j] * c[j, m]
                            e[i, m] = value
                    for m in range(width):
                        value = vec[m] if level < leaf else 0.0
                        for i in range(q):
                            value -= c[i, m] * dt[i]
                        out_v[parent * width + m] += value
                        for n in range(width):
                            value = work[m, n] if level < leaf else 0.0
                            for i in range(q):
                                value -= c[i, m] * e[i, n]
                            out_m[(parent * width + m) * width + n] += value
            if log_det == np.inf:
                break
            incoming = out_m
            incoming_v = out_v

        da_ds2 = 0.0
        db_ds2 = 0.0
        da_dlam = np.zeros(n_lams)
        db_dlam = np.zeros(n_lams)
        db_da = np.zeros(k)
        if log_det == np.inf:  # some D not positive definite: a point outside the support
            return (
                np.asarray(np.inf),
                np.asarray(0.0),
                np.asarray(0.0),
                da_dlam,
                db_da,
                np.asarray(0.0),
                db_dlam,
            )
        prev_s = np.zeros(1)
        prev_v = np.zeros(1)
        x = np.zeros(chain_max)
        s_own = np.zeros((chain_max, chain_max))
        es = np.zeros((chain_max, chain_max))
        for level in range(depth):
            q = qs[level]
            width = widths[level]
            chain = width + q
            lam = lams[lam_offsets[level] : lam_offsets[level + 1]]
            lo = lam_offsets[level]
            keep_chain = level < leaf
            n_keep = sizes[level] if keep_chain else 0
            cur_s = np.zeros(n_keep * chain * chain)
            cur_v = np.zeros(n_keep * chain)
            if level == leaf and q == 1:
                down_scalar_leaves(
                    stats,
                    structure,
                    a,
                    s2,
                    lam[0],
                    width,
                    stat_start[level],
                    parent_start[level],
                    sizes[level],
                    prev_s,
                    prev_v,
                    totals,
                    db_da,
                )
                da_dlam[lo] += totals[0]
                da_ds2 += totals[0] * lam[0]
                db_dlam[lo] += totals[1]
                db_ds2 += totals[1] * lam[0]
                continue
            for g in range(sizes[level]):
                base = stat_start[level] + g * rows[level]
                if level == leaf:
                    own_block(stats, base, q, width, a, s2, lam, d, c, t)
                    invert(d, q, low, inv_low, dinv)
                else:
                    d0 = keep_d[level] + g * q * q
                    for i in range(q):
                        t[i] = t_all[keep_t[level] + g * q + i]
                        for m in range(q):
                            dinv[i, m] = dinv_all[d0 + i * q + m]
                        for m in range(width):
                            c[i, m] = c_all[keep_c[level] + (g * q + i) * width + m]
                parent = structure[parent_start[level] + g] if level else 0
                # x = D^-1 (t - C v_anc);  E = D^-1 C;  ES = E S_anc;  S_oo = D^-1 + ES E'
                for i in range(q):
                    value = t[i]
                    for m in range(width):
                        value -= c[i, m] * prev_v[parent * width + m]
                    dt[i] = value
                for i in range(q):
                    value = 0.0
                    for m in range(q):
                        value += dinv[i, m] * dt[m]
                    x[i] = value
                    for m in range(width):
                        value = 0.0
                        for j in range(q):
                            value += dinv[i, j] * c[j, m]
                        e[i, m] = value
                for i in range(q):
                    for m in range(width):
                        value = 0.0
                        for j in range(width):
                            value += e[i, j] * prev_s[(parent * width + j) * width + m]
                        es[i, m] = value
                for i in range(q):
                    for m in range(q):
                        value = dinv[i, m]
                        for j in range(width):
                            value += es[i, j] * e[m, j]
                        s_own[i, m] = value
                for i in range(q):
                    for m in range(q):
                        da_dlam[lo + i * q + m] += s_own[i, m]
                        da_ds2 += s_own[i, m] * lam[m * q + i]
                        db_dlam[lo + i * q + m] -= x[i] * x[m]
                        db_ds2 -= x[i] * lam[i * q + m] * x[m]
                    for col in range(k):
                        db_da[col] += 2.0 * stats[base + i * k + col] * x[i]
                if keep_chain:
                    s0 = g * chain * chain
                    for i in range(width):
                        cur_v[g * chain + i] = prev_v[parent * width + i]
                        for m in range(width):
                            cur_s[s0 + i * chain + m] = prev_s[(parent * width + i) * width + m]
                    for i in range(q):
                        cur_v[g * chain + width + i] = x[i]
                        for m in range(width):
                            cur_s[s0 + (width + i) * chain + m] = -es[i, m]
                            cur_s[s0 + m * chain + width + i] = -es[i, m]
                        for m in range(q):
                            cur_s[s0 + (width + i) * chain + width + m] = s_own[i, m]
            prev_s = cur_s
            prev_v = cur_v
        for i in range(n_lams):
            da_dlam[i] *= s2
            db_dlam[i] *= s2
        return (
            np.asarray(log_det),
            np.asarray(quad),
            np.asarray(da_ds2),
            da_dlam,
            db_da,
            np.asarray(db_ds2),
            db_dlam,
        )

    return kernel


def source_version() -> int:
    """A number that changes with this module's source, so that PyTensor's disk cache never
    serves a kernel compiled from an earlier version of it."""
    import hashlib
    import inspect
    import sys

    sources = [sys.modules[__name__], sys.modules[build_scalar_leaves.__module__]]
    text = "".join(inspect.getsource(module) for module in sources)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return int(digest[:15], 16)
