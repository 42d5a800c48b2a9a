"""The 2D shrinkage plot: each group's own intercept and slope, pulled towards the population.

For a grouping factor with (at least) two varying terms, every group is an arrow from its
no-pooling estimate (its own least-squares line; orange rings) to its posterior mean (blue dots);
the ellipses are the population distribution of the groups' coefficients, ``N(beta, Sigma)`` at
the posterior means, containing 50% and 90% of groups. Groups with little data travel furthest,
and they travel along the ellipse's correlation. With one varying term the plot is 1D: each
group's estimate against its size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.effects import group_coefficients
from hbm.core.names import BETA
from hbm.model.families.normal_cells_conditional import covariance_draws
from hbm.results.tree import as_result
from hbm.viz.style import MAX_LABELLED_GROUPS, PARTIAL, RAW, text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_shrinkage_2d"]

#: Probability mass inside the drawn ellipses.
ELLIPSES = (0.5, 0.9)


def plot_shrinkage_2d(source: Any, factor: str | None = None) -> Figure:
    """The shrinkage of every group's coefficients (see the module docstring)."""
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.model_data
    chosen = data.factor(factor) if factor else data.factors[0]
    table = group_coefficients(result, chosen.name)
    figure = Figure(figsize=(8.0, 6.4) if chosen.n_terms > 1 else (9.0, 5.2), layout="constrained")
    ax = figure.subplots()
    few = chosen.n_groups <= MAX_LABELLED_GROUPS
    alpha = 0.9 if few else max(0.25, math.sqrt(MAX_LABELLED_GROUPS / chosen.n_groups))
    size = 36 if few else 36 * math.sqrt(MAX_LABELLED_GROUPS / chosen.n_groups)
    if chosen.n_terms == 1:
        _one_term(ax, table, chosen.name, chosen.terms[0], alpha, size)
    else:
        _two_terms(ax, result, table, chosen, alpha, size)
    figure.suptitle(
        f"Shrinkage of {chosen.n_groups} {text(chosen.name)} coefficients: own estimate (ring) "
        "-> posterior mean (dot)"
    )
    figure.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return figure


def _two_terms(ax: Axes, result: Any, table: Any, factor: Any, alpha: float, size: float) -> None:
    first, second = factor.terms[:2]
    by_term = {term: rows.set_index(factor.name) for term, rows in table.groupby("term")}
    x_post, y_post = by_term[first]["mean"], by_term[second]["mean"]
    x_raw, y_raw = by_term[first]["no_pooling"], by_term[second]["no_pooling"]
    both = np.isfinite(x_raw) & np.isfinite(y_raw)
    starts = np.column_stack([x_raw[both], y_raw[both]])
    ends = np.column_stack([x_post[both], y_post[both]])
    if len(starts) <= MAX_LABELLED_GROUPS:
        ax.quiver(
            starts[:, 0],
            starts[:, 1],
            *(ends - starts).T,
            angles="xy",
            scale_units="xy",
            scale=1,
            color="0.55",
            width=0.003,
            alpha=alpha,
        )
    else:  # thousands of arrow heads are a blur that takes seconds to draw: plain segments
        from matplotlib.collections import LineCollection

        segments = np.stack([starts, ends], axis=1)
        lines = LineCollection(list(segments), colors="0.55", linewidths=0.5, alpha=alpha)
        ax.add_collection(lines)
    ax.scatter(
        x_raw[both],
        y_raw[both],
        s=size,
        facecolor="none",
        edgecolor=RAW,
        alpha=alpha,
        label="own estimate (no pooling)",
    )
    ax.scatter(
        x_post,
        y_post,
        s=size,
        color=PARTIAL,
        alpha=alpha,
        zorder=3,
        label="posterior mean (partial pooling)",
    )
    center, cov = _population(result, factor)
    for mass in ELLIPSES:
        _ellipse(ax, center, cov, mass)
    ax.scatter(
        center[0], center[1], marker="+", s=160, color="black", zorder=4, label="population mean"
    )
    ax.set_xlabel(f"{text(first)} (per {text(factor.name)})")
    ax.set_ylabel(f"{text(second)} (per {text(factor.name)})")
    if not both.all():
        ax.set_title(
            f"{int((~both).sum())} group(s) with too few rows for their own estimate: dots only",
            fontsize="small",
        )


def _one_term(ax: Axes, table: Any, factor: str, term: str, alpha: float, size: float) -> None:
    sizes = table["n"].to_numpy()
    ax.vlines(sizes, table["no_pooling"], table["mean"], color="0.55", linewidth=0.8, alpha=alpha)
    ax.scatter(
        sizes,
        table["no_pooling"],
        s=size,
        facecolor="none",
        edgecolor=RAW,
        label="own estimate (no pooling)",
    )
    ax.scatter(
        sizes,
        table["mean"],
        s=size,
        color=PARTIAL,
        zorder=3,
        label="posterior mean (partial pooling)",
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"rows in the {text(factor)} (log scale)")
    ax.set_ylabel(f"{text(term)} (per {text(factor)})")


def _population(result: Any, factor: Any) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean centre and covariance of the first two coefficients across groups."""
    posterior = result.idata["posterior"]
    data = result.model_data
    beta = np.asarray(posterior[BETA].mean(("chain", "draw")).values)
    center = np.array(
        [beta[data.population.index(t)] if t in data.population else 0.0 for t in factor.terms]
    )
    cov = covariance_draws(posterior, factor).mean(axis=0)
    return center[:2], cov[:2, :2]


def _ellipse(ax: Axes, center: np.ndarray, cov: np.ndarray, mass: float) -> None:
    from scipy import stats

    radius = math.sqrt(stats.chi2.ppf(mass, df=2))
    values, vectors = np.linalg.eigh(cov)
    angle = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    points = center[:, None] + vectors @ (np.sqrt(np.maximum(values, 0))[:, None] * circle) * radius
    ax.plot(
        points[0],
        points[1],
        color="black",
        linewidth=1.0 if mass == 0.5 else 0.6,
        linestyle="-" if mass == 0.5 else "--",
        label=f"{mass:.0%} of groups (population)",
    )
