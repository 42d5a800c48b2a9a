"""The posterior summary table: one row per parameter, ArviZ's statistics and diagnostics."""

from __future__ import annotations

import pandas as pd
import xarray as xr

__all__ = ["CI_PROB", "posterior_summary"]

#: Probability of the equal-tailed credible intervals in summaries and reports.
CI_PROB = 0.94


def posterior_summary(idata: xr.DataTree, *, ci_prob: float = CI_PROB) -> pd.DataFrame:
    """Summarise ``mu``, ``tau``, ``sigma`` (rows form) and ``theta[<label>]``.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's result, with a ``posterior`` group.
    ci_prob : float
        Probability of the equal-tailed interval (columns ``eti94_lb``, ``eti94_ub`` for 0.94).

    Returns
    -------
    pandas.DataFrame
        First column ``param`` (``mu``, ``tau``, ``sigma``, ``theta[<label>]``), then ``mean``,
        ``sd``, the interval, ``ess_bulk``, ``ess_tail``, ``r_hat``, ``mcse_mean``, ``mcse_sd``.
        A parameter fixed by its prior has ``sd`` 0 and no ESS or R-hat (NaN).
    """
    import arviz as az

    posterior = idata["posterior"]
    names = [n for n in ("mu", "tau", "sigma", "theta") if n in posterior]
    table = az.summary(
        idata, var_names=names, ci_prob=ci_prob, ci_kind="eti", round_to="none", kind="all"
    )
    table.index.name = "param"
    return table.reset_index()
