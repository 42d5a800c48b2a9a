"""The Python API: ``hbm.fit``, ``hbm.load`` and the ``Fit`` they return.

``Fit`` is a thin façade over a :class:`hbm.results.fit_result.FitResult`: its attributes are the
record's, and each method calls one plain function in its own module (summary, shrinkage, plots,
report, save, predict). Nothing below this module imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.inference.config import SampleConfig
from hbm.results.fit_result import FitResult
from hbm.results.io import load_result, save_result
from hbm.workflow import fit as workflow
from hbm.workflow.reduce import Statistics, is_stats_file, read_statistics, reduce_source
from hbm.workflow.specs import ModelSpec
from hbm.workflow.specs import fit_spec as run_spec

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

    from hbm.data.grouped import GroupedData
    from hbm.diagnostics.diagnosis import Diagnosis
    from hbm.model.description import ModelDescription
    from hbm.model.parameters import ParameterTable
    from hbm.model.priors import Prior
    from hbm.results.fit_spec import FitSpec

__all__ = ["Fit", "fit", "fit_grouped", "fit_spec", "load"]

PriorsLike = str | Mapping[str, "str | float | Prior"] | None


class Fit:
    """The result of :func:`fit`: a fit's record, and what can be done with it.

    Attributes
    ----------
    result : FitResult
        The record itself (what analysis, plotting and reporting functions take).
    spec : FitSpec
        What was asked, with the priors and seed that actually ran.
    description : ModelDescription
        What model was fitted.
    data : GroupedData
        The reduced data.
    priors : dict of Prior
        The priors used (defaults filled in).
    idata : xarray.DataTree
        Posterior draws (``theta`` with a dimension named after the group column), sampler
        statistics, observed data, the per-group data (``group_data``), and in its attributes the
        description, spec, parameter table, sampler, seed, versions and parametrization as JSON.
    parameters : ParameterTable
        Every parameter with its role, dims and units.
    diagnosis : Diagnosis
        Divergences, R-hat, ESS, verdict and advice.
    parametrization, reason : str
        The parametrization that ran, and why it was chosen.
    """

    __slots__ = ("result",)

    def __init__(self, result: FitResult) -> None:
        if not isinstance(result, FitResult):
            raise TypeError(f"Fit wraps a FitResult; got {type(result).__name__}.")
        self.result = result

    @property
    def spec(self) -> FitSpec:
        return self.result.spec

    @property
    def description(self) -> ModelDescription:
        return self.result.description

    @property
    def data(self) -> GroupedData:
        return self.result.data

    @property
    def priors(self) -> dict[str, Prior]:
        return self.result.priors

    @property
    def idata(self) -> xr.DataTree:
        return self.result.idata

    @property
    def parameters(self) -> ParameterTable:
        return self.result.parameters

    @property
    def diagnosis(self) -> Diagnosis:
        return self.result.diagnosed

    @property
    def parametrization(self) -> str:
        return self.result.parametrization

    @property
    def reason(self) -> str:
        return self.result.reason

    @property
    def run_info(self) -> dict[str, object]:
        """Sampler, seed, versions, parametrization and timing that actually ran."""
        return self.result.run_info

    def summary(self) -> pd.DataFrame:
        """Posterior summary: ``param`` (mu, tau, sigma, ``theta[<label>]``), mean, sd, ESS, ..."""
        return self.result.summary()

    def diagnose(self) -> Diagnosis:
        """The diagnosis: divergences, R-hat, ESS, verdict and advice."""
        return self.diagnosis

    def prior_summary(self) -> pd.DataFrame:
        """The priors used, as a table (like rstanarm's ``prior_summary``)."""
        return self.result.prior_summary()

    def shrinkage(self, *, higher_is_better: bool = True) -> pd.DataFrame:
        """Per-group shrinkage and league table (:func:`hbm.analysis.shrinkage.shrinkage_table`)."""
        from hbm.analysis.shrinkage import shrinkage_table

        return shrinkage_table(self.result, higher_is_better=higher_is_better)

    def icc(self) -> pd.Series:
        """Intraclass correlation tau² / (tau² + sigma²), rows form (:func:`hbm.analysis.
        shrinkage.icc`)."""
        from hbm.analysis.shrinkage import icc

        return icc(self.result)

    def plot_shrinkage(self) -> Figure:
        """The shrinkage plot: raw group means -> posterior means (:mod:`hbm.viz.shrinkage`)."""
        from hbm.viz import plot_shrinkage

        return plot_shrinkage(self.result)

    def plot_league(self) -> Figure:
        """League table / caterpillar plot (:mod:`hbm.viz.league`)."""
        from hbm.viz import plot_league

        return plot_league(self.result)

    def plot_pooling(self) -> Figure:
        """Complete vs no vs partial pooling (:mod:`hbm.viz.pooling`)."""
        from hbm.viz import plot_pooling

        return plot_pooling(self.result)

    def plot_ppc(self) -> Figure:
        """Posterior predictive check of the group means (:mod:`hbm.viz.ppc`)."""
        from hbm.viz import plot_ppc

        return plot_ppc(self.result)

    def plot_trace(self, kind: str = "trace") -> Figure:
        """Trace or rank plots of mu, tau, sigma (:mod:`hbm.viz.trace`)."""
        from hbm.viz import plot_trace

        return plot_trace(self.result, kind=kind)

    def plot_funnel(self, **kwargs: Any) -> Figure:
        """Draws of ``theta[j]`` against ``log tau``, divergent ones in red (:mod:`hbm.viz.
        funnel`)."""
        from hbm.viz import plot_funnel

        return plot_funnel(self.result, **kwargs)

    def report(self, path: str | Path) -> Path:
        """Write the report to ``path`` (HTML, or Markdown for ``.md``); return the path."""
        from hbm.reporting.report import write_report

        return write_report(self.result, Path(path))

    def save(self, path: str | Path) -> Path:
        """Save to netCDF (the DataTree, with the description, spec and diagnosis as JSON)."""
        return save_result(self.result, Path(path))

    def predict(self, groups: str | list[str] | None = None, **options: Any) -> Any:
        """Posterior predictive draws for existing and/or new groups (:func:`hbm.analysis.
        predict.predict`).

        >>> fit.predict(["Ashford"], new_groups=["new school"], random_seed=1)  # doctest: +SKIP
        """
        from hbm.analysis.predict import predict

        return predict(self.result, groups, **options)

    def _repr_html_(self) -> str:
        from hbm.reporting.report import fit_html_snippet

        return fit_html_snippet(self.result, repr(self))

    def __repr__(self) -> str:
        data, d = self.data, self.result.diagnosis
        ran = f"{d.sampler}, {d.chains}x{d.draws} draws; verdict {d.verdict}" if d else "no run"
        return (
            f"<hbm.Fit {data.n_groups} {data.group} groups, {data.n_rows} rows; "
            f"{self.parametrization} via {ran}>"
        )


def fit(
    table: pd.DataFrame | Statistics | str | Path,
    *,
    group: str | None = None,
    value: str | None = None,
    se: str | None = None,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    draws: int = DEFAULTS.draws,
    tune: int = DEFAULTS.tune,
    chains: int = DEFAULTS.chains,
    target_accept: float = DEFAULTS.target_accept,
    random_seed: int | None = None,
    sampler: str = DEFAULTS.sampler,
    progressbar: bool = True,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
    engine: str = DEFAULTS.engine,
    cluster: str | None = None,
) -> Fit:
    """Fit the three-level hierarchical normal model to a tidy table, a file or statistics.

    Parameters
    ----------
    table : pandas.DataFrame, Statistics, str or Path
        Rows form (one row per unit: ``group``, ``value``) or summaries form (one row per group:
        ``group``, ``value``, ``se``); or the :class:`~hbm.workflow.reduce.Statistics` of
        :func:`hbm.reduce`; or the path of a data file (or glob), reduced on ``engine``; or of a
        statistics file written by ``hbm reduce`` (then ``group``/``value`` may be left out).
    group, value : str
        Column names of the group labels and of the numeric values.
    se : str, optional
        Column of known standard errors: selects the summaries form.
    priors : {"default", "seed"} or mapping, optional
        Prior text per parameter, e.g. ``{"mu": "normal(0, 5)", "tau": "halfcauchy(5)"}``;
        parameters not named get the data-scaled defaults (see
        :func:`hbm.model.families.normal.default_priors`).
    parametrization : {"auto", "centered", "noncentered", "marginal"}
        ``auto`` (default) chooses and records why, and refits once with safer settings if
        the first run shows divergences or low ESS (see :mod:`hbm.workflow.refit`).
    likelihood : {"sufficient", "rows"}
        Exact sufficient statistics (default) or one term per row (checking, teaching).
    draws, tune, chains, target_accept, random_seed, sampler
        NUTS settings (see :class:`hbm.inference.config.SampleConfig`). ``random_seed=None``
        draws a seed and records it.
    progressbar : bool
        Show the priors, the choice of parametrization and sampling progress.
    order : {"first-seen", "sorted"}
        Order of the group labels (a file reduced by DuckDB is always sorted).
    missing : {"error", "drop"}
        Rows with missing group / value / se: an error (default), or dropped and counted.
    engine : {"auto", "pandas", "duckdb", "dask"}
        Where a data file's rows are reduced (see :func:`hbm.reduce`).
    cluster : str, optional
        A Dask scheduler's address for ``engine="dask"``.

    Returns
    -------
    Fit

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("schools")
    >>> result = hbm.fit(df, group="school", value="score", random_seed=1, progressbar=False)
    >>> result.summary().param.iloc[:3].tolist()
    ['mu', 'tau', 'sigma']
    """
    config = SampleConfig(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=random_seed,
        sampler=sampler,  # type: ignore[arg-type]
        progressbar=progressbar,
    )
    options = dict(parametrization=parametrization, likelihood=likelihood, config=config)
    if isinstance(table, str | Path):
        if is_stats_file(table):
            table = read_statistics(table, group=group, value=value, se=se)
        elif likelihood == "rows" or se is not None:
            from hbm.data.tables import read_table

            table = read_table(table, group=group)
        else:
            table = reduce_source(
                table,
                group=group,
                value=value,
                engine=engine,
                cluster=cluster,
                missing=missing,
                order=None if order == DEFAULTS.order else order,
                progress=print if progressbar else None,
            )
    if isinstance(table, Statistics):
        if likelihood == "rows" or se is not None:
            given = "likelihood='rows'" if likelihood == "rows" else f"se={se!r}"
            raise ValueError(
                f"{given} needs the table's rows; statistics hold each group's n, mean and ss."
            )
        source = table.provenance.get("statistics") or table.provenance.get("source")
        return Fit(
            workflow.fit_grouped(
                table.data,
                priors=priors,
                source=None if source is None else str(source),
                reduction=table.provenance,
                **options,  # type: ignore[arg-type]
            )
        )
    if group is None or value is None:
        raise TypeError("hbm.fit needs group= and value= for a table.")
    return Fit(
        workflow.fit_table(
            table,
            group=group,
            value=value,
            se=se,
            priors=priors,
            order=order,
            missing=missing,
            **options,  # type: ignore[arg-type]
        )
    )


def fit_grouped(
    data: GroupedData,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    source: str | None = None,
) -> Fit:
    """Fit already-reduced data (what :func:`fit` does after checking the table; see
    :func:`hbm.workflow.fit.fit_grouped`)."""
    return Fit(
        workflow.fit_grouped(
            data,
            priors=priors,
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            source=source,
        )
    )


def fit_spec(spec: ModelSpec | str | Path, *, progressbar: bool = False) -> Fit:
    """Fit what a model spec (TOML) describes (see :func:`hbm.workflow.specs.fit_spec`)."""
    return Fit(run_spec(spec, progressbar=progressbar))


def load(path: str | Path) -> Fit:
    """Read a fit saved by :meth:`Fit.save` (netCDF file or ``*.zarr`` store).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file cannot be read, is not a saved hbm fit, was saved in a newer layout, or its
        model description does not match its hash.

    Examples
    --------
    >>> import hbm
    >>> fit = hbm.load("out/schools/fit.nc")  # doctest: +SKIP
    >>> fit.summary()  # doctest: +SKIP
    """
    return Fit(load_result(path))
