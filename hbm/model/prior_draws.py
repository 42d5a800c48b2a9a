"""Draws from a prior as the text describes it: what a prior predictive check starts from.

Each family draws with numpy from a generator it is given (so the same seed gives the same
draws); every scale is a standard deviation, as in the text (:mod:`hbm.model.priors`).

>>> import numpy as np
>>> from hbm.model.priors import parse_prior
>>> draws = draw_prior(parse_prior("halfnormal(2)", "tau"), np.random.default_rng(1), 5)
>>> draws.shape, bool((draws > 0).all())
((5,), True)
>>> draw_prior(parse_prior("3", "tau"), np.random.default_rng(1), 2).tolist()
[3.0, 3.0]
"""

from __future__ import annotations

import numpy as np

from hbm.model.priors import Prior

__all__ = ["draw_lkj", "draw_prior"]


def draw_prior(prior: Prior, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` independent draws from ``prior`` (a fixed prior repeats its value)."""
    p = prior.params
    family = prior.family
    if family == "fixed":
        return np.full(size, p[0])
    if family == "normal":
        return p[0] + p[1] * rng.standard_normal(size)
    if family == "studentt":
        return p[1] + p[2] * rng.standard_t(p[0], size)
    if family == "halfnormal":
        return p[0] * np.abs(rng.standard_normal(size))
    if family == "halfcauchy":
        return p[0] * np.abs(rng.standard_cauchy(size))
    if family == "halfstudentt":
        return p[1] * np.abs(rng.standard_t(p[0], size))
    if family == "exponential":
        return rng.exponential(1.0 / p[0], size)
    if family == "gamma":
        return rng.gamma(p[0], 1.0 / p[1], size)
    raise ValueError(f"Cannot draw from the prior family {family!r}.")


def draw_lkj(q: int, eta: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` correlation matrices ``(size, q, q)`` from ``LKJ(eta)``, by the onion method
    (Lewandowski, Kurowicka and Joe 2009, section 3.2).

    Each off-diagonal entry's marginal is ``2 Beta(b, b) - 1`` with ``b = eta - 1 + q / 2``.

    >>> r = draw_lkj(3, 2.0, np.random.default_rng(1), 4)
    >>> r.shape, bool(np.allclose(np.diagonal(r, axis1=1, axis2=2), 1.0))
    ((4, 3, 3), True)
    """
    out = np.broadcast_to(np.eye(q), (size, q, q)).copy()
    if q == 1:
        return out
    b = eta + (q - 2) / 2
    r12 = 2.0 * rng.beta(b, b, size) - 1.0
    out[:, 0, 1] = out[:, 1, 0] = r12
    for k in range(2, q):
        b -= 0.5
        y = rng.beta(k / 2, b, size)
        direction = rng.standard_normal((size, k))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        w = np.sqrt(y)[:, None] * direction
        factor = np.linalg.cholesky(out[:, :k, :k])
        z = np.einsum("sij,sj->si", factor, w)
        out[:, :k, k] = out[:, k, :k] = z
    return out
