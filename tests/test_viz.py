"""Every plot takes a Fit or a fit's DataTree, returns a matplotlib Figure, leaves pyplot alone."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from hbm import viz as plots
from hbm.viz.style import one_two_five
from tests._fit_trees import fit_tree

PLOTS = ["plot_shrinkage", "plot_league", "plot_pooling", "plot_ppc", "plot_trace"]
#: Labels that would break or change matplotlib's text: mathtext, an unknown TeX command, markup.
NASTY = ["$x$", r"$\undefinedcommand$", "<b>North</b>", 'O\'Brien & "Sons"', "plain"]


def _tree(labels: list[str], *, rows: bool = True, fixed_tau: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_groups = len(labels)
    theta = rng.normal(np.linspace(0, 3, n_groups), 1.0, size=(2, 150, n_groups))
    tau = np.full((2, 150), 1.5) if fixed_tau else rng.gamma(4.0, 0.4, size=(2, 150))
    common = {
        "mu": rng.normal(1.5, 0.3, size=(2, 150)),
        "tau": tau,
        "labels": labels,
        "mean": np.linspace(-1, 4, n_groups),
    }
    if not rows:
        return fit_tree(theta, se=np.linspace(5, 15, n_groups), value="effect", **common)
    n = 1 + np.arange(n_groups) % 9
    return fit_tree(
        theta,
        sigma=rng.gamma(25.0, 0.1, size=(2, 150)),
        n=n,
        ss=np.where(n > 1, (n - 1) * 6.0, 0.0),
        **common,
    )


@pytest.fixture(autouse=True)
def _no_pyplot_leaks():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plot left a figure open in pyplot"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)  # draws every text: mathtext errors show here
    return buffer.getvalue()


@pytest.mark.parametrize("name", PLOTS)
@pytest.mark.parametrize("rows", [True, False], ids=["rows", "summaries"])
def test_every_plot_returns_a_drawable_figure(name, rows):
    figure = getattr(plots, name)(_tree(NASTY, rows=rows))
    assert isinstance(figure, Figure)
    assert _png(figure).startswith(b"\x89PNG")


def test_labels_show_literally():
    figure = plots.plot_league(_tree(NASTY))
    shown = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert r"\$x\$ (n=1)" in shown  # escaped: drawn as "$x$", not as math
    assert "<b>North</b> (n=3)" in shown and 'O\'Brien & "Sons" (n=4)' in shown
    _png(figure)


def test_panels_follow_the_form():
    rows, summaries = _tree(NASTY), _tree(NASTY, rows=False)
    assert len(plots.plot_ppc(rows).axes) == 4  # means, sds, and their test statistics
    assert len(plots.plot_ppc(summaries).axes) == 2  # no within-group sd in the summaries form
    assert "1/se²" in plots.plot_shrinkage(summaries)._suptitle.get_text()
    assert "group size" in plots.plot_shrinkage(rows)._suptitle.get_text()


def test_trace_leaves_out_fixed_parameters_and_checks_kind():
    tree = _tree(["a", "b", "c"], fixed_tau=True)
    trace = plots.plot_trace(tree)
    labels = {a.get_ylabel() for a in trace.axes} | {a.get_xlabel() for a in trace.axes}
    assert {"mu", "sigma"} <= labels and "tau" not in labels
    rank = plots.plot_trace(tree, kind="rank")
    assert "Rank plots" in rank._suptitle.get_text()
    with pytest.raises(
        ValueError, match=r"'kind' option must be one of 'trace', 'rank'; got 'ranks'"
    ):
        plots.plot_trace(tree, kind="ranks")


def test_many_groups_drop_their_labels_and_keep_a_sane_size():
    tree = _tree([f"school {j}" for j in range(120)])
    figure = plots.plot_league(tree)
    assert figure.get_size_inches()[1] <= 16.0
    assert figure.axes[0].get_yticklabels() == []
    assert "too many to label" in figure.axes[0].get_ylabel()


def test_group_size_axis_is_labelled_in_plain_numbers():
    """Sizes 1-9 span under a decade: 1, 2, 5 labelled, never matplotlib's ``2x10^0`` form."""
    figure = plots.plot_shrinkage(_tree([f"s{j}" for j in range(9)]))
    figure.canvas.draw()
    right = figure.axes[1]
    shown = {
        t.get_text()
        for t in right.get_xticklabels(minor=True) + right.get_xticklabels()
        if t.get_text() and 1 <= t.get_position()[0] <= 9
    }
    assert shown == {"1", "2", "5"}
    assert [one_two_five(x) for x in (0.2, 3, 50, 70, 1000)] == ["0.2", "", "50", "", "1000"]


def test_many_groups_get_small_faint_markers():
    few = plots.plot_shrinkage(_tree([f"s{j}" for j in range(9)]))
    many = plots.plot_shrinkage(_tree([f"s{j}" for j in range(280)]))
    few_sizes, many_sizes = (f.axes[0].collections[1].get_sizes() for f in (few, many))
    assert many_sizes.max() < few_sizes.max() / 1.9  # sqrt(70 / 280): half
    assert many.axes[0].collections[1].get_alpha() < few.axes[0].collections[1].get_alpha()


def test_plot_input_is_checked():
    with pytest.raises(TypeError, match="got str"):
        plots.plot_shrinkage("fit.nc")


def test_past_a_few_hundred_groups_the_figures_draw_what_can_be_read():
    """700 groups: league, pooling and the predictive check draw 70 labelled groups (the two ends
    of their ordering and a seeded sample) and say so; the shrinkage plot joins 300 and shows the
    shift of all 700 as a density; the counts in the titles are over every group."""
    tree = _tree([f"s{j:03d}" for j in range(700)])
    league = plots.plot_league(tree)
    texts = [t.get_text() for t in league.axes[0].texts]
    labels = [t for t in texts if t.startswith("s")]
    assert len(labels) == 70 and all(label.endswith(")") for label in labels)
    assert len([t for t in texts if "–" in t]) == 70  # each group's rank and its interval
    assert "70 of 700 groups drawn: the 17 best, the 17 worst and 36 at random" in (
        league.axes[0].get_title()
    )
    assert "every group is in groups.csv" in plots.plot_pooling(tree).axes[0].get_title()
    ppc = plots.plot_ppc(tree)
    assert "70 of 700 groups drawn" in ppc._suptitle.get_text()
    assert "of 700 outside" in ppc.axes[0].get_title()  # counted over every group
    shrinkage = plots.plot_shrinkage(tree)
    assert "300 of 700 groups drawn" in shrinkage._suptitle.get_text()
    hexbin = shrinkage.axes[1].collections[0]
    assert hexbin.get_array().sum() == 700  # every group in the density
    again = plots.plot_league(tree)  # the same groups every time (seeded)
    assert [t.get_text() for t in again.axes[0].texts if t.get_text().startswith("s")] == labels
    for figure in (league, ppc, shrinkage):
        assert figure.get_size_inches()[1] <= 16.0 + 2.6  # the check's statistics panel below
        _png(figure)
