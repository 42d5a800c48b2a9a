"""The league table of a formula model's groups: each group's coefficients, ranked.

One panel per varying term (at most two): groups ordered by the posterior mean of their
coefficient, with its interval (blue) and their own estimate (orange cross); the dashed line is
the population value. Overlapping intervals are the point: most differences between neighbours
are not supported by the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.effects import group_coefficients
from hbm.core.names import BETA
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL, RAW, group_ticks, height, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_effects_league"]


def plot_effects_league(
    source: Any, *, ci_prob: float = CI_PROB, factor: str | None = None
) -> Figure:
    """Caterpillar plots of every group's coefficients (see the module docstring); ``factor``
    picks the grouping factor (the first by default)."""
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.model_data
    chosen = data.factor(factor) if factor else data.factors[0]
    table = group_coefficients(result, chosen.name, ci_prob=ci_prob)
    terms = chosen.terms[:2]
    beta = np.asarray(result.idata["posterior"][BETA].mean(("chain", "draw")).values)
    tag = f"eti{round(ci_prob * 100)}"
    figure = Figure(figsize=(5.2 * len(terms) + 1.5, height(chosen.n_groups)), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(terms), squeeze=False)).ravel()
    for ax, term in zip(axes, terms, strict=True):
        rows = table[table["term"] == term].sort_values("mean")
        y = np.arange(len(rows))
        ax.hlines(y, rows[f"{tag}_lb"], rows[f"{tag}_ub"], color=PARTIAL, linewidth=1.4)
        ax.scatter(rows["mean"], y, color=PARTIAL, s=18, zorder=3, label="posterior mean")
        ax.scatter(
            rows["no_pooling"], y, color=RAW, marker="x", s=22, zorder=4, label="own estimate"
        )
        if term in data.population:
            ax.axvline(
                beta[data.population.index(term)],
                color="black",
                linestyle="--",
                linewidth=1,
                label="population",
            )
        labels = [
            f"{text(label)} (n={n})" for label, n in zip(rows[chosen.name], rows["n"], strict=True)
        ]
        group_ticks(ax, y, labels if ax is axes[0] else None, chosen.n_groups)
        ax.set_xlabel(f"{text(term)} of each {text(chosen.name)}")
    figure.suptitle(
        f"League table of {chosen.n_groups} {text(chosen.name)}s: coefficients with "
        f"{ci_prob:.0%} intervals, lowest to highest"
    )
    figure.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return figure
