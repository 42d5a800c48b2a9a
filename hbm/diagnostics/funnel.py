"""Funnel triage: where the divergent transitions of a fit sit in ``(log tau, theta[j])``.

In the centered form ``theta[j] ~ Normal(mu, tau)`` the posterior of a weakly informed group has
the shape of a funnel: where ``tau`` is small, ``theta[j]`` is squeezed against ``mu`` and the
log density curves sharply; where ``tau`` is large it is loose. NUTS picks one step size for the
whole posterior, too large for the neck, and its trajectories there *diverge*: the sampler never
enters the neck, and the posterior of ``tau`` is biased upwards. Divergent draws that pile up at
small ``tau`` are the signature of that funnel (Betancourt and Girolami 2013).

:func:`funnel_triage` says where the divergent draws lie (below or above the median of ``tau``)
and, per group, how strongly ``theta[j]`` is tied to ``tau``; :func:`hbm.viz.funnel.plot_funnel`
draws the funnel with the divergent draws in red, for checking a fit or for teaching. The names
come from the fit's parameter table (its group sd, group effects and population mean).

The draw that a sampler marks ``diverging`` is the draw it kept from a trajectory that diverged,
not the point where the trajectory blew up; it lies close to the trouble, which is what ArviZ's
and Stan's pair plots show too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import xarray as xr

from hbm.model.families.normal import sampling_variance
from hbm.model.parameters import ParameterTable
from hbm.model.stored import parameters_of

if TYPE_CHECKING:
    from hbm.data.grouped import GroupedData

__all__ = ["FunnelTriage", "funnel_triage", "group_dim"]

#: Divergences "concentrate at small tau" when at least this share of the divergent draws lies
#: below the posterior median of ``tau`` (one half if they were spread evenly), and "at large
#: tau" when at most ``1 - SMALL_TAU_SHARE`` does.
SMALL_TAU_SHARE = 2 / 3


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
    where : str
        Where the divergent draws concentrate (see :data:`SMALL_TAU_SHARE`): ``"small tau"``,
        ``"large tau"`` (named after the model's group sd), ``"spread"`` or ``"none"``.
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
    where: str
    median_tau: float
    median_tau_divergent: float
    groups: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def funnel_triage(
    idata: xr.DataTree,
    *,
    parameters: ParameterTable | None = None,
    data: GroupedData | None = None,
) -> FunnelTriage:
    """Locate the divergent draws of a fit in ``(log tau, theta[j])``.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's result: ``posterior`` with ``mu``, ``tau`` and ``theta``, ``sample_stats`` with
        ``diverging``, and (for the pooling factors, unless ``data`` is given) the
        ``group_data`` group hbm adds.
    parameters : ParameterTable, optional
        The fit's parameter table (by default the one ``idata`` holds).
    data : GroupedData, optional
        The reduced data, for each group's sampling variance.

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
    names = _names(parameters_of(idata) if parameters is None else parameters)
    posterior = idata["posterior"].to_dataset()
    diverging = np.asarray(idata["sample_stats"].to_dataset()["diverging"], dtype=bool)
    divergences = int(diverging.sum())
    tau = posterior[names.sd].values
    tau_sampled = bool(np.ptp(tau) > 0)
    median_tau = float(np.median(tau))
    if divergences and tau_sampled:
        below = int(np.sum(tau[diverging] < median_tau))
        share = below / divergences
        where = (
            f"small {names.sd}"
            if share >= SMALL_TAU_SHARE
            else f"large {names.sd}"
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
        groups=_group_table(idata, posterior, names, data) if tau_sampled else [],
    )


class FunnelNames(NamedTuple):
    """The funnel's axes: the group sd, the group effects and their population mean."""

    sd: str
    effect: str
    mean: str
    residual: str | None


def _names(parameters: ParameterTable) -> FunnelNames:
    residual = parameters.maybe("residual_scale")
    return FunnelNames(
        parameters.one("group_sd").name,
        parameters.one("group_effect").name,
        parameters.one("coefficient").name,
        None if residual is None else residual.name,
    )


def _group_table(
    idata: xr.DataTree, posterior: xr.Dataset, names: FunnelNames, data: GroupedData | None
) -> list[dict[str, object]]:
    theta, mu = posterior[names.effect], posterior[names.mean].values
    tau = posterior[names.sd].values
    dim = group_dim(theta)
    s2 = _sampling_variance(idata, posterior, names.residual, data)
    # Effects with a term dimension (formula and curve models) are deviations u ~ N(0, Sigma)
    # from the population: their distance is |u|, per term against that term's sd.
    deviations = theta.ndim > 3
    rows = []
    for j, label in enumerate(theta[dim].values):
        values = theta.sel({dim: label}).values
        distance = np.log(np.abs(values if deviations else values - mu) + 1e-300)
        corr = np.corrcoef(np.log(tau).ravel(), distance.ravel())[0, 1]
        pooling = (
            float(np.mean(s2[..., j] / (s2[..., j] + tau**2)))
            if s2 is not None and not deviations
            else np.nan
        )
        rows.append({"label": str(label), "pooling": _round(pooling), "funnel_corr": _round(corr)})
    return rows


def _sampling_variance(
    idata: xr.DataTree, posterior: xr.Dataset, residual: str | None, data: GroupedData | None
) -> np.ndarray | None:
    """``s_j^2`` per draw and group (the normal family's), from ``data`` or ``group_data``."""
    sigma = posterior[residual].values if residual is not None and residual in posterior else None
    if data is not None:
        return sampling_variance(data, sigma)
    if "group_data" not in idata.children:
        return None
    group_data = idata["group_data"].to_dataset()
    if "se" in group_data:
        return group_data["se"].values ** 2
    if sigma is None:
        return None
    return sigma[..., None] ** 2 / group_data["n"].values


def group_dim(theta: xr.DataArray) -> str:
    return next(str(d) for d in theta.dims if d not in ("chain", "draw"))


def _round(value: float) -> float:
    return float(np.round(value, 4)) if np.isfinite(value) else float("nan")
