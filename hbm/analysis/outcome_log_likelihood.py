"""An outcome family's log likelihood per row and per group, a block of draws at a time.

- **rows** (where the fit kept them): ``log p(y_i | eta_i)`` for each row, with the family's full
  density (its constant included: the binomial coefficient, ``-log y!``), so a row of a cell gets
  its own value: a 0/1 row ``y log p + (1 - y) log(1 - p)``, a row of ``p(s, n)`` its binomial
  probability, a count its Poisson probability at its own exposure.
- **groups**: each group's whole data, ``sum_{u in j} log p(y_u | eta_u)``, **conditional** on the
  drawn effects (no exact integral exists outside the normal family): what PSIS needs to leave a
  group out, with Pareto k that are often high for groups with much data (the LOO result says so).

:mod:`hbm.analysis.log_likelihood` calls these for outcome families.
"""

from __future__ import annotations

import numpy as np

from hbm.analysis.outcome_draws import family_of, family_params, linear_predictor, outcome_of
from hbm.results.fit_result import FitResult

__all__ = ["outcome_group_block", "outcome_row_block", "outcome_unit_log_likelihood"]


def _pooled(result: FitResult, chain: int, part: slice, step: int = 1) -> np.ndarray:
    """Pooled draw indices of every ``step``-th draw of ``part`` of ``chain``."""
    n_draw = result.idata["posterior"].sizes["draw"]
    stop = None if part.stop is None else part.stop * step
    draws = np.arange(n_draw)[slice((part.start or 0) * step, stop, step)]
    return chain * n_draw + draws


def outcome_unit_log_likelihood(result: FitResult, draws: np.ndarray) -> np.ndarray:
    """Each unit's log likelihood (constant included) for the pooled ``draws``: ``(S, U)``."""
    outcome = outcome_of(result)
    family = family_of(result)
    eta = linear_predictor(result, draws)
    values = family.log_likelihood(outcome.y, outcome.weight, eta, family_params(result, draws))
    return values + outcome.constant


def outcome_group_block(result: FitResult, chain: int, part: slice) -> np.ndarray:
    """Each group's (first factor) log likelihood given the effects, ``(draws, groups)``."""
    outcome = outcome_of(result)
    factor = result.model_data.factors[0]
    values = outcome_unit_log_likelihood(result, _pooled(result, chain, part))
    codes = outcome.codes[:, 0]
    out = np.empty((values.shape[0], factor.n_groups))
    for s in range(values.shape[0]):
        out[s] = np.bincount(codes, weights=values[s], minlength=factor.n_groups)
    return out


def outcome_row_block(result: FitResult, chain: int, part: slice, step: int) -> np.ndarray:
    """Each kept row's log likelihood, every ``step``-th draw of ``part`` of ``chain``:
    ``(draws, rows)``."""
    outcome = outcome_of(result)
    family = family_of(result)
    draws = _pooled(result, chain, part, step)
    if outcome.form == "rows":
        return outcome_unit_log_likelihood(result, draws)
    unit, y, weight, constant = outcome.rows()
    eta = linear_predictor(result, draws)[:, unit]
    return family.log_likelihood(y, weight, eta, family_params(result, draws)) + constant
