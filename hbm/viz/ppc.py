"""The posterior predictive check of the group statistics, as a picture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.ppc import posterior_predictive
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.selection import drawn_groups
from hbm.viz.style import group_ticks, height, raw_word, row_labels, text, tick_labels

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_ppc"]


def plot_ppc(source: Any, *, ci_prob: float = CI_PROB, random_seed: int | None = None) -> Figure:
    """Posterior predictive check: observed group statistics against replicated ones.

    Top: each group's observed mean (and, rows form, within-group sd) against its ``ci_prob``
    predictive interval; groups outside are drawn in red. Bottom: the test statistics (sd of the
    group means over new groups; sd of the within-group sds) with the observed value and the
    posterior predictive p-value. See :mod:`hbm.ppc`.
    """
    from matplotlib.figure import Figure

    data = as_result(source).grouped
    check = posterior_predictive(source, random_seed=random_seed)
    panels = ["mean"] + (["sd"] if check.rep_sd is not None else [])
    statistics = check.statistic_draws()
    # Past a few hundred groups: those furthest below and above their intervals, and a sample;
    # the counts in the titles are over every group.
    lb_mean, ub_mean = check.intervals("mean", ci_prob)
    standing = (check.observed_mean - (lb_mean + ub_mean) / 2) / np.maximum(
        ub_mean - lb_mean, 1e-300
    )
    drawn = drawn_groups(
        standing, low="furthest below their interval", high="furthest above (of the mean)"
    )
    rows = drawn.index.size
    figure = Figure(figsize=(5.0 * len(panels) + 1.0, height(rows) + 2.6), layout="constrained")
    grid = figure.add_gridspec(2, len(panels), height_ratios=[height(rows), 2.6])
    order = drawn.index if not drawn.all else np.argsort(check.observed_mean)
    y = drawn.rows()
    names = tick_labels(data, [check.labels[i] for i in order])
    for column, what in enumerate(panels):
        axes = figure.add_subplot(grid[0, column])
        lb, ub = check.intervals(what, ci_prob)
        observed = check.observed(what)
        outside = (observed < lb) | (observed > ub)
        axes.hlines(y, lb[order], ub[order], color="0.6", linewidth=2.5)
        axes.scatter(
            observed[order],
            y,
            s=18,
            zorder=3,
            color=np.where(outside[order], "tab:red", "black"),
        )
        if drawn.all or column:
            group_ticks(axes, y, names if column == 0 else None, order.size)
        else:  # the few groups drawn out of many
            row_labels(axes, y, names)
        word = "within-group sd" if what == "sd" else raw_word(data)
        count = int(outside.sum())
        total = int(np.isfinite(lb).sum())
        axes.set_title(
            f"observed {word} (dot) vs {ci_prob:.0%} predictive interval:\n"
            f"{count} of {total} outside (red)",
            fontsize="medium",
        )
        axes.set_xlabel(text(data.value))
    for column, (name, (t_obs, t_rep)) in enumerate(statistics.items()):
        axes = figure.add_subplot(grid[1, column])
        axes.hist(t_rep, bins=40, color="0.7", label="replicated")
        axes.axvline(t_obs, color="black", linewidth=1.5, label="observed")
        p_value = float(np.mean(t_rep >= t_obs))
        axes.set_title(f"{name}: p = {p_value:.2f}", fontsize="medium")
        axes.set_xlabel(
            "over groups of 2+ rows" if column else "over new groups drawn from Normal(mu, tau)"
        )
        axes.set_yticks([])
        if column == 0:
            axes.legend(fontsize="small")
    figure.suptitle("Posterior predictive check" + ("" if drawn.all else f"\n{drawn.note}"))
    return figure
