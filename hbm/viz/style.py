"""What every figure of hbm shares: colours, label rules and sizes.

Group labels are data, and matplotlib reads ``$...$`` in a text as mathematics: every label is
drawn through :func:`text`, with its dollar signs escaped, so a label shows exactly as written.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hbm.core.defaults import DEFAULTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matplotlib.axes import Axes

    from hbm.analysis.units import Units
    from hbm.data.grouped import GroupedData

__all__ = [
    "COMPLETE",
    "MAX_HEIGHT",
    "MAX_LABELLED_GROUPS",
    "PARTIAL",
    "RAW",
    "group_ticks",
    "height",
    "marker_sizes",
    "one_two_five",
    "raw_word",
    "row_labels",
    "text",
    "tick_labels",
]

RAW, PARTIAL, COMPLETE = "tab:orange", "tab:blue", "0.45"
#: Above this many groups the per-group plots drop their group labels (they could not be read).
MAX_LABELLED_GROUPS = DEFAULTS.max_labelled_groups
#: Tallest figure, in inches, whatever the number of groups.
MAX_HEIGHT = 16.0


def text(label: object) -> str:
    """``label`` as matplotlib shows it literally: dollar signs escaped (no mathtext)."""
    return str(label).replace("$", r"\$")


def raw_word(data: GroupedData) -> str:
    return "estimate" if data.kind == "summaries" else "group mean"


def marker_sizes(data: GroupedData | Units) -> tuple[np.ndarray, str, np.ndarray]:
    """x position, its axis label and marker areas for the shrinkage plot."""
    if data.kind == "summaries":
        weight = 1.0 / data.known_se**2
        return (
            data.known_se,
            f"standard error of the {text(data.value)} estimate",
            (25 + 275 * weight / weight.max()),
        )
    weight = data.n.astype(float)
    return weight, "rows in the group (log scale)", 25 + 275 * np.sqrt(weight / weight.max())


def one_two_five(x: float, _position: object = None) -> str:
    """``x`` as plain text (``"20"``) when it is 1, 2 or 5 times a power of ten, else ``""``."""
    if x <= 0:
        return ""
    mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
    return f"{x:g}" if any(abs(mantissa - m) < 1e-6 for m in (1, 2, 5)) else ""


def tick_labels(data: GroupedData, labels: Iterable[str]) -> list[str]:
    """Tick labels: the group label with its size (rows) or standard error (summaries)."""
    where = {label: j for j, label in enumerate(data.labels)}
    if data.kind == "summaries":
        return [f"{text(label)} (se {data.known_se[where[label]]:.3g})" for label in labels]
    return [f"{text(label)} (n={data.n[where[label]]})" for label in labels]


def height(n_groups: int) -> float:
    return float(min(0.24 * n_groups + 1.8, MAX_HEIGHT))


def row_labels(axes: Axes, y: np.ndarray, labels: list[str], *, right: bool = False) -> None:
    """Labels beside the rows at ``y``, as plain texts: for the few groups drawn out of many
    (:mod:`hbm.viz.selection`), about a third cheaper to draw than as many axis ticks."""
    axes.set_yticks([])
    where = axes.get_yaxis_transform()  # x in axes units, y in data
    x, align = (1.01, "left") if right else (-0.01, "right")
    for row, label in zip(y, labels, strict=True):
        axes.text(x, row, label, transform=where, ha=align, va="center", fontsize="small")
    axes.set_ylim(float(np.min(y)) - 0.7, float(np.max(y)) + 0.7)


def group_ticks(axes: Axes, y: np.ndarray, labels: list[str] | None, n_groups: int) -> None:
    if labels is None or n_groups > MAX_LABELLED_GROUPS:
        axes.set_yticks([])
        if labels is not None:
            axes.set_ylabel(f"{n_groups} groups (too many to label)")
        return
    axes.set_yticks(y, labels, fontsize="small")
    axes.set_ylim(float(np.min(y)) - 0.7, float(np.max(y)) + 0.7)
