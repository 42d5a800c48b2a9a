"""Saving and loading fits as netCDF (or zarr) DataTrees; nothing is ever pickled.

A saved fit is the fit's DataTree (``posterior``, ``sample_stats``, ``observed_data``,
``group_data``) with JSON attributes at its root (:mod:`hbm.results.tree`): ``hbm_model`` (the
model description) and ``hbm_model_hash``, ``hbm_spec`` (what was asked), ``hbm_parameters`` (the
parameter table), ``hbm_run`` (sampler, seed, versions, parametrization), ``hbm_data`` (data
description), ``hbm_diagnosis`` and ``hbm_priors``, and ``hbm_format`` naming the layout.
``xarray.open_datatree(path)`` reads it too. A path ending in ``.zarr`` is written as a zarr store
(a folder), anything else as netCDF4. Files of the layout ``hbm-fit/1`` (before descriptions and
parameter tables were stored) are read too: they hold the seed's model.

Writes are atomic: the file (or store) is written under a temporary name next to ``path`` and
renamed into place, so an interrupted save never leaves a file that looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hbm.core.defaults import DEFAULTS
from hbm.core.files import atomic_write
from hbm.data.model_data import ModelData
from hbm.model.stored import PARAMETERS_ATTR
from hbm.results.fit_result import FitResult
from hbm.results.group_draws import GROUP_DRAWS_ATTR, GroupDraws
from hbm.results.kept_draws import KEPT_ATTR, KEPT_GROUP, KeepGroupDraws, write_kept_draws
from hbm.results.tree import record_attrs, result_from_tree

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["FORMAT", "KeepGroupDraws", "load_result", "save_result"]


def json_names(text: object, role: str) -> list[str]:
    """The names of the parameters with ``role`` in a stored parameter table (JSON text)."""
    import json

    if not isinstance(text, str):
        return []
    try:
        entries = json.loads(text)
    except json.JSONDecodeError:
        return []
    return [e["name"] for e in entries if isinstance(e, dict) and e.get("role") == role]


FORMAT = "hbm-fit/2"
#: Layouts this hbm reads.
READABLE = ("hbm-fit/1", FORMAT)
_REQUIRED_ATTRS = ("hbm_spec", "hbm_run", "hbm_data", "hbm_diagnosis", "hbm_priors")


def save_result(
    result: FitResult, path: str | Path, *, keep_group_draws: KeepGroupDraws | None = None
) -> Path:
    """Write ``result`` to ``path`` and return the path.

    Parameters
    ----------
    result : FitResult
    path : str or Path
        ``*.zarr``: a zarr store (a folder); anything else: a netCDF4 file (via h5netcdf). An
        existing file (or a zarr store written by hbm) at ``path`` is replaced.
    keep_group_draws : KeepGroupDraws, optional
        Write the group effects' draws too, however many (every draw, or thinned / float32:
        :mod:`hbm.results.kept_draws`). By default they are written only when the fit holds
        them; exact draws it does not hold are drawn again from the seed after loading.

    Examples
    --------
    >>> fit.save("schools.nc")  # doctest: +SKIP
    >>> import xarray as xr; xr.open_datatree("schools.nc")["posterior"]["mu"]  # doctest: +SKIP
    """
    path = Path(path)
    is_zarr = _is_zarr(path)
    if path.is_dir() and not (is_zarr and _is_hbm_store(path)):
        raise ValueError(
            f"Cannot save to {str(path)!r}: it is a folder"
            + (" that is not a fit saved by hbm." if is_zarr else "; expected a file name.")
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(path.parent)!r} does not exist."
        )
    tree = _portable_tree(result)
    kept = _kept(result, keep_group_draws, is_zarr)
    if kept is not None:
        tree.attrs[KEPT_ATTR] = kept.describe()
        every = _every_group_draws(result)  # one per grouping factor (nested levels)
        for draws in every:
            if kept.group != "posterior" and draws.exact and draws.name in tree["posterior"]:
                tree["posterior"] = tree["posterior"].to_dataset().drop_vars(draws.name)
        labels = np.asarray(tree["posterior"]["draw"].values)
        written = [d for d in every if not (d.held and kept.group == "posterior")]

        def write(name: str) -> None:
            tree.to_netcdf(name, engine="h5netcdf")
            for draws in written:
                write_kept_draws(name, draws, kept, labels)

        return atomic_write(path, write)
    if is_zarr:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
        try:
            target = staging / path.name
            with warnings.catch_warnings():
                # zarr 3 warns that consolidated metadata is not yet in the format-3 spec; it is
                # what lets a plain ``xarray.open_datatree(path)`` read the store quietly.
                warnings.filterwarnings("ignore", message="Consolidated metadata")
                tree.to_zarr(target, mode="w-")
            if path.exists():  # an older hbm store: move it aside, swap, then remove it
                os.replace(path, staging / "old")
            os.replace(target, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path
    return atomic_write(path, lambda name: tree.to_netcdf(name, engine="h5netcdf"))


def _every_group_draws(result: FitResult) -> list[GroupDraws]:
    """The group draws of every grouping factor (the seed model's one)."""
    data = result.data
    if isinstance(data, ModelData) and len(data.factors) > 1:
        return [result.group_draws(f.name) for f in data.factors]
    return [result.group_draws()]


def _kept(result: FitResult, keep: KeepGroupDraws | None, is_zarr: bool) -> KeepGroupDraws | None:
    if keep is None:
        return None
    if not isinstance(keep, KeepGroupDraws):
        raise TypeError(f"keep_group_draws takes a KeepGroupDraws; got {type(keep).__name__}.")
    if is_zarr:
        raise ValueError(
            "Group draws are kept in netCDF files (fit.nc); a zarr store holds the draws the fit "
            "holds."
        )
    return keep


def _portable_tree(result: FitResult) -> xr.DataTree:
    """The fit's DataTree with what a portable file needs and nothing it cannot hold."""
    record_attrs(result)
    tree = result.idata.copy()
    if "sample_stats" in tree.children:
        stats = tree["sample_stats"].to_dataset()
        # Free-text per-draw messages (object arrays) do not belong in a portable file.
        text = [n for n, v in stats.data_vars.items() if v.dtype == object]
        if text:
            tree["sample_stats"] = stats.drop_vars(text)
    tree.attrs["hbm_format"] = FORMAT
    return tree


def load_result(path: str | Path) -> FitResult:
    """Read a fit written by :func:`save_result` (netCDF file or ``*.zarr`` store).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file cannot be read, is not a saved hbm fit, or was saved in a newer layout.

    Examples
    --------
    >>> import hbm
    >>> fit = hbm.load("out/schools/fit.nc")  # doctest: +SKIP
    >>> fit.summary()  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved fit at {str(path)!r}.")
    tree = _open(path)
    where = str(path)
    fmt = tree.attrs.get("hbm_format")
    has_data = any(g in tree.children for g in ("group_data", "cell_data", "curve_data"))
    if fmt is None or "posterior" not in tree.children or not has_data:
        raise ValueError(f"{where!r} is readable but is not a fit saved by hbm.")
    if fmt not in READABLE:
        raise ValueError(
            f"{where!r} was saved in the layout {fmt!r}; this hbm reads "
            f"{' and '.join(map(repr, READABLE))} (was it saved by a newer hbm?)."
        )
    try:
        return _result_from_file(tree)
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(
            f"{where!r} is marked as a saved hbm fit but is damaged or incomplete "
            f"({type(error).__name__}: {str(error).rstrip('.')})."
        ) from None


def _open(path: Path) -> xr.DataTree:
    import xarray as xr

    zarr = path.is_dir()
    if zarr and not (path / "zarr.json").exists() and not (path / ".zgroup").exists():
        raise ValueError(f"{str(path)!r} is a folder but not a zarr store.")
    try:
        if zarr:
            return _without_large_draws(
                xr.open_datatree(path, engine="zarr", consolidated=None)
            ).load()
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return _without_large_draws(tree).load()
    except Exception as error:  # any reader failure means "not a readable file"
        kind = "zarr store" if zarr else "netCDF file"
        raise ValueError(
            f"{str(path)!r} is not a readable {kind} ({type(error).__name__}: {error})."
        ) from None


def _without_large_draws(tree: xr.DataTree) -> xr.DataTree:
    """The tree (not yet loaded) without group draws past ``DEFAULTS.group_draws_max_values``
    that can be drawn again exactly, and without kept thinned / float32 draws past it."""
    limit = DEFAULTS.group_draws_max_values
    heavy = [
        name
        for name, child in tree.children.items()
        if name == KEPT_GROUP and sum(v.size for v in child.to_dataset().data_vars.values()) > limit
    ]
    if GROUP_DRAWS_ATTR in tree.attrs and "posterior" in tree.children:
        posterior = tree["posterior"].to_dataset()
        effects = [
            name
            for name in json_names(tree.attrs.get(PARAMETERS_ATTR), "group_effect")
            if name in posterior and posterior[name].size > limit
        ]
        if effects:
            tree = tree.copy()
            tree["posterior"] = posterior.drop_vars(effects)
    if heavy:
        tree = tree.copy()
        for name in heavy:
            del tree[name]
    return tree


def _result_from_file(tree: xr.DataTree) -> FitResult:
    missing = [name for name in _REQUIRED_ATTRS if name not in tree.attrs]
    if missing:
        raise KeyError(f"missing attribute(s) {', '.join(missing)}")
    tree.attrs.pop("hbm_format", None)
    result = result_from_tree(tree)
    posterior = tree["posterior"].to_dataset()
    redrawn = GROUP_DRAWS_ATTR in tree.attrs
    for parameter in result.parameters.reported:
        # A zarr store with missing chunk files reads back as fill values (NaN): not a fit.
        name = parameter.name
        if redrawn and parameter.role == "group_effect" and name not in posterior:
            continue  # drawn again exactly from the seed when needed
        if name not in posterior or not np.isfinite(posterior[name].values).all():
            raise ValueError(f"the posterior draws of {name!r} are missing or not finite")
    return result


def _is_zarr(path: Path) -> bool:
    return path.suffix.lower() == ".zarr"


def _is_hbm_store(path: Path) -> bool:
    """True for a zarr store that hbm wrote (its root metadata names the hbm format)."""
    for meta in ("zarr.json", ".zattrs"):
        try:
            text = (path / meta).read_text(encoding="utf-8")
        except OSError:
            continue
        if FORMAT in text:
            return True
    return False
