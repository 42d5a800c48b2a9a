"""Several grouping factors in a formula model: which form is exact, and the nested marginal term.

- **One factor**: the group effects integrate out group by group
  (:mod:`hbm.model.families.normal_cells`).
- **Nested factors** (a chain: districts > schools > classes, :mod:`hbm.data.nesting`): every
  level's effects integrate out exactly, innermost first, each group's statistics giving an exact
  marginal for its parent (:mod:`hbm.model.families.normal_nested`), with any number of varying
  terms at any level (correlated or not) up to :data:`MAX_CHAIN_TERMS` effects along a chain;
  the effects are then drawn exactly, top down
  (:mod:`hbm.model.families.normal_nested_conditional`).
- **Crossed factors** (raters x items; or two factors nested in a third but not in each other):
  no elimination order keeps the algebra small — eliminating one rater's effect couples every
  item it rated — so the exact form would need a sparse factorisation of all effects together;
  ``auto`` uses the non-centered form and says which factors are crossed and where.

>>> from hbm.model.linear_nested import MAX_CHAIN_TERMS
>>> MAX_CHAIN_TERMS
8
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.data.model_data import ModelData
from hbm.data.nesting import Nesting, crossing, nesting_of
from hbm.model.lkj import Entries

__all__ = [
    "MAX_CHAIN_TERMS",
    "draw_exact_effects",
    "marginal_nesting",
    "nested_choice",
    "observe_nested",
]

#: Most effects along one chain of nested groups (the sum of the levels' varying terms) for which
#: the nested marginal form is used: each group's algebra is over its chain, (sum q)^3 per group.
MAX_CHAIN_TERMS = 8


def nested_choice(data: ModelData) -> tuple[str, str]:
    """``auto``'s choice for two or more grouping factors, and the reason in words."""
    nesting = nesting_of(data)
    names = ", ".join(f.name for f in data.factors)
    if nesting is not None:
        terms = sum(f.n_terms for f in nesting.factors)
        levels = " > ".join(f"{f.name} ({f.n_groups})" for f in nesting.factors)
        if terms <= MAX_CHAIN_TERMS:
            return (
                "marginal",
                f"The grouping factors are nested ({levels}): for a normal model every level's "
                "effects can be integrated out exactly, innermost first, each group's statistics "
                "giving an exact marginal for its parent, so NUTS samples only the population "
                "parameters; every level's effects are then drawn exactly, top down, from their "
                "Gaussian conditionals.",
            )
        return (
            "noncentered",
            f"The grouping factors are nested ({levels}), but a chain of groups carries {terms} "
            f"varying terms, more than the nested marginal form handles ({MAX_CHAIN_TERMS}); the "
            "non-centered form samples the effects without a funnel between their sds and the "
            "effects.",
        )
    return (
        "noncentered",
        f"The grouping factors ({names}) are not nested in one another — {crossing(data)} — so "
        "their effects do not split into a tree of independent groups and there is no small "
        "exact marginal form; the non-centered form samples the effects without a funnel "
        "between their sds and the effects.",
    )


def marginal_nesting(data: ModelData) -> Nesting:
    """The chain the marginal form integrates over; a ValueError naming the crossing if none."""
    nesting = nesting_of(data)
    if nesting is None:
        raise ValueError(
            "parametrization='marginal' needs one grouping factor or nested ones; here "
            f"{crossing(data)}. Use 'noncentered' or 'auto'."
        )
    terms = sum(f.n_terms for f in nesting.factors)
    if terms > MAX_CHAIN_TERMS:
        raise ValueError(
            f"parametrization='marginal' handles nested factors with up to {MAX_CHAIN_TERMS} "
            f"varying terms along a chain; this model has {terms}. Use 'noncentered' or 'auto'."
        )
    return nesting


def observe_nested(
    data: ModelData,
    coefficients: list[Any],
    centred_intercept: Any,
    choleskies: dict[str, Entries],
    sigma: Any,
) -> None:
    """Add the nested marginal likelihood of ``data`` to the model being built.

    ``coefficients`` is the population vector over ``W``, ``centred_intercept`` the intercept at
    the covariates' means (or None), ``choleskies`` each factor's ``F`` (``Sigma = F F'``).
    """
    import pymc as pm

    from hbm.model.families.normal_nested import nested_statistics, observe_nested_marginal
    from hbm.model.families.normal_nested_op import pack_levels
    from hbm.model.linear_effects import precision_entries

    nesting = marginal_nesting(data)
    stats = nested_statistics(data, nesting)
    flat, structure = pack_levels(stats["levels"])
    totals = {
        key: pm.Data(f"data_{key}", np.asarray(stats[key], dtype=np.float64))
        for key in ("gram", "shift", "n_rows", "level_groups")
    }
    precisions, log_dets = [], []
    for factor in nesting.factors:
        precision, log_det = precision_entries(choleskies[factor.name])
        precisions.append(precision)
        log_dets.append(log_det)
    constants = np.flatnonzero(stats["constant"])
    observe_nested_marginal(
        pm.Data("data_levels", flat),
        pm.Data("data_structure", structure),
        totals,
        coefficients,
        sigma,
        precisions,
        log_dets,
        int(constants[0]) if constants.size else None,
        centred_intercept,
    )


def draw_exact_effects(posterior: Any, data: ModelData, random_seed: int) -> list[Any]:
    """The marginal form's group effects drawn exactly, once per posterior draw: one factor's
    from their conditional, nested factors' top down; one DataArray per factor."""
    from hbm.model.families.normal_cells_conditional import draw_effects
    from hbm.model.families.normal_nested_draws import draw_held_levels

    if len(data.factors) == 1:
        return [draw_effects(posterior, data, random_seed)]
    nesting = marginal_nesting(data)
    return draw_held_levels(posterior, data, nesting, random_seed, [True] * nesting.depth)
