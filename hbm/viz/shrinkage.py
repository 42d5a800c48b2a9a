"""The shrinkage plot: raw group means joined to posterior means, against group size."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.analysis.draws import role_draws
from hbm.analysis.shrinkage import pooling_comparison
from hbm.core.defaults import DEFAULTS
from hbm.results.tree import as_result
from hbm.viz.selection import Drawn, drawn_groups
from hbm.viz.style import (
    COMPLETE,
    MAX_LABELLED_GROUPS,
    PARTIAL,
    RAW,
    marker_sizes,
    one_two_five,
    raw_word,
    text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_shrinkage"]


def plot_shrinkage(source: Any) -> Figure:
    """Raw group means joined to posterior means; point size = group size.

    Left: two columns, no pooling (raw means) and partial pooling (posterior means), one line per
    group. Right: the same against group size (rows form) or standard error (summaries form):
    small groups travel far towards ``mu``, large ones hardly move. The dashed line is the posterior
    mean of ``mu`` (where partial pooling pulls), the dotted line the complete-pooling estimate (the
    grand mean of the rows, or the precision-weighted mean of the estimates).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    result = as_result(source)
    data = result.grouped
    pooling = pooling_comparison(source)  # kept on a Fit: the report's other figures share it
    post = pooling["partial_mean"].to_numpy()
    mu = float(role_draws(result, "coefficient").mean())
    complete = float(pooling["complete_mean"].iloc[0])
    raw = data.mean
    size_x, size_label, sizes = marker_sizes(data)
    drawn = drawn_groups(
        post - raw,
        show=DEFAULTS.max_drawn_groups,
        low="pulled furthest down",
        high="pulled furthest up",
    )
    if not drawn.all:
        return _many_groups(data, raw, post, size_x, size_label, sizes, mu, complete, drawn)
    # Many groups: smaller, fainter markers and lines, so the cloud keeps a shape rather than
    # a solid blot; no white rims (they only cost drawing time, a third of the figure's).
    few = data.n_groups <= MAX_LABELLED_GROUPS
    rim, alpha = ("white", 0.85) if few else ("none", 0.4)
    line_alpha, line_width = (1.0, 0.8) if few else (0.15, 0.4)
    if not few:
        sizes = sizes * math.sqrt(MAX_LABELLED_GROUPS / data.n_groups)

    figure = Figure(figsize=(10.0, 5.2), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.5], sharey=True)
    # One collection, not one artist per group: 10,000 groups stay fast to draw.
    left.add_collection(
        LineCollection(
            np.stack(  # type: ignore[arg-type]  # an (n, 2, 2) array is a sequence of segments
                [
                    np.column_stack([np.zeros_like(raw), raw]),
                    np.column_stack([np.ones_like(post), post]),
                ],
                axis=1,
            ),
            colors="0.6",
            linewidths=line_width,
            alpha=line_alpha,
            zorder=1,
        )
    )
    for x, values, colour, label in (
        (0, raw, RAW, "raw " + raw_word(data)),
        (1, post, PARTIAL, "posterior mean (partial pooling)"),
    ):
        left.scatter(
            np.full_like(values, x),
            values,
            s=sizes,
            color=colour,
            alpha=alpha,
            zorder=2,
            edgecolor=rim,
            label=label,
        )
    left.set_xticks([0, 1], ["no pooling\n(raw)", "partial pooling\n(posterior)"])
    left.set_xlim(-0.35, 1.35)
    left.set_ylabel(text(data.value))

    if data.n_groups <= MAX_LABELLED_GROUPS:
        for x, r, p in zip(size_x, raw, post, strict=True):
            right.annotate(
                "",
                xy=(x, p),
                xytext=(x, r),
                arrowprops={"arrowstyle": "->", "color": "0.55", "linewidth": 0.8},
            )
    else:  # arrows are one artist each: plain segments in one collection for many groups
        right.vlines(size_x, raw, post, colors="0.55", linewidth=0.5, alpha=line_alpha, zorder=1)
    right.scatter(
        size_x,
        raw,
        s=sizes,
        facecolor="none",
        edgecolor=RAW,
        linewidth=1.2 if few else 0.6,
        alpha=1.0 if few else alpha,
        zorder=2,
    )
    right.scatter(size_x, post, s=sizes, color=PARTIAL, alpha=alpha, edgecolor=rim, zorder=3)
    right.set_xlabel(size_label)
    if data.kind == "summaries":
        right.invert_xaxis()  # precise (small se) on the right, like large groups
    else:
        from matplotlib.ticker import FuncFormatter

        right.set_xscale("log")
        # 1, 2, 5 per decade, minor ticks included: sizes within one decade (20-199) would
        # otherwise show a single label, or matplotlib's 2x10^1.
        right.xaxis.set_major_formatter(FuncFormatter(one_two_five))
        right.xaxis.set_minor_formatter(FuncFormatter(one_two_five))
    for axes in (left, right):
        axes.axhline(
            mu,
            color="black",
            linestyle="--",
            linewidth=1,
            zorder=0,
            label=f"mu = {mu:.4g} (posterior mean)" if axes is left else None,
        )
        axes.axhline(
            complete,
            color=COMPLETE,
            linestyle=":",
            linewidth=1.4,
            zorder=0,
            label=f"complete pooling = {complete:.4g}" if axes is left else None,
        )
    figure.suptitle(
        f"Shrinkage of {data.n_groups} {text(data.group)} means towards mu "
        f"(point area ~ {'group size' if data.kind == 'rows' else '1/se²'})"
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure


def _many_groups(
    data: Any,
    raw: np.ndarray,
    post: np.ndarray,
    size_x: np.ndarray,
    size_label: str,
    sizes: np.ndarray,
    mu: float,
    complete: float,
    drawn: Drawn,
) -> Figure:
    """Past a few hundred groups: the joined means of the groups drawn (left), and the shift of
    every group against its size as a density (right)."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    pick = drawn.index
    figure = Figure(figsize=(10.0, 5.2), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.5])
    segments: Any = np.stack(  # an (n, 2, 2) array is a sequence of segments
        [
            np.column_stack([np.zeros(pick.size), raw[pick]]),
            np.column_stack([np.ones(pick.size), post[pick]]),
        ],
        axis=1,
    )
    joins = LineCollection(segments, colors="0.6", linewidths=0.4, alpha=0.4, zorder=1)
    left.add_collection(joins)
    small = sizes[pick] * math.sqrt(MAX_LABELLED_GROUPS / pick.size)
    for x, values, colour, label in (
        (0, raw[pick], RAW, "raw " + raw_word(data)),
        (1, post[pick], PARTIAL, "posterior mean (partial pooling)"),
    ):
        left.scatter(
            np.full(pick.size, x),
            values,
            s=small,
            color=colour,
            alpha=0.5,
            edgecolor="none",
            zorder=2,
            label=label,
        )
    left.set_xticks([0, 1], ["no pooling\n(raw)", "partial pooling\n(posterior)"])
    left.set_xlim(-0.35, 1.35)
    left.set_ylabel(text(data.value))
    left.axhline(
        mu,
        color="black",
        linestyle="--",
        linewidth=1,
        zorder=0,
        label=f"mu = {mu:.4g} (posterior mean)",
    )
    left.axhline(
        complete,
        color=COMPLETE,
        linestyle=":",
        linewidth=1.4,
        zorder=0,
        label=f"complete pooling = {complete:.4g}",
    )
    left.set_title(f"{pick.size} of {data.n_groups:,} groups", fontsize="medium")
    log_x = data.kind == "rows"
    cells = right.hexbin(
        size_x,
        post - raw,
        gridsize=45,
        xscale="log" if log_x else "linear",
        mincnt=1,
        cmap="YlGnBu",
        bins="log",
        linewidths=0.2,
    )
    figure.colorbar(cells, ax=right, label="groups per cell (log scale)")
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_xlabel(size_label)
    right.set_ylabel(f"posterior mean - raw {raw_word(data)}")
    right.set_title(f"all {data.n_groups:,} groups: how far each moved", fontsize="medium")
    if log_x:
        from matplotlib.ticker import FuncFormatter

        right.xaxis.set_major_formatter(FuncFormatter(one_two_five))
        right.xaxis.set_minor_formatter(FuncFormatter(one_two_five))
    else:
        right.invert_xaxis()
    figure.suptitle(
        f"Shrinkage of {data.n_groups:,} {text(data.group)} means towards mu\n" + drawn.note
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure
