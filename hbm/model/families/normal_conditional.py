"""The normal family's exact conditional of the group means: what the marginal form draws from.

Given ``mu``, ``tau``, ``sigma`` and the data, the group means are independent normals::

    s_j^2    = sigma^2 / n_j         (rows form)   or   se_j^2   (summaries form)
    lambda_j = s_j^2 / (s_j^2 + tau^2)                       pooling factor
    theta_j | mu, tau, sigma, y ~ Normal(lambda_j mu + (1 - lambda_j) ybar_j,
                                         sqrt((1 - lambda_j) s_j^2))

the precision-weighted combination ``(mu / tau^2 + ybar_j / s_j^2) / (1 / tau^2 + 1 / s_j^2)``
written so that it stays finite as ``tau -> 0``.

The standard normals come from :class:`hbm.model.group_noise.GroupNoise` (tag
:data:`THETA_STREAM`): any block of groups, or any run of draws, can be drawn again exactly from
the fit's seed, without the whole ``draws x groups`` array (:func:`group_means_from_noise`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import MU, SIGMA, TAU, THETA
from hbm.data.grouped import GroupedData
from hbm.model.group_noise import GroupNoise

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "THETA_STREAM",
    "conditional_moments",
    "draw_group_means",
    "group_means_from_noise",
    "sampling_variance",
    "theta_noise",
]

#: Mixed into the user's seed so the exact draws of theta use a stream of their own.
THETA_STREAM = 0x7E7A
#: Values of theta computed per step of :func:`group_means_from_noise`: 512 KB temporaries.
_CHUNK_VALUES = 65_536

Groups = slice | np.ndarray | None


def sampling_variance(data: GroupedData, sigma: Any, groups: Groups = None) -> np.ndarray:
    """``s_j^2``, the variance of group ``j``'s mean about ``theta_j``, per draw and group.

    ``sigma^2 / n_j`` in the rows form (``sigma`` of any shape ``S``: the result has shape
    ``S + (J,)``), ``se_j^2`` in the summaries form (shape ``(J,)``; ``sigma`` is ignored).
    ``groups`` (a slice or indices) keeps only those groups.
    """
    every = slice(None) if groups is None else groups
    if data.kind == "summaries":
        return data.known_se[every] ** 2
    if sigma is None:
        raise ValueError(f"The rows form needs {SIGMA} for the groups' sampling variances.")
    return np.asarray(sigma, dtype=float)[..., None] ** 2 / data.n[every]


def conditional_moments(
    data: GroupedData,
    mu: np.ndarray,
    tau: np.ndarray,
    sigma: np.ndarray | None,
    groups: Groups = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of ``theta`` given the hyperparameters, broadcast over a trailing group axis.

    Parameters
    ----------
    data : GroupedData
    mu, tau : array
        Hyperparameter values, any shape ``S`` (for example ``(chain, draw)``).
    sigma : array or None
        Within-group sd, shape ``S`` (rows form); ignored for summaries.
    groups : slice or array of int, optional
        Only these groups (all by default).

    Returns
    -------
    mean, sd : arrays of shape ``S + (J,)``
    """
    mu = np.asarray(mu, dtype=float)[..., None]
    tau2 = np.asarray(tau, dtype=float)[..., None] ** 2
    s2 = sampling_variance(data, sigma, groups)
    # pooling * mu + (1 - pooling) * ybar and sqrt((1 - pooling) * s2), the same operations in the
    # same order, written into three arrays of shape S + (J,) rather than six temporaries
    pooling = np.add(s2, tau2)
    np.divide(s2, pooling, out=pooling)
    kept = np.subtract(1.0, pooling)
    sd = np.multiply(kept, s2, out=s2 if s2.shape == kept.shape else None)  # (J,) for summaries
    np.sqrt(sd, out=sd)
    np.multiply(kept, data.mean[slice(None) if groups is None else groups], out=kept)
    np.multiply(pooling, mu, out=pooling)
    mean = np.add(pooling, kept, out=pooling)
    return mean, sd


def theta_noise(data: GroupedData, n_draws: int, random_seed: int) -> GroupNoise:
    """The standard normals of theta's exact draws: ``n_draws`` (chains x draws) x groups."""
    return GroupNoise(int(random_seed), THETA_STREAM, int(n_draws), data.n_groups)


def group_means_from_noise(
    data: GroupedData,
    mu: np.ndarray,
    tau: np.ndarray,
    sigma: np.ndarray | None,
    noise: np.ndarray,
    groups: Groups = None,
) -> np.ndarray:
    """``theta = mean + sd * z`` for draws of the hyperparameters and their normals, in place.

    ``mu``, ``tau``, ``sigma`` have shape ``(D,)`` (the draws wanted); ``noise`` has shape
    ``(D, G)`` (or ``(D, G, 1)``) for the ``G`` groups named by ``groups`` (all by default), and
    is overwritten with theta, which is returned. Every value is computed by the same two
    operations whatever the block, so a group's draws are the same bit for bit however they are
    reached (a block of groups, a run of draws, or all at once).
    """
    theta = noise.reshape(noise.shape[0], noise.shape[1])
    n_groups = max(1, theta.shape[1])
    step = max(1, _CHUNK_VALUES // n_groups)
    for start in range(0, theta.shape[0], step):
        part = slice(start, start + step)
        mean, sd = conditional_moments(
            data, mu[part], tau[part], None if sigma is None else sigma[part], groups
        )
        block = theta[part]
        block *= sd
        block += mean
    return theta


def draw_group_means(posterior: xr.Dataset, data: GroupedData, random_seed: int) -> xr.DataArray:
    """Draw ``theta`` once per posterior draw of ``mu``, ``tau`` (and ``sigma``), reproducibly.

    Parameters
    ----------
    posterior : xarray.Dataset
        Holds ``mu``, ``tau`` and, in the rows form, ``sigma`` with dims ``(chain, draw)``.
    data : GroupedData
    random_seed : int
        The fit's seed; the draws use their own streams derived from it (see
        :mod:`hbm.model.group_noise`), so the same seed gives the same ``theta`` bit for bit.

    Returns
    -------
    xarray.DataArray
        ``theta`` with dims ``(chain, draw, <group>)``: draws x groups values, made a few draws
        at a time (callers with very many groups use :func:`group_means_from_noise` on blocks).
    """
    import xarray as xr

    mu, tau = posterior[MU].values, posterior[TAU].values
    sigma = posterior[SIGMA].values if SIGMA in posterior else None
    n_chains, n_draws = mu.shape
    flat = (mu.reshape(-1), tau.reshape(-1), None if sigma is None else sigma.reshape(-1))
    theta = np.empty((n_chains * n_draws, data.n_groups))
    for start, stop, z in theta_noise(data, mu.size, random_seed).sweep():
        part = slice(start, stop)
        theta[part] = group_means_from_noise(
            data, flat[0][part], flat[1][part], None if flat[2] is None else flat[2][part], z
        )
    return xr.DataArray(
        theta.reshape(n_chains, n_draws, data.n_groups),
        dims=("chain", "draw", data.group),
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            data.group: list(data.labels),
        },
        name=THETA,
    )
