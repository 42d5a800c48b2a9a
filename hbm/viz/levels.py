"""Pictures of a model with several grouping levels: where the variance lies, how each level
shrinks, and each level's league table.

- :func:`plot_variance_decomposition`: left, each component's share of the variance with its
  interval (and the ICC of each level, the correlation of two rows in one group of it); right,
  the posterior mean shares stacked in one bar.
- :func:`plot_level_shrinkage`: one panel per level, each group's own estimate and posterior
  mean as deviations from its parent's posterior — a school pulled towards its district, a
  district towards the population.
- :func:`plot_level_leagues`: the league table (:func:`hbm.viz.effects_league`) of one level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.draws import tag
from hbm.analysis.levels import RESIDUAL, level_shrinkage, variance_decomposition
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.effects_league import plot_effects_league
from hbm.viz.style import COMPLETE, MAX_LABELLED_GROUPS, PARTIAL, RAW, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_level_league", "plot_level_shrinkage", "plot_variance_decomposition"]

#: Levels shown side by side in the shrinkage figure, at most.
MAX_PANELS = 4


def plot_variance_decomposition(source: Any, *, ci_prob: float = CI_PROB) -> Figure:
    """Shares of variance per level with intervals, and the ICCs (see the module docstring)."""
    from matplotlib.figure import Figure

    table = variance_decomposition(source, ci_prob=ci_prob)
    prefix = tag(ci_prob)
    names = [text(c) for c in table["component"]]
    y = np.arange(len(table))[::-1]
    figure = Figure(figsize=(10.0, 1.2 + 0.55 * len(table)), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.6, 1])
    left.hlines(
        y, table[f"share_{prefix}_lb"], table[f"share_{prefix}_ub"], color=PARTIAL, linewidth=3
    )
    left.scatter(table["share"], y, color=PARTIAL, s=40, zorder=3, label="share of variance")
    icc = table[table["component"] != RESIDUAL]
    iy = y[: len(icc)] - 0.22
    left.hlines(iy, icc[f"icc_{prefix}_lb"], icc[f"icc_{prefix}_ub"], color=RAW, linewidth=1.5)
    left.scatter(icc["icc"], iy, color=RAW, marker="D", s=22, zorder=3, label="ICC (same group)")
    left.set_yticks(y, names)
    left.set_xlim(0, 1)
    left.set_xlabel(f"share of a row's variance (posterior mean, {ci_prob:.0%} interval)")
    left.legend(loc="lower right", fontsize="small", frameon=False)
    colours = [f"C{i + 2}" for i in range(len(table) - 1)] + [COMPLETE]
    start = 0.0
    for name, share, colour in zip(names, table["share"], colours, strict=True):
        right.barh(
            0, share, left=start, color=colour, edgecolor="white", label=f"{name} ({share:.0%})"
        )
        if share > 0.12:
            right.text(
                start + share / 2, 0, f"{share:.0%}", ha="center", va="center", color="white"
            )
        start += share
    right.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.3),
        ncols=min(len(table), 3),
        fontsize="small",
        frameon=False,
    )
    right.set_xlim(0, max(start, 1.0))
    right.set_yticks([])
    right.set_xlabel("posterior mean shares, stacked")
    figure.suptitle("Where the variance lies: each level's share, and the ICC of each level")
    return figure


def plot_level_shrinkage(source: Any) -> Figure:
    """Each level's groups pulled towards their parent (see the module docstring).

    One panel per level: each group's own estimate minus its parent's posterior mean (x)
    against its posterior mean minus the same (y), point area ~ rows. On the diagonal a group
    keeps its own estimate (no pooling); on the horizontal line it is pulled all the way to its
    parent (complete pooling); the cloud's slope is one minus the level's pooling.
    """
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.model_data
    order = variance_decomposition(result)["component"].tolist()[:-1][:MAX_PANELS]
    figure = Figure(figsize=(4.0 * len(order) + 0.6, 4.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(order), squeeze=False)).ravel()
    for ax, name in zip(axes, order, strict=True):
        factor = data.factor(name)
        table = level_shrinkage(result, name)
        own = (table["own"] - table["parent_posterior"]).to_numpy(dtype=float)
        post = (table["posterior"] - table["parent_posterior"]).to_numpy(dtype=float)
        size = table["n"].to_numpy(dtype=float)
        few = len(table) <= MAX_LABELLED_GROUPS
        area = 12 + 60 * np.sqrt(size / max(size.max(), 1.0))
        if not few:
            area = area * np.sqrt(MAX_LABELLED_GROUPS / len(table))
        finite = np.isfinite(own)
        reach = float(np.max(np.abs(own[finite]))) if finite.any() else 1.0
        reach = reach * 1.08 or 1.0
        ax.plot(
            [-reach, reach],
            [-reach, reach],
            color=RAW,
            linestyle=":",
            linewidth=1.2,
            label="no pooling (own estimate)",
        )
        ax.axhline(
            0, color=COMPLETE, linestyle="--", linewidth=1, label="complete pooling (parent)"
        )
        ax.scatter(
            own,
            post,
            s=area,
            color=PARTIAL,
            alpha=0.85 if few else 0.35,
            edgecolor="white" if few else "none",
            zorder=3,
            label="posterior mean",
        )
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal", adjustable="box")
        term = text(factor.terms[0])
        ax.set_xlabel(f"own estimate − parent ({term})")
        ax.set_ylabel(f"posterior − parent ({term})")
        pooled = table["pooling"].to_numpy(dtype=float)
        median = (
            float(np.median(pooled[np.isfinite(pooled)])) if np.isfinite(pooled).any() else np.nan
        )
        parent = "population" if table["parent"].iloc[0] == "population" else "its parent group"
        ax.set_title(
            f"{text(name)}: {factor.n_groups} groups → {parent}\nmedian pooling {median:.2f}",
            fontsize="medium",
        )
    figure.suptitle("Shrinkage at each level: each group's deviation from its parent (area ~ rows)")
    figure.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return figure


def plot_level_league(source: Any, factor: str, *, ci_prob: float = CI_PROB) -> Figure:
    """The league table of the groups of one level (``factor``)."""
    return plot_effects_league(source, factor=factor, ci_prob=ci_prob)
