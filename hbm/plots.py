"""Pictures of a fit. Every function takes a ``Fit`` (or a fit's DataTree) and returns a matplotlib
``Figure``; none calls ``plt.show()``.

Figures are made with ``matplotlib.figure.Figure`` directly, so they work in scripts, batch jobs and
notebooks alike without pyplot's global state. The trace and rank plots come from arviz-plots,
which draws through pyplot: the figure is taken out of its ``PlotCollection`` and closed in pyplot
at once, so nothing is left in pyplot's list of open figures.

Group labels are data, and matplotlib reads ``$...$`` in a text as mathematics: every label is
drawn with its dollar signs escaped, so a label shows exactly as written.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hbm.ppc import posterior_predictive
from hbm.shrinkage import draws, fit_parts, pooling_comparison, shrinkage_table
from hbm.summary import CI_PROB

if TYPE_CHECKING:
    from collections.abc import Iterable

    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hbm.data import GroupedData
    from hbm.fitting import Fit

__all__ = ["plot_league", "plot_pooling", "plot_ppc", "plot_shrinkage", "plot_trace"]

RAW, PARTIAL, COMPLETE = "tab:orange", "tab:blue", "0.45"
#: Above this many groups the per-group plots drop their group labels (they could not be read).
MAX_LABELLED_GROUPS = 70
TRACE_KINDS = ("trace", "rank")

#: Tallest figure, in inches, whatever the number of groups.
MAX_HEIGHT = 16.0


def text(label: object) -> str:
    """``label`` as matplotlib shows it literally: dollar signs escaped (no mathtext)."""
    return str(label).replace("$", r"\$")


def plot_shrinkage(source: Fit | xr.DataTree) -> Figure:
    """Raw group means joined to posterior means; point size = group size.

    Left: two columns, no pooling (raw means) and partial pooling (posterior means), one line per
    group. Right: the same against group size (rows form) or standard error (summaries form):
    small groups travel far towards ``mu``, large ones hardly move. The dashed line is the posterior
    mean of ``mu`` (where partial pooling pulls), the dotted line the complete-pooling estimate (the
    grand mean of the rows, or the precision-weighted mean of the estimates).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    data, idata, _ = fit_parts(source)
    pooling = pooling_comparison(source)  # kept on a Fit: the report's other figures share it
    post = pooling["partial_mean"].to_numpy()
    mu = float(draws(idata, "mu").mean())
    complete = float(pooling["complete_mean"].iloc[0])
    raw = data.mean
    size_x, size_label, sizes = _sizes(data)
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
        (0, raw, RAW, "raw " + _raw_word(data)),
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
        right.xaxis.set_major_formatter(FuncFormatter(_one_two_five))
        right.xaxis.set_minor_formatter(FuncFormatter(_one_two_five))
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


def plot_league(
    source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB, higher_is_better: bool = True
) -> Figure:
    """League table as a caterpillar plot: groups ordered by posterior mean, best at the top.

    Each group shows its posterior mean with the ``ci_prob`` interval and its raw mean (a cross);
    the right-hand labels give the posterior rank with its interval. Overlapping intervals are the
    point: most rank differences between neighbours are not supported by the data.
    """
    from matplotlib.figure import Figure

    data, idata, _ = fit_parts(source)
    table = shrinkage_table(source, ci_prob=ci_prob, higher_is_better=higher_is_better)
    table = table.sort_values("mean", ascending=not higher_is_better)
    lb, ub = table.filter(like="_lb").iloc[:, 0], table.filter(like="_ub").iloc[:, 0]
    y = np.arange(len(table))[::-1]
    figure = Figure(figsize=(8.5, _height(data.n_groups)), layout="constrained")
    axes = figure.subplots()
    axes.hlines(y, lb, ub, color=PARTIAL, linewidth=1.6, label=f"{ci_prob:.0%} interval")
    axes.scatter(table["mean"], y, color=PARTIAL, s=22, zorder=3, label="posterior mean")
    axes.scatter(
        table["raw_mean"], y, color=RAW, marker="x", s=26, zorder=4, label="raw " + _raw_word(data)
    )
    axes.axvline(
        float(draws(idata, "mu").mean()),
        color="black",
        linestyle="--",
        linewidth=1,
        label="mu (posterior mean)",
    )
    _group_ticks(axes, y, _names(data, table.index), data.n_groups)
    if data.n_groups <= MAX_LABELLED_GROUPS:
        ranks = axes.twinx()
        ranks.set_ylim(axes.get_ylim())
        ranks.set_yticks(
            y,
            [
                f"{r:.1f} ({lo}–{hi})"
                for r, lo, hi in zip(table["rank"], table["rank_lb"], table["rank_ub"], strict=True)
            ],
            fontsize="small",
        )
        ranks.set_ylabel(f"posterior rank ({ci_prob:.0%} interval)")
    axes.set_xlabel(text(data.value))
    axes.set_title(
        f"League table of {data.n_groups} {text(data.group)}s: posterior means, "
        f"{'highest' if higher_is_better else 'lowest'} first"
    )
    figure.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return figure


def plot_pooling(source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB) -> Figure:
    """Complete, no and partial pooling side by side, per group, with ``ci_prob`` intervals.

    No pooling: each group's own mean; complete pooling: one mean for all (the grey band); partial
    pooling: the hierarchical model's posterior, between the two (see
    :func:`hbm.shrinkage.pooling_comparison`).
    """
    from matplotlib.figure import Figure

    data, _, _ = fit_parts(source)
    table = pooling_comparison(source, ci_prob=ci_prob).sort_values("partial_mean")
    y = np.arange(len(table))
    figure = Figure(figsize=(8.5, _height(data.n_groups)), layout="constrained")
    axes = figure.subplots()
    first = table.iloc[0]
    axes.axvspan(
        first["complete_lb"], first["complete_ub"], color=COMPLETE, alpha=0.25, linewidth=0
    )
    axes.axvline(
        first["complete_mean"],
        color=COMPLETE,
        linewidth=1.4,
        label=f"complete pooling ({ci_prob:.0%} band)",
    )
    for kind, colour, offset, name in (
        ("no", RAW, 0.18, "no pooling (raw)"),
        ("partial", PARTIAL, -0.18, "partial pooling (posterior)"),
    ):
        axes.hlines(
            y + offset, table[f"{kind}_lb"], table[f"{kind}_ub"], color=colour, linewidth=1.4
        )
        axes.scatter(table[f"{kind}_mean"], y + offset, color=colour, s=18, zorder=3, label=name)
    _group_ticks(axes, y, _names(data, table.index), data.n_groups)
    axes.set_xlabel(text(data.value))
    axes.set_title(f"Complete, no and partial pooling ({ci_prob:.0%} intervals)")
    figure.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return figure


def plot_ppc(
    source: Fit | xr.DataTree, *, ci_prob: float = CI_PROB, random_seed: int | None = None
) -> Figure:
    """Posterior predictive check: observed group statistics against replicated ones.

    Top: each group's observed mean (and, rows form, within-group sd) against its ``ci_prob``
    predictive interval; groups outside are drawn in red. Bottom: the test statistics (sd of the
    group means over new groups; sd of the within-group sds) with the observed value and the
    posterior predictive p-value. See :mod:`hbm.ppc`.
    """
    from matplotlib.figure import Figure

    data, _, _ = fit_parts(source)
    check = posterior_predictive(source, random_seed=random_seed)
    panels = ["mean"] + (["sd"] if check.rep_sd is not None else [])
    statistics = check.statistic_draws()
    figure = Figure(
        figsize=(5.0 * len(panels) + 1.0, _height(data.n_groups) + 2.6), layout="constrained"
    )
    grid = figure.add_gridspec(2, len(panels), height_ratios=[_height(data.n_groups), 2.6])
    order = np.argsort(check.observed_mean)
    y = np.arange(data.n_groups)
    names = _names(data, [check.labels[i] for i in order])
    for column, what in enumerate(panels):
        axes = figure.add_subplot(grid[0, column])
        lb, ub = check.intervals(what, ci_prob)
        observed = check.observed(what)
        outside = (observed < lb) | (observed > ub)
        axes.hlines(y, lb[order], ub[order], color="0.6", linewidth=2.5)
        axes.scatter(
            observed[order], y, s=18, zorder=3, color=np.where(outside[order], "tab:red", "black")
        )
        _group_ticks(axes, y, names if column == 0 else None, data.n_groups)
        word = "within-group sd" if what == "sd" else _raw_word(data)
        count = int(outside.sum())
        total = int(np.isfinite(lb).sum())
        axes.set_title(
            f"observed {word} (dot) vs {ci_prob:.0%} predictive interval:\n"
            f"{count} of {total} outside (red)",
            fontsize="medium",
        )
        axes.set_xlabel(text(data.value))
    for column, (name, (t_obs, t_rep)) in enumerate(statistics.items()):
        axes = figure.add_subplot(grid[1, column])
        axes.hist(t_rep, bins=40, color="0.7", label="replicated")
        axes.axvline(t_obs, color="black", linewidth=1.5, label="observed")
        p_value = float(np.mean(t_rep >= t_obs))
        axes.set_title(f"{name}: p = {p_value:.2f}", fontsize="medium")
        axes.set_xlabel(
            "over groups of 2+ rows" if column else "over new groups drawn from Normal(mu, tau)"
        )
        axes.set_yticks([])
        if column == 0:
            axes.legend(fontsize="small")
    figure.suptitle("Posterior predictive check")
    return figure


def plot_trace(source: Fit | xr.DataTree, *, kind: str = "trace") -> Figure:
    """Trace (``kind="trace"``) or rank (``kind="rank"``) plots of ``mu``, ``tau``, ``sigma``.

    Drawn by arviz-plots (``plot_trace_dist`` / ``plot_rank_dist``): the marginal densities per
    chain beside the draws in order, or beside their fractional-rank ECDF differences (flat and
    inside the envelope when the chains agree). Parameters fixed by their prior are left out.
    """
    if kind not in TRACE_KINDS:
        raise ValueError(
            f"The 'kind' option must be one of {', '.join(map(repr, TRACE_KINDS))}; got {kind!r}."
        )
    import arviz_plots as azp
    import matplotlib.pyplot as plt

    _, idata, _ = fit_parts(source)
    posterior = idata["posterior"]
    names = [n for n in ("mu", "tau", "sigma") if n in posterior and float(posterior[n].std()) > 0]
    if not names:
        raise ValueError("mu, tau and sigma are all fixed by their priors: there is no trace.")
    function = azp.plot_trace_dist if kind == "trace" else azp.plot_rank_dist
    collection = function(
        idata,
        var_names=names,
        backend="matplotlib",
        figure_kwargs={"figsize": (10.0, 1.9 * len(names) + 0.8), "layout": "constrained"},
    )
    figure = collection.viz["figure"].item()
    plt.close(figure)  # keep pyplot's registry clean; the Figure itself stays usable
    figure.suptitle(
        "Trace plots (left: density per chain; right: draws in order)"
        if kind == "trace"
        else "Rank plots (right: fractional-rank ECDF difference per chain; flat = chains agree)"
    )
    return figure


def _raw_word(data: GroupedData) -> str:
    return "estimate" if data.kind == "summaries" else "group mean"


def _sizes(data: GroupedData) -> tuple[np.ndarray, str, np.ndarray]:
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


def _one_two_five(x: float, _position: object = None) -> str:
    """``x`` as plain text (``"20"``) when it is 1, 2 or 5 times a power of ten, else ``""``."""
    if x <= 0:
        return ""
    mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
    return f"{x:g}" if any(abs(mantissa - m) < 1e-6 for m in (1, 2, 5)) else ""


def _names(data: GroupedData, labels: Iterable[str]) -> list[str]:
    """Tick labels: the group label with its size (rows) or standard error (summaries)."""
    where = {label: j for j, label in enumerate(data.labels)}
    if data.kind == "summaries":
        return [f"{text(label)} (se {data.known_se[where[label]]:.3g})" for label in labels]
    return [f"{text(label)} (n={data.n[where[label]]})" for label in labels]


def _height(n_groups: int) -> float:
    return float(min(0.24 * n_groups + 1.8, 16.0))


def _group_ticks(axes: Axes, y: np.ndarray, labels: list[str] | None, n_groups: int) -> None:
    if labels is None or n_groups > MAX_LABELLED_GROUPS:
        axes.set_yticks([])
        if labels is not None:
            axes.set_ylabel(f"{n_groups} groups (too many to label)")
        return
    axes.set_yticks(y, labels, fontsize="small")
    axes.set_ylim(-0.7, n_groups - 0.3)
