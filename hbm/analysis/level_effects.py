"""Nested levels' effects added up: a school's coefficient includes its district's effect.

With nested grouping factors (:mod:`hbm.data.nesting`) a group's coefficient of a term is the
population's plus the effects of that term of every group it lies in, itself included
(``beta + u_district + u_school``). :func:`add_ancestor_effects` adds the ancestors' part to a
block of a factor's draws; for a factor that is not part of a chain of nested factors (one
factor, or crossed ones) it adds nothing.
"""

from __future__ import annotations

import numpy as np

from hbm.core.names import effect_name
from hbm.data.model_data import FactorData
from hbm.data.nesting import nesting_of
from hbm.results.fit_result import FitResult

__all__ = ["add_ancestor_effects"]


def add_ancestor_effects(
    result: FitResult, factor: FactorData, values: np.ndarray, groups: slice = slice(None)
) -> None:
    """Add, in place, the effects of the groups that ``factor``'s groups ``groups`` lie in to
    ``values`` ``(S, groups, q)`` (terms in ``factor.terms``' order)."""
    data = result.model_data
    if len(data.factors) < 2:
        return
    nesting = result.cache.get(("nesting",), lambda: nesting_of(data))
    if nesting is None or factor.name not in nesting.names:
        return
    level = nesting.names.index(factor.name)
    posterior = result.idata["posterior"]
    chosen = np.arange(factor.n_groups)[groups]
    for outer_level in range(level):
        outer = nesting.factors[outer_level]
        shared = [
            (t, outer.terms.index(term))
            for t, term in enumerate(factor.terms)
            if term in outer.terms
        ]
        if not shared:
            continue
        ancestors = nesting.ancestors(level, outer_level)[chosen]
        name = effect_name(outer.name)
        if name in posterior:
            u = posterior[name].transpose("chain", "draw", ...).values
            u = np.asarray(u, dtype=float).reshape(-1, outer.n_groups, outer.n_terms)[:, ancestors]
        else:  # drawn again from the seed: only these groups' ancestors
            wanted, inverse = np.unique(ancestors, return_inverse=True)
            u = result.group_draws(outer.name).columns(wanted)[:, inverse.reshape(-1)]
        for t, s in shared:
            values[:, :, t] += u[:, :, s]
