"""The league table as a caterpillar plot: posterior means and rank intervals, best first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.draws import role_draws
from hbm.analysis.shrinkage import shrinkage_table
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.selection import drawn_groups
from hbm.viz.style import (
    MAX_LABELLED_GROUPS,
    PARTIAL,
    RAW,
    group_ticks,
    height,
    raw_word,
    row_labels,
    text,
    tick_labels,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_league"]


def plot_league(source: Any, *, ci_prob: float = CI_PROB, higher_is_better: bool = True) -> Figure:
    """League table as a caterpillar plot: groups ordered by posterior mean, best at the top.

    Each group shows its posterior mean with the ``ci_prob`` interval and its raw mean (a cross);
    the right-hand labels give the posterior rank with its interval. Overlapping intervals are the
    point: most rank differences between neighbours are not supported by the data.
    """
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.grouped
    table = shrinkage_table(source, ci_prob=ci_prob, higher_is_better=higher_is_better)
    table = table.sort_values("mean", ascending=not higher_is_better)
    # Past a few hundred groups: the best, the worst and a sample, each at its place in the table.
    drawn = drawn_groups(np.arange(len(table)), low="best", high="worst")
    table = table.iloc[drawn.index]
    y = drawn.rows()[::-1]
    lb, ub = table.filter(like="_lb").iloc[:, 0], table.filter(like="_ub").iloc[:, 0]
    figure = Figure(figsize=(8.5, height(len(table))), layout="constrained")
    axes = figure.subplots()
    axes.hlines(y, lb, ub, color=PARTIAL, linewidth=1.6, label=f"{ci_prob:.0%} interval")
    axes.scatter(table["mean"], y, color=PARTIAL, s=22, zorder=3, label="posterior mean")
    axes.scatter(
        table["raw_mean"],
        y,
        color=RAW,
        marker="x",
        s=26,
        zorder=4,
        label="raw " + raw_word(data),
    )
    axes.axvline(
        float(role_draws(result, "coefficient").mean()),
        color="black",
        linestyle="--",
        linewidth=1,
        label="mu (posterior mean)",
    )
    rank_labels = [
        f"{r:.1f} ({lo}–{hi})"
        for r, lo, hi in zip(table["rank"], table["rank_lb"], table["rank_ub"], strict=True)
    ]
    if not drawn.all:  # the few groups drawn out of many: labels as texts, both sides
        row_labels(axes, y, tick_labels(data, table.index))
        row_labels(axes, y, rank_labels, right=True)
        axes.text(
            1.01,
            1.0,
            f"rank ({ci_prob:.0%} interval)",
            transform=axes.transAxes,
            ha="left",
            va="bottom",
            fontsize="small",
        )
    else:
        group_ticks(axes, y, tick_labels(data, table.index), len(table))
    if drawn.all and len(table) <= MAX_LABELLED_GROUPS:
        ranks = axes.twinx()
        ranks.set_ylim(axes.get_ylim())
        ranks.set_yticks(y, rank_labels, fontsize="small")
        ranks.set_ylabel(f"posterior rank ({ci_prob:.0%} interval)")
    axes.set_xlabel(text(data.value))
    axes.set_title(
        f"League table of {data.n_groups} {text(data.group)}s: posterior means, "
        f"{'highest' if higher_is_better else 'lowest'} first"
        + ("" if drawn.all else f"\n{drawn.note}")
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure
