"""Each group's fitted line against its data, in small multiples (sleepstudy-style).

For a formula model with a numeric covariate (preferably one whose slope varies by group), every
shown group gets a panel: its rows (dots), its own least-squares line (no pooling, dashed
orange), its posterior mean line (partial pooling, blue) and the population line (grey). Other
covariates are held at their means. Up to 30 groups are shown; with more, the ten largest, the
ten smallest and ten others at random, and the title says so.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.effects import group_coefficients
from hbm.core.names import BETA, INTERCEPT
from hbm.results.model_data_tree import PLOT_ROWS
from hbm.results.tree import as_result
from hbm.viz.style import COMPLETE, PARTIAL, RAW, text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["line_term", "plot_lines"]


def line_term(result: Any) -> str | None:
    """The covariate on the x axis: the first varying term of the first factor that is a
    population term other than the intercept, else the first such population term."""
    data = result.model_data
    slopes = [t for t in data.factors[0].terms if t != INTERCEPT and t in data.population]
    if slopes:
        return slopes[0]
    others = [t for t in data.population if t != INTERCEPT]
    return others[0] if others else None


def plot_lines(source: Any) -> Figure:
    """Fitted lines per group (see the module docstring)."""
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.model_data
    term = line_term(result)
    if term is None:
        raise ValueError("The model has no covariate to draw lines against.")
    factor = data.factors[0]
    x_column, y_column = data.columns.index(term), data.y_index
    means = data.column_summary()[0]
    beta = np.asarray(result.idata["posterior"][BETA].mean(("chain", "draw")).values)
    others = sum(
        beta[i] * means[i]
        for i, name in enumerate(data.population)
        if name not in (INTERCEPT, term) and name not in factor.terms
    )
    table = group_coefficients(result, factor.name).set_index([factor.name, "term"])
    rows = result.idata[PLOT_ROWS].to_dataset() if PLOT_ROWS in result.idata.children else None
    shown = (
        [int(g) for g in _groups(rows)]
        if rows is not None
        else list(range(min(30, factor.n_groups)))
    )
    columns = min(6, len(shown))
    lines = math.ceil(len(shown) / columns)
    figure = Figure(figsize=(2.1 * columns + 0.8, 1.9 * lines + 1.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(lines, columns, sharex=True, sharey=True, squeeze=False))
    low, high = _range(rows, x_column, means[x_column])
    grid = np.linspace(low, high, 20)
    population = beta[data.population.index(INTERCEPT)] if INTERCEPT in data.population else 0.0
    slope = beta[data.population.index(term)]
    for ax, group in zip(axes.ravel(), shown, strict=False):
        label = factor.labels[group]
        if rows is not None:
            mine = rows["group"].values == group
            ax.scatter(
                rows["values"].values[mine, x_column],
                rows["values"].values[mine, y_column],
                s=10,
                color="black",
                zorder=3,
            )
        ax.plot(grid, population + others + slope * grid, color=COMPLETE, linewidth=1)
        for kind, colour, style in (("no_pooling", RAW, "--"), ("mean", PARTIAL, "-")):
            a = _coefficient(table, label, INTERCEPT, kind, population)
            b = _coefficient(table, label, term, kind, slope)
            if np.isfinite(a) and np.isfinite(b):
                ax.plot(grid, a + others + b * grid, color=colour, linestyle=style, linewidth=1.4)
        ax.set_title(text(label), fontsize="small")
    for ax in axes.ravel()[len(shown) :]:
        ax.set_visible(False)
    figure.supxlabel(text(term))
    figure.supylabel(text(data.response))
    note = (
        ""
        if len(shown) == factor.n_groups
        else (f" ({len(shown)} of {factor.n_groups}: the largest, the smallest and some at random)")
    )
    figure.suptitle(
        f"Each {text(factor.name)}'s line: own fit (dashed orange), partial pooling (blue), "
        f"population (grey){note}",
        fontsize="medium",
    )
    return figure


def _groups(rows: Any) -> list[int]:
    import json

    return list(json.loads(rows.attrs["groups"]))


def _range(rows: Any, column: int, center: float) -> tuple[float, float]:
    if rows is None or rows.sizes["row"] == 0:
        return center - 1.0, center + 1.0
    values = rows["values"].values[:, column]
    return float(values.min()), float(values.max())


def _coefficient(table: Any, label: str, term: str, kind: str, population: float) -> float:
    """A group's coefficient of ``term`` (its population value when it does not vary)."""
    key = (label, term)
    if key not in table.index:
        return population
    return float(table.loc[key, kind])
