"""LOO-PIT calibration, as a picture: the PIT values' ECDF minus the uniform's, with its band."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.loo_pit import loo_pit
from hbm.analysis.units import units_of
from hbm.results.tree import as_result
from hbm.viz.style import PARTIAL, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_loo_pit"]


def plot_loo_pit(source: Any, unit: str | None = None, *, ci_prob: float = 0.94) -> Figure:
    """LOO-PIT calibration plot of a fit (see :mod:`hbm.analysis.loo_pit`).

    Left: the ECDF of the PIT values minus that of a uniform, with the simultaneous ``ci_prob``
    band for uniform values: a calibrated model stays inside it; an S shape (below then above)
    means predictive intervals too wide, the mirror image too narrow, a one-sided bulge a shifted
    centre. Right: their histogram, flat for a calibrated model.
    """
    from matplotlib.figure import Figure

    result = as_result(source)
    pit = loo_pit(result, unit)
    curve = pit.ecdf(ci_prob)
    x = curve["x"]
    figure = Figure(figsize=(10.0, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.6, 1.0])
    left.fill_between(
        x,
        curve["lower"] - x,
        curve["upper"] - x,
        step="post",
        color="0.85",
        linewidth=0,
        label=f"{ci_prob:.0%} simultaneous band (uniform)",
    )
    left.step(x, curve["ecdf"] - x, where="post", color=PARTIAL, label="LOO-PIT ECDF - uniform")
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xlim(0, 1)
    left.set_xlabel("PIT value")
    left.set_ylabel("ECDF difference")
    inside = bool(np.all((curve["ecdf"] >= curve["lower"]) & (curve["ecdf"] <= curve["upper"])))
    left.set_title(
        f"{len(pit.values):,} {text(pit.statistic)}: "
        + ("inside the band" if inside else "outside the band (miscalibrated)"),
        fontsize="medium",
    )
    left.legend(fontsize="small", loc="best")
    bins = int(np.clip(np.sqrt(len(pit.values)), 4, 40))
    right.hist(pit.values, bins=bins, range=(0, 1), color=PARTIAL, alpha=0.7)
    right.axhline(len(pit.values) / bins, color="black", linestyle="--", linewidth=1)
    right.set_xlim(0, 1)
    right.set_xlabel("PIT value")
    right.set_yticks([])
    right.set_title("histogram (dashed: uniform)", fontsize="medium")
    what = "row" if pit.unit == "rows" else text(units_of(result).group)
    figure.suptitle(f"LOO-PIT: each {what} against its leave-one-{pit.unit[:-1]}-out predictive")
    return figure
