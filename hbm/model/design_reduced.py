"""An engine's reduction of a formula's design columns -> ``ModelData``, as the in-memory path
builds it (:func:`hbm.model.design.build_model_data`).

An engine groups rows by the grouping *columns*; a formula's cells are the combinations of its
grouping *factors* (``school``, ``district:school``). Each engine cell's factor labels are the
labels of its columns, joined with ``:`` as the in-memory path joins them; factor codes follow
the order asked for (first-seen: the cells' first-seen order, which is the rows'; sorted), and the
cells are ordered as the in-memory path orders them (by their factor codes), engine cells whose
factor labels coincide merged exactly (Chan's update). The checks that need the rows in memory are
made from the moments: the response's range, population terms that do not vary or are collinear
(their second moments from the co-moments), a factor with one group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.data.columns import check_range
from hbm.data.comoments import CellMoments
from hbm.data.engines.request import Reduced
from hbm.data.model_data import ModelData
from hbm.model.design import cells_of, check_collinear, factor_codes, factor_data
from hbm.model.design_columns import DesignPlan
from hbm.model.design_info import design_record
from hbm.model.formula import ParsedFormula

__all__ = ["model_data_from_reduced"]


def model_data_from_reduced(
    reduced: Reduced,
    parsed: ParsedFormula,
    plan: DesignPlan,
    variables: dict[str, dict[str, Any]],
    groups: tuple[str, ...],
    *,
    order: str,
) -> ModelData:
    """Assemble ``ModelData`` from ``reduced`` (cells keyed by the grouping columns ``groups``)."""
    if order not in ("first-seen", "sorted"):
        raise ValueError(
            f"The 'order' option must be one of 'first-seen', 'sorted'; got {order!r}."
        )
    names = [c.name for c in plan.columns]
    response = names[-1]
    moments = reduced.moments
    if moments.n.sum() < 2:
        rows = int(moments.n.sum())
        raise ValueError(f"The table has {rows} row(s) with data; a model needs more.")
    check_range(response, np.array([reduced.minimum[-1], reduced.maximum[-1]]))
    n_rows, mean, comoment = moments.totals()
    x = len(plan.population)
    has_intercept = "Intercept" in plan.population
    second = comoment[:x, :x] / n_rows
    if not has_intercept:
        second = second + np.outer(mean[:x], mean[:x])
    check_collinear(list(plan.population), second)

    codes, labels = {}, {}
    position = {g: i for i, g in enumerate(groups)}
    for factor in parsed.factors:
        parts = [position[p.strip("`")] for p in factor.split(":")]
        joined = np.array([":".join(key[i] for i in parts) for key in reduced.keys], dtype=object)
        codes[factor], labels[factor] = factor_codes(joined, factor, order)
    stacked = np.column_stack([codes[f] for f in parsed.factors])
    cell_codes, cell_of_key = cells_of(stacked)
    cells = _merged(moments, cell_of_key, len(cell_codes))
    factors = tuple(
        factor_data(name, labels[name], plan.blocks[name], names, cell_codes[:, i], parsed.text)
        for i, name in enumerate(parsed.factors)
    )
    return ModelData(
        response=response,
        columns=tuple(names),
        population=plan.population,
        factors=factors,
        moments=cells,
        dropped=reduced.dropped,
        design=design_record(parsed, variables, list(plan.population), {}),
    )


def _merged(moments: CellMoments, target: np.ndarray, n_cells: int) -> CellMoments:
    """The engine cells' moments placed at the formula's cells, those that share one merged in
    the engine's order."""
    total = CellMoments.empty(n_cells, moments.n_columns)
    rank = np.zeros(len(target), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, cell in enumerate(target.tolist()):
        rank[i] = seen.get(cell, 0)
        seen[cell] = rank[i] + 1
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        index = np.flatnonzero(rank == r)
        total = total.merge(moments.subset(index).take(target[index], n_cells))
    return total
