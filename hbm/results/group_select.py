"""Some groups' draws as a DataArray: what ``Fit.group_draws`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hbm.core.names import term_dim
from hbm.results.fit_result import FitResult

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["select_group_draws"]


def select_group_draws(result: FitResult, groups: str | Sequence[str] | None) -> xr.DataArray:
    """The draws of the named groups (every group when ``None``), ``(chain, draw, <group>[,
    <group>_term])``.

    Raises
    ------
    ValueError
        For a label the fit does not have, or every group of a fit past
        ``DEFAULTS.group_draws_max_values`` values.
    """
    import xarray as xr

    draws = result.group_draws()
    if groups is None:
        values = draws.all()
        labels = list(draws.labels)
    else:
        labels = [groups] if isinstance(groups, str) else [str(g) for g in groups]
        where = {label: j for j, label in enumerate(draws.labels)}
        unknown = [label for label in labels if label not in where]
        if unknown:
            shown = ", ".join(map(repr, draws.labels[:10])) + (
                ", ..." if draws.n_groups > 10 else ""
            )
            raise ValueError(
                f"The fit has no {draws.group} {', '.join(map(repr, unknown))}; its labels are "
                f"{shown}."
            )
        values = draws.columns(np.array([where[label] for label in labels], dtype=np.int64))
    dims = ["chain", "draw", draws.group]
    coords: dict[str, object] = {
        "chain": np.asarray(result.idata["posterior"]["chain"].values),
        "draw": np.asarray(result.idata["posterior"]["draw"].values),
        draws.group: labels,
    }
    shape: tuple[int, ...] = (draws.n_chains, draws.n_per_chain, len(labels))
    if draws.terms is not None:
        dims.append(term_dim(draws.group))
        coords[dims[-1]] = list(draws.terms)
        shape = (*shape, draws.n_terms)
    return xr.DataArray(
        np.asarray(values).reshape(shape), dims=dims, coords=coords, name=draws.name
    )
