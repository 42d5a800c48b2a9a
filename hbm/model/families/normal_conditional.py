"""The normal family's exact conditional of the group means: what the marginal form draws from.

Given ``mu``, ``tau``, ``sigma`` and the data, the group means are independent normals::

    s_j^2    = sigma^2 / n_j         (rows form)   or   se_j^2   (summaries form)
    lambda_j = s_j^2 / (s_j^2 + tau^2)                       pooling factor
    theta_j | mu, tau, sigma, y ~ Normal(lambda_j mu + (1 - lambda_j) ybar_j,
                                         sqrt((1 - lambda_j) s_j^2))

the precision-weighted combination ``(mu / tau^2 + ybar_j / s_j^2) / (1 / tau^2 + 1 / s_j^2)``
written so that it stays finite as ``tau -> 0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import MU, SIGMA, TAU, THETA
from hbm.core.seeds import stream
from hbm.data.grouped import GroupedData

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["THETA_STREAM", "conditional_moments", "draw_group_means", "sampling_variance"]

#: Mixed into the user's seed so the exact draws of theta use a stream of their own.
THETA_STREAM = 0x7E7A
#: Values of theta computed per step of :func:`draw_group_means`: 512 KB temporaries stay in cache.
_CHUNK_VALUES = 65_536


def sampling_variance(data: GroupedData, sigma: Any) -> np.ndarray:
    """``s_j^2``, the variance of group ``j``'s mean about ``theta_j``, per draw and group.

    ``sigma^2 / n_j`` in the rows form (``sigma`` of any shape ``S``: the result has shape
    ``S + (J,)``), ``se_j^2`` in the summaries form (shape ``(J,)``; ``sigma`` is ignored).
    """
    if data.kind == "summaries":
        return data.known_se**2
    if sigma is None:
        raise ValueError(f"The rows form needs {SIGMA} for the groups' sampling variances.")
    return np.asarray(sigma, dtype=float)[..., None] ** 2 / data.n


def conditional_moments(
    data: GroupedData, mu: np.ndarray, tau: np.ndarray, sigma: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of ``theta`` given the hyperparameters, broadcast over a trailing group axis.

    Parameters
    ----------
    data : GroupedData
    mu, tau : array
        Hyperparameter values, any shape ``S`` (for example ``(chain, draw)``).
    sigma : array or None
        Within-group sd, shape ``S`` (rows form); ignored for summaries.

    Returns
    -------
    mean, sd : arrays of shape ``S + (J,)``
    """
    mu = np.asarray(mu, dtype=float)[..., None]
    tau2 = np.asarray(tau, dtype=float)[..., None] ** 2
    s2 = sampling_variance(data, sigma)
    pooling = s2 / (s2 + tau2)
    mean = pooling * mu + (1.0 - pooling) * data.mean
    sd = np.sqrt((1.0 - pooling) * s2)
    return mean, sd


def draw_group_means(posterior: xr.Dataset, data: GroupedData, random_seed: int) -> xr.DataArray:
    """Draw ``theta`` once per posterior draw of ``mu``, ``tau`` (and ``sigma``), reproducibly.

    Parameters
    ----------
    posterior : xarray.Dataset
        Holds ``mu``, ``tau`` and, in the rows form, ``sigma`` with dims ``(chain, draw)``.
    data : GroupedData
    random_seed : int
        The fit's seed; the draws use their own stream derived from it, so the same seed gives the
        same ``theta`` bit for bit.

    Returns
    -------
    xarray.DataArray
        ``theta`` with dims ``(chain, draw, <group>)``.
    """
    import xarray as xr

    mu, tau = posterior[MU].values, posterior[TAU].values
    sigma = posterior[SIGMA].values if SIGMA in posterior else None
    rng = stream(random_seed, THETA_STREAM)
    theta = rng.standard_normal((*mu.shape, data.n_groups))
    # theta = mean + sd * z, computed in place a few draws at a time: the same numbers as one
    # big expression, without its four temporaries of theta's size (1.3 GB for 10,000 groups).
    n_chains, n_draws = mu.shape
    step = max(1, _CHUNK_VALUES // max(1, data.n_groups))
    for chain in range(n_chains):
        for start in range(0, n_draws, step):
            part = slice(start, start + step)
            mean, sd = conditional_moments(
                data,
                mu[chain, part],
                tau[chain, part],
                None if sigma is None else sigma[chain, part],
            )
            block = theta[chain, part]
            block *= sd
            block += mean
    return xr.DataArray(
        theta,
        dims=("chain", "draw", data.group),
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            data.group: list(data.labels),
        },
        name=THETA,
    )
