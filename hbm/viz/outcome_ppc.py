"""The group-level predictive check of an outcome family's fit, as a picture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.outcome_checks import group_check
from hbm.analysis.outcome_draws import family_of
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.style import group_ticks, height, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_outcome_ppc"]


def plot_outcome_ppc(source: Any, *, ci_prob: float = CI_PROB) -> Figure:
    """Top: each group's observed total (successes, counts; a mean for the Student-t) against its
    ``ci_prob`` predictive interval when its data are replicated (red: outside). Bottom: the sd of
    the group rates over replicated data, with the observed value and its p-value."""
    from matplotlib.figure import Figure

    result = as_result(source)
    check = group_check(result)
    words = family_of(result).WORDS
    n_groups = len(check.labels)
    figure = Figure(figsize=(7.5, height(n_groups) + 2.6), layout="constrained")
    grid = figure.add_gridspec(2, 1, height_ratios=[height(n_groups), 2.6])
    axes = figure.add_subplot(grid[0])
    lb, ub = check.intervals(ci_prob)
    order = np.argsort(check.observed)
    y = np.arange(n_groups)
    outside = (check.observed < lb) | (check.observed > ub)
    axes.hlines(y, lb[order], ub[order], color="0.6", linewidth=2.5)
    axes.scatter(
        check.observed[order], y, s=18, zorder=3, color=np.where(outside[order], "tab:red", "black")
    )
    group_ticks(axes, y, [text(check.labels[i]) for i in order], n_groups)
    what = "mean" if family_of(result).NAME == "studentt" else f"total {words['y']}"
    axes.set_title(
        f"observed {what} (dot) vs {ci_prob:.0%} predictive interval:\n"
        f"{int(outside.sum())} of {n_groups} outside (red)",
        fontsize="medium",
    )
    bottom = figure.add_subplot(grid[1])
    bottom.hist(check.t_replicated, bins=40, color="0.7", label="replicated")
    bottom.axvline(check.t_observed, color="black", linewidth=1.5, label="observed")
    bottom.set_title(f"{check.statistic}: p = {check.p_value:.2f}", fontsize="medium")
    bottom.set_yticks([])
    bottom.legend(fontsize="small")
    figure.suptitle(f"Posterior predictive check ({check.n_draws} draws)")
    return figure
