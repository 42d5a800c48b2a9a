"""The ``Fit`` façade's methods for one kind of model each: another family's rates and funnel
plot, nested levels' variance decomposition and shrinkage, curves' pictures and forecasts.

Each calls one plain function, as the rest of :class:`hbm.api.facade.Fit` does; a method asked of a
fit of another kind gets that function's clear error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from hbm.results.fit_result import FitResult

__all__ = ["ModelKindMethods"]


class ModelKindMethods:
    """Methods of :class:`hbm.api.facade.Fit` that belong to one kind of model."""

    __slots__ = ()
    result: FitResult

    def rates(self, factor: str | None = None, *, higher_is_better: bool = True) -> pd.DataFrame:
        """Each group's rate on the outcome scale (probability, rate per exposure, mean): raw and
        partially pooled, shrinkage towards the population, rank interval, P(best) and
        P(top / bottom quarter) (:func:`hbm.analysis.rates.rate_table`; binomial, Poisson,
        negative binomial and Student-t fits). ``higher_is_better=False`` ranks the lowest first
        (mortality)."""
        from hbm.analysis.rates import rate_table

        return rate_table(self.result, factor, higher_is_better=higher_is_better)

    def funnel(self, factor: str | None = None) -> Any:
        """The institutional funnel plot's numbers (:func:`hbm.analysis.institutional_funnel.
        institutional_funnel`): each group's size, raw and posterior rate, and whether it lies
        outside the 95% / 99.8% control limits."""
        from hbm.analysis.institutional_funnel import institutional_funnel

        return institutional_funnel(self.result, factor)

    def plot_institutional_funnel(self, factor: str | None = None) -> Figure:
        """Spiegelhalter's funnel plot: raw rates against group size within control limits, the
        posterior rates beside them (:mod:`hbm.viz.institutional_funnel`)."""
        from hbm.viz.institutional_funnel import plot_institutional_funnel

        return plot_institutional_funnel(self.result, factor)

    def plot_rootogram(self) -> Figure:
        """Hanging rootogram of a count model (:mod:`hbm.viz.rootogram`)."""
        from hbm.viz.rootogram import plot_rootogram

        return plot_rootogram(self.result)

    def plot_calibration(self, bins: int = 10) -> Figure:
        """Calibration plot of a binomial model (:mod:`hbm.viz.calibration`)."""
        from hbm.viz.calibration import plot_calibration

        return plot_calibration(self.result, bins)

    def variance_decomposition(self) -> pd.DataFrame:
        """Each level's share of the variance and its ICC, with intervals
        (:func:`hbm.analysis.levels.variance_decomposition`)."""
        from hbm.analysis.levels import variance_decomposition

        return variance_decomposition(self.result)

    def level_shrinkage(self, factor: str, term: str | None = None) -> pd.DataFrame:
        """Each group of ``factor`` pulled towards its parent: own estimate, posterior, parent's
        posterior, pooling (:func:`hbm.analysis.levels.level_shrinkage`)."""
        from hbm.analysis.levels import level_shrinkage

        return level_shrinkage(self.result, factor, term=term)

    def plot_variance(self) -> Figure:
        """Where the variance lies: each level's share and ICC (:mod:`hbm.viz.levels`)."""
        from hbm.viz.levels import plot_variance_decomposition

        return plot_variance_decomposition(self.result)

    def plot_level_shrinkage(self) -> Figure:
        """Shrinkage at each level, towards the parent group (:mod:`hbm.viz.levels`)."""
        from hbm.viz.levels import plot_level_shrinkage

        return plot_level_shrinkage(self.result)

    def plot_curves(self, groups: list[str] | None = None, **options: Any) -> Figure:
        """A curve model's groups: data, fitted curve and band, population curve
        (:func:`hbm.viz.curves.plot_curves`)."""
        from hbm.viz.curves import plot_curves

        return plot_curves(self.result, groups, **options)

    def forecast(self, horizon: float, *, limit: float | None = None) -> pd.DataFrame:
        """A curve model's totals to ``horizon`` per group, for the population and a new group
        (:func:`hbm.analysis.curve_predict.forecast`): e.g. a well's expected ultimate recovery.
        """
        from hbm.analysis.curve_predict import forecast

        return forecast(self.result, horizon, limit=limit)
