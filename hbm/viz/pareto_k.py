"""Pareto k per unit left out, as a picture: where PSIS can stand in for refitting and where not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.loo import loo
from hbm.analysis.units import units_of
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL, RAW, marker_sizes, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_pareto_k"]


def plot_pareto_k(source: Any, unit: str | None = None) -> Figure:
    """Pareto k of every unit left out, with the thresholds ``good_k`` and 1.

    Groups: k against the group's size (or its estimate's standard error), for the log likelihood
    with the effects integrated out (blue) and for the per-group sums given the drawn effects
    (orange): the second's k grow with the group's data, because leaving a big group out moves its
    effect far, which one set of draws cannot represent. Rows: k per row, in table order.
    """
    from matplotlib.figure import Figure

    result = as_result(source)
    main = loo(result, unit)
    figure = Figure(figsize=(8.0, 4.0), layout="constrained")
    axes = figure.subplots()
    if main.unit == "groups":
        x, label, _ = marker_sizes(units_of(result))
        conditional = loo(result, "groups", integrate=False)
        if main.method != conditional.method:
            axes.scatter(x, conditional.pareto_k, color=RAW, s=22, label="given the drawn effects")
        axes.scatter(x, main.pareto_k, color=PARTIAL, s=22, label="effects integrated out")
        axes.set_xscale("log")
        axes.set_xlabel(label)
    else:
        axes.scatter(np.arange(1, main.n_units + 1), main.pareto_k, color=PARTIAL, s=8)
        axes.set_xlabel("row (table order)")
    axes.axhline(main.good_k, color="black", linestyle="--", linewidth=1)
    axes.axhline(1.0, color="tab:red", linestyle=":", linewidth=1)
    right = axes.get_xlim()[1]
    axes.text(right, main.good_k, f"good_k {main.good_k:.2f} ", va="bottom", ha="right")
    axes.text(right, 1.0, "1: unusable ", va="bottom", ha="right", color="tab:red")
    axes.set_ylabel("Pareto k")
    what = text(units_of(result).group) if main.unit == "groups" else "row"
    axes.set_title(f"Pareto k, leaving one {what} out at a time ({main.n_draws:,} draws)")
    if main.unit == "groups":
        figure.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return figure
