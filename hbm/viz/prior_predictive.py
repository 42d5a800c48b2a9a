"""The prior predictive check as a picture: the priors, and the data they imply against the data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hbm.analysis.prior_predictive import MEAN, ROW
from hbm.viz.style import COMPLETE, PARTIAL, RAW, text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hbm.analysis.prior_predictive import PriorPredictive

__all__ = ["plot_prior_predictive"]

#: Up to this many observed values are drawn one tick each, past it as a histogram.
RUG_LIMIT = 200


def plot_prior_predictive(check: PriorPredictive) -> Figure:
    """Top: a histogram of each hyperparameter's prior draws (fixed ones say their value).
    Bottom: the implied new rows (or estimates) and group means (blue) against the observed ones
    (orange), the observed range shaded; the axis spans the central 99% of the implied values
    and the observed range, and says what share of the implied values lies beyond it.
    """
    from matplotlib.figure import Figure

    hyper = check.elements(effects=False)
    figure = Figure(figsize=(max(11.0, 2.2 * len(hyper)), 6.5), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.0, 1.25])  # type: ignore[misc]
    for axes, (name, prior, values) in zip(
        top.subplots(1, len(hyper), squeeze=False)[0], hyper, strict=True
    ):
        if prior is not None and prior.is_fixed:
            value = prior.params[0]
            axes.axvline(value, color=PARTIAL, linewidth=2)
            axes.set_xlim(value - 1.0 - abs(value) / 2, value + 1.0 + abs(value) / 2)
            axes.text(0.5, 0.5, "fixed", transform=axes.transAxes, ha="center")
        else:
            low, high = np.quantile(values, [0.005, 0.995])
            axes.hist(values, bins=60, range=(low, high), color=PARTIAL, alpha=0.7)
        second = check.notes.get(name) or ("" if prior is None else f"~ {prior.text(digits=4)}")
        axes.set_title(f"{name}\n{second}", fontsize="medium" if len(hyper) <= 4 else "small")
        axes.set_yticks([])
    top.suptitle("Priors (level 3 and level 2 scales)", fontsize="medium")
    data = check.data
    panels = [(ROW, f"a new {check.unit_word}", check.observed)]
    if MEAN in check.idata["prior_predictive"]:
        panels.append((MEAN, f"a {text(data.group)}'s mean", data.mean))
    for axes, (name, what, observed) in zip(
        bottom.subplots(1, len(panels), squeeze=False)[0], panels, strict=True
    ):
        _implied_panel(axes, check.implied(name), observed, what)
    bottom.suptitle(
        f"What the priors imply for {text(data.value)} ({check.n_draws:,} draws), against the data",
        fontsize="medium",
    )
    return figure


def _implied_panel(axes: Axes, implied: np.ndarray, observed: np.ndarray, what: str) -> None:
    observed_low, observed_high = float(observed.min()), float(observed.max())
    low, high = np.quantile(implied, [0.005, 0.995])
    low, high = min(low, observed_low), max(high, observed_high)
    pad = 0.02 * (high - low or 1.0)
    bins = np.linspace(low - pad, high + pad, 61).tolist()
    axes.axvspan(observed_low, observed_high, color=COMPLETE, alpha=0.15, linewidth=0)
    axes.hist(implied, bins=bins, density=True, color=PARTIAL, alpha=0.6, label="implied by priors")
    if len(observed) > RUG_LIMIT:
        axes.hist(
            observed,
            bins=bins,
            density=True,
            histtype="step",
            color=RAW,
            linewidth=1.6,
            label="observed",
        )
    else:  # a few values: one tick each
        axes.plot(
            observed,
            np.zeros_like(observed),
            "|",
            color=RAW,
            markersize=18,
            mew=1.5,
            label="observed",
        )
    beyond = float(np.mean((implied < bins[0]) | (implied > bins[-1])))
    axes.set_xlim(bins[0], bins[-1])
    axes.set_yticks([])
    axes.set_title(
        f"{what}\nobserved range shaded; {beyond:.1%} of implied values beyond the axis",
        fontsize="medium",
    )
    axes.legend(fontsize="small", loc="upper right")
