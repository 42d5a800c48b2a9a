"""Complete, no and partial pooling side by side, per group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.shrinkage import pooling_comparison
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.selection import drawn_groups
from hbm.viz.style import (
    COMPLETE,
    PARTIAL,
    RAW,
    group_ticks,
    height,
    row_labels,
    text,
    tick_labels,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_pooling"]


def plot_pooling(source: Any, *, ci_prob: float = CI_PROB) -> Figure:
    """Complete, no and partial pooling side by side, per group, with ``ci_prob`` intervals.

    No pooling: each group's own mean; complete pooling: one mean for all (the grey band); partial
    pooling: the hierarchical model's posterior, between the two (see
    :func:`hbm.shrinkage.pooling_comparison`).
    """
    from matplotlib.figure import Figure

    data = as_result(source).grouped
    table = pooling_comparison(source, ci_prob=ci_prob).sort_values("partial_mean")
    drawn = drawn_groups(np.arange(len(table)))
    table = table.iloc[drawn.index]
    y = drawn.rows()
    figure = Figure(figsize=(8.5, height(len(table))), layout="constrained")
    axes = figure.subplots()
    first = table.iloc[0]
    axes.axvspan(
        first["complete_lb"], first["complete_ub"], color=COMPLETE, alpha=0.25, linewidth=0
    )
    axes.axvline(
        first["complete_mean"],
        color=COMPLETE,
        linewidth=1.4,
        label=f"complete pooling ({ci_prob:.0%} band)",
    )
    for kind, colour, offset, name in (
        ("no", RAW, 0.18, "no pooling (raw)"),
        ("partial", PARTIAL, -0.18, "partial pooling (posterior)"),
    ):
        axes.hlines(
            y + offset, table[f"{kind}_lb"], table[f"{kind}_ub"], color=colour, linewidth=1.4
        )
        axes.scatter(table[f"{kind}_mean"], y + offset, color=colour, s=18, zorder=3, label=name)
    if drawn.all:
        group_ticks(axes, y, tick_labels(data, table.index), len(table))
    else:  # the few groups drawn out of many
        row_labels(axes, y, tick_labels(data, table.index))
    axes.set_xlabel(text(data.value))
    axes.set_title(
        f"Complete, no and partial pooling ({ci_prob:.0%} intervals)"
        + ("" if drawn.all else f"\n{drawn.note}")
    )
    figure.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return figure
