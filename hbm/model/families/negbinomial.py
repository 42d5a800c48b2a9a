"""The negative binomial family: ``count ~ NegBinomial(mu = exposure * e^eta, alpha)`` (log link).

The module has the shape of every outcome family (see :mod:`hbm.model.families.binomial`).
``alpha`` is the shape, as in PyMC and Bambi: the variance is ``mu + mu^2 / alpha``, so a large
``alpha`` is nearly Poisson and a small one much more dispersed. A unit with count ``y``::

    log p(y) = lgamma(y + alpha) - lgamma(alpha) - log y! + alpha log(alpha / (alpha + mu))
               + y log(mu / (alpha + mu))

No exact reduction exists (the rows carry information on ``alpha`` that their totals do not), so
the units are the rows. Default prior ``alpha ~ halfcauchy(1)`` (Bambi's).

>>> import numpy as np
>>> from scipy import stats
>>> y, e, eta, alpha = np.array([4.0]), np.array([2.0]), np.array([0.3]), 1.7
>>> value = log_likelihood(y, e, eta, {"alpha": alpha}) + row_constant(y, e)
>>> mu = 2.0 * np.exp(0.3)
>>> bool(np.allclose(value, stats.nbinom(alpha, alpha / (alpha + mu)).logpmf(4)))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from hbm.core.names import ALPHA
from hbm.model.parameters import Parameter
from hbm.model.priors import Prior

__all__ = [
    "HAS_EXACT_CONDITIONAL",
    "LINK",
    "LINKS",
    "NAME",
    "PARAMETERS",
    "REDUCES",
    "WORDS",
    "default_family_priors",
    "draw",
    "expected",
    "information",
    "log_likelihood",
    "logp",
    "row_constant",
]

NAME = "negbinomial"
LINKS = ("log",)
LINK = "log"
HAS_EXACT_CONDITIONAL = False
REDUCES = False
OFFSET_IN_WEIGHT = True
PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        ALPHA,
        "family_parameter",
        (),
        "none",
        "shape of the negative binomial: variance mu + mu² / alpha (large: nearly Poisson)",
        has_prior=True,
        support="positive",
    ),
)
WORDS = {"mean": "rate", "means": "rates", "y": "count", "weight": "exposure", "rate": "rate"}


def default_family_priors(center: float, spread: float) -> dict[str, Prior]:
    """``alpha ~ halfcauchy(1)``."""
    return {ALPHA: Prior("halfcauchy", (1.0,), "default")}


def row_constant(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``-log y!`` per row."""
    return -special.gammaln(y + 1)


def logp(y: Any, w: Any, eta: Any, params: Mapping[str, Any]) -> Any:
    """The log likelihood per unit in PyTensor, without :func:`row_constant`."""
    import pytensor.tensor as pt

    alpha = params[ALPHA]
    log_mu = eta + pt.log(w)
    log_total = pt.logaddexp(pt.log(alpha), log_mu)
    return (
        pt.gammaln(y + alpha)
        - pt.gammaln(alpha)
        + alpha * (pt.log(alpha) - log_total)
        + y * (log_mu - log_total)
    )


def log_likelihood(
    y: np.ndarray, w: np.ndarray, eta: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The log likelihood per unit in numpy, without :func:`row_constant`."""
    alpha = np.asarray(params[ALPHA], dtype=float)
    log_mu = eta + np.log(w)
    log_total = np.logaddexp(np.log(alpha), log_mu)
    return (
        special.gammaln(y + alpha)
        - special.gammaln(alpha)
        + alpha * (np.log(alpha) - log_total)
        + y * (log_mu - log_total)
    )


def expected(eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """The rate per unit of exposure."""
    return np.exp(eta)


def draw(
    rng: np.random.Generator, eta: np.ndarray, w: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Replicated counts (a gamma-Poisson mixture)."""
    alpha = np.broadcast_to(np.asarray(params[ALPHA], dtype=float), np.shape(eta))
    mu = w * np.exp(eta)
    return rng.poisson(rng.gamma(alpha, mu / alpha)).astype(float)


def information(eta: np.ndarray, w: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Fisher information of ``eta`` per unit: ``mu / (1 + mu / alpha)``."""
    mu = w * np.exp(eta)
    return mu / (1.0 + mu / float(params.get(ALPHA, np.inf)))
