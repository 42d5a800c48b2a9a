"""Rao-Blackwellized group means: theta's posterior mean and sd from its exact conditional.

Given the hyperparameters ``phi_s = (mu_s, tau_s, sigma_s)`` of posterior draw ``s``, group
``j``'s mean is exactly normal (:mod:`hbm.model.families.normal_conditional`) with mean and
variance::

    m_sj = y_j + lambda_sj (mu_s - y_j),    v_sj = (1 - lambda_sj) s2_sj,
    lambda_sj = s2_sj / (s2_sj + tau_s^2),  s2_sj = sigma_s^2 / n_j  (or se_j^2)

so theta_j's posterior is the mixture of these normals over the draws, and its mean and variance
are, exactly (the law of total variance)::

    E[theta_j]   = mean_s m_sj
    Var[theta_j] = mean_s v_sj + var_s m_sj        (var over draws, divided by S)

These *Rao-Blackwellized* estimates average conditional moments instead of sampled values, so
their Monte Carlo error is that of ``m_sj`` alone (``sd_s(m_sj) / sqrt(ESS)``), always smaller
than the draws' ``sd(theta_j) / sqrt(ESS)``, and they need no draw of theta at all.

*Cost*. ``lambda_sj`` and ``v_sj`` depend on the group only through ``s2_sj``, that is through
``n_j`` (rows form) or ``se_j`` (summaries form). Groups are therefore taken in classes of equal
``n_j`` (or ``se_j``); with ``delta_s = mu_s - mean(mu)`` and ``d_j = mean(mu) - y_j``,
``m_sj - E[m_j] = a_s + d_j b_s`` with the class's centred series ``a_s = lambda_s delta_s -
mean(lambda delta)`` and ``b_s = lambda_s - mean(lambda)``, so every group's moments are
polynomials in ``d_j`` whose coefficients are averages over draws, computed once per class:
``O(S x classes + J)``. A million groups of 1 to 5 rows are 5 classes: the whole computation
takes milliseconds. Summaries with a different ``se`` per group make one class per group, which
costs what ``draws x groups`` costs, a block of classes at a time.

*Monte Carlo error*. ``mcse_mean = sqrt(var_s(m_sj) / ESS)`` and, by the delta method for
``sd = sqrt(mean_s w_s)`` with ``w_s = v_sj + (m_sj - E[m_j])^2``,
``mcse_sd = sqrt(var_s(w_s) / ESS) / (2 sd)``, where ``ESS`` is the caller's effective sample
size (hbm uses the smallest of the sampled hyperparameters': a group's conditional moments are
functions of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbm.data.grouped import GroupedData

__all__ = ["GroupMoments", "rao_blackwell_moments"]

#: Draws x classes per block of the per-class averages (2 MB temporaries).
_BLOCK_VALUES = 1 << 18


@dataclass(frozen=True)
class GroupMoments:
    """Per group: the posterior mean and variance of its effect, and the variances over draws
    behind their Monte Carlo errors (arrays of shape ``(J,)``).

    Attributes
    ----------
    mean, variance : ndarray
        ``E[theta_j]`` and ``Var[theta_j]`` (mixture moments, see the module docstring).
    spread : ndarray
        ``var_s(m_sj)``: the variance of the conditional means over draws.
    spread_w : ndarray
        ``var_s(w_s)`` of ``w_s = v_sj + (m_sj - E[m_j])^2``.
    """

    mean: np.ndarray
    variance: np.ndarray
    spread: np.ndarray
    spread_w: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def mcse_mean(self, ess: float) -> np.ndarray:
        """Monte Carlo standard error of :attr:`mean` for an effective sample size ``ess``."""
        return np.sqrt(self.spread / ess)

    def mcse_sd(self, ess: float) -> np.ndarray:
        """Monte Carlo standard error of :attr:`sd` (delta method) for ``ess``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sqrt(self.spread_w / ess) / (2.0 * self.sd)


def rao_blackwell_moments(
    data: GroupedData, mu: np.ndarray, tau: np.ndarray, sigma: np.ndarray | None
) -> GroupMoments:
    """Rao-Blackwellized posterior moments of every group mean (see the module docstring).

    Parameters
    ----------
    data : GroupedData
    mu, tau : ndarray (S,)
        Posterior draws (chains flattened).
    sigma : ndarray (S,) or None
        Draws of the within-group sd (rows form); ``None`` for summaries.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> d = grouped_data(pd.DataFrame({"g": list("aabbb"), "y": [1.0, 2, 4, 6, 5]}), group="g",
    ...                  value="y")
    >>> rng = np.random.default_rng(0)
    >>> mu, tau, sigma = rng.normal(3, 0.5, 400), rng.gamma(4, 0.5, 400), rng.gamma(9, 0.1, 400)
    >>> rb = rao_blackwell_moments(d, mu, tau, sigma)
    >>> from hbm.model.families.normal_conditional import conditional_moments
    >>> m, s = conditional_moments(d, mu, tau, sigma)
    >>> bool(np.allclose(rb.mean, m.mean(0))), bool(np.allclose(rb.variance, (s**2).mean(0)
    ...                                                              + m.var(0)))
    (True, True)
    """
    mu = np.asarray(mu, dtype=float).reshape(-1)
    tau2 = np.asarray(tau, dtype=float).reshape(-1) ** 2
    if data.kind == "summaries":
        keys = np.asarray(data.known_se, dtype=float)
    else:
        if sigma is None:
            raise ValueError("The rows form needs draws of the within-group sd.")
        keys = np.asarray(data.n, dtype=float)
    classes, inverse = np.unique(keys, return_inverse=True)
    centre = float(mu.mean())
    delta = mu - centre
    sigma2 = None if sigma is None else np.asarray(sigma, dtype=float).reshape(-1) ** 2
    coefficients = np.empty((12, classes.size))
    step = max(1, _BLOCK_VALUES // max(1, mu.size))
    for start in range(0, classes.size, step):
        part = slice(start, start + step)
        if sigma2 is None:
            s2 = np.broadcast_to(classes[part] ** 2, (mu.size, classes[part].size))
        else:
            s2 = sigma2[:, None] / classes[part]
        coefficients[:, part] = _class_averages(s2, tau2, delta)
    lam, a_mean, v_mean, caa, cab, cbb, c11, c12, c13, c22, c23, c33 = coefficients[:, inverse]
    d = centre - data.mean
    spread = np.maximum(caa + 2.0 * d * cab + d * d * cbb, 0.0)
    # var(w) for w = e1 + d e2 + d^2 e3, by Horner's rule in d
    spread_w = c11 + d * (2.0 * c12 + d * (2.0 * c13 + c22 + d * (2.0 * c23 + d * c33)))
    return GroupMoments(
        mean=data.mean + a_mean + lam * d,
        variance=v_mean + spread,
        spread=spread,
        spread_w=np.maximum(spread_w, 0.0),
    )


def _class_averages(s2: np.ndarray, tau2: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The twelve per-class averages over draws (rows of the result), for ``s2`` of shape
    ``(S, C)``: mean lambda, mean(lambda delta), mean v, the covariances of the centred ``a``
    and ``b``, and those of ``e1 = v + a^2``, ``e2 = 2 a b``, ``e3 = b^2``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = s2 / (s2 + tau2[:, None])
    lam = np.where(np.isnan(lam), 1.0, lam)  # s2 = tau2 = 0 cannot occur; keep it finite anyway
    v = (1.0 - lam) * s2
    a = lam * delta[:, None]
    lam_mean, a_mean, v_mean = lam.mean(axis=0), a.mean(axis=0), v.mean(axis=0)
    a -= a_mean
    b = lam - lam_mean
    e1 = v + a * a
    e2 = 2.0 * a * b
    e3 = b * b
    caa, cab, cbb = (a * a).mean(axis=0), (a * b).mean(axis=0), e3.mean(axis=0)
    e1 -= e1.mean(axis=0)
    e2 -= e2.mean(axis=0)
    e3 -= e3.mean(axis=0)
    return np.stack(
        [
            lam_mean,
            a_mean,
            v_mean,
            caa,
            cab,
            cbb,
            (e1 * e1).mean(axis=0),
            (e1 * e2).mean(axis=0),
            (e1 * e3).mean(axis=0),
            (e2 * e2).mean(axis=0),
            (e2 * e3).mean(axis=0),
            (e3 * e3).mean(axis=0),
        ]
    )
