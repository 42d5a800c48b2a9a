"""Pictures of a fit: every function takes a fit (or a fit's DataTree) and returns a matplotlib
``Figure``; none calls ``plt.show()``.

Figures are made with ``matplotlib.figure.Figure`` directly, so they work in scripts, batch jobs
and notebooks alike without pyplot's global state.
"""

from __future__ import annotations

from hbm.viz.compare import plot_compare
from hbm.viz.funnel import plot_funnel
from hbm.viz.league import plot_league
from hbm.viz.loo_pit import plot_loo_pit
from hbm.viz.pareto_k import plot_pareto_k
from hbm.viz.pooling import plot_pooling
from hbm.viz.ppc import plot_ppc
from hbm.viz.shrinkage import plot_shrinkage
from hbm.viz.trace import plot_trace

__all__ = [
    "plot_compare",
    "plot_funnel",
    "plot_league",
    "plot_loo_pit",
    "plot_pareto_k",
    "plot_pooling",
    "plot_ppc",
    "plot_shrinkage",
    "plot_trace",
]
