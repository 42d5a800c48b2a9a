"""A factor's effect draws as the DataArray every exact-draw module returns: ``u_<factor>``
with dims ``(chain, draw, <factor>, <factor>_term)``, labelled from the factor.

>>> import numpy as np, xarray as xr
>>> from types import SimpleNamespace
>>> posterior = xr.Dataset(coords={"chain": [0, 1], "draw": [0, 1, 2]})
>>> school = SimpleNamespace(name="school", labels=("A", "B"), terms=("Intercept",))
>>> effect_array(np.zeros((6, 2, 1)), posterior, school).dims
('chain', 'draw', 'school', 'school_term')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import effect_name, term_dim

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["effect_array"]


def effect_array(values: np.ndarray, posterior: Any, factor: Any) -> xr.DataArray:
    """``values`` (draws in chain order, groups, terms) as ``u_<factor.name>`` with the chain
    and draw coordinates of ``posterior`` and the factor's ``labels`` and ``terms``."""
    import xarray as xr

    chains, per_chain = posterior.sizes["chain"], posterior.sizes["draw"]
    groups, terms = list(factor.labels), list(factor.terms)
    return xr.DataArray(
        np.asarray(values).reshape(chains, per_chain, len(groups), len(terms)),
        dims=("chain", "draw", factor.name, term_dim(factor.name)),
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            factor.name: groups,
            term_dim(factor.name): terms,
        },
        name=effect_name(factor.name),
    )
