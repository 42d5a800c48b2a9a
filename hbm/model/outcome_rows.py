"""An outcome model's log likelihood over its units: one fused Op, or the tensor graph.

The linear predictor of unit ``i`` (:mod:`hbm.model.outcome_build`)::

    eta_i = offset_i + shift + x_i' b + sum_f sum_t z_fti c_f[group_f(i), t]

(``x`` the free population columns, centred, with their coefficients ``b``; ``shift`` what the
centered factors' owned covariates move it by; ``c_f`` factor ``f``'s coefficients, a
``(J_f, q_f)`` tensor, and ``z_ft`` the column of its ``t``-th varying term, ``None`` for an
intercept).

- :func:`fused_log_likelihood`, for the families in :data:`ROWS_KERNELS` (Poisson, binomial):
  the linear part ``sum_i y_i eta_i`` from its sufficient statistics (a few totals, computed
  once), the rest from :class:`~hbm.model.families.rows_kernel_op.RowsKernel` (one pass over the
  units per evaluation, with its gradient). The same value as the graph, summed in another order.
- :func:`linear_predictor`: ``eta`` as tensor algebra (a gather per varying term), which any
  family's ``logp`` takes (negative binomial and Student-t, whose own parameters enter each
  unit's term).

Data enter as shared variables, so the compiled model depends on the structure only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hbm.data.outcome_data import OutcomeData
from hbm.model.families.rows_kernel_op import RowsKernel, linear_totals

__all__ = ["ROWS_KERNELS", "FactorTerm", "fused_log_likelihood", "linear_predictor", "row_layout"]

#: The families whose likelihood the fused Op computes, and its kernel for each.
ROWS_KERNELS = {"poisson": "exp", "binomial": "softplus"}


@dataclass(frozen=True)
class FactorTerm:
    """A grouping factor's part of the linear predictor: ``coefficients`` (a ``(J, q)`` tensor
    of ``J = n_groups``), each unit's group (``codes``) and each varying term's column."""

    name: str
    coefficients: Any
    n_groups: int
    codes: np.ndarray
    columns: list[np.ndarray]

    def column(self, t: int) -> np.ndarray | None:
        """Term ``t``'s column, or ``None`` when it is all ones (an intercept)."""
        values = self.columns[t]
        return None if np.all(values == 1.0) else values


def row_layout(terms: list[FactorTerm]) -> tuple[np.ndarray, np.ndarray, int]:
    """``index`` (U, M) and ``mult`` (U, M) of the Op, and the length ``P`` of ``theta``.

    ``theta`` is the factors' coefficients flattened in order, each ``(J, q)`` row by row: the
    ``t``-th term of factor ``f`` for a unit in group ``j`` sits at ``start_f + j q_f + t``.

    >>> term = FactorTerm("g", None, 3, np.array([0, 2, 1]), [np.ones(3), np.array([1., 2., 3.])])
    >>> index, mult, p = row_layout([term])
    >>> index.tolist(), mult[:, 1].tolist(), p
    ([[0, 1], [4, 5], [2, 3]], [1.0, 2.0, 3.0], 6)
    """
    indices, mults, start = [], [], 0
    for term in terms:
        q = len(term.columns)
        for t in range(q):
            indices.append(start + term.codes.astype(np.int64) * q + t)
            mults.append(np.asarray(term.columns[t], dtype=np.float64))
        start += term.n_groups * q
    n = terms[0].codes.shape[0] if terms else 0
    index = np.stack(indices, axis=1) if indices else np.zeros((n, 0), dtype=np.int64)
    mult = np.stack(mults, axis=1) if mults else np.zeros((n, 0))
    return np.ascontiguousarray(index), np.ascontiguousarray(mult), start


def fused_log_likelihood(
    kernel: str,
    outcome: OutcomeData,
    columns: np.ndarray,
    b: Any,
    shift: Any,
    terms: list[FactorTerm],
) -> Any:
    """``sum_i y_i eta_i - w_i k(eta_i)`` over the units, as one Op and a few dot products."""
    import pymc as pm
    import pytensor.tensor as pt

    index, mult, p = row_layout(terms)
    theta = (
        pt.concatenate([pt.flatten(term.coefficients) for term in terms]) if terms else pt.zeros(0)
    )
    y, offset = np.asarray(outcome.y, dtype=np.float64), np.asarray(outcome.offset, np.float64)
    x = np.ascontiguousarray(columns, dtype=np.float64)
    constant, total, xy, ty = linear_totals(y, offset, x, index, mult, p)
    shift = pt.as_tensor_variable(shift, dtype="float64")
    b = b if x.shape[1] else pt.zeros(0)
    linear = (
        _data("data_y_offset", np.asarray(constant))
        + shift * _data("data_y_total", np.asarray(total))
        + pt.dot(_data("data_xy", xy), b)
        + pt.dot(_data("data_ty", ty), theta)
    )
    rows = RowsKernel(kernel, x.shape[1], index.shape[1])(
        _data("data_offset", offset),
        _data("data_population", x),
        _data("data_weight", outcome.weight),
        pm.Data("data_index", index),
        _data("data_mult", mult),
        shift,
        b,
        theta,
    )[0]
    return linear - rows


def linear_predictor(
    outcome: OutcomeData, columns: np.ndarray, b: Any | None, shift: Any, terms: list[FactorTerm]
) -> Any:
    """``eta`` per unit as tensor algebra (see the module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    eta: Any = _data("data_offset", outcome.offset)
    if b is not None:
        eta = eta + pt.dot(_data("data_population", columns), b)
    eta = eta + shift
    for term in terms:
        group = pm.Data(f"data_codes_{term.name}", term.codes)
        for t in range(len(term.columns)):
            gathered = term.coefficients[:, t][group]
            values = term.column(t)
            if values is not None:
                gathered = gathered * _data(f"data_z_{term.name}_{t}", values)
            eta = eta + gathered
    return eta


def _data(name: str, values: Any) -> Any:
    import pymc as pm

    return pm.Data(name, np.asarray(values, dtype=np.float64))
