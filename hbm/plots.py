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

#: Tallest shrinkage figure, in inches, and the number of groups above which lines are thinned.
MAX_HEIGHT = 12.0
MANY_GROUPS = 200


def plot_shrinkage(fit: Fit) -> Figure:
    """Raw group means (left) joined to posterior means (right); point size = group size.

    The dashed line is the posterior mean of ``mu``, where complete pooling would put every group.
    Small groups travel far towards it, large ones hardly move: partial pooling at a glance.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    data = fit.data
    theta = fit.idata["posterior"]["theta"]
    post = np.asarray(theta.mean(("chain", "draw"), skipna=False))  # no NaN-skipping copy
    mu = float(fit.idata["posterior"]["mu"].mean())
    raw = data.mean
    if data.kind == "summaries":
        assert data.stderr is not None
        weight = 1.0 / data.stderr**2
        size_label = "point area ~ 1/se²"
    else:
        weight = data.n.astype(float)
        size_label = "point area ~ group size"
    many = data.n_groups > MANY_GROUPS
    sizes = (20 + 280 * weight / weight.max()) / (10 if many else 1)  # many: small points

    # Height grows with the groups up to a cap, and the lines are one LineCollection: with
    # 10,000 groups one Line2D each and a 2,000-inch figure took minutes and a 44 MB PNG.
    height = min(0.22 * data.n_groups + 3.0, MAX_HEIGHT)
    figure = Figure(figsize=(6.4, height), layout="constrained")
    axes = figure.subplots()
    segments = [((0.0, r), (1.0, p)) for r, p in zip(raw.tolist(), post.tolist(), strict=True)]
    axes.add_collection(LineCollection(segments, colors="0.6", linewidths=0.4 if many else 0.8,
                                       alpha=0.25 if many else 1.0, zorder=1))
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
