"""The calibration plot of a binomial model: observed proportion against predicted probability."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hbm.analysis.outcome_checks import calibration
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_calibration"]


def plot_calibration(source: Any, bins: int = 10) -> Figure:
    """The units binned by predicted probability (bins of equal trials): the observed proportion
    of successes in each bin (with its 94% interval) against the mean predicted probability. A
    calibrated model keeps the points on the diagonal."""
    from matplotlib.figure import Figure

    result = as_result(source)
    table = calibration(result, bins)
    figure = Figure(figsize=(5.6, 5.2), layout="constrained")
    axes = figure.subplots()
    low = float(min(table["predicted"].min(), table["lb"].min()))
    high = float(max(table["predicted"].max(), table["ub"].max()))
    axes.plot(
        [low, high],
        [low, high],
        color="0.5",
        linestyle="--",
        linewidth=1,
        label="perfect calibration",
    )
    axes.vlines(table["predicted"], table["lb"], table["ub"], color=PARTIAL, linewidth=1.5)
    axes.scatter(
        table["predicted"],
        table["observed"],
        color=PARTIAL,
        s=14 + table["trials"] / table["trials"].max() * 60,
        zorder=3,
        label="observed proportion (94% interval)",
    )
    axes.set_xlabel("predicted probability (posterior mean)")
    axes.set_ylabel("observed proportion of successes")
    axes.set_title(f"Calibration: {len(table)} bins of equal trials")
    axes.legend(fontsize="small")
    return figure
