"""The league table as a caterpillar plot: posterior means and rank intervals, best first.

Past ``DEFAULTS.max_drawn_groups`` groups the caterpillar draws the best, the worst and a sample
(:mod:`hbm.viz.selection`), and a second panel shows the density of every group's posterior and
raw mean, with where the drawn ends begin: the rest of the league, which no list can show.
"""

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
    every = table
    table = table.iloc[drawn.index]
    y = drawn.rows()[::-1]
    lb, ub = table.filter(like="_lb").iloc[:, 0], table.filter(like="_ub").iloc[:, 0]
    if drawn.all:
        figure = Figure(figsize=(8.5, height(len(table))), layout="constrained")
        axes = figure.subplots()
    else:
        figure = Figure(figsize=(14.0, height(len(table))), layout="constrained")
        axes, rest = figure.subplots(1, 2, width_ratios=[1.7, 1])
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
        f"League table of {data.n_groups:,} {text(data.group)}s: posterior means, "
        f"{'highest' if higher_is_better else 'lowest'} first"
        + ("" if drawn.all else f"\n{drawn.note}")
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    if not drawn.all:
        _density(rest, every, data, table["mean"].iloc[[drawn.ends - 1, -drawn.ends]])
    return figure


def _density(axes: Any, every: Any, data: Any, edges: Any) -> None:
    """Every group's posterior and raw mean as densities; dotted: where the drawn ends begin."""
    bins = int(min(200, max(20, np.sqrt(len(every)))))
    axes.hist(every["raw_mean"], bins=bins, density=True, color=RAW, alpha=0.35)
    axes.hist(every["mean"], bins=bins, density=True, histtype="step", color=PARTIAL, linewidth=1.6)
    for edge in edges:
        axes.axvline(float(edge), color="0.4", linestyle=":", linewidth=1)
    axes.set_yticks([])
    axes.set_xlabel(text(data.value))
    axes.set_title(
        f"all {len(every):,} {text(data.group)}s: density of the\nposterior means (line) and "
        f"raw {raw_word(data)}s (shaded);\ndotted: where the drawn best and worst begin",
        fontsize="small",
    )
