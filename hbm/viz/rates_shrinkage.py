"""Shrinkage of an outcome family's group rates: raw rate -> posterior rate, against group size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.outcome_draws import family_of
from hbm.analysis.rates import population_rate, rate_table
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL, RAW, one_two_five, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_rates_shrinkage"]


def plot_rates_shrinkage(source: Any) -> Figure:
    """Each group's raw rate (orange) and posterior rate (blue), joined, against its size (trials
    or exposure, log scale); the dashed line is the population rate. Small groups carry little
    information and move far towards the population; large ones keep their own rate."""
    from matplotlib.figure import Figure

    result = as_result(source)
    words = family_of(result).WORDS
    table = rate_table(result)
    size = table[words["weight"]].to_numpy(dtype=float)
    figure = Figure(figsize=(8.0, 5.0), layout="constrained")
    axes = figure.subplots()
    axes.vlines(size, table["raw"], table["mean"], color="0.6", linewidth=0.8)
    axes.scatter(size, table["raw"], color=RAW, s=22, label="raw rate (own data alone)", zorder=3)
    axes.scatter(size, table["mean"], color=PARTIAL, s=22, label="posterior rate", zorder=4)
    axes.axhline(
        float(np.mean(population_rate(result))),
        color="black",
        linestyle="--",
        linewidth=1,
        label="population rate (a typical group)",
    )
    if np.all(size > 0) and size.max() > 3 * size.min():
        from matplotlib.ticker import FuncFormatter

        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(one_two_five))
        axes.xaxis.set_minor_formatter(FuncFormatter(one_two_five))
    axes.set_xlabel(f"{text(words['weight'])} per {text(table.index.name)} (group size)")
    axes.set_ylabel(f"{words['mean']} ({text(words['y'])} per {text(words['weight'])})")
    shrink = table["shrinkage"].to_numpy()
    typical = np.nanmedian(shrink) if np.isfinite(shrink).any() else np.nan
    axes.set_title(
        f"Shrinkage towards the population: {len(table)} {text(table.index.name)}s, median "
        f"shrinkage {typical:.0%}"
        if np.isfinite(typical)
        else f"Shrinkage towards the population: {len(table)} {text(table.index.name)}s"
    )
    axes.legend(fontsize="small")
    return figure
