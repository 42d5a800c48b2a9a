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
    "MAX_DRAWN_GROUPS",
    "MAX_HEIGHT",
    "MAX_LABELLED_GROUPS",
    "PARTIAL",
    "RAW",
    "group_ticks",
    "height",
    "marker_sizes",
    "one_two_five",
    "raw_word",
    "shown_groups",
    "text",
    "tick_labels",
]

RAW, PARTIAL, COMPLETE = "tab:orange", "tab:blue", "0.45"
#: Above this many groups the per-group plots drop their group labels (they could not be read).
MAX_LABELLED_GROUPS = DEFAULTS.max_labelled_groups
#: Tallest figure, in inches, whatever the number of groups.
MAX_HEIGHT = 16.0
#: Above this many groups the per-group figures draw a selection (see :func:`shown_groups`).
MAX_DRAWN_GROUPS = DEFAULTS.max_drawn_groups
#: With many groups: the highest and lowest shown, and how many evenly spaced between them.
ENDS, BETWEEN = 25, 50


def shown_groups(order: np.ndarray) -> tuple[np.ndarray, str]:
    """Which groups a per-group figure draws, in ``order`` (positions, first drawn first), and a
    caption: every group up to :data:`MAX_DRAWN_GROUPS`, else the first and last 25 of the order
    and 50 evenly spaced between them.

    >>> shown, caption = shown_groups(np.arange(10_000))
    >>> len(shown), shown[:2].tolist(), shown[-1].item(), caption
    (100, [0, 1], 9999, 'the first and last 25 and 50 evenly spaced between, of 10,000 groups')
    """
    order = np.asarray(order)
    n = order.size
    if n <= MAX_DRAWN_GROUPS:
        return order, ""
    middle = np.linspace(ENDS, n - ENDS - 1, BETWEEN).round().astype(np.int64)
    picks = np.unique(np.concatenate([np.arange(ENDS), middle, np.arange(n - ENDS, n)]))
    caption = f"the first and last {ENDS} and {BETWEEN} evenly spaced between, of {n:,} groups"
    return order[picks], caption


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


def group_ticks(axes: Axes, y: np.ndarray, labels: list[str] | None, n_groups: int) -> None:
    if labels is None or n_groups > MAX_LABELLED_GROUPS:
        axes.set_yticks([])
        if labels is not None:
            axes.set_ylabel(f"{n_groups} groups (too many to label)")
        return
    axes.set_yticks(y, labels, fontsize="small")
    axes.set_ylim(-0.7, n_groups - 0.3)
