"""An outcome family's fit, draw by draw: linear predictors, family parameters, group rates.

Every outcome-scale result (per-group rates, the league table, the funnel plot, predictive
checks, the log likelihood) starts from the linear predictor of each unit per draw::

    eta_u = offset_u + x_u' beta + sum_g z_gu' u_g[group_g(u)]

computed here a block of draws at a time (a block holds at most :data:`BLOCK_VALUES` values),
so that 4,000 draws of a million rows never sit in memory at once.

A group's **rate** is its expected outcome per unit of weight at its own covariates::

    rate_j = sum_{u in j} w_u m(eta_u) / sum_{u in j} w_u

(``m`` the inverse link: a probability, a rate per unit of exposure, a mean), to set against its
raw rate ``sum y_u / sum w_u``; its **population rate** is the same with the group's effects set
to 0: where the hierarchical model pulls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from hbm.core.names import BETA, effect_name
from hbm.data.model_data import ModelData
from hbm.data.outcome_data import OutcomeData
from hbm.model.families import get_family
from hbm.results.fit_result import FitResult

__all__ = [
    "BLOCK_VALUES",
    "draw_blocks",
    "family_of",
    "family_params",
    "group_rate_draws",
    "is_outcome_fit",
    "linear_predictor",
    "n_draws",
    "outcome_of",
]

#: Values (draws x units) per block while computing.
BLOCK_VALUES = 2**21


def is_outcome_fit(result: FitResult) -> bool:
    """Whether ``result`` is a fit of an outcome family (binomial, Poisson, ...)."""
    return isinstance(result.data, ModelData) and result.data.outcome is not None


def outcome_of(result: FitResult) -> OutcomeData:
    """The fit's outcome per unit; a TypeError for a normal model's fit."""
    if not is_outcome_fit(result):
        raise TypeError(
            "This applies to fits of the binomial, poisson, negbinomial and studentt families; "
            f"this fit is of the {result.description.family} family."
        )
    return result.model_data.outcome  # type: ignore[return-value]


def family_of(result: FitResult) -> ModuleType:
    """The fit's family module."""
    return get_family(result.description.family)


def n_draws(result: FitResult) -> int:
    """Draws in the posterior, chains pooled."""
    sizes = result.idata["posterior"].sizes
    return int(sizes["chain"] * sizes["draw"])


def draw_blocks(result: FitResult, n_units: int, draws: np.ndarray | None = None) -> Iterator[Any]:
    """Indices (into the pooled draws) of consecutive blocks within :data:`BLOCK_VALUES`."""
    chosen = np.arange(n_draws(result)) if draws is None else np.asarray(draws)
    per_block = max(1, BLOCK_VALUES // max(1, n_units))
    for start in range(0, len(chosen), per_block):
        yield chosen[start : start + per_block]


def _pooled(result: FitResult, name: str) -> np.ndarray:
    array = result.idata["posterior"][name].transpose("chain", "draw", ...)
    values = np.asarray(array.values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def family_params(result: FitResult, draws: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The family's own parameters (``sigma``, ``nu``, ``alpha``) per draw, shape ``(S, 1)``."""
    out = {}
    for parameter in family_of(result).PARAMETERS:
        values = _pooled(result, parameter.name)
        out[parameter.name] = (values if draws is None else values[draws])[:, None]
    return out


def linear_predictor(
    result: FitResult,
    draws: np.ndarray,
    *,
    with_effects: bool = True,
    outcome: OutcomeData | None = None,
) -> np.ndarray:
    """``eta`` of every unit for the pooled draws ``draws``: ``(len(draws), U)``.

    ``with_effects=False`` sets every group effect to 0 (the population's linear predictor);
    ``outcome`` gives other units (new rows) with the fit's design columns.
    """
    data = result.model_data
    units = outcome_of(result) if outcome is None else outcome
    p = len(data.population)
    beta = _pooled(result, BETA)[draws]
    eta = beta @ units.design[:, :p].T + units.offset
    if not with_effects:
        return eta
    for f, factor in enumerate(data.factors):
        u = _pooled(result, effect_name(factor.name))[draws]
        codes = units.codes[:, f]
        for t, column in enumerate(factor.columns):
            values = units.design[:, column]
            gathered = u[:, codes, t]
            eta += gathered if np.all(values == 1.0) else gathered * values
    return eta


def group_rate_draws(
    result: FitResult, factor: int = 0, *, with_effects: bool = True
) -> np.ndarray:
    """Each group's rate per draw, ``(S, J)`` (see the module docstring); ``with_effects=False``:
    its population rate."""
    key = ("group_rates", factor, with_effects)

    def compute() -> np.ndarray:
        outcome = outcome_of(result)
        family = family_of(result)
        n_groups = result.model_data.factors[factor].n_groups
        codes = outcome.codes[:, factor]
        weights = np.bincount(codes, weights=outcome.weight, minlength=n_groups)
        out = np.empty((n_draws(result), n_groups))
        indicator = _indicator(codes, outcome.weight, n_groups)
        for block in draw_blocks(result, outcome.n_units):
            eta = linear_predictor(result, block, with_effects=with_effects)
            mean = family.expected(eta, family_params(result, block))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[block] = np.asarray(indicator.T @ mean.T).T / weights
        return out

    return result.cache.get(key, compute)


def _indicator(codes: np.ndarray, weights: np.ndarray, n_groups: int) -> Any:
    """The sparse units x groups matrix of the units' weights (never dense)."""
    from scipy import sparse

    return sparse.csr_matrix(
        (weights, (np.arange(len(codes)), codes)), shape=(len(codes), n_groups)
    )
