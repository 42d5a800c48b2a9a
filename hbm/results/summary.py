"""The posterior summary table: one row per parameter, ArviZ's statistics and diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.diagnostics.convergence import summary_frame
from hbm.model.stored import parameters_of

if TYPE_CHECKING:
    import xarray as xr

    from hbm.model.parameters import ParameterTable

__all__ = ["CI_PROB", "posterior_summary"]

#: Probability of the equal-tailed credible intervals in summaries and reports.
CI_PROB = DEFAULTS.ci_prob


def posterior_summary(
    idata: xr.DataTree, *, ci_prob: float = CI_PROB, parameters: ParameterTable | None = None
) -> pd.DataFrame:
    """Summarise every reported parameter of the fit, in its parameter table's order.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's result, with a ``posterior`` group.
    ci_prob : float
        Probability of the equal-tailed interval (columns ``eti94_lb``, ``eti94_ub`` for 0.94).
    parameters : ParameterTable, optional
        The fit's parameter table (by default the one stored in ``idata``); auxiliary parameters
        (``theta_z``) are left out.

    Returns
    -------
    pandas.DataFrame
        First column ``param`` (``mu``, ``tau``, ``sigma``, ``theta[<label>]`` for the seed's
        model), then ``mean``, ``sd``, the interval, ``ess_bulk``, ``ess_tail``, ``r_hat``,
        ``mcse_mean``, ``mcse_sd``. A parameter fixed by its prior is listed with its value,
        ``sd`` 0, and no ESS, R-hat or MCSE (NaN): there is nothing to diagnose.
    """
    table_of = parameters_of(idata) if parameters is None else parameters
    posterior = idata["posterior"]
    names = [p.name for p in table_of.reported if p.name in posterior]
    dataset = posterior.to_dataset()
    # max > min, not std > 0: no NaN-skipping copy of theta (320 MB for 10,000 groups)
    varying = [n for n in names if dataset[n].values.max() > dataset[n].values.min()]
    # ArviZ's summary(kind="all", ci_kind="eti") numbers, vectorized over the parameters: ArviZ's
    # loop over parameters took minutes for 10,000 groups (see hbm/diagnostics/convergence.py)
    table = summary_frame(dataset, varying, ci_prob=ci_prob)
    fixed = [n for n in names if n not in varying]
    if fixed:
        rows = pd.DataFrame(np.nan, index=fixed, columns=table.columns)
        for name in fixed:
            value = float(np.asarray(dataset[name]).flat[0])
            rows.loc[name, ["mean", "sd"]] = [value, 0.0]
            rows.loc[name, [c for c in table.columns if c.startswith("eti")]] = value
        table = pd.concat([table, rows])
        position = {name: i for i, name in enumerate(names)}
        table = table.iloc[
            sorted(range(len(table)), key=lambda i: position[table.index[i].split("[")[0]])
        ]
    table.index.name = "param"
    return table.reset_index()
