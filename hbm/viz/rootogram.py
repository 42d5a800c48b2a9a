"""The hanging rootogram of a count model: how often each count occurs, observed and expected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.outcome_checks import rootogram
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_rootogram"]


def plot_rootogram(source: Any) -> Figure:
    """Hanging rootogram (Kleiber and Zeileis 2016): for each count, a bar of height
    sqrt(observed frequency) hangs from the curve sqrt(expected frequency) (posterior predictive
    mean, with its 94% band). A bar that ends above the zero line means the count is seen less
    often than the model expects, below it more often: zeros missing or piling up, a tail too thin
    or too heavy."""
    from matplotlib.figure import Figure

    result = as_result(source)
    table = rootogram(result)
    counts = table.index.to_numpy()
    expected = np.sqrt(table["expected"].to_numpy())
    observed = np.sqrt(table["observed"].to_numpy())
    figure = Figure(figsize=(8.0, 4.6), layout="constrained")
    axes = figure.subplots()
    axes.bar(
        counts,
        observed,
        bottom=expected - observed,
        width=0.8,
        color="0.75",
        edgecolor="0.4",
        label="sqrt(observed), hanging",
    )
    axes.fill_between(
        counts,
        np.sqrt(table["lb"]),
        np.sqrt(table["ub"]),
        step="mid",
        color=PARTIAL,
        alpha=0.2,
        label="94% band of sqrt(expected)",
    )
    axes.plot(counts, expected, color=PARTIAL, marker="o", markersize=3, label="sqrt(expected)")
    axes.axhline(0.0, color="black", linewidth=0.8)
    top = int(counts[-1])
    labels = [str(c) for c in counts]
    if table["observed"].size and len(counts) > 1 and top == counts.max():
        labels[-1] = f"{top}+" if top > 0 and table.index[-1] == counts[-1] else labels[-1]
    axes.set_xticks(counts if len(counts) <= 25 else counts[:: max(1, len(counts) // 20)])
    axes.set_xlabel("count (the last bar holds every larger count)")
    axes.set_ylabel("sqrt(frequency)")
    axes.set_title(f"Hanging rootogram of the {int(table['observed'].sum()):,} counts")
    axes.legend(fontsize="small")
    return figure
