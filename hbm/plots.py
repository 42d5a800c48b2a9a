"""Pictures of a fit. Every function takes a ``Fit`` and returns a matplotlib ``Figure``.

No function calls ``plt.show()`` or touches pyplot's global state: figures are made with
``matplotlib.figure.Figure`` directly, so they work in scripts, batch jobs and notebooks alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.fit import Fit

__all__ = ["plot_shrinkage"]


def plot_shrinkage(fit: Fit) -> Figure:
    """Raw group means (left) joined to posterior means (right); point size = group size.

    The dashed line is the posterior mean of ``mu``, where complete pooling would put every group.
    Small groups travel far towards it, large ones hardly move: partial pooling at a glance.
    """
    from matplotlib.figure import Figure

    data = fit.data
    theta = fit.idata["posterior"]["theta"]
    post = theta.mean(("chain", "draw")).values
    mu = float(fit.idata["posterior"]["mu"].mean())
    raw = data.mean
    if data.kind == "summaries":
        assert data.stderr is not None
        weight = 1.0 / data.stderr**2
        size_label = "point area ~ 1/se²"
    else:
        weight = data.n.astype(float)
        size_label = "point area ~ group size"
    sizes = 20 + 280 * weight / weight.max()

    figure = Figure(figsize=(6.4, 0.22 * data.n_groups + 3.0), layout="constrained")
    axes = figure.subplots()
    for r, p in zip(raw, post, strict=True):
        axes.plot([0, 1], [r, p], color="0.6", linewidth=0.8, zorder=1)
    axes.scatter(np.zeros_like(raw), raw, s=sizes, color="tab:orange", zorder=2,
                 label=f"raw {'estimate' if data.kind == 'summaries' else 'group mean'}")
    axes.scatter(np.ones_like(post), post, s=sizes, color="tab:blue", zorder=2,
                 label="posterior mean (partial pooling)")
    axes.axhline(mu, color="black", linestyle="--", linewidth=1,
                 label=f"mu = {mu:.3g} (complete pooling)")
    axes.set_xticks([0, 1], ["no pooling\n(raw)", "partial pooling\n(posterior)"])
    axes.set_xlim(-0.4, 1.4)
    axes.set_ylabel(data.value)
    axes.set_title(f"Shrinkage of {data.n_groups} {data.group} means ({size_label})")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, fontsize="small",
                frameon=False)
    return figure
