"""Trace and rank plots of the hyperparameters, drawn by arviz-plots.

arviz-plots draws through pyplot: the figure is taken out of its ``PlotCollection`` and closed in
pyplot at once, so nothing is left in pyplot's list of open figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hbm.results.tree import as_result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TRACE_KINDS = ("trace", "rank")

__all__ = ["TRACE_KINDS", "plot_trace"]


def plot_trace(source: Any, *, kind: str = "trace") -> Figure:
    """Trace (``kind="trace"``) or rank (``kind="rank"``) plots of the hyperparameters (``mu``,
    ``tau``, ``sigma`` in the seed's model: every parameter of the table that is not per group).

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

    result = as_result(source)
    posterior = result.idata["posterior"]
    hyper = [p.name for p in result.parameters.hyperparameters]
    names = [n for n in hyper if n in posterior and float(posterior[n].std()) > 0]
    if not names:
        raise ValueError(
            f"{', '.join(hyper[:-1])} and {hyper[-1]} are all fixed by their priors: there is no "
            "trace."
        )
    if kind == "rank" and posterior.sizes.get("chain", 1) < 2:
        raise ValueError(
            "Rank plots compare the chains with each other and this fit has 1 chain: use "
            "kind='trace', or fit with chains=2 or more."
        )
    function = azp.plot_trace_dist if kind == "trace" else azp.plot_rank_dist
    collection = function(
        result.idata,
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
