"""An outcome family's units in its fit's DataTree (the ``outcome_data`` group), both ways.

The group holds, per unit, the groups' codes, the design row, ``y``, the weight (trials or
exposure), the offset, the constant part of the log likelihood and the rows merged into it; its
attributes hold the family, the response's kind, the units' form, the trials column, the success
level, the offset terms and the notes. With the ``cell_data`` group and the model description
that is all a fit's :class:`~hbm.data.model_data.ModelData` holds, so a saved fit is rebuilt
exactly (the rows of a cells fit are not stored: their log likelihood is, where it fits).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from hbm.data.outcome_data import OutcomeData

if TYPE_CHECKING:
    import xarray as xr

    from hbm.data.model_data import ModelData

__all__ = ["OUTCOME_DATA", "add_outcome_data", "outcome_from_tree"]

OUTCOME_DATA = "outcome_data"
_ARRAYS = ("y", "weight", "offset", "constant", "n_rows")


def add_outcome_data(idata: xr.DataTree, data: ModelData) -> None:
    """Store ``data.outcome`` in ``idata`` (in place); nothing for a normal model."""
    import xarray as xr

    outcome = data.outcome
    if outcome is None:
        return
    columns = list(data.columns[:-1])
    factors = [f.name for f in data.factors]
    variables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        name: (("unit",), getattr(outcome, name)) for name in _ARRAYS
    }
    variables["codes"] = (("unit", "factor"), outcome.codes)
    variables["design"] = (("unit", "design_column"), outcome.design)
    dataset = xr.Dataset(
        variables,
        coords={
            "unit": np.arange(outcome.n_units),
            "factor": factors,
            "design_column": columns,
        },
    )
    dataset.attrs.update(
        family=outcome.family,
        kind=outcome.kind,
        form=outcome.form,
        trials=outcome.trials or "",
        level=outcome.level or "",
        offsets=json.dumps(list(outcome.offsets)),
        notes=json.dumps(list(outcome.notes)),
    )
    idata[OUTCOME_DATA] = dataset


def outcome_from_tree(tree: xr.DataTree) -> OutcomeData | None:
    """The outcome stored by :func:`add_outcome_data`, or None when the tree has none."""
    if OUTCOME_DATA not in tree.children:
        return None
    stored = tree[OUTCOME_DATA].to_dataset()
    attrs = stored.attrs
    return OutcomeData(
        family=str(attrs["family"]),
        kind=str(attrs["kind"]),
        form=str(attrs["form"]),
        codes=stored["codes"].values.astype(np.int64),
        design=stored["design"].values.astype(float),
        y=stored["y"].values.astype(float),
        weight=stored["weight"].values.astype(float),
        offset=stored["offset"].values.astype(float),
        constant=stored["constant"].values.astype(float),
        n_rows=stored["n_rows"].values.astype(np.int64),
        trials=str(attrs.get("trials", "")) or None,
        level=str(attrs.get("level", "")) or None,
        offsets=tuple(json.loads(attrs.get("offsets", "[]"))),
        notes=tuple(json.loads(attrs.get("notes", "[]"))),
    )
