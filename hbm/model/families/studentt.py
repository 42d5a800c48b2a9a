"""The Student-t family: ``y ~ StudentT(nu, eta, sigma)`` (identity link): a normal model whose
rows may hold outliers.

The module has the shape of every outcome family (see :mod:`hbm.model.families.binomial`). A row
contributes::

    log p(y) = lgamma((nu + 1) / 2) - lgamma(nu / 2) - log(nu pi) / 2 - log sigma
               - (nu + 1) / 2 log(1 + ((y - eta) / sigma)^2 / nu)

No statistic of the rows is sufficient, so the units are the rows. ``nu`` (degrees of freedom)
says how heavy the tails are: below about 5 outliers are common, above 30 it is nearly normal.
Default priors: ``sigma ~ halfnormal(s_y)`` (as the normal family's) and ``nu ~ gamma(2, 0.1)``
(Juárez and Steel 2010; Bambi's).

>>> import numpy as np
>>> from scipy import stats
>>> y, eta = np.array([3.0]), np.array([1.0])
>>> value = log_likelihood(y, np.ones(1), eta, {"sigma": 2.0, "nu": 4.0})
>>> bool(np.allclose(value, stats.t(4.0, 1.0, 2.0).logpdf(3.0)))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from hbm.core.names import NU, SIGMA
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

NAME = "studentt"
LINKS = ("identity",)
LINK = "identity"
HAS_EXACT_CONDITIONAL = False
REDUCES = False
OFFSET_IN_WEIGHT = False
PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        SIGMA,
        "residual_scale",
        (),
        "scale",
        "scale of the rows around their expected value (level 1)",
        has_prior=True,
        support="positive",
    ),
    Parameter(
        NU,
        "family_parameter",
        (),
        "none",
        "degrees of freedom of the rows' Student-t (small: heavy tails, outliers)",
        has_prior=True,
        support="positive",
    ),
)
WORDS = {"mean": "mean", "means": "means", "y": "value", "weight": "rows", "rate": "mean"}
#: The default prior of ``nu``: Gamma(shape 2, rate 0.1), mean 20.
NU_PRIOR = (2.0, 0.1)


def default_family_priors(center: float, spread: float) -> dict[str, Prior]:
    """``sigma ~ halfnormal(s_y)``, ``nu ~ gamma(2, 0.1)``."""
    return {
        SIGMA: Prior("halfnormal", (spread,), "default"),
        NU: Prior("gamma", NU_PRIOR, "default"),
    }


def row_constant(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Nothing: every term of the log density involves ``sigma`` or ``nu``."""
    return np.zeros(np.shape(y))


def logp(y: Any, w: Any, eta: Any, params: Mapping[str, Any]) -> Any:
    """The log likelihood per unit in PyTensor."""
    import pytensor.tensor as pt

    sigma, nu = params[SIGMA], params[NU]
    z = (y - eta) / sigma
    return (
        pt.gammaln((nu + 1.0) / 2.0)
        - pt.gammaln(nu / 2.0)
        - 0.5 * pt.log(nu * np.pi)
        - pt.log(sigma)
        - (nu + 1.0) / 2.0 * pt.log1p(z**2 / nu)
    )


def log_likelihood(
    y: np.ndarray, w: np.ndarray, eta: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The log likelihood per unit in numpy."""
    sigma = np.asarray(params[SIGMA], dtype=float)
    nu = np.asarray(params[NU], dtype=float)
    z = (y - eta) / sigma
    return (
        special.gammaln((nu + 1.0) / 2.0)
        - special.gammaln(nu / 2.0)
        - 0.5 * np.log(nu * np.pi)
        - np.log(sigma)
        - (nu + 1.0) / 2.0 * np.log1p(z**2 / nu)
    )


def expected(eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """The expected value (the location)."""
    return np.asarray(eta, dtype=float)


def draw(
    rng: np.random.Generator, eta: np.ndarray, w: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Replicated values."""
    sigma = np.asarray(params[SIGMA], dtype=float)
    nu = np.broadcast_to(np.asarray(params[NU], dtype=float), np.shape(eta))
    return eta + sigma * rng.standard_t(nu)


def information(eta: np.ndarray, w: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Fisher information of the location per row: ``(nu + 1) / ((nu + 3) sigma^2)``."""
    sigma, nu = float(params[SIGMA]), float(params[NU])
    return np.full(np.shape(eta), (nu + 1.0) / ((nu + 3.0) * sigma**2))
