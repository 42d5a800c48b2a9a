"""Group draws in ``fit.nc`` on request: ``--keep-group-draws``, thinned or in float32.

By default ``fit.nc`` holds the group effects' draws only when the fit holds them (up to
``DEFAULTS.group_draws_max_values`` values; :mod:`hbm.results.group_draws`): past that, a loaded
fit draws them again exactly from its seed, and the file stays small (a million groups: the
hyperparameters' draws and the per-group statistics, tens of MB, instead of 32 GB of draws).
Someone who wants the draws in the file anyway (to read them with ArviZ or another tool) asks
for them with :class:`KeepGroupDraws`:

- every draw in float64 goes into the ``posterior`` group, as a fit that holds its draws stores
  them (``xarray.open_datatree("fit.nc")["posterior"]["theta"]``);
- every ``thin``-th draw of each chain, or float32 values, go into a group of their own,
  ``group_draws``, with the posterior's draw numbers as coordinates: they are not the fit's draws
  (so hbm itself never reads them back in place of the exact ones).

The draws are written a block at a time straight into the file (h5netcdf), never held whole:
memory stays that of one step of :meth:`hbm.results.group_draws.GroupDraws.sweep`. A loaded fit
leaves draws past the limit in the file and draws them again when needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hbm.core.names import term_dim
from hbm.results.group_draws import GroupDraws

__all__ = ["KEPT_ATTR", "KEPT_GROUP", "KeepGroupDraws", "write_kept_draws"]

#: The root attribute describing kept draws, and the group thinned / float32 draws go into.
KEPT_ATTR = "hbm_kept_group_draws"
KEPT_GROUP = "group_draws"


@dataclass(frozen=True)
class KeepGroupDraws:
    """Which group draws to write into ``fit.nc``: every ``thin``-th draw of each chain, as
    ``dtype``.

    >>> KeepGroupDraws(thin=10, dtype="float32").group
    'group_draws'
    >>> KeepGroupDraws().group
    'posterior'
    """

    thin: int = 1
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        if isinstance(self.thin, bool) or not isinstance(self.thin, int) or self.thin < 1:
            raise ValueError(
                f"The group draws' thinning must be a positive integer; got {self.thin!r}."
            )
        if self.dtype not in ("float64", "float32"):
            raise ValueError(
                f"The group draws' dtype must be 'float64' or 'float32'; got {self.dtype!r}."
            )

    @property
    def group(self) -> str:
        """``posterior`` for every draw in float64, else :data:`KEPT_GROUP`."""
        return "posterior" if self.thin == 1 and self.dtype == "float64" else KEPT_GROUP

    def describe(self) -> str:
        return json.dumps({"group": self.group, "thin": self.thin, "dtype": self.dtype})


def write_kept_draws(
    path: str, draws: GroupDraws, keep: KeepGroupDraws, draw_labels: np.ndarray
) -> None:
    """Append ``draws`` (every ``keep.thin``-th draw of each chain) to the netCDF file ``path``.

    ``draw_labels`` are the posterior's draw coordinates.
    """
    import h5netcdf
    import h5py

    chains, per_chain = draws.n_chains, draws.n_per_chain
    kept = np.arange(0, per_chain, keep.thin)
    dims = ["chain", "draw", draws.group]
    if draws.terms is not None:
        dims.append(term_dim(draws.group))
    with h5netcdf.File(path, "a") as handle:
        group = handle.groups[keep.group] if keep.group in handle.groups else None
        if group is None:
            group = handle.create_group(keep.group)
            group.dimensions["chain"] = chains
            group.dimensions["draw"] = kept.size
            group.create_variable("chain", ("chain",), data=np.arange(chains, dtype=np.int64))
            group.create_variable(
                "draw", ("draw",), data=np.asarray(draw_labels)[kept].astype(np.int64)
            )
        # the posterior may have the group's or its terms' dimension already (sd_<g>'s terms)
        coordinates = [(draws.group, draws.labels)]
        if draws.terms is not None:
            coordinates.append((dims[3], draws.terms))
        for dim, names in coordinates:
            if dim in group.dimensions:
                continue
            group.dimensions[dim] = len(names)
            coordinate = group.create_variable(dim, (dim,), dtype=h5py.string_dtype())
            coordinate[:] = np.asarray(names, dtype=object)
        # a chunk per draw (or part of one): each draw is written whole, once
        chunks: tuple[int, ...] = (1, 1, int(min(draws.n_groups, 1 << 16)))
        if draws.terms is not None:
            chunks = (*chunks, draws.n_terms)
        variable = group.create_variable(
            draws.name, tuple(dims), dtype=np.dtype(keep.dtype), chunks=chunks
        )
        for start, stop, values in draws.sweep():
            for flat in range(start, stop):
                chain, draw = divmod(flat, per_chain)
                if draw % keep.thin:
                    continue
                row = values[flat - start].astype(keep.dtype)
                at = draw // keep.thin
                if draws.terms is None:
                    variable[chain, at, :] = row[:, 0]
                else:
                    variable[chain, at, :, :] = row
