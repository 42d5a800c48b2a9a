"""The parameter table of a fit's DataTree: stored in its attributes, or read off its draws.

hbm stores each fit's table as the ``hbm_parameters`` attribute. A tree without one (saved by an
hbm from before tables were stored, or made by hand for a test) holds the seed's model, whose
table the normal family reads off the posterior's variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hbm.model.families.normal import parameter_table_from_posterior
from hbm.model.parameters import ParameterTable

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["PARAMETERS_ATTR", "parameters_of"]

#: The DataTree attribute that holds a fit's parameter table (JSON).
PARAMETERS_ATTR = "hbm_parameters"


def parameters_of(tree: xr.DataTree) -> ParameterTable:
    """The parameter table of ``tree`` (stored, or the seed model's read off its posterior)."""
    if PARAMETERS_ATTR in tree.attrs:
        return ParameterTable.from_json(str(tree.attrs[PARAMETERS_ATTR]))
    return parameter_table_from_posterior(tree["posterior"].to_dataset())
