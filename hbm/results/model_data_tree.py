"""A formula model's reduced data in its fit's DataTree (the ``cell_data`` group), both ways.

The group holds, per cell, the count ``n``, the mean vector ``mean`` and its ``low`` part, the
centred co-moment matrix ``comoment`` of the design columns, and each grouping factor's group of
every cell (``cell_<factor>``), with the factors' labels as coordinates; its attributes hold the
design record (levels, reference levels, stateful transforms) as JSON. With the model description
that is all :class:`hbm.data.model_data.ModelData` holds, so a saved fit is rebuilt exactly.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from hbm.data.comoments import CellMoments
from hbm.data.model_data import FactorData, ModelData
from hbm.results.outcome_tree import outcome_from_tree

if TYPE_CHECKING:
    import xarray as xr

    from hbm.model.description import ModelDescription

__all__ = [
    "CELL_DATA",
    "PLOT_ROWS",
    "add_cell_data",
    "add_plot_rows",
    "model_data_from_tree",
    "plotted_groups",
]

CELL_DATA = "cell_data"


def add_cell_data(idata: xr.DataTree, data: ModelData) -> None:
    """Store ``data``'s statistics in ``idata`` (in place)."""
    import xarray as xr

    moments = data.moments
    columns = list(data.columns)
    variables = {
        "n": (("cell",), moments.n),
        "mean": (("cell", "column"), moments.mean),
        "low": (("cell", "column"), moments.low),
        "comoment": (("cell", "column", "column_b"), moments.comoment),
    }
    coords: dict[str, object] = {
        "cell": np.arange(data.n_cells),
        "column": columns,
        "column_b": columns,
    }
    for factor in data.factors:
        variables[f"cell_{factor.name}"] = (("cell",), factor.cells)
        coords[factor.name] = list(factor.labels)
    dataset = xr.Dataset(variables, coords=coords)
    dataset.attrs.update(
        response=data.response,
        population=json.dumps(list(data.population)),
        design=json.dumps(data.design, sort_keys=True),
        dropped=int(data.dropped),
    )
    idata[CELL_DATA] = dataset


def model_data_from_tree(tree: xr.DataTree, description: ModelDescription) -> ModelData:
    """The ``ModelData`` stored by :func:`add_cell_data`, with the description's factors."""
    cells = tree[CELL_DATA].to_dataset()
    columns = [str(c) for c in cells["column"].values]
    factors = []
    for group in description.groups:
        name = group.factor
        terms = group.terms
        factors.append(
            FactorData(
                name=name,
                labels=tuple(str(v) for v in cells[name].values),
                terms=terms,
                columns=tuple(columns.index(t) for t in terms),
                blocks=group.blocks,
                correlated=tuple(
                    c and len(b) > 1 for b, c in zip(group.blocks, group.correlated, strict=True)
                ),
                cells=cells[f"cell_{name}"].values.astype(np.int64),
            )
        )
    moments = CellMoments(
        n=cells["n"].values.astype(np.int64),
        mean=cells["mean"].values.astype(float),
        low=cells["low"].values.astype(float),
        comoment=cells["comoment"].values.astype(float),
    )
    return ModelData(
        response=str(cells.attrs["response"]),
        columns=tuple(columns),
        population=tuple(json.loads(cells.attrs["population"])),
        factors=tuple(factors),
        moments=moments,
        dropped=int(cells.attrs.get("dropped", 0)),
        design=json.loads(cells.attrs.get("design", "{}")),
        outcome=outcome_from_tree(tree),
    )


#: Groups whose rows a fit keeps for its plots (the fitted-lines figure), at most.
PLOTTED_GROUPS = 30
PLOT_ROWS = "plot_rows"


def plotted_groups(data: ModelData, random_seed: int) -> np.ndarray:
    """The groups of the first factor shown in per-group plots: all of them up to
    :data:`PLOTTED_GROUPS`, else the ten largest, the ten smallest and ten others at random."""
    factor = data.factors[0]
    if factor.n_groups <= PLOTTED_GROUPS:
        return np.arange(factor.n_groups)
    sizes = np.bincount(factor.cells, weights=data.moments.n, minlength=factor.n_groups)
    order = np.argsort(sizes, kind="stable")
    third = PLOTTED_GROUPS // 3
    chosen = set(order[-third:]) | set(order[:third])
    rest = np.array([j for j in range(factor.n_groups) if j not in chosen])
    rng = np.random.default_rng([int(random_seed), 0x9107])
    chosen |= set(rng.choice(rest, size=PLOTTED_GROUPS - len(chosen), replace=False))
    return np.array(sorted(chosen))


def add_plot_rows(idata: xr.DataTree, data: ModelData, groups: np.ndarray) -> None:
    """Keep the rows of ``groups`` (of the first factor) in ``idata`` for plots, when the data
    still hold their rows."""
    import xarray as xr

    if data.rows is None:
        return
    codes, values = data.rows
    keep = np.isin(codes[:, 0], groups)
    factor = data.factors[0]
    idata[PLOT_ROWS] = xr.Dataset(
        {
            "group": (("row",), codes[keep, 0]),
            "values": (("row", "column"), values[keep]),
        },
        coords={"row": np.arange(int(keep.sum())), "column": list(data.columns)},
        attrs={"factor": factor.name, "groups": json.dumps([int(g) for g in groups])},
    )
