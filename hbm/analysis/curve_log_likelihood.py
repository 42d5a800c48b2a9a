"""A curve fit's log likelihood per row and per group, a block of draws at a time.

- **rows**: ``log p(y_i | f(t_i; theta_g[i]), phi)`` for each row given its group's curve
  parameters ``theta_g = beta + u_g`` (shared ones ``beta``) drawn with the fit, with the family's
  full density (its constant included: ``-log y!`` for counts): normal ``N(y_i | f, sigma)``,
  Poisson with mean ``f``, negative binomial with mean ``f`` and shape ``alpha``
  (:mod:`hbm.model.families`, log link: ``eta = log f``).
- **groups**: each group's rows summed, **conditional** on the drawn curve parameters. A curve is
  nonlinear in its parameters, so no exact marginal over the group effects exists (not even for
  the normal family, whose formula models integrate them out): leaving a group out uses this
  conditional approximation, whose Pareto k are often high for groups with many rows (the LOO
  result says so).

The rows are those of :class:`hbm.data.curve_data.CurveData`: sorted by group, then time.
:mod:`hbm.analysis.log_likelihood` calls these for curve fits.

>>> import hbm
>>> fit = hbm.fit_curve(hbm.datasets.load("orange"), curve="logistic", group="Tree", time="age",
...                     value="circumference", varying=["asym"], draws=50, tune=100, chains=1,
...                     random_seed=1, progressbar=False)
>>> curve_row_block(fit.result, 0, slice(0, 3), 1).shape
(3, 35)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbm.core.names import BETA, SIGMA, effect_name
from hbm.data.curve_data import CurveData
from hbm.model.curve_terms import CurveSpec
from hbm.model.families import get_family
from hbm.results.fit_result import FitResult

__all__ = [
    "curve_group_block",
    "curve_group_log_likelihood",
    "curve_row_block",
    "curve_row_log_likelihood",
    "is_curve_fit",
]

#: Values (draws x rows) computed at once.
_BLOCK_VALUES = 2**21


def is_curve_fit(result: FitResult) -> bool:
    """Whether ``result`` is a group-level curve fit."""
    return isinstance(result.data, CurveData)


@dataclass(frozen=True, eq=False)
class _Draws:
    """The fit's draws, chains stacked: ``beta (S, K)``, ``u (S, G, q)`` or None, and the
    family's parameter (``sigma`` or ``alpha``, ``(S,)``) by name."""

    spec: CurveSpec
    beta: np.ndarray
    u: np.ndarray | None
    params: dict[str, np.ndarray]


def _draws(result: FitResult) -> _Draws:
    def make() -> _Draws:
        spec = CurveSpec.from_dict(result.description.curve or {})
        posterior = result.idata["posterior"].to_dataset()
        beta = _stacked(posterior[BETA].values)
        u = None
        if spec.varying_terms:
            u = _stacked(posterior[effect_name(result.curve_data.group)].values)
        names = [SIGMA] if spec.family == "normal" else [p.name for p in _family(spec).PARAMETERS]
        params = {name: _stacked(posterior[name].values) for name in names}
        return _Draws(spec, beta, u, params)

    return result.cache.get(("curve_log_likelihood_draws",), make)


def _stacked(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array.reshape(-1, *array.shape[2:])


def _family(spec: CurveSpec) -> Any:
    return get_family(spec.family)


def curve_row_log_likelihood(
    result: FitResult, draws: np.ndarray, rows: slice = slice(None)
) -> np.ndarray:
    """Each row's log likelihood (constant included) for the pooled ``draws`` (indices into the
    chains stacked) and the rows ``rows``: ``(S, n)``."""
    data = result.curve_data
    d = _draws(result)
    spec, curve = d.spec, d.spec.shape
    codes, t, y = data.codes[rows], data.t[rows], data.y[rows]
    varying = spec.varying_terms
    natural: dict[str, Any] = dict(spec.fixed)
    for k, name in enumerate(spec.free):
        p = curve.parameter(name)
        value = d.beta[draws, k][:, None]
        if p.term in varying and d.u is not None:
            value = value + d.u[draws][:, codes, varying.index(p.term)]
        natural[name] = p.to_natural(value)
    with np.errstate(all="ignore"):
        if spec.family == "normal":
            sigma = d.params[SIGMA][draws][:, None]
            residual = (y - curve.evaluate(t, natural)) / sigma
            values = -0.5 * residual**2 - np.log(sigma) - 0.5 * math.log(2 * math.pi)
        else:
            family = _family(spec)
            eta = curve.log_evaluate(t, natural)
            params = {name: v[draws][:, None] for name, v in d.params.items()}
            ones = np.ones_like(y)
            values = family.log_likelihood(y, ones, eta, params) + family.row_constant(y, ones)
    return np.where(np.isnan(values), -np.inf, values)


def curve_group_log_likelihood(
    result: FitResult, draws: np.ndarray, groups: slice = slice(None)
) -> np.ndarray:
    """Each group's rows' log likelihood summed, given the drawn curve parameters, for the pooled
    ``draws`` and the groups ``groups`` (a slice of the fit's groups): ``(S, g)``."""
    data = result.curve_data
    chosen = np.arange(data.n_groups)[groups]
    if chosen.size == 0:
        return np.zeros((len(draws), 0))
    starts = np.r_[0, np.cumsum(data.n)]  # rows are sorted by group
    first, last = int(starts[chosen[0]]), int(starts[chosen[-1] + 1])
    out = np.empty((len(draws), chosen.size))
    per_block = max(1, _BLOCK_VALUES // max(1, last - first))  # draws x rows held at once
    for at in range(0, len(draws), per_block):
        values = curve_row_log_likelihood(result, draws[at : at + per_block], slice(first, last))
        out[at : at + per_block] = np.add.reduceat(values, starts[chosen] - first, axis=1)
    return out


def _pooled(result: FitResult, chain: int, part: slice, step: int = 1) -> np.ndarray:
    """Pooled draw indices of every ``step``-th draw of ``part`` of ``chain``."""
    n_draw = result.idata["posterior"].sizes["draw"]
    stop = None if part.stop is None else part.stop * step
    return chain * n_draw + np.arange(n_draw)[slice((part.start or 0) * step, stop, step)]


def curve_row_block(result: FitResult, chain: int, part: slice, step: int) -> np.ndarray:
    """Each row's log likelihood, every ``step``-th draw of ``part`` of ``chain``:
    ``(draws, rows)``."""
    return curve_row_log_likelihood(result, _pooled(result, chain, part, step))


def curve_group_block(result: FitResult, chain: int, part: slice) -> np.ndarray:
    """Each group's log likelihood given its drawn curve, for draws ``part`` of ``chain``:
    ``(draws, groups)``."""
    return curve_group_log_likelihood(result, _pooled(result, chain, part))
