"""``Fit``: the thin façade over a ``FitResult`` that ``hbm.fit`` and ``hbm.load`` return.

Its attributes are the record's, and each method calls one plain function in its own module
(summary, shrinkage, plots, report, save, predict). Methods that depend on the model's kind
dispatch on its description: the seed's model has shrinkage, pooling and predictive-check plots
of its group means; a formula model has its coefficients, group coefficients and fitted lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hbm.api.facade_kinds import ModelKindMethods
from hbm.data.curve_data import CurveData
from hbm.data.grouped import GroupedData
from hbm.results.fit_result import FitResult
from hbm.results.io import save_result

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

    from hbm.analysis.loo import LooResult
    from hbm.data.model_data import ModelData
    from hbm.diagnostics.diagnosis import Diagnosis
    from hbm.model.description import ModelDescription
    from hbm.model.parameters import ParameterTable
    from hbm.model.priors import Prior
    from hbm.results.fit_spec import FitSpec

__all__ = ["Fit"]


class Fit(ModelKindMethods):
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
    def data(self) -> GroupedData | ModelData | CurveData:
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
        """Per-group shrinkage and league table (:func:`hbm.analysis.shrinkage.shrinkage_table`);
        for a binomial, Poisson, negative binomial or Student-t model every group's rate
        (:meth:`rates`); for a normal formula model, every group's coefficients
        (:meth:`group_coefficients`)."""
        if self._outcome:
            return self.rates(higher_is_better=higher_is_better)
        if not self._seed:
            return self.group_coefficients()
        from hbm.analysis.shrinkage import shrinkage_table

        return shrinkage_table(self.result, higher_is_better=higher_is_better)

    def group_coefficients(self, factor: str | None = None) -> pd.DataFrame:
        """A formula model's group coefficients, with and without pooling
        (:func:`hbm.analysis.effects.group_coefficients`)."""
        from hbm.analysis.effects import group_coefficients

        return group_coefficients(self.result, factor)

    def plot_coefficients(self) -> Figure:
        """A formula model's coefficient (forest) plot (:mod:`hbm.viz.coefficients`)."""
        from hbm.viz.coefficients import plot_coefficients

        return plot_coefficients(self.result)

    def plot_lines(self) -> Figure:
        """Each group's fitted line against its rows (:mod:`hbm.viz.lines`)."""
        from hbm.viz.lines import plot_lines

        return plot_lines(self.result)

    def icc(self) -> pd.Series:
        """Intraclass correlation tau² / (tau² + sigma²), rows form (:func:`hbm.analysis.
        shrinkage.icc`)."""
        from hbm.analysis.shrinkage import icc

        return icc(self.result)

    def plot_shrinkage(self) -> Figure:
        """The shrinkage plot: raw group means -> posterior means (:mod:`hbm.viz.shrinkage`);
        for a formula model, the 2D shrinkage of each group's coefficients
        (:mod:`hbm.viz.shrinkage2d`)."""
        if self._outcome:
            from hbm.viz.rates_shrinkage import plot_rates_shrinkage

            return plot_rates_shrinkage(self.result)
        if not self._seed:
            from hbm.viz.shrinkage2d import plot_shrinkage_2d

            return plot_shrinkage_2d(self.result)
        from hbm.viz import plot_shrinkage

        return plot_shrinkage(self.result)

    def plot_league(self, factor: str | None = None, *, higher_is_better: bool = True) -> Figure:
        """League table / caterpillar plot (:mod:`hbm.viz.league`; :mod:`hbm.viz.rates_league`
        for the rates of a binomial, Poisson, negative binomial or Student-t model, or
        :mod:`hbm.viz.effects_league` for a normal formula model, of ``factor``: the first
        grouping factor by default)."""
        if self._outcome:
            from hbm.viz.rates_league import plot_rates_league

            return plot_rates_league(self.result, higher_is_better=higher_is_better)
        if not self._seed:
            from hbm.viz.effects_league import plot_effects_league

            return plot_effects_league(self.result, factor=factor)
        from hbm.viz import plot_league

        return plot_league(self.result, higher_is_better=higher_is_better)

    def plot_pooling(self) -> Figure:
        """Complete vs no vs partial pooling (:mod:`hbm.viz.pooling`)."""
        from hbm.viz import plot_pooling

        return plot_pooling(self.result)

    def plot_ppc(self) -> Figure:
        """Posterior predictive check of the group means (:mod:`hbm.viz.ppc`), or of the group
        totals of an outcome family (:mod:`hbm.viz.outcome_ppc`)."""
        if self._outcome:
            from hbm.viz.outcome_ppc import plot_outcome_ppc

            return plot_outcome_ppc(self.result)
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

    def loo(
        self, unit: str | None = None, *, refit: bool | str = False, integrate: bool = True
    ) -> LooResult:
        """Leave-one-out predictive accuracy: ELPD, se, p_loo, Pareto k and advice
        (:func:`hbm.analysis.loo.loo`; arviz-stats' PSIS).

        ``unit``: ``"groups"`` (leave one group out: a new group) or ``"rows"`` (a new row of a
        known group; fits with ``likelihood="rows"``); default rows where kept, else groups.
        ``refit=True`` refits without each unit whose Pareto k is high, ``"all"`` without every
        unit (exact LOO; :func:`hbm.workflow.loo_refit.refit_loo`).
        """
        if refit is False:
            from hbm.analysis.loo import loo

            return loo(self.result, unit, integrate=integrate)
        if refit not in (True, "all"):
            raise ValueError(f"The 'refit' option must be False, True or 'all'; got {refit!r}.")
        from hbm.workflow.loo_refit import refit_loo

        return refit_loo(self.result, unit, which="all" if refit == "all" else "high_k")

    def plot_loo_pit(self, unit: str | None = None) -> Figure:
        """LOO-PIT calibration plot (:mod:`hbm.viz.loo_pit`)."""
        from hbm.viz import plot_loo_pit

        return plot_loo_pit(self.result, unit)

    def plot_pareto_k(self, unit: str | None = None) -> Figure:
        """Pareto k per group or row left out (:mod:`hbm.viz.pareto_k`)."""
        from hbm.viz import plot_pareto_k

        return plot_pareto_k(self.result, unit)

    def report(self, path: str | Path) -> Path:
        """Write the report to ``path`` (HTML, or Markdown for ``.md``); return the path."""
        from hbm.reporting.report import write_report

        if isinstance(self.data, CurveData):
            raise TypeError(
                "A curve fit's report is part of its result folder: use "
                "hbm.curves.write_curve_outputs(fit, out) (or `hbm curve ... --out DIR`)."
            )
        return write_report(self.result, Path(path))

    def save(
        self,
        path: str | Path,
        *,
        keep_group_draws: bool = False,
        group_draws_thin: int = 1,
        group_draws_dtype: str = "float64",
    ) -> Path:
        """Save to netCDF (the DataTree, with its log likelihood up to 10 million values, and the
        description, spec and diagnosis as JSON).

        ``keep_group_draws`` writes the group effects' draws however many there are (by default
        only those the fit holds; exact draws it does not hold are drawn again after loading),
        every ``group_draws_thin``-th draw, as ``group_draws_dtype`` (see
        :mod:`hbm.results.kept_draws`).
        """
        from hbm.analysis.log_likelihood import store_log_likelihood
        from hbm.results.kept_draws import KeepGroupDraws

        kept = None
        if keep_group_draws:
            kept = KeepGroupDraws(thin=group_draws_thin, dtype=group_draws_dtype)  # type: ignore[arg-type]
        elif group_draws_thin != 1 or group_draws_dtype != "float64":
            raise ValueError("group_draws_thin and group_draws_dtype need keep_group_draws=True.")
        store_log_likelihood(self.result)
        return save_result(self.result, Path(path), keep_group_draws=kept)

    def group_draws(self, groups: str | list[str] | None = None) -> xr.DataArray:
        """Draws of the group effects, ``(chain, draw, <group>[, <group>_term])``, for the given
        labels (every group by default). Exact draws a fit does not hold are drawn again from
        its seed, bit for bit; all groups at once only up to 10 million values
        (:mod:`hbm.results.group_draws`)."""
        from hbm.results.group_select import select_group_draws

        return select_group_draws(self.result, groups)

    def predict(self, groups: str | list[str] | pd.DataFrame | None = None, **options: Any) -> Any:
        """Posterior predictive draws: for existing and/or new groups of the seed's model
        (:func:`hbm.analysis.predict.predict`), or for new rows of a formula model, given as a
        table (:func:`hbm.analysis.predict_rows.predict_rows`).

        >>> fit.predict(["Ashford"], new_groups=["new school"], random_seed=1)  # doctest: +SKIP
        >>> sleep_fit.predict(pd.DataFrame({"Days": [3], "Subject": ["308"]}))  # doctest: +SKIP
        """
        if self._outcome:
            from hbm.analysis.predict_outcome import predict_outcome

            if not isinstance(groups, pd.DataFrame):
                raise TypeError(
                    "A formula model predicts new rows: pass a table (DataFrame) with the "
                    f"columns of {self.description.formula!r}; got {type(groups).__name__}."
                )
            return predict_outcome(self.result, groups, **options)
        if not self._seed:
            from hbm.analysis.predict_rows import predict_rows

            if not isinstance(groups, pd.DataFrame):
                raise TypeError(
                    "A formula model predicts new rows: pass a table (DataFrame) with the "
                    f"columns of {self.description.formula!r}; got {type(groups).__name__}."
                )
            return predict_rows(self.result, groups, **options)
        from hbm.analysis.predict import predict

        return predict(self.result, groups, **options)  # type: ignore[arg-type]

    @property
    def _seed(self) -> bool:
        return self.result.description.is_seed_model

    @property
    def _outcome(self) -> bool:
        """An outcome family's formula fit (a count curve fit is a curve fit first)."""
        return self.result.description.family != "normal" and not isinstance(self.data, CurveData)

    def _repr_html_(self) -> str:
        from hbm.reporting.report import fit_html_snippet

        return fit_html_snippet(self.result, repr(self))

    def __repr__(self) -> str:
        data, d = self.data, self.result.diagnosis
        ran = f"{d.sampler}, {d.chains}x{d.draws} draws; verdict {d.verdict}" if d else "no run"
        if isinstance(data, GroupedData):
            what = f"{data.n_groups} {data.group} groups"
        elif isinstance(data, CurveData):
            what = f"{self.description.formula}, {data.n_groups} {data.group} groups"
        else:
            family = self.description.family
            what = f"{self.description.formula}{'' if family == 'normal' else f' ({family})'}, "
            what += ", ".join(f"{f.n_groups} {f.name} groups" for f in data.factors)
        return f"<hbm.Fit {what}, {data.n_rows} rows; {self.parametrization} via {ran}>"
