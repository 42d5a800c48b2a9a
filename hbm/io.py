"""Saving and loading fits as netCDF DataTrees; nothing is ever pickled.

A saved fit is the fit's DataTree (``posterior``, ``sample_stats``, ``observed_data``,
``group_data``) with JSON attributes at its root: ``hbm_spec`` (what was asked), ``hbm_run``
(sampler, seed, versions, parametrization), ``hbm_data`` (data description) and ``hbm_diagnosis``.
``xarray.open_datatree(path)`` reads it too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hbm.fitting import Fit

__all__ = ["load_fit", "save_fit"]

FORMAT = "hbm-fit/1"


def save_fit(fit: Fit, path: Path) -> Path:
    """Write ``fit`` to ``path`` (netCDF4 via h5netcdf) and return the path."""
    tree = fit.idata.copy()
    stats = tree["sample_stats"].to_dataset()
    # Free-text per-draw messages (object arrays) do not belong in a portable file.
    text = [n for n, v in stats.data_vars.items() if v.dtype == object]
    if text:
        tree["sample_stats"] = stats.drop_vars(text)
    tree.attrs["hbm_format"] = FORMAT
    tree.attrs["hbm_priors"] = json.dumps(
        {k: {"text": p.text(), "source": p.source} for k, p in fit.priors.items()}
    )
    tree.attrs["hbm_parametrization_reason"] = fit.reason
    tree.to_netcdf(path, engine="h5netcdf")
    return path


def load_fit(path: str | Path) -> Fit:
    """Read a fit written by :func:`save_fit`.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a netCDF file or not a saved hbm fit.
    """
    import xarray as xr

    from hbm.data import GroupedData
    from hbm.diagnostics import Diagnosis
    from hbm.fitting import Fit
    from hbm.priors import parse_prior
    from hbm.spec import FitSpec

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved fit at {str(path)!r}.")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as error:  # noqa: BLE001 - any reader failure means "not a fit file"
        raise ValueError(
            f"{str(path)!r} is not a readable netCDF file ({type(error).__name__})."
        ) from None
    if tree.attrs.get("hbm_format") != FORMAT or "group_data" not in tree.children:
        raise ValueError(f"{str(path)!r} is a netCDF file but not a fit saved by hbm.")
    spec = FitSpec.from_json(tree.attrs["hbm_spec"])
    groups = tree["group_data"].to_dataset()
    dim = spec.group
    data = GroupedData(
        group=spec.group,
        value=spec.value,
        se=spec.se,
        labels=tuple(str(v) for v in groups[dim].values),
        order=spec.order,  # type: ignore[arg-type]
        n=groups["n"].values.astype(np.int64),
        mean=groups["mean"].values,
        ss=groups["ss"].values,
        stderr=groups["se"].values if "se" in groups else None,
    )
    priors = {
        name: replace(parse_prior(entry["text"], name), source=entry["source"])
        for name, entry in json.loads(tree.attrs["hbm_priors"]).items()
    }
    diagnosis_raw = json.loads(tree.attrs["hbm_diagnosis"])
    known = set(Diagnosis.__dataclass_fields__) - {"extra"}
    diagnosis = Diagnosis(
        **{k: v for k, v in diagnosis_raw.items() if k in known},
        extra={k: v for k, v in diagnosis_raw.items() if k not in known},
    )
    reason = tree.attrs.get("hbm_parametrization_reason", "")
    for name in ("hbm_format", "hbm_priors", "hbm_parametrization_reason"):
        tree.attrs.pop(name, None)
    return Fit(
        spec=spec,
        data=data,
        priors=priors,
        idata=tree,
        diagnosis=diagnosis,
        parametrization=str(tree.attrs["parametrization"]),
        reason=str(reason),
    )
