"""Models compared by ELPD, as a picture: each model's ELPD and its difference from the best."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hbm.viz.style import COMPLETE, PARTIAL, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.analysis.compare import Comparison

__all__ = ["plot_compare"]


def plot_compare(comparison: Comparison) -> Figure:
    """ELPD per model (dot, +- 1 se), best at the top; below each, its difference from the best
    (hollow diamond, +- 1 se of the difference ``dse``, which pairs the units and is usually much
    smaller than either se). Higher is better; the dotted line is the best model's ELPD.
    """
    from matplotlib.figure import Figure

    table = comparison.table
    n_models = len(table)
    y = np.arange(n_models)[::-1].astype(float)
    figure = Figure(figsize=(8.0, 1.2 + 0.55 * n_models), layout="constrained")
    axes = figure.subplots()
    best = float(table["elpd"].iloc[0])
    axes.axvline(best, color=COMPLETE, linestyle=":", linewidth=1)
    axes.errorbar(
        table["elpd"], y, xerr=table["se"], fmt="o", color=PARTIAL, capsize=3, label="ELPD +- se"
    )
    others = y[1:] - 0.3
    axes.errorbar(
        best + table["elpd_diff"].iloc[1:],
        others,
        xerr=table["dse"].iloc[1:],
        fmt="D",
        markerfacecolor="white",
        color="black",
        capsize=3,
        label="difference from the best +- its se",
    )
    axes.set_yticks(y, [text(name) for name in table.index])
    axes.set_ylim(-0.8, n_models - 0.4)
    unit = comparison.unit
    axes.set_xlabel(f"ELPD, leaving one {unit[:-1]} out at a time (higher is better)")
    axes.set_title(f"Models ranked by leave-one-{unit[:-1]}-out ELPD")
    figure.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return figure
