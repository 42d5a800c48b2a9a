"""A formula model's group effects, exactly: their Gaussian conditional, and the marginal per group.

With one grouping factor, given ``beta``, ``sigma`` and ``Sigma`` (the effects' covariance), each
group's effects are independent normals::

    u_j | beta, sigma, Sigma, y ~ N(M_j^-1 c_j, M_j^-1),
    M_j = Z_j'Z_j / sigma^2 + Sigma^-1,   c_j = Z_j'(y_j - X_j beta) / sigma^2

(:mod:`hbm.model.families.normal_cells` writes the same quantities in the model's graph). Here
they are computed with numpy for every posterior draw, a block of draws at a time (never all of
draws x groups x terms at once beyond the result), with the same element-by-element Cholesky
factorisation, and :func:`draw_effects` draws the effects from them, reproducibly from the
fit's seed. :func:`marginal_group_log_likelihood` gives each group's log density with its
effects integrated out (checked against a dense multivariate normal in the tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import (
    BETA,
    INTERCEPT,
    SIGMA,
    corr_name,
    sd_name,
)
from hbm.core.seeds import stream
from hbm.data.model_data import FactorData, ModelData
from hbm.model.families.effect_array import effect_array
from hbm.model.families.normal_cells import cholesky_unrolled, solve_unrolled
from hbm.model.linear_terms import CENTRED, correlated_pairs

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "EFFECTS_STREAM",
    "covariance_draws",
    "draw_effects",
    "group_statistics",
    "marginal_group_log_likelihood",
    "marginal_statistics",
]

#: Mixed into the fit's seed so the effects' exact draws use a stream of their own.
EFFECTS_STREAM = 0x5EFF
#: Draws handled per block.
DRAW_BLOCK = 64


def group_statistics(data: ModelData, factor: FactorData) -> dict[str, np.ndarray]:
    """Per group of ``factor``: ``n``, mean, co-moment and ``Z'Z`` (cells merged by group)."""
    moments = data.moments
    cell_mean = moments.mean + moments.low
    groups = factor.cells
    n = np.bincount(groups, weights=moments.n, minlength=factor.n_groups)
    mean = (
        np.stack(
            [
                np.bincount(groups, weights=moments.n * cell_mean[:, k], minlength=factor.n_groups)
                for k in range(cell_mean.shape[1])
            ],
            axis=1,
        )
        / n[:, None]
    )
    deviation = cell_mean - mean[groups]
    spread = moments.comoment + moments.n[:, None, None] * (
        deviation[:, :, None] * deviation[:, None, :]
    )
    comoment = np.zeros((factor.n_groups, *spread.shape[1:]))
    np.add.at(comoment, groups, spread)
    cols = list(factor.columns)
    mz = mean[:, cols]
    ztz = comoment[:, cols][:, :, cols] + n[:, None, None] * mz[:, :, None] * mz[:, None, :]
    return {"n": n, "mean": mean, "comoment": comoment, "ztz": ztz}


def marginal_statistics(data: ModelData, factor: FactorData) -> dict[str, np.ndarray]:
    """What the marginal form needs, from the per-group moments (one grouping factor).

    The design columns are shifted by their grand means (``shift``; 0 for a constant column such
    as the intercept, and everywhere when ``W`` has no constant column to absorb the shift), so
    that raw cross-products are of small numbers and keep their digits:

    - ``zw`` (J, q, K): per group, ``sum_i z_i (w_i - shift)'``;
    - ``ztz`` (J, q, q): per group, ``Z'Z``;
    - ``gram`` (K, K): over all rows, ``sum_i (w_i - shift)(w_i - shift)'``;
    - ``shift`` (K,), ``n_rows`` and ``n_groups``.

    With a coefficient vector ``a`` over ``W`` (``r_i = w_i' a``) and ``a~`` the same vector with
    ``sum_k a_k shift_k`` added on the constant column, ``Z_j' r_j = zw_j a~`` and
    ``sum_j r_j'r_j = a~' gram a~``.
    """
    stats = group_statistics(data, factor)
    n_rows, grand, total = data.moments.totals()
    constant = np.diag(total) <= 1e-12 * np.maximum(np.abs(grand) ** 2 * n_rows, 1.0)
    shift = np.where(constant, 0.0, grand) if constant.any() else np.zeros_like(grand)
    cols = list(factor.columns)
    mz = stats["mean"][:, cols]
    zw = stats["comoment"][:, cols, :] + stats["n"][:, None, None] * (
        mz[:, :, None] * (stats["mean"] - shift)[:, None, :]
    )
    offset = grand - shift
    gram = total + n_rows * offset[:, None] * offset[None, :]
    return {
        "zw": zw,
        "ztz": stats["ztz"],
        "gram": gram,
        "shift": shift,
        "constant": constant,
        "n_rows": np.asarray(float(n_rows)),
        "n_groups": np.asarray(float(factor.n_groups)),
    }


def covariance_draws(posterior: xr.Dataset, factor: FactorData) -> np.ndarray:
    """``Sigma`` per draw, ``(S, q, q)``, from the draws of ``sd_<g>`` and ``corr_<g>``."""
    sd = _flat(posterior[sd_name(factor.name)].values, factor.n_terms)
    corr = np.broadcast_to(np.eye(factor.n_terms), (sd.shape[0], factor.n_terms, factor.n_terms))
    corr = corr.copy()
    pairs = correlated_pairs(factor)
    if pairs:
        values = _flat(posterior[corr_name(factor.name)].values, len(pairs))
        index = {term: i for i, term in enumerate(factor.terms)}
        for k, (a, b) in enumerate(pairs):
            corr[:, index[a], index[b]] = corr[:, index[b], index[a]] = values[:, k]
    return sd[:, :, None] * corr * sd[:, None, :]


def marginal_group_log_likelihood(
    data: ModelData,
    beta: np.ndarray,
    sigma: np.ndarray,
    covariance: np.ndarray,
    centred_intercept: np.ndarray | None = None,
    groups: slice | None = None,
) -> np.ndarray:
    """Each group's log density with its effects integrated out: ``(S, J)``.

    ``beta`` (S, p), ``sigma`` (S,), ``covariance`` (S, q, q); ``centred_intercept`` (S,), when
    given, is the intercept at the covariates' means (``beta_centred``), from which the residuals'
    offset is computed without cancellation. ``groups`` (a slice) keeps those groups only.
    """
    factor = data.factors[0]
    stats = _draw_statistics(data, factor, with_squares=True)
    if groups is not None:
        q = factor.n_terms
        rows = slice(groups.start * q, groups.stop * q)
        stats = {
            **stats,
            "zw": stats["zw"][rows],
            "ztz": stats["ztz"][groups],
            "n": stats["n"][groups],
            "squares": stats["squares"][groups],
        }
    out = np.empty((len(sigma), len(stats["n"])))
    q = factor.n_terms
    for start in range(0, len(sigma), DRAW_BLOCK):
        part = slice(start, start + DRAW_BLOCK)
        lower, v, squares, log_det_sigma = _conditional(
            stats, beta[part], _part(centred_intercept, part), sigma[part], covariance[part]
        )
        log_det_m = 2.0 * sum(np.log(lower[i][i]) for i in range(q))
        quad = sum(v_i**2 for v_i in v)
        n = stats["n"]
        out[part] = (
            -0.5 * n * np.log(2 * np.pi)
            - n * np.log(sigma[part, None])
            - 0.5 * log_det_sigma[:, None]
            - 0.5 * log_det_m
            - 0.5 * (squares / sigma[part, None] ** 2 - quad)
        )
    return out


def draw_effects(posterior: xr.Dataset, data: ModelData, random_seed: int) -> xr.DataArray:
    """Draw ``u_<g>`` once per posterior draw from its exact conditional (one grouping factor).

    The draws use their own random stream derived from the fit's seed: the same seed gives the
    same effects bit for bit.
    """
    factor = data.factors[0]
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    beta = _flat(posterior[BETA].values, len(data.population))
    centred = _centred_intercept(posterior, data)
    sigma = posterior[SIGMA].values.reshape(-1)
    covariance = covariance_draws(posterior, factor)
    stats = _draw_statistics(data, factor, with_squares=False)
    q, n_groups = factor.n_terms, factor.n_groups
    rng = stream(random_seed, EFFECTS_STREAM)
    effects = np.empty((chains * draws, n_groups, q))
    for start in range(0, len(sigma), DRAW_BLOCK):
        part = slice(start, min(start + DRAW_BLOCK, len(sigma)))
        lower, v, _, _ = _conditional(
            stats, beta[part], _part(centred, part), sigma[part], covariance[part]
        )
        # u = M^-1 c + L^-T z, with M = L L' and v = L^-1 c: u = L^-T (v + z). The normals are
        # drawn block by block in the output's (draw, group, term) order, which is the same
        # stream as drawing them all at once; the algebra runs on contiguous (term, draw, group).
        noise = rng.standard_normal((part.stop - part.start, n_groups, q))
        block = np.moveaxis(noise, 2, 0).copy()
        block += np.stack(v)
        for i in reversed(range(q)):
            value = block[i]
            for k in range(i + 1, q):
                value -= lower[k][i] * block[k]
            value /= lower[i][i]
        effects[part] = np.moveaxis(block, 0, 2)
    return effect_array(effects, posterior, factor)


def _centred_intercept(posterior: xr.Dataset, data: ModelData) -> np.ndarray | None:
    """The draws of the intercept at the covariates' means, where the fit sampled them."""
    if CENTRED not in posterior or INTERCEPT not in data.population:
        return None
    values = _flat(posterior[CENTRED].values, len(data.population))
    return values[:, data.population.index(INTERCEPT)]


def _part(values: np.ndarray | None, part: slice) -> np.ndarray | None:
    return None if values is None else values[part]


def _draw_statistics(data: ModelData, factor: FactorData, with_squares: bool) -> dict[str, Any]:
    """:func:`marginal_statistics` laid out for matrix products with a block of draws.

    ``zw`` becomes ``(J * q, K)``; with ``with_squares``, ``squares`` is each group's
    ``sum_i (w_i - shift)(w_i - shift)'`` as ``(J, K * K)``.
    """
    stats = marginal_statistics(data, factor)
    n_groups, q, k = stats["zw"].shape
    out: dict[str, Any] = {
        "zw": np.ascontiguousarray(stats["zw"].reshape(n_groups * q, k)),
        "ztz": stats["ztz"],
        "shift": stats["shift"],
        "constant": np.flatnonzero(stats["constant"]),
        "n_population": len(data.population),
        "intercept": data.population.index(INTERCEPT) if INTERCEPT in data.population else None,
    }
    grouped = group_statistics(data, factor)
    out["n"] = grouped["n"]
    if with_squares:
        centre = grouped["mean"] - stats["shift"]
        squares = grouped["comoment"] + grouped["n"][:, None, None] * (
            centre[:, :, None] * centre[:, None, :]
        )
        out["squares"] = np.ascontiguousarray(squares.reshape(n_groups, k * k))
    return out


def _conditional(
    stats: dict[str, Any],
    beta: np.ndarray,
    centred_intercept: np.ndarray | None,
    sigma: np.ndarray,
    covariance: np.ndarray,
) -> tuple[list[list[np.ndarray]], list[np.ndarray], np.ndarray | None, np.ndarray]:
    """For a block of B draws: the Cholesky factor of ``M`` (entries (B, J)), ``v = L^-1 c``,
    ``r'r`` per group (when ``stats`` has it) and ``log|Sigma|`` per draw.

    The residuals' coefficients ``a`` over ``W`` (``-beta``, 0 for other columns, 1 for ``y``)
    take the columns' shift on the constant column, so every product is a matrix product of
    small numbers (the same algebra as the model's graph).
    """
    n_groups = len(stats["n"])
    zw = stats["zw"]
    k = zw.shape[1]
    q = zw.shape[0] // n_groups
    a = np.zeros((len(sigma), k))
    a[:, : stats["n_population"]] = -beta
    a[:, -1] = 1.0
    if stats["constant"].size:
        where = int(stats["constant"][0])
        if centred_intercept is not None and where == stats["intercept"]:
            a[:, where] = stats["shift"][-1] - centred_intercept
        else:
            a[:, where] += a @ stats["shift"]
    zr = (a @ zw.T).reshape(len(sigma), n_groups, q)
    squares = None
    if "squares" in stats:
        outer = (a[:, :, None] * a[:, None, :]).reshape(len(sigma), k * k)
        squares = outer @ stats["squares"].T
    precision = np.linalg.inv(covariance)  # (B, q, q), one small matrix per draw
    log_det_sigma = np.linalg.slogdet(covariance)[1]
    sigma2 = sigma[:, None] ** 2
    entries = [
        [stats["ztz"][None, :, i, j] / sigma2 + precision[:, i, j, None] for j in range(q)]
        for i in range(q)
    ]
    lower = cholesky_unrolled(entries)
    v = solve_unrolled(lower, [zr[:, :, i] / sigma2 for i in range(q)])
    return lower, v, squares, log_det_sigma


def _flat(values: np.ndarray, size: int) -> np.ndarray:
    """Draws ``(chain, draw, ...)`` as ``(S, size)``."""
    return np.asarray(values, dtype=float).reshape(-1, size)
