"""The league table as a caterpillar plot: posterior means and rank intervals, best first.

With more than ``DEFAULTS.max_drawn_groups`` groups a caterpillar of every group could not be
read: the figure then shows the 25 highest and 25 lowest groups with their intervals and ranks,
beside the density of every group's posterior (and raw) mean; ``league.csv`` holds every group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.draws import role_draws
from hbm.analysis.shrinkage import shrinkage_table
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.style import (
    ENDS,
    MAX_DRAWN_GROUPS,
    MAX_LABELLED_GROUPS,
    PARTIAL,
    RAW,
    group_ticks,
    height,
    raw_word,
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
    if data.n_groups > MAX_DRAWN_GROUPS:
        return _league_ends(result, table, ci_prob, higher_is_better)
    lb, ub = table.filter(like="_lb").iloc[:, 0], table.filter(like="_ub").iloc[:, 0]
    y = np.arange(len(table))[::-1]
    figure = Figure(figsize=(8.5, height(data.n_groups)), layout="constrained")
    axes = figure.subplots()
    axes.hlines(y, lb, ub, color=PARTIAL, linewidth=1.6, label=f"{ci_prob:.0%} interval")
    axes.scatter(table["mean"], y, color=PARTIAL, s=22, zorder=3, label="posterior mean")
    axes.scatter(
        table["raw_mean"], y, color=RAW, marker="x", s=26, zorder=4, label="raw " + raw_word(data)
    )
    axes.axvline(
        float(role_draws(result, "coefficient").mean()),
        color="black",
        linestyle="--",
        linewidth=1,
        label="mu (posterior mean)",
    )
    group_ticks(axes, y, tick_labels(data, table.index), data.n_groups)
    if data.n_groups <= MAX_LABELLED_GROUPS:
        ranks = axes.twinx()
        ranks.set_ylim(axes.get_ylim())
        ranks.set_yticks(
            y,
            [
                f"{r:.1f} ({lo}–{hi})"
                for r, lo, hi in zip(table["rank"], table["rank_lb"], table["rank_ub"], strict=True)
            ],
            fontsize="small",
        )
        ranks.set_ylabel(f"posterior rank ({ci_prob:.0%} interval)")
    axes.set_xlabel(text(data.value))
    axes.set_title(
        f"League table of {data.n_groups} {text(data.group)}s: posterior means, "
        f"{'highest' if higher_is_better else 'lowest'} first"
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure


def _league_ends(result: Any, table: Any, ci_prob: float, higher_is_better: bool) -> Figure:
    """Many groups: the two ends of the league beside the density of every group's mean."""
    from matplotlib.figure import Figure

    data = result.grouped
    ends = np.r_[np.arange(ENDS), np.arange(len(table) - ENDS, len(table))]
    shown = table.iloc[ends]
    # a gap of two rows between the top and the bottom of the league
    y = np.r_[np.arange(2 * ENDS + 2)[::-1][:ENDS], np.arange(ENDS)[::-1]].astype(float)
    lb, ub = shown.filter(like="_lb").iloc[:, 0], shown.filter(like="_ub").iloc[:, 0]
    mu = float(role_draws(result, "coefficient").mean())
    figure = Figure(figsize=(12.0, 12.5), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.5, 1])
    left.hlines(y, lb, ub, color=PARTIAL, linewidth=1.6, label=f"{ci_prob:.0%} interval")
    left.scatter(shown["mean"], y, color=PARTIAL, s=22, zorder=3, label="posterior mean")
    left.scatter(
        shown["raw_mean"], y, color=RAW, marker="x", s=26, zorder=4, label="raw " + raw_word(data)
    )
    left.axvline(mu, color="black", linestyle="--", linewidth=1, label="mu (posterior mean)")
    left.axhline(ENDS + 0.5, color="0.6", linestyle=":", linewidth=1)
    left.text(
        0.02,
        (ENDS + 0.5 + 0.7) / (2 * ENDS + 2.4),
        f"... {len(table) - 2 * ENDS:,} {text(data.group)}s between ...",
        transform=left.transAxes,
        fontsize="small",
        color="0.35",
    )
    left.set_yticks(y, tick_labels(data, shown.index), fontsize="small")
    left.set_ylim(-0.7, y.max() + 0.7)
    ranks = left.twinx()
    ranks.set_ylim(left.get_ylim())
    ranks.set_yticks(
        y,
        [
            f"{r:,.0f} ({lo:,}–{hi:,})"
            for r, lo, hi in zip(shown["rank"], shown["rank_lb"], shown["rank_ub"], strict=True)
        ],
        fontsize="small",
    )
    ranks.set_ylabel(f"posterior rank ({ci_prob:.0%} interval)")
    left.set_xlabel(text(data.value))
    word = "highest" if higher_is_better else "lowest"
    other = "lowest" if higher_is_better else "highest"
    left.set_title(f"the {ENDS} {word} and the {ENDS} {other} posterior means", fontsize="medium")
    bins = min(200, max(20, int(np.sqrt(len(table)))))
    right.hist(
        table["raw_mean"],
        bins=bins,
        density=True,
        color=RAW,
        alpha=0.35,
        label="raw " + raw_word(data),
    )
    right.hist(
        table["mean"],
        bins=bins,
        density=True,
        histtype="step",
        color=PARTIAL,
        linewidth=1.6,
        label="posterior mean",
    )
    for edge in (shown["mean"].iloc[ENDS - 1], shown["mean"].iloc[ENDS]):
        right.axvline(edge, color="0.4", linestyle=":", linewidth=1)
    right.axvline(mu, color="black", linestyle="--", linewidth=1)
    right.set_yticks([])
    right.set_xlabel(text(data.value))
    right.set_title(
        f"every {text(data.group)}: density of the means\n(dotted: where the shown ends begin)",
        fontsize="medium",
    )
    right.legend(fontsize="small")
    figure.suptitle(
        f"League table of {data.n_groups:,} {text(data.group)}s ({word} first; every group in "
        "league.csv)"
    )
    figure.legend(
        *left.get_legend_handles_labels(),
        loc="outside lower center",
        ncols=4,
        fontsize="small",
        frameon=False,
    )
    return figure
