"""The coefficient (forest) plot of a formula model: every population and group-level parameter
with its posterior mean and interval, in three panels of comparable units."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL, text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_coefficients"]


def plot_coefficients(source: Any, *, ci_prob: float = CI_PROB) -> Figure:
    """Posterior means and ``ci_prob`` intervals of ``beta``, of the sds (``sd_<g>``, ``sigma``)
    and of the correlations, one panel each (the intercept is left out of the first panel's
    axis, whose scale it would set: its value is in the panel's title)."""
    from matplotlib.figure import Figure

    result = as_result(source)
    summary = result.summary().set_index("param")
    tail = f"eti{round(ci_prob * 100)}"
    if f"{tail}_lb" not in summary.columns:
        raise ValueError(f"The summary has no {ci_prob:.0%} interval.")
    table = result.parameters
    names = {p.name: p.role for p in table.hyperparameters}
    rows = [label for label in summary.index if label.split("[", 1)[0] in names]
    coefficients = [r for r in rows if names[r.split("[", 1)[0]] == "coefficient"]
    intercept = [r for r in coefficients if r.endswith("[Intercept]")]
    slopes = [r for r in coefficients if r not in intercept]
    scales = [r for r in rows if names[r.split("[", 1)[0]] in ("group_sd", "residual_scale")]
    correlations = [r for r in rows if names[r.split("[", 1)[0]] == "correlation"]
    first = "population coefficients (beta)"
    if intercept:
        row = summary.loc[intercept[0]]
        first += (
            f"; intercept {row['mean']:.4g} ({row[f'{tail}_lb']:.4g} to {row[f'{tail}_ub']:.4g})"
        )
    units = f"standard deviations (in {text(result.description.response)}'s units)"
    if result.description.link != "identity":
        units = f"standard deviations (on the {result.description.link} scale)"
    panels = [
        (labels, title, kind)
        for labels, title, kind in (
            (slopes, first, "slopes"),
            (scales, units, "scales"),
            (correlations, "correlations of group effects", "correlations"),
        )
        if labels
    ]
    ratios = [len(labels) + 1 for labels, _, _ in panels]
    figure = Figure(figsize=(8.5, 0.32 * sum(ratios) + 1.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(panels), 1, height_ratios=ratios, squeeze=False))
    for ax, (labels, title, kind) in zip(axes.ravel(), panels, strict=True):
        _forest(ax, summary, labels, tail)
        ax.set_title(title, fontsize="medium", loc="left")
        if kind == "correlations":
            ax.set_xlim(-1.05, 1.05)
        if kind == "slopes":
            ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle=":")
    figure.suptitle(
        f"Posterior means and {ci_prob:.0%} intervals: {text(result.description.formula)}"
    )
    return figure


def _forest(ax: Axes, summary: Any, labels: list[str], tail: str) -> None:
    y = np.arange(len(labels))[::-1]
    means = summary.loc[labels, "mean"].to_numpy()
    ax.hlines(
        y,
        summary.loc[labels, f"{tail}_lb"],
        summary.loc[labels, f"{tail}_ub"],
        color=PARTIAL,
        linewidth=2,
    )
    ax.scatter(means, y, color=PARTIAL, s=28, zorder=3)
    ax.set_yticks(y, [text(label) for label in labels], fontsize="small")
    ax.set_ylim(-0.7, len(labels) - 0.3)
