"""A curve fit in pictures: each group's data with its fitted curve and band, the population
curve beside it, and the forecasts.

:func:`plot_curves` draws small multiples, ordered by how many points each group has: the dots
are the group's rows, the blue line and band its posterior mean curve and 94% interval (partial
pooling), the grey dashed line the population curve. Groups with few points lie visibly closer to
the population curve — the shrinkage of a curve. Up to ``max_panels`` groups are drawn: with more,
the groups with the fewest and the most points and some in between, and the title says so.

:func:`plot_forecast` draws each group's total to the horizon with its interval (groups ordered by
their number of points) and a new group's, whose interval carries the spread between groups.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.curve_predict import NEW_GROUP, POPULATION, curve_bands, time_grid
from hbm.results.tree import as_result
from hbm.viz.style import COMPLETE, PARTIAL, RAW, text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_curves", "plot_forecast", "shown_groups"]


def shown_groups(source: Any, max_panels: int = 12) -> list[str]:
    """The groups drawn: all, or with more than ``max_panels`` the fewest-point third, the
    most-point third and evenly spaced others, ordered by number of points."""
    data = as_result(source).curve_data
    order = np.argsort(data.n, kind="stable")
    if order.size > max_panels:
        third = max_panels // 3
        middle = max_panels - 2 * third
        inner = order[third:-third]
        picks = inner[np.linspace(0, inner.size - 1, middle).round().astype(int)]
        order = np.r_[order[:third], picks, order[-third:]]
    return [data.labels[i] for i in order]


def plot_curves(
    source: Any,
    groups: list[str] | None = None,
    *,
    horizon: float | None = None,
    max_panels: int = 12,
) -> Figure:
    """Each shown group's data, fitted curve with its band, and the population curve."""
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.curve_data
    shown = list(groups) if groups is not None else shown_groups(result, max_panels)
    times = time_grid(result, horizon=horizon)
    bands = curve_bands(result, times, [*shown, POPULATION])
    population = bands[bands["group"] == POPULATION]
    columns = min(4, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure = Figure(figsize=(3.2 * columns, 2.6 * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    for ax, label in zip(axes.ravel(), shown, strict=False):
        band = bands[bands["group"] == label]
        t, y = data.rows_of(label)
        ax.fill_between(band["t"], band["lower"], band["upper"], color=PARTIAL, alpha=0.25)
        ax.plot(band["t"], band["mean"], color=PARTIAL, lw=1.5)
        ax.plot(population["t"], population["mean"], color=COMPLETE, lw=1, ls="--")
        ax.plot(t, y, "o", color=RAW, ms=3)
        ax.set_title(text(f"{label} (n={t.size})"), fontsize=9)
    for ax in axes.ravel()[len(shown) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(text(data.time))
    for ax in axes[:, 0]:
        ax.set_ylabel(text(data.value))
    more = "" if len(shown) == data.n_groups else f"; {len(shown)} of {data.n_groups} shown"
    name = (result.description.curve or {}).get("curve", "")
    figure.suptitle(
        text(
            f"{name} curve by {data.group}: data (dots), fit and 94% band (blue), population "
            f"(grey dashed){more}"
        ),
        fontsize=10,
    )
    return figure


def plot_forecast(table: pd.DataFrame, *, max_rows: int = 40) -> Figure:
    """Each group's total to the horizon with its interval, and a new group's (see the module
    docstring); ``table`` is :func:`hbm.analysis.curve_predict.forecast`'s."""
    from matplotlib.figure import Figure

    groups = table[~table["group"].isin([POPULATION, NEW_GROUP])].sort_values(
        "n_rows", kind="stable"
    )
    if len(groups) > max_rows:
        keep = np.linspace(0, len(groups) - 1, max_rows).round().astype(int)
        groups = groups.iloc[keep]
    import pandas as pd

    frame = pd.concat([groups, table[table["group"] == NEW_GROUP]])
    y = np.arange(len(frame))
    figure = Figure(figsize=(7, 1.2 + 0.22 * len(frame)), layout="constrained")
    ax = figure.subplots()
    colors = [COMPLETE if g == NEW_GROUP else PARTIAL for g in frame["group"]]
    ax.hlines(y, frame["total_lower"], frame["total_upper"], colors=colors, lw=2)
    ax.scatter(frame["total_mean"], y, color=colors, s=12, zorder=3)
    names = [text(f"{g} (n={n})") for g, n in zip(frame["group"], frame["n_rows"], strict=True)]
    ax.set_yticks(y, names)
    ax.tick_params(axis="y", labelsize=7)
    horizon = table.attrs.get("horizon")
    limit = table.attrs.get("limit")
    what = f"total to t = {horizon:g}" if horizon is not None else "total"
    if limit is not None:
        what += f" (rates below {limit:g} not counted)"
    ax.set_xlabel(what)
    ax.set_title("Forecast per group (fewest points at the bottom) and a new group", fontsize=10)
    return figure
