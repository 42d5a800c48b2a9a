"""A formula model's log likelihood per group and per row, a block of draws at a time.

- **groups** (one grouping factor): ``log p(y_j | beta, Sigma, sigma)`` with the group's effects
  integrated out exactly (:func:`hbm.model.families.normal_cells_conditional.
  marginal_group_log_likelihood`, checked against a dense multivariate normal), whichever
  parametrization sampled the draws: what leaving a whole group out needs. With nested factors
  the groups are the outermost ones (districts), each with every effect in it — its own and
  those of its schools and classes — integrated out
  (:func:`hbm.model.families.normal_nested_conditional.nested_root_log_likelihood`); crossed
  factors have no such unit (leave rows out).
- **rows** (where the fit kept them): ``log N(y_i | x_i'beta + sum_g z_gi'u_g[j], sigma)`` given
  every factor's effects.

:mod:`hbm.analysis.log_likelihood` calls these for formula fits; the seed's model uses its
family's functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hbm.core.names import BETA, SIGMA, effect_name
from hbm.data.model_data import FactorData, ModelData
from hbm.data.nesting import crossing, nesting_of, outermost_factor
from hbm.model.families.normal_cells_conditional import (
    covariance_draws,
    group_statistics,
    marginal_group_log_likelihood,
)
from hbm.model.families.normal_nested_conditional import nested_root_log_likelihood
from hbm.model.linear_terms import CENTRED
from hbm.results.fit_result import FitResult

__all__ = [
    "check_groups_unit",
    "formula_group_block",
    "formula_new_group_means",
    "formula_row_block",
    "formula_row_means",
]


def check_groups_unit(data: ModelData) -> FactorData:
    """The factor whose groups are left out; a ValueError when there is none (crossed factors)."""
    factor = outermost_factor(data)
    if factor is None:
        names = ", ".join(repr(f.name) for f in data.factors)
        raise ValueError(
            f"Leaving groups out needs one grouping factor, or nested ones, to integrate out; "
            f"this model's {len(data.factors)} factors ({names}) are crossed ({crossing(data)}). "
            "Leave rows out instead (unit='rows')."
        )
    return factor


def formula_group_block(result: FitResult, chain: int, part: slice) -> np.ndarray:
    """Each group's log likelihood, effects integrated out, for draws ``part`` of ``chain``:
    ``(draws, groups)``."""
    data = result.model_data
    check_groups_unit(data)
    posterior = result.idata["posterior"].to_dataset().isel(chain=[chain], draw=part)
    beta = _flat(posterior[BETA].values, len(data.population))
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)
    centred = None
    if CENTRED in posterior and "Intercept" in data.population:
        where = data.population.index("Intercept")
        centred = _flat(posterior[CENTRED].values, len(data.population))[:, where]
    nesting = nesting_of(data) if len(data.factors) > 1 else None
    if nesting is not None:
        covariances = [covariance_draws(posterior, f) for f in nesting.factors]
        return nested_root_log_likelihood(data, nesting, beta, sigma, covariances, centred)
    covariance = covariance_draws(posterior, data.factors[0])
    return marginal_group_log_likelihood(data, beta, sigma, covariance, centred)


def formula_row_block(result: FitResult, chain: int, part: slice, step: int) -> np.ndarray:
    """Each kept row's log likelihood given the effects, for every ``step``-th draw in ``part``
    of ``chain``: ``(draws, rows)``."""
    mean, sigma = formula_row_means(result, chain, part, step)
    y = result.model_data.rows[1][:, result.model_data.y_index]  # type: ignore[index]
    residual = (y - mean) / sigma[:, None]
    return -0.5 * residual**2 - np.log(sigma)[:, None] - 0.5 * math.log(2 * math.pi)


def formula_row_means(
    result: FitResult, chain: int, part: slice, step: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each kept row's expected value given the effects, ``(draws, rows)``, and ``sigma``
    ``(draws,)``, for every ``step``-th draw in ``part`` of ``chain``."""
    data = result.model_data
    if data.rows is None:  # pragma: no cover - the caller checks the units first
        raise ValueError("The fit kept no rows.")
    codes, rows = data.rows
    stop = None if part.stop is None else part.stop * step
    posterior = (
        result.idata["posterior"]
        .to_dataset()
        .isel(chain=[chain], draw=slice((part.start or 0) * step, stop, step))
    )
    p = len(data.population)
    beta = _flat(posterior[BETA].values, p)
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)
    mean = beta @ rows[:, :p].T
    for f, factor in enumerate(data.factors):
        name = effect_name(factor.name)
        used, where = np.unique(codes[:, f], return_inverse=True)
        if name in posterior:
            u = np.asarray(posterior[name].values, dtype=float)
            u = u.reshape(-1, factor.n_groups, factor.n_terms)[:, used]
        else:  # not held: the rows' groups, these draws only, made again from the seed
            sizes = result.idata["posterior"].sizes
            first = chain * int(sizes["draw"])
            picked = (
                first + np.arange(int(sizes["draw"]))[slice((part.start or 0) * step, stop, step)]
            )
            u = result.group_draws(factor.name).picked(used, picked)
        for t, column in enumerate(factor.columns):
            mean += u[:, where.reshape(-1), t] * rows[:, column]
    return mean, sigma


def formula_new_group_means(result: FitResult) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of each group's mean response for a *new* group with the same rows
    (its effects drawn from the population), per draw: location and variance ``(S, J)``.

    ``ybar_j = xbar_j' beta + zbar_j' u + ebar``, ``u ~ N(0, Sigma)``, ``ebar ~ N(0, sigma^2 /
    n_j)``: normal with mean ``xbar_j' beta`` and variance ``zbar_j' Sigma zbar_j + sigma^2 /
    n_j`` (one grouping factor). With nested factors the group is an outermost one, and every
    group ``h`` nested in it adds ``(n_h / n_j)^2 zbar_h' Sigma_h zbar_h`` (its own new effect).
    """
    return new_group_means_by_block(result)(slice(None))


def new_group_means_by_block(
    result: FitResult,
) -> Callable[[slice], tuple[np.ndarray, np.ndarray]]:
    """:func:`formula_new_group_means` for a block of groups (a slice) at a time: ``(S, g)``
    arrays, the statistics computed once (so many blocks never hold ``(S, J)``)."""
    data = result.model_data
    factor = check_groups_unit(data)
    stats = group_statistics(data, factor)
    posterior = result.idata["posterior"].to_dataset()
    p = len(data.population)
    beta = _flat(posterior[BETA].values, p)
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)
    nesting = nesting_of(data) if len(data.factors) > 1 else None
    chain = nesting.factors if nesting is not None else (factor,)
    levels = []
    for level, inner in enumerate(chain):
        inner_stats = group_statistics(data, inner) if level else stats
        zbar = inner_stats["mean"][:, list(inner.columns)]
        roots = nesting.roots(level) if level else None  # type: ignore[union-attr]
        weight = None
        if roots is not None:
            weight = (inner_stats["n"] / stats["n"][roots]) ** 2
        levels.append((zbar, covariance_draws(posterior, inner), roots, weight))

    def block(groups: slice) -> tuple[np.ndarray, np.ndarray]:
        first, last, _ = groups.indices(factor.n_groups)
        location = beta @ stats["mean"][first:last, :p].T
        variance = sigma[:, None] ** 2 / stats["n"][first:last]
        for zbar, covariance, roots, weight in levels:
            if roots is None or weight is None:
                spread = np.einsum("ja,sab,jb->sj", zbar[first:last], covariance, zbar[first:last])
            else:
                inside = np.flatnonzero((roots >= first) & (roots < last))
                z, w, at = zbar[inside], weight[inside], roots[inside] - first
                # one draw at a time: the inner groups may be many more than the block's
                spread = np.stack(
                    [
                        np.bincount(
                            at,
                            weights=np.einsum("ja,ab,jb->j", z, c, z) * w,
                            minlength=last - first,
                        )
                        for c in covariance
                    ]
                )
            variance = variance + spread
        return location, variance

    return block


def _flat(values: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1, size)
