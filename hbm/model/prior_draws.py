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

__all__ = ["draw_prior"]


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
