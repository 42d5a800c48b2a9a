"""``hbm.fit_curve``: a named curve per group, partially pooled, and what to do with the fit.

>>> import hbm
>>> df = hbm.datasets.load("orange")
>>> fit = hbm.fit_curve(df, curve="logistic", group="Tree", time="age", value="circumference",
...                     varying=["asym"], draws=200, tune=300, chains=2, random_seed=1,
...                     progressbar=False)
>>> fit.summary()["param"].tolist()[:4]
['beta[asym]', 'beta[xmid]', 'beta[log_scal]', 'sd_Tree[asym]']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hbm.analysis.curve_parameters import group_curve_parameters, population_curve_parameters
from hbm.analysis.curve_predict import curve_bands, forecast
from hbm.api.facade import Fit
from hbm.core.defaults import DEFAULTS
from hbm.inference.config import SampleConfig
from hbm.reporting.curve_report import write_curve_outputs
from hbm.viz.curves import plot_curves, plot_forecast
from hbm.workflow.fit_curve import fit_curve_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.model.priors import Prior

__all__ = [
    "curve_bands",
    "curve_forecast",
    "curve_groups",
    "curve_population",
    "fit_curve",
    "plot_curve_forecast",
    "plot_curves",
    "write_curve_outputs",
]


def fit_curve(
    table: pd.DataFrame | str | Path,
    *,
    curve: str,
    group: str,
    time: str,
    value: str,
    varying: Sequence[str] | str,
    fixed: Mapping[str, float] | None = None,
    family: str = "normal",
    priors: Mapping[str, str | float | Prior] | None = None,
    parametrization: str = DEFAULTS.parametrization,
    draws: int = DEFAULTS.draws,
    tune: int = DEFAULTS.tune,
    chains: int = DEFAULTS.chains,
    target_accept: float = DEFAULTS.target_accept,
    random_seed: int | None = None,
    sampler: str = DEFAULTS.sampler,
    progressbar: bool = True,
    missing: str = DEFAULTS.missing,
) -> Fit:
    """Fit a named curve per group, its parameters partially pooled across groups.

    Parameters
    ----------
    table : DataFrame or path
        Tidy rows: one per group and time (a CSV or Parquet path is read).
    curve : str
        ``linear``, ``exponential``, ``arps``, ``harmonic``, ``logistic``, ``gompertz`` or
        ``asymptotic`` (:mod:`hbm.model.curves`).
    group, time, value : str
        The columns: grouping factor, time (numeric), observed value.
    varying : list of str or "a,b"
        The curve parameters (natural names, ``qi``) that vary by group; several are correlated
        (LKJ). The others are shared by all groups.
    fixed : dict, optional
        Curve parameters held at a natural value (``{"b": 0.8}``).
    family : {"normal", "poisson", "negbinomial"}
        The outcome's distribution around the curve: ``normal`` (identity link, sd ``sigma``),
        or counts (log link: the curve is the expected count, ``log f(t)`` the linear predictor;
        the negative binomial adds its shape ``alpha``). Counts must be whole numbers >= 0; the
        expected count must be positive, so the logistic's and Gompertz curve's ``asym`` is pooled
        on the log scale for counts (``beta[log_asym]``).
    priors : dict, optional
        Prior text by name: ``beta[<term>]``, ``beta``, ``sd_<group>[<term>]``, ``sd_<group>``,
        ``corr_<group>``, ``sigma`` (normal), ``alpha`` (negbinomial) (terms on the pooled
        scale: ``log_qi``).
    parametrization : {"auto", "noncentered", "centered"}
    draws, tune, chains, target_accept, random_seed, sampler, progressbar
        As for :func:`hbm.fit`.
    missing : {"error", "drop"}
        Rows with a missing cell: an error, or left out.

    Returns
    -------
    Fit
        ``summary()``, ``diagnose()``, ``prior_summary()``, ``save()``; the curve functions of
        this module take it (:func:`plot_curves`, :func:`curve_forecast`, ...).
    """
    source = None
    if isinstance(table, str | Path):
        from hbm.data.tables import read_table

        source = str(table)
        table = read_table(table, group=group)
    config = SampleConfig(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=random_seed,
        sampler=sampler,  # type: ignore[arg-type]
        progressbar=progressbar,
    )
    return Fit(
        fit_curve_table(
            table,
            curve=curve,
            group=group,
            time=time,
            value=value,
            varying=varying,
            fixed=fixed,
            family=family,
            priors=priors,
            parametrization=parametrization,
            config=config,
            missing=missing,
            source=source,
        )
    )


def curve_forecast(fit: Any, horizon: float, *, limit: float | None = None) -> pd.DataFrame:
    """Each group's (and the population's and a new group's) curve total to ``horizon``, e.g. a
    well's expected ultimate recovery (:func:`hbm.analysis.curve_predict.forecast`)."""
    return forecast(fit, horizon, limit=limit)


def curve_population(fit: Any) -> pd.DataFrame:
    """The population's curve parameters on their natural scale."""
    return population_curve_parameters(fit)


def curve_groups(fit: Any) -> pd.DataFrame:
    """Each group's varying parameters on their natural scale."""
    return group_curve_parameters(fit)


def plot_curve_forecast(fit: Any, horizon: float, *, limit: float | None = None) -> Figure:
    """The forecast per group and for a new group, as a figure."""
    return plot_forecast(forecast(fit, horizon, limit=limit))
