"""The league table of an outcome family's groups: posterior rates, intervals, rank intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.outcome_draws import family_of
from hbm.analysis.rates import population_rate, rate_table
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.style import MAX_LABELLED_GROUPS, PARTIAL, RAW, group_ticks, height, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_rates_league"]


def plot_rates_league(
    source: Any, *, ci_prob: float = CI_PROB, higher_is_better: bool = True
) -> Figure:
    """League table as a caterpillar plot of the groups' rates, best at the top.

    Each group: its posterior rate (partial pooling) with the ``ci_prob`` interval, and its raw
    rate (a cross); the dashed line is the population rate (a typical group's); the right-hand
    labels give the posterior rank and its interval. Where the intervals overlap, the order of
    neighbours is not supported by the data, however far apart their raw rates are.
    """
    from matplotlib.figure import Figure

    result = as_result(source)
    family = family_of(result)
    words = family.WORDS
    table = rate_table(result, ci_prob=ci_prob, higher_is_better=higher_is_better)
    table = table.sort_values("mean", ascending=not higher_is_better)
    n_groups = len(table)
    lb, ub = table.filter(like="_lb").iloc[:, 0], table.filter(like="_ub").iloc[:, 0]
    y = np.arange(n_groups)[::-1]
    figure = Figure(figsize=(8.5, height(n_groups)), layout="constrained")
    axes = figure.subplots()
    axes.hlines(y, lb, ub, color=PARTIAL, linewidth=1.6, label=f"{ci_prob:.0%} interval")
    axes.scatter(table["mean"], y, color=PARTIAL, s=22, zorder=3, label="posterior rate")
    axes.scatter(table["raw"], y, color=RAW, marker="x", s=26, zorder=4, label="raw rate")
    axes.axvline(
        float(np.mean(population_rate(result))),
        color="black",
        linestyle="--",
        linewidth=1,
        label="population rate (a typical group)",
    )
    size = table[words["weight"]]
    labels = [
        f"{text(label)} ({words['weight']} {w:g})"
        for label, w in zip(table.index, size, strict=True)
    ]
    group_ticks(axes, y, labels, n_groups)
    if n_groups <= MAX_LABELLED_GROUPS:
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
    axes.set_xlabel(f"{words['mean']} ({text(words['y'])} per {text(words['weight'])})")
    axes.set_title(
        f"League table of {n_groups} {text(table.index.name)}s: posterior {words['means']}, "
        f"{'highest' if higher_is_better else 'lowest'} first"
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure
