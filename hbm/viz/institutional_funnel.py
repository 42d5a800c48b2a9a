"""Spiegelhalter's funnel plot: raw rates against group size within control limits, and the
posterior rates beside them (:mod:`hbm.analysis.institutional_funnel`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.institutional_funnel import FUNNEL_PROBS, institutional_funnel
from hbm.results.tree import as_result
from hbm.viz.style import MAX_LABELLED_GROUPS, PARTIAL, RAW, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_institutional_funnel"]

_LIMIT_STYLE = {0.95: ("--", "95% limits (alert)"), 0.998: (":", "99.8% limits (alarm)")}


def plot_institutional_funnel(source: Any, factor: str | None = None) -> Figure:
    """Left: each group's raw rate against its size, with the 95% and 99.8% control limits around
    the target (Spiegelhalter 2005); groups outside are labelled. Right: the posterior rates of the
    hierarchical model on the same axes, with their intervals: the small groups that scatter
    widely on the left are pulled in, and the ones still outside stand out with reason."""
    from matplotlib.figure import Figure

    result = as_result(source)
    funnel = institutional_funnel(result, factor)
    table = funnel.table
    size = table["size"].to_numpy(dtype=float)
    grid = np.geomspace(max(size.min() * 0.8, 1e-9), size.max() * 1.25, 200)
    figure = Figure(figsize=(12.0, 5.2), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    for axes in (left, right):
        axes.axhline(funnel.target, color="black", linewidth=1, label="target")
        for prob in FUNNEL_PROBS:
            low, high = funnel.limits(grid, prob)
            style, label = _LIMIT_STYLE[prob]
            axes.plot(grid, low, color="0.35", linestyle=style, linewidth=1, label=label)
            axes.plot(grid, high, color="0.35", linestyle=style, linewidth=1)
        if size.max() > 5 * size.min():
            axes.set_xscale("log")
        axes.set_xlabel(text(funnel.x_label))
    outside = table["outside_95"].to_numpy() != 0
    left.scatter(
        size[~outside], table["observed"][~outside], color=RAW, s=24, zorder=3, label="raw rate"
    )
    left.scatter(
        size[outside],
        table["observed"][outside],
        color="tab:red",
        s=30,
        zorder=4,
        label="raw rate outside 95%",
    )
    if len(table) <= MAX_LABELLED_GROUPS:
        for label, x, y in zip(
            table.index[outside], size[outside], table["observed"][outside], strict=True
        ):
            left.annotate(
                text(label), (x, y), fontsize="x-small", xytext=(3, 3), textcoords="offset points"
            )
    bounds = [c for c in table.columns if c.startswith("posterior_")]
    if len(bounds) == 2:
        right.vlines(
            size, table[bounds[0]], table[bounds[1]], color=PARTIAL, alpha=0.5, linewidth=1.2
        )
    right.scatter(
        size,
        table["posterior"],
        color=PARTIAL,
        s=24,
        zorder=3,
        label="posterior rate (94% interval)",
    )
    left.set_ylabel(text(funnel.y_label))
    target = "1 (observed = expected)" if funnel.ratio else f"{funnel.target:.3g} (pooled rate)"
    left.set_title(f"Funnel plot of raw rates: target {target}", fontsize="medium")
    right.set_title("The same groups after partial pooling", fontsize="medium")
    handles, labels = left.get_legend_handles_labels()
    more, names = right.get_legend_handles_labels()
    extra = [(h, n) for h, n in zip(more, names, strict=True) if n not in labels]
    figure.legend(
        handles + [h for h, _ in extra],
        labels + [n for _, n in extra],
        loc="outside lower center",
        ncols=6,
        fontsize="small",
        frameon=False,
    )
    n_out = int(outside.sum())
    figure.suptitle(
        f"Institutional funnel plot: {n_out} of {len(table)} {text(table.index.name)}s outside "
        "the 95% limits on their raw rates"
    )
    return figure
