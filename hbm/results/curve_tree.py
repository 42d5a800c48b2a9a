"""A curve model's rows in its fit's DataTree (the ``curve_data`` group), both ways.

The group holds each row's time ``t``, value ``y`` and group ``code`` (dimension ``row``), with
the group labels as the coordinate of the group column's name; its attributes name the columns.
With the model description that is all :class:`hbm.data.curve_data.CurveData` holds, so a saved
fit is rebuilt exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hbm.data.curve_data import CurveData

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CURVE_DATA", "add_curve_data", "curve_data_from_tree"]

CURVE_DATA = "curve_data"
_LABELS = "curve_group"


def add_curve_data(idata: xr.DataTree, data: CurveData) -> None:
    """Store ``data``'s rows in ``idata`` (in place)."""
    import xarray as xr

    dataset = xr.Dataset(
        {
            "t": (("row",), data.t),
            "y": (("row",), data.y),
            "code": (("row",), data.codes),
            "labels": ((_LABELS,), np.asarray(data.labels, dtype=object).astype(str)),
        }
    )
    dataset.attrs.update(
        group=data.group, time=data.time, value=data.value, dropped=int(data.dropped)
    )
    idata[CURVE_DATA] = xr.DataTree(dataset)


def curve_data_from_tree(tree: xr.DataTree) -> CurveData:
    """The :class:`CurveData` stored by :func:`add_curve_data`."""
    dataset = tree[CURVE_DATA].to_dataset()
    attrs = dataset.attrs
    return CurveData(
        group=str(attrs["group"]),
        time=str(attrs["time"]),
        value=str(attrs["value"]),
        labels=tuple(str(v) for v in dataset["labels"].values),
        codes=dataset["code"].values.astype(np.int64),
        t=dataset["t"].values.astype(float),
        y=dataset["y"].values.astype(float),
        dropped=int(attrs.get("dropped", 0)),
    )
