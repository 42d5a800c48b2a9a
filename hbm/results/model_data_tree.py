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

if TYPE_CHECKING:
    import xarray as xr

    from hbm.model.description import ModelDescription

__all__ = ["CELL_DATA", "add_cell_data", "model_data_from_tree"]

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
    )
