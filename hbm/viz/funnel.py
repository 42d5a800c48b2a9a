"""The funnel plot: draws of ``theta[j]`` against ``log tau``, divergent draws in red.

For checking a fit or for teaching why the centered form fails (see
:mod:`hbm.diagnostics.funnel`, which locates the divergent draws).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from hbm.diagnostics.funnel import funnel_triage, group_dim
from hbm.model.stored import parameters_of
from hbm.results.tree import as_result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_funnel"]


def plot_funnel(fit: Any, *, groups: Sequence[str] | None = None, max_groups: int = 4) -> Figure:
    """Draws of ``theta[j]`` against ``log tau``, divergent draws in red: the funnel, if any.

    Parameters
    ----------
    fit : FitResult, Fit or xarray.DataTree
        A fit (or its DataTree) in which ``tau`` was sampled.
    groups : sequence of str, optional
        Group labels to draw, one panel each. Default: the ``max_groups`` groups with the largest
        pooling factor, those the data say least about, where a funnel is deepest.
    max_groups : int
        How many panels at most when ``groups`` is not given.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``tau`` is fixed (there is no funnel) or a label in ``groups`` is unknown.

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> fit = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...               parametrization="centered", draws=300, tune=300, chains=2,
    ...               progressbar=False)
    >>> figure = plot_funnel(fit)
    >>> len(figure.axes)
    4
    """
    from matplotlib.figure import Figure

    if isinstance(fit, xr.DataTree):
        idata, parameters, data = fit, parameters_of(fit), None
    else:
        result = as_result(fit)
        idata, parameters, data = result.idata, result.parameters, result.grouped
    sd, effect = parameters.one("group_sd").name, parameters.one("group_effect").name
    triage = funnel_triage(idata, parameters=parameters, data=data)
    if not triage.tau_sampled:
        raise ValueError(
            f"{sd} is fixed by its prior, so {effect} has no funnel to plot; plot_funnel needs a "
            f"fit in which {sd} is sampled."
        )
    posterior = idata["posterior"].to_dataset()
    theta = posterior[effect]
    dim = group_dim(theta)
    labels = [str(v) for v in theta[dim].values]
    if groups is None:
        ranked = sorted(triage.groups, key=lambda g: -float(g["pooling"]))  # type: ignore[arg-type]
        chosen = [str(g["label"]) for g in ranked[: max(1, int(max_groups))]]
    else:
        chosen = [str(g) for g in groups]
        unknown = [g for g in chosen if g not in labels]
        if unknown or not chosen:
            raise ValueError(
                f"plot_funnel's 'groups' must name labels of {dim!r} ({', '.join(labels[:8])}"
                f"{', ...' if len(labels) > 8 else ''}); got {unknown or chosen!r}."
            )
    pooling = {str(g["label"]): float(g["pooling"]) for g in triage.groups}  # type: ignore[arg-type]
    diverging = np.asarray(idata["sample_stats"].to_dataset()["diverging"], dtype=bool).ravel()
    log_tau = np.log(posterior[sd].values.ravel())

    columns = min(len(chosen), 4)
    rows = -(-len(chosen) // columns)
    figure = Figure(figsize=(3.2 * columns + 0.6, 3.0 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    for ax, label in zip(axes, chosen, strict=False):
        values = theta.sel({dim: label}).values.ravel()
        ax.scatter(
            log_tau[~diverging],
            values[~diverging],
            s=4,
            color="0.55",
            alpha=0.35,
            linewidths=0,
            label="draw",
        )
        if diverging.any():
            ax.scatter(
                log_tau[diverging],
                values[diverging],
                s=14,
                color="tab:red",
                linewidths=0,
                label="divergent draw",
            )
        ax.set_title(
            f"{effect}[{label}] (pooling {pooling.get(label, np.nan):.2f})", fontsize="medium"
        )
        ax.set_xlabel(f"log {sd}")
        ax.set_ylabel(f"{effect}[{label}]")
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    parametrization = str(idata.attrs.get("parametrization", ""))
    figure.suptitle(
        f"Funnel check{f' ({parametrization})' if parametrization else ''}: "
        f"{triage.divergences} divergent draw(s) in red of {diverging.size}"
        + (f"; they concentrate at {triage.where}" if triage.where.endswith(sd) else "")
    )
    if diverging.any():
        axes[0].legend(loc="best", fontsize="small", markerscale=2)
    return figure
