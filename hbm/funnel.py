"""Funnel triage: where the divergent transitions of a fit sit in ``(log tau, theta[j])``.

In the centered form ``theta[j] ~ Normal(mu, tau)`` the posterior of a weakly informed group has
the shape of a funnel: where ``tau`` is small, ``theta[j]`` is squeezed against ``mu`` and the
log density curves sharply; where ``tau`` is large it is loose. NUTS picks one step size for the
whole posterior, too large for the neck, and its trajectories there *diverge*: the sampler never
enters the neck, and the posterior of ``tau`` is biased upwards. Divergent draws that pile up at
small ``tau`` are the signature of that funnel (Betancourt and Girolami 2013).

:func:`funnel_triage` says where the divergent draws lie (below or above the median of ``tau``)
and, per group, how strongly ``theta[j]`` is tied to ``tau``; :func:`plot_funnel` draws the
funnel with the divergent draws in red, for checking a fit or for teaching.

The draw that a sampler marks ``diverging`` is the draw it kept from a trajectory that diverged,
not the point where the trajectory blew up; it lies close to the trouble, which is what ArviZ's
and Stan's pair plots show too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.fitting import Fit

__all__ = ["FunnelTriage", "funnel_triage", "plot_funnel"]

#: Divergences "concentrate at small tau" when at least this share of the divergent draws lies
#: below the posterior median of ``tau`` (one half if they were spread evenly), and "at large
#: tau" when at most ``1 - SMALL_TAU_SHARE`` does.
SMALL_TAU_SHARE = 2 / 3

Where = Literal["small tau", "large tau", "spread", "none"]


@dataclass(frozen=True)
class FunnelTriage:
    """Where a fit's divergent draws lie, and how funnel-shaped each group's posterior is.

    Attributes
    ----------
    divergences : int
        Divergent draws after warm-up.
    tau_sampled : bool
        ``False`` when ``tau`` is fixed by its prior (then there is no funnel).
    below_median_tau : int
        Divergent draws whose ``tau`` lies below the posterior median of ``tau``.
    where : {"small tau", "large tau", "spread", "none"}
        Where the divergent draws concentrate (see :data:`SMALL_TAU_SHARE`).
    median_tau, median_tau_divergent : float
        Posterior median of ``tau`` over all draws and over the divergent ones.
    groups : list of dict
        Per group: ``label``; ``pooling``, the posterior mean of ``s_j^2 / (s_j^2 + tau^2)``
        (near 1: the data say little about the group and it sits in the funnel); and
        ``funnel_corr``, the correlation of ``log tau`` with ``log|theta[j] - mu|`` over the
        draws (near 1: ``theta[j]``'s distance from ``mu`` is set by ``tau``, the funnel).
    """

    divergences: int
    tau_sampled: bool
    below_median_tau: int
    where: Where
    median_tau: float
    median_tau_divergent: float
    groups: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def funnel_triage(idata: xr.DataTree) -> FunnelTriage:
    """Locate the divergent draws of a fit in ``(log tau, theta[j])``.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's result: ``posterior`` with ``mu``, ``tau`` and ``theta``, ``sample_stats`` with
        ``diverging``, and (for the pooling factors) the ``group_data`` group hbm adds.

    Returns
    -------
    FunnelTriage

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> fit = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...               draws=300, tune=300, chains=2, progressbar=False)
    >>> funnel_triage(fit.idata).where
    'none'
    """
    posterior = idata["posterior"].to_dataset()
    diverging = np.asarray(idata["sample_stats"].to_dataset()["diverging"], dtype=bool)
    divergences = int(diverging.sum())
    tau = posterior["tau"].values
    tau_sampled = bool(np.ptp(tau) > 0)
    median_tau = float(np.median(tau))
    if divergences and tau_sampled:
        below = int(np.sum(tau[diverging] < median_tau))
        share = below / divergences
        where: Where = (
            "small tau"
            if share >= SMALL_TAU_SHARE
            else "large tau"
            if share <= 1 - SMALL_TAU_SHARE
            else "spread"
        )
        median_divergent = float(np.median(tau[diverging]))
    else:
        below, where, median_divergent = 0, "none", float("nan")
    return FunnelTriage(
        divergences=divergences,
        tau_sampled=tau_sampled,
        below_median_tau=below,
        where=where,
        median_tau=_round(median_tau),
        median_tau_divergent=_round(median_divergent),
        groups=_group_table(idata, posterior) if tau_sampled else [],
    )


def plot_funnel(
    fit: Fit | xr.DataTree, *, groups: Sequence[str] | None = None, max_groups: int = 4
) -> Figure:
    """Draws of ``theta[j]`` against ``log tau``, divergent draws in red: the funnel, if any.

    Parameters
    ----------
    fit : Fit or xarray.DataTree
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

    idata = fit if isinstance(fit, xr.DataTree) else fit.idata
    triage = funnel_triage(idata)
    if not triage.tau_sampled:
        raise ValueError(
            "tau is fixed by its prior, so theta has no funnel to plot; plot_funnel needs a fit "
            "in which tau is sampled."
        )
    posterior = idata["posterior"].to_dataset()
    theta = posterior["theta"]
    dim = _group_dim(theta)
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
    log_tau = np.log(posterior["tau"].values.ravel())

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
            f"theta[{label}] (pooling {pooling.get(label, np.nan):.2f})", fontsize="medium"
        )
        ax.set_xlabel("log tau")
        ax.set_ylabel(f"theta[{label}]")
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    parametrization = str(idata.attrs.get("parametrization", ""))
    figure.suptitle(
        f"Funnel check{f' ({parametrization})' if parametrization else ''}: "
        f"{triage.divergences} divergent draw(s) in red of {diverging.size}"
        + (f"; they concentrate at {triage.where}" if triage.where.endswith("tau") else "")
    )
    if diverging.any():
        axes[0].legend(loc="best", fontsize="small", markerscale=2)
    return figure


def _group_table(idata: xr.DataTree, posterior: xr.Dataset) -> list[dict[str, object]]:
    theta, mu, tau = posterior["theta"], posterior["mu"].values, posterior["tau"].values
    dim = _group_dim(theta)
    s2 = _sampling_variance(idata, posterior, dim)
    rows = []
    for j, label in enumerate(theta[dim].values):
        values = theta.sel({dim: label}).values
        distance = np.log(np.abs(values - mu) + 1e-300)
        corr = np.corrcoef(np.log(tau).ravel(), distance.ravel())[0, 1]
        pooling = float(np.mean(s2[..., j] / (s2[..., j] + tau**2))) if s2 is not None else np.nan
        rows.append({"label": str(label), "pooling": _round(pooling), "funnel_corr": _round(corr)})
    return rows


def _sampling_variance(idata: xr.DataTree, posterior: xr.Dataset, dim: str) -> np.ndarray | None:
    """``s_j^2`` per draw and group: ``se_j^2`` (summaries) or ``sigma^2 / n_j`` (rows)."""
    if "group_data" not in idata.children:
        return None
    group_data = idata["group_data"].to_dataset()
    if "se" in group_data:
        se2 = group_data["se"].values ** 2
        return np.broadcast_to(se2, posterior["tau"].shape + se2.shape)
    if "sigma" not in posterior:
        return None
    return posterior["sigma"].values[..., None] ** 2 / group_data["n"].values


def _group_dim(theta: xr.DataArray) -> str:
    return next(str(d) for d in theta.dims if d not in ("chain", "draw"))


def _round(value: float) -> float:
    return float(np.round(value, 4)) if np.isfinite(value) else float("nan")
