"""PSIS-LOGO for many groups: the groups' log likelihood made and smoothed a block at a time.

Leaving groups out needs each group's log likelihood per draw: ``draws x groups`` values (4,000 x
1,000,000 would be 32 GB). PSIS smooths each group's values on their own, so the groups can be
taken a block at a time: each block's log likelihood is computed from the posterior (the
hyperparameters, with the effects integrated out; or the group effects' exact draws, made again
for the block), arviz-stats' PSIS runs on it (``azstats.loo``, the function
:func:`arviz_stats.loo` calls), and only the per-group ELPD, ``p_loo`` and Pareto k are kept.
They are then summed exactly as :func:`arviz_stats.loo` sums them (``loo_summary``), so the
result equals arviz-stats' on the whole array, group for group (``tests/test_loo.py``).
A block holds at most ``DEFAULTS.loo_max_values`` values (80 MB).

*Time*: PSIS costs about half a millisecond per group, so a million groups take minutes; it runs
only when asked for (``fit.loo()``, ``hbm compare``), never in ``hbm fit``'s report past
``DEFAULTS.max_report_loo_units`` groups.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import xarray as xr

from hbm.analysis.curve_log_likelihood import curve_group_log_likelihood, is_curve_fit
from hbm.analysis.log_likelihood import GROUP, available_units
from hbm.analysis.units import units_of
from hbm.core.defaults import DEFAULTS
from hbm.core.names import BETA, INTERCEPT, SIGMA
from hbm.model.families import get_family
from hbm.model.families.normal_cells_conditional import (
    covariance_draws,
    marginal_group_log_likelihood,
)
from hbm.model.linear_terms import CENTRED
from hbm.results.fit_result import FitResult
from hbm.results.group_draws import role_values

__all__ = ["block_log_likelihood", "blockwise_group_loo", "needs_blocks"]

Block = Callable[[slice], np.ndarray]


def needs_blocks(result: FitResult) -> bool:
    """Whether the groups' log likelihood is past what is made at once (``False`` for a fit that
    cannot leave groups out: :func:`hbm.analysis.log_likelihood.available_units` says why)."""
    if GROUP not in available_units(result):
        return False
    sizes = result.idata["posterior"].sizes
    n_groups = units_of(result).n_groups
    return sizes["chain"] * sizes["draw"] * n_groups > DEFAULTS.loo_max_values


def block_log_likelihood(result: FitResult, integrated: bool) -> Block:
    """``block(groups)``: the log likelihood ``(S, g)`` of a block of groups (a slice)."""
    posterior = result.idata["posterior"].to_dataset()
    if is_curve_fit(result):  # conditional on the drawn curves: no exact marginal
        every = np.arange(posterior.sizes["chain"] * posterior.sizes["draw"])
        return lambda groups: curve_group_log_likelihood(result, every, groups)
    if not result.description.is_seed_model:
        return _formula_block(result, posterior)
    family = get_family(result.description.family)
    data = result.grouped
    parameters = result.parameters
    sigma = role_values(posterior, parameters, "residual_scale")
    if integrated:
        mu = role_values(posterior, parameters, "coefficient")
        tau = role_values(posterior, parameters, "group_sd")
        return lambda groups: family.marginal_group_log_likelihood(data, mu, tau, sigma, groups)
    draws = result.group_draws()

    def conditional(groups: slice) -> np.ndarray:
        theta = draws.columns(np.arange(groups.start, groups.stop))[:, :, 0]
        return family.group_log_likelihood(data, theta, sigma, groups)

    return conditional


def _formula_block(result: FitResult, posterior: xr.Dataset) -> Block:
    data = result.model_data
    factor = data.factors[0]
    p = len(data.population)
    beta = np.asarray(posterior[BETA].values, dtype=float).reshape(-1, p)
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)
    covariance = covariance_draws(posterior, factor)
    centred = None
    if CENTRED in posterior and INTERCEPT in data.population:
        values = np.asarray(posterior[CENTRED].values, dtype=float).reshape(-1, p)
        centred = values[:, data.population.index(INTERCEPT)]
    return lambda groups: marginal_group_log_likelihood(
        data, beta, sigma, covariance, centred, groups
    )


def blockwise_group_loo(
    result: FitResult, block: Block, n_groups: int, reff: float, dim: str
) -> object:
    """arviz-stats' ``ELPDDataLOO`` of leaving each group out, a block of groups at a time."""
    from arviz_stats.utils import ELPDDataLOO

    sizes = result.idata["posterior"].sizes
    chains, per_chain = int(sizes["chain"]), int(sizes["draw"])
    n_draws = chains * per_chain
    step = max(1, DEFAULTS.loo_max_values // n_draws)
    elpd_i, pareto_k, p_loo_i = (np.empty(n_groups) for _ in range(3))
    for start in range(0, n_groups, step):
        groups = slice(start, min(start + step, n_groups))
        values = block(groups).reshape(chains, per_chain, -1)
        array = xr.DataArray(values, dims=("chain", "draw", dim))
        elpd, k, p = array.azstats.loo(sample_dims=["chain", "draw"], r_eff=reff)
        elpd_i[groups], pareto_k[groups], p_loo_i[groups] = elpd.values, k.values, p.values
    unit = xr.DataArray(elpd_i, dims=(dim,))
    elpd, se, p_loo, _ = unit.azstats.loo_summary(xr.DataArray(p_loo_i, dims=(dim,)))
    good_k = min(1 - 1 / math.log10(n_draws), 0.7) if n_draws > 1 else 0.7
    return ELPDDataLOO(
        elpd=elpd,
        se=se,
        p=p_loo,
        n_samples=n_draws,
        n_data_points=n_groups,
        scale="log",
        warning=bool(np.any(pareto_k > good_k)),
        good_k=good_k,
        elpd_i=unit,
        pareto_k=xr.DataArray(pareto_k, dims=(dim,)),
        approx_posterior=False,
        log_weights=None,  # type: ignore[arg-type]  # draws x groups: not kept
    )
