"""One PyTensor Op for the part of a Poisson or binomial likelihood that needs the rows.

A Poisson (log link) or binomial (logit link) unit with outcome ``y``, weight ``w`` (exposure or
trials) and linear predictor ``eta`` contributes ``y eta - w k(eta)`` to the log likelihood, with
``k(eta) = e^eta`` (Poisson) or ``log(1 + e^eta)`` (binomial). The linear predictor of unit ``i``
is::

    eta_i = offset_i + shift + X_i' b + sum_m mult_im theta[index_im]

(``b`` the population coefficients on the unit's design row ``X_i``, ``shift`` a scalar,
``theta`` every grouping factor's coefficients flattened, ``index_im`` the position in ``theta``
of the ``m``-th varying term of the unit's group and ``mult_im`` its covariate value, 1 for an
intercept). The first term is linear in the parameters, so ``sum_i y_i eta_i`` is exact from
totals computed once (``sum y offset``, ``sum y``, ``X'y`` and the per-group ``sum y z``: the
sufficient statistics of the linear part; :func:`linear_totals`). Only::

    S = sum_i w_i k(eta_i)

needs the rows. :class:`RowsKernel` computes ``S`` and its derivatives (``k'(eta) = e^eta`` or
the logistic function)::

    dS/dshift = sum_i w_i k'(eta_i),   dS/db = X' (w k'(eta)),
    dS/dtheta[p] = sum_{i, m: index_im = p} mult_im w_i k'(eta_i)

in one pass over the rows. Written as tensor algebra instead (a gather per factor, the
elementwise terms, their gradients' scatter-adds), the same computation is several passes over
the rows per log-density evaluation and a graph that PyTensor rewrites on every fit.

The Op runs in numba (nutpie's backend; cached on disk like PyTensor's own Ops) and in numpy
(``perform``, for PyTensor's other backends).

>>> import numpy as np
>>> off, x, w = np.zeros(3), np.array([[0.5], [-1.0], [2.0]]), np.ones(3)
>>> index, mult = np.array([[0], [1], [1]]), np.ones((3, 1))
>>> s, *_ = rows_kernel_numpy("exp", off, x, w, index, mult, 0.1, np.array([0.2]),
...                           np.array([-0.3, 0.4]))
>>> eta = 0.1 + 0.2 * x[:, 0] + np.array([-0.3, 0.4, 0.4])
>>> bool(np.isclose(s, np.exp(eta).sum()))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor import as_tensor_variable, dscalar, dvector

__all__ = ["KERNELS", "RowsKernel", "linear_totals", "rows_kernel_numpy"]

#: The kernels ``k`` by name: ``exp`` (Poisson, log link), ``softplus`` (binomial, logit link).
KERNELS = ("exp", "softplus")


def linear_totals(
    y: np.ndarray, offset: np.ndarray, x: np.ndarray, index: np.ndarray, mult: np.ndarray, p: int
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """``sum y offset``, ``sum y``, ``X'y`` and ``ty`` (``ty[p] = sum y_i mult_im`` over
    ``index_im = p``): with them ``sum_i y_i eta_i = c + Y shift + (X'y)' b + ty' theta``.

    >>> y = np.array([1.0, 2.0, 3.0])
    >>> c, total, xy, ty = linear_totals(y, np.zeros(3), np.ones((3, 1)),
    ...                                  np.array([[0], [1], [1]]), np.ones((3, 1)), 2)
    >>> total, xy.tolist(), ty.tolist()
    (6.0, [6.0], [1.0, 5.0])
    """
    ty = np.bincount(index.ravel(), weights=(y[:, None] * mult).ravel(), minlength=p).astype(
        np.float64
    )
    return float(y @ offset), float(y.sum()), x.T @ y, ty


def _kernel_numpy(kernel: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if kernel == "exp":
        value = np.exp(eta)
        return value, value
    return np.logaddexp(0.0, eta), 0.5 * (1.0 + np.tanh(0.5 * eta))


def rows_kernel_numpy(
    kernel: str,
    offset: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    index: np.ndarray,
    mult: np.ndarray,
    shift: float,
    b: np.ndarray,
    theta: np.ndarray,
) -> tuple[Any, ...]:
    """``S``, ``dS/dshift``, ``dS/db`` and ``dS/dtheta`` with numpy (see the module docstring)."""
    eta = offset + shift + x @ b + (mult * theta[index]).sum(axis=1)
    value, slope = _kernel_numpy(kernel, eta)
    d = w * slope
    d_theta = np.bincount(index.ravel(), weights=(d[:, None] * mult).ravel(), minlength=theta.size)
    return (
        np.asarray(float(w @ value)),
        np.asarray(float(d.sum())),
        x.T @ d,
        d_theta.astype(np.float64),
    )


class RowsKernel(Op):
    """``S = sum_i w_i k(eta_i)`` and its derivatives, for ``kernel`` in :data:`KERNELS`.

    ``k`` and ``m`` are ``K`` and ``M`` below (part of the structure, so that the compiled loops
    know them). Inputs: ``offset`` (N,), ``x`` (N, K), ``w`` (N,), ``index`` (N, M) int64,
    ``mult`` (N, M),
    then the parameters ``shift`` (scalar), ``b`` (K,) and ``theta`` (P,). Outputs: ``S``,
    ``dS/dshift``, ``dS/db``, ``dS/dtheta``; only ``S`` is meant to be used, the rest feed
    :meth:`pullback`.
    """

    __props__ = ("kernel", "k", "m")

    def __init__(self, kernel: str, k: int, m: int) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}; got {kernel!r}.")
        self.kernel, self.k, self.m = kernel, int(k), int(m)

    def make_node(self, *inputs: Any) -> Apply:
        offset, x, w, index, mult, shift, b, theta = inputs
        floats = [as_tensor_variable(v, dtype="float64") for v in (offset, x, w)]
        index = as_tensor_variable(index, dtype="int64")
        rest = [as_tensor_variable(v, dtype="float64") for v in (mult, shift, b, theta)]
        outputs = [dscalar(), dscalar(), dvector(), dvector()]
        return Apply(self, [*floats, index, *rest], outputs)

    def perform(self, node: Apply, inputs: Any, outputs: Any) -> None:
        offset, x, w, index, mult, shift, b, theta = inputs
        values = rows_kernel_numpy(self.kernel, offset, x, w, index, mult, float(shift), b, theta)
        for storage, value in zip(outputs, values, strict=True):
            storage[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node: Apply, shapes: list[Any]) -> list[Any]:
        return [(), (), shapes[6], shapes[7]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # The rows are data: no derivative is taken with respect to them.
        return [[False] * 4 for _ in range(5)] + [[True] * 4 for _ in range(3)]

    def pullback(self, inputs: Any, outputs: Any, cotangents: Any) -> list[Any]:
        for g in cotangents[1:]:
            if not isinstance(g.type, DisconnectedType):
                raise NotImplementedError("RowsKernel has no second derivatives.")
        g_s = cotangents[0]
        shift, b, theta = inputs[5:]
        if isinstance(g_s.type, DisconnectedType):
            grads = [shift.zeros_like(), b.zeros_like(), theta.zeros_like()]
        else:
            grads = [g_s * outputs[1], g_s * outputs[2], g_s * outputs[3]]
        return [disconnected_type() for _ in range(5)] + grads


def _register_numba() -> None:
    """The numba implementation of :class:`RowsKernel` (imported with nutpie's backend)."""
    from pytensor.link.numba.dispatch.basic import (
        numba_njit,
        register_funcify_default_op_cache_key,
    )

    # exp(v) = 2^k e^r, k = round(v / log 2), |r| <= log(2) / 2, e^r by its Taylor polynomial
    # of degree 13 (truncated below 1e-17 relative): plain arithmetic that LLVM vectorizes, where
    # a call to the C library's exp per unit cannot be (it was most of the kernel's time). 2^k
    # is made from its bits. Arguments outside [-708, 709] (and NaN) take the C library's exp.
    @numba_njit
    def exp_block(x, out, bits, n):  # type: ignore[no-untyped-def]
        for i in range(n):
            v = min(max(x[i], -708.0), 709.0)
            k = np.floor(v * 1.4426950408889634 + 0.5)
            r = (v - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
            p = 1.0 / 6227020800.0
            p = p * r + 1.0 / 479001600.0
            p = p * r + 1.0 / 39916800.0
            p = p * r + 1.0 / 3628800.0
            p = p * r + 1.0 / 362880.0
            p = p * r + 1.0 / 40320.0
            p = p * r + 1.0 / 5040.0
            p = p * r + 1.0 / 720.0
            p = p * r + 1.0 / 120.0
            p = p * r + 1.0 / 24.0
            p = p * r + 1.0 / 6.0
            p = p * r + 0.5
            p = p * r + 1.0
            out[i] = p * r + 1.0
            bits[i] = (np.int64(k) + 1023) << 52
        scale = bits.view(np.float64)
        for i in range(n):
            out[i] *= scale[i]
        for i in range(n):
            if not (-708.0 <= x[i] <= 709.0):
                out[i] = np.exp(x[i])

    @register_funcify_default_op_cache_key(RowsKernel)
    def numba_funcify_rows_kernel(op: RowsKernel, node: Apply, **kwargs: Any) -> Any:
        softplus = op.kernel == "softplus"
        block = 512  # units per block: the buffers stay in the first-level cache
        k, m = op.k, op.m

        @numba_njit
        def rows_kernel(offset, x, w, index, mult, shift_array, b, theta):  # type: ignore[no-untyped-def]
            shift = shift_array.item()
            n = x.shape[0]
            total = 0.0
            d_shift = 0.0
            d_b = np.zeros(k)
            d_theta = np.zeros(theta.shape[0])
            eta = np.empty(block)
            argument = np.empty(block)
            e = np.empty(block)
            d = np.empty(block)
            bits = np.empty(block, dtype=np.int64)
            for start in range(0, n, block):
                size = min(block, n - start)
                for i in range(size):
                    row = start + i
                    value = offset[row] + shift
                    for c in range(k):
                        value += x[row, c] * b[c]
                    for t in range(m):
                        value += mult[row, t] * theta[index[row, t]]
                    eta[i] = value
                    argument[i] = -abs(value) if softplus else value
                exp_block(argument, e, bits, size)
                for i in range(size):
                    weight = w[start + i]
                    if softplus:
                        # log(1 + e^v) = max(v, 0) + log(1 + e^-|v|), and the logistic of v
                        q = e[i]
                        value = max(eta[i], 0.0) + np.log1p(q)
                        slope = 1.0 / (1.0 + q) if eta[i] >= 0.0 else q / (1.0 + q)
                    else:
                        value = e[i]
                        slope = value
                    total += weight * value
                    d[i] = weight * slope
                    d_shift += d[i]
                for c in range(k):
                    acc = 0.0
                    for i in range(size):
                        acc += d[i] * x[start + i, c]
                    d_b[c] += acc
                for t in range(m):
                    for i in range(size):
                        d_theta[index[start + i, t]] += d[i] * mult[start + i, t]
            return np.asarray(total), np.asarray(d_shift), d_b, d_theta

        return rows_kernel, _source_version()


def _source_version() -> int:
    """A number that changes with the numba implementation's source, so that PyTensor's disk
    cache never serves a kernel compiled from an earlier version of it."""
    import hashlib
    import inspect

    digest = hashlib.sha256(inspect.getsource(_register_numba).encode()).hexdigest()
    return int(digest[:15], 16)


_register_numba()
