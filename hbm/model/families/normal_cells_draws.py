"""A formula model's exact group effects, a block at a time: draws and Rao-Blackwellized moments.

With one grouping factor, each group's effects are exactly normal given the sampled parameters
(:mod:`hbm.model.families.normal_cells_conditional`)::

    u_j | beta, sigma, Sigma, y ~ N(M_j^-1 c_j, M_j^-1),   M_j = L_j L_j'

This module computes the conditional for any tile of draws and groups and

- draws ``u = L^-T (v + z)`` with the normals of :class:`hbm.model.group_noise.GroupNoise` (tag
  ``EFFECTS_STREAM``), so any block of groups, or run of draws, is drawn again exactly from the
  fit's seed: every step is elementwise (the residual cross-products are written as sums over the
  design's columns, not as matrix products whose rounding could depend on the tile's shape), so a
  value does not depend on the tile it was computed in;
- averages the conditional moments over the draws (:func:`rao_blackwell_effects`): each effect's
  posterior mean ``mean_s mu_s`` and variance ``mean_s (M_s^-1)_tt + var_s mu_s``, with the
  spreads behind their Monte Carlo errors (see :mod:`hbm.model.families.normal_rao_blackwell`).

Tiles are at most :data:`TILE_DRAWS` draws x :data:`~hbm.model.group_noise.GROUP_BLOCK` groups,
so nothing holds draws x groups x terms at once beyond what a caller asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import BETA, INTERCEPT, SIGMA
from hbm.data.model_data import ModelData
from hbm.model.families.effect_array import effect_array
from hbm.model.families.normal_cells import cholesky_unrolled, solve_unrolled
from hbm.model.families.normal_cells_conditional import (
    EFFECTS_STREAM,
    covariance_draws,
    marginal_statistics,
)
from hbm.model.families.normal_rao_blackwell import GroupMoments
from hbm.model.group_noise import GROUP_BLOCK, GroupNoise
from hbm.model.linear_terms import CENTRED

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "TILE_DRAWS",
    "EffectInputs",
    "draw_effects_exact",
    "effect_inputs",
    "effects_from_noise",
    "effects_noise",
    "effects_redraw",
    "rao_blackwell_effects",
]

#: Draws per tile of the conditional's algebra.
TILE_DRAWS = 64

Groups = slice | np.ndarray


@dataclass(frozen=True, eq=False)
class EffectInputs:
    """What the conditional needs, per draw (``S`` rows) and per group."""

    beta: np.ndarray  # (S, p)
    centred: np.ndarray | None  # (S,) intercept at the covariates' means, where sampled
    sigma: np.ndarray  # (S,)
    precision: np.ndarray  # (S, q, q): Sigma^-1 per draw
    zw: np.ndarray  # (J, q, K): sum_i z_i (w_i - shift)'
    ztz: np.ndarray  # (J, q, q)
    shift: np.ndarray  # (K,)
    constant: np.ndarray  # indices of the constant design columns
    intercept: int | None

    @property
    def n_draws(self) -> int:
        return len(self.sigma)

    @property
    def n_terms(self) -> int:
        return self.ztz.shape[1]


def effect_inputs(posterior: xr.Dataset, data: ModelData) -> EffectInputs:
    """The conditional's inputs from a posterior (user's units) and the reduced data."""
    factor = data.factors[0]
    stats = marginal_statistics(data, factor)
    p = len(data.population)
    beta = np.asarray(posterior[BETA].values, dtype=float).reshape(-1, p)
    centred = None
    if CENTRED in posterior and INTERCEPT in data.population:
        values = np.asarray(posterior[CENTRED].values, dtype=float).reshape(-1, p)
        centred = values[:, data.population.index(INTERCEPT)]
    return EffectInputs(
        beta=beta,
        centred=centred,
        sigma=np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1),
        precision=np.linalg.inv(covariance_draws(posterior, factor)),
        zw=stats["zw"],
        ztz=stats["ztz"],
        shift=stats["shift"],
        constant=np.flatnonzero(stats["constant"]),
        intercept=data.population.index(INTERCEPT) if INTERCEPT in data.population else None,
    )


def effects_noise(data: ModelData, n_draws: int, random_seed: int) -> GroupNoise:
    """The standard normals of the effects' exact draws: ``(n_draws, J, q)``."""
    factor = data.factors[0]
    return GroupNoise(
        int(random_seed), EFFECTS_STREAM, int(n_draws), factor.n_groups, factor.n_terms
    )


def conditional_tile(
    inputs: EffectInputs, draws: slice, groups: Groups
) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """For a tile of draws and groups: the Cholesky factor ``L`` of ``M`` (entries ``(d, g)``)
    and ``v = L^-1 c`` (so the conditional mean is ``L^-T v``), elementwise."""
    beta, sigma = inputs.beta[draws], inputs.sigma[draws]
    n_draws, k = len(sigma), inputs.zw.shape[2]
    a = np.zeros((n_draws, k))
    a[:, : beta.shape[1]] = -beta
    a[:, -1] = 1.0
    if inputs.constant.size:
        where = int(inputs.constant[0])
        if inputs.centred is not None and where == inputs.intercept:
            a[:, where] = inputs.shift[-1] - inputs.centred[draws]
        else:
            a[:, where] += (a * inputs.shift).sum(axis=1)
    zw = inputs.zw[groups]  # (g, q, K)
    zr = a[:, 0, None, None] * zw[None, :, :, 0]
    for c in range(1, k):
        zr += a[:, c, None, None] * zw[None, :, :, c]
    sigma2 = sigma[:, None] ** 2
    ztz = inputs.ztz[groups]
    precision = inputs.precision[draws]
    q = inputs.n_terms
    entries = [
        [ztz[None, :, i, j] / sigma2 + precision[:, i, j, None] for j in range(q)] for i in range(q)
    ]
    lower = cholesky_unrolled(entries)
    v = solve_unrolled(lower, [zr[:, :, i] / sigma2 for i in range(q)])
    return lower, v


def effects_from_noise(
    inputs: EffectInputs, draws: slice, groups: Groups, noise: np.ndarray
) -> np.ndarray:
    """``u = L^-T (v + z)`` for draws ``draws`` (a slice of the ``S`` draws) of ``groups``,
    ``noise`` of shape ``(d, g, q)`` overwritten and returned; tiles of :data:`TILE_DRAWS`."""
    start = draws.start or 0
    q = inputs.n_terms
    for first in range(0, noise.shape[0], TILE_DRAWS):
        stop = min(first + TILE_DRAWS, noise.shape[0])
        lower, v = conditional_tile(inputs, slice(start + first, start + stop), groups)
        block = np.moveaxis(noise[first:stop], 2, 0).copy()  # (q, d, g)
        block += np.stack(v)
        for i in reversed(range(q)):
            value = block[i]
            for m in range(i + 1, q):
                value -= lower[m][i] * block[m]
            value /= lower[i][i]
        noise[first:stop] = np.moveaxis(block, 0, 2)
    return noise


def effects_redraw(posterior: xr.Dataset, data: ModelData, seed: int, tag: int) -> tuple[Any, Any]:
    """The noise and the redraw function of a fit's effects (see
    :func:`hbm.results.group_draws.group_draws`)."""
    if tag != EFFECTS_STREAM:
        raise ValueError(
            f"The group effects were drawn from stream {tag:#x}; this hbm draws them from "
            f"{EFFECTS_STREAM:#x}."
        )
    inputs = effect_inputs(posterior, data)

    def redraw(draws: slice, groups: Groups, z: np.ndarray) -> np.ndarray:
        return effects_from_noise(inputs, draws, groups, z)

    return effects_noise(data, inputs.n_draws, seed), redraw


def rao_blackwell_effects(
    posterior: xr.Dataset, data: ModelData, offset: np.ndarray | None = None
) -> GroupMoments:
    """Rao-Blackwellized moments of every group's effects, arrays ``(J, q)``.

    ``offset`` (``(S, q)``), when given, is added to every draw's conditional mean: with the
    population coefficients of the varying terms it gives the moments of the groups'
    coefficients ``beta + u``.
    """
    inputs = effect_inputs(posterior, data)
    n_draws, n_groups, q = inputs.n_draws, len(inputs.ztz), inputs.n_terms
    shape = (n_groups, q)
    mean, spread, variance = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    # Pass 1: mean and variance of the conditional means, merged tile by tile (Chan et al.)
    for draws, groups, mu, var in _tiles(inputs, offset):
        d, seen = mu.shape[0], draws.start
        tile_mean = mu.mean(axis=0)
        tile_m2 = ((mu - tile_mean) ** 2).sum(axis=0)
        delta = tile_mean - mean[groups]
        mean[groups] += delta * d / (seen + d)
        spread[groups] += tile_m2 + delta**2 * seen * d / (seen + d)
        variance[groups] += var.sum(axis=0)
    spread /= n_draws
    variance = variance / n_draws + spread
    # Pass 2: the spread of w_s = v_s + (mu_s - mean)^2, centred on its mean
    w_mean = variance
    spread_w = np.zeros(shape)
    for _, groups, mu, var in _tiles(inputs, offset):
        w = var + (mu - mean[groups]) ** 2 - w_mean[groups]
        spread_w[groups] += (w * w).sum(axis=0)
    return GroupMoments(mean=mean, variance=variance, spread=spread, spread_w=spread_w / n_draws)


def _tiles(inputs: EffectInputs, offset: np.ndarray | None) -> Any:
    """``(draws, groups, mu, var)`` per tile: the conditional means ``(d, g, q)`` (plus
    ``offset``) and variances (the diagonal of ``M^-1``)."""
    q = inputs.n_terms
    n_groups = len(inputs.ztz)
    for start in range(0, inputs.n_draws, TILE_DRAWS):
        draws = slice(start, min(start + TILE_DRAWS, inputs.n_draws))
        for first in range(0, n_groups, GROUP_BLOCK):
            groups = slice(first, min(first + GROUP_BLOCK, n_groups))
            lower, v = conditional_tile(inputs, draws, groups)
            mu = _back_solve(lower, v)
            var = np.zeros_like(mu)
            for t in range(q):
                unit = [np.ones_like(v[0]) if i == t else np.zeros_like(v[0]) for i in range(q)]
                column = solve_unrolled(lower, unit)  # L^-1 e_t: (M^-1)_tt = sum_k column_k^2
                var[:, :, t] = sum(c * c for c in column[t:])
            if offset is not None:
                mu += offset[draws, None, :]
            yield draws, groups, mu, var


def _back_solve(lower: list[list[np.ndarray]], v: list[np.ndarray]) -> np.ndarray:
    """``L^-T v`` element by element, as ``(d, g, q)``."""
    q = len(v)
    out: list[Any] = [None] * q
    for i in reversed(range(q)):
        value = v[i].copy()
        for m in range(i + 1, q):
            value -= lower[m][i] * out[m]
        out[i] = value / lower[i][i]
    return np.stack(out, axis=2)


def draw_effects_exact(posterior: xr.Dataset, data: ModelData, random_seed: int) -> xr.DataArray:
    """Every draw of ``u_<g>`` at once, ``(chain, draw, <g>, <g>_term)`` (the fit holds them when
    they are few; the same values as any block drawn again later)."""

    factor = data.factors[0]
    inputs = effect_inputs(posterior, data)
    noise = effects_noise(data, inputs.n_draws, random_seed)
    effects = np.empty((inputs.n_draws, factor.n_groups, factor.n_terms))
    everything = slice(None)
    for start, stop, z in noise.sweep():
        effects[start:stop] = effects_from_noise(inputs, slice(start, stop), everything, z)
    return effect_array(effects, posterior, factor)
