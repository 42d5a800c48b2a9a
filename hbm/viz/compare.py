"""Models compared by ELPD, as a picture: each model's ELPD, and its difference from the best."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hbm.viz.style import COMPLETE, PARTIAL, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.analysis.compare import Comparison

__all__ = ["plot_compare"]


def plot_compare(comparison: Comparison) -> Figure:
    """Left: ELPD per model, +- 1 se, best at the top (higher is better). Right: each model's
    difference from the best, +- 1 se of the difference (``dse``, over the paired units: usually
    much smaller than either se, which is why the differences get a panel of their own); a
    difference more than 2 ``dse`` from 0 is a clear one.
    """
    from matplotlib.figure import Figure

    table = comparison.table
    n_models = len(table)
    y = np.arange(n_models)[::-1].astype(float)
    figure = Figure(figsize=(9.0, 1.4 + 0.5 * n_models), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    left.errorbar(table["elpd"], y, xerr=table["se"], fmt="o", color=PARTIAL, capsize=3)
    left.set_yticks(y, [text(name) for name in table.index])
    left.set_ylim(-0.6, n_models - 0.4)
    left.set_xlabel("ELPD +- se")
    right.axvline(0, color=COMPLETE, linewidth=1)
    right.errorbar(
        table["elpd_diff"], y, xerr=table["dse"], fmt="D", markerfacecolor="white",
        color="black", capsize=3,
    )  # fmt: skip
    right.set_xlabel("difference from the best +- its se (dse)")
    unit = comparison.unit[:-1]
    figure.suptitle(f"Models ranked by leave-one-{unit}-out ELPD (higher is better)")
    return figure
