"""The binomial family: ``successes ~ Binomial(trials, p)``, ``logit(p) = eta`` (logit link).

Every outcome family module has one shape (also :mod:`~hbm.model.families.poisson`,
:mod:`~hbm.model.families.negbinomial`, :mod:`~hbm.model.families.studentt`): its name and link,
whether its rows reduce exactly to per-cell totals, its own parameters beyond the linear
predictor (none here) with their default priors, the log likelihood per unit in PyTensor
(:func:`logp`, for the model) and numpy (:func:`log_likelihood`, for leave-one-out), the part of
it that no parameter touches (:func:`row_constant`), the outcome's mean (:func:`expected`),
predictive draws (:func:`draw`) and the Fisher information of ``eta`` per unit
(:func:`information`, which ``auto`` reads to choose a parametrization).

A unit of ``n`` trials with ``y`` successes contributes::

    log p(y | eta) = y eta - n log(1 + e^eta) + log C(n, y)

(the first two terms are the likelihood of any order of the rows; the binomial coefficient only
counts the orders, and is the same whatever the parameters): 0/1 rows, a two-level column and
``p(successes, trials)`` all reduce to per-cell totals of ``y`` and ``n`` exactly.

>>> import numpy as np
>>> from scipy import stats
>>> y, n, eta = np.array([3.0]), np.array([10.0]), np.array([-0.5])
>>> value = log_likelihood(y, n, eta, {}) + row_constant(y, n)
>>> bool(np.allclose(value, stats.binom(10, 1 / (1 + np.exp(0.5))).logpmf(3)))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

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

NAME = "binomial"
LINKS = ("logit",)
LINK = "logit"
HAS_EXACT_CONDITIONAL = False
#: Rows with the same linear predictor reduce exactly to their totals.
REDUCES = True
#: Whether an offset is carried by the weight (a log link's exposure) rather than by ``eta``.
OFFSET_IN_WEIGHT = False
#: Parameters of the outcome's distribution beyond the linear predictor.
PARAMETERS: tuple[Parameter, ...] = ()
#: How reports speak of the outcome: the mean, ``y``, the weight, and the mean per group.
WORDS = {
    "mean": "probability",
    "means": "probabilities",
    "y": "successes",
    "weight": "trials",
    "rate": "rate",
}


def default_family_priors(center: float, spread: float) -> dict[str, Prior]:
    """Priors of :data:`PARAMETERS` (none)."""
    return {}


def row_constant(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``log C(n, y)`` per row of ``n = w`` trials: the part of the log likelihood no parameter
    touches."""
    return special.gammaln(w + 1) - special.gammaln(y + 1) - special.gammaln(w - y + 1)


def logp(y: Any, w: Any, eta: Any, params: Mapping[str, Any]) -> Any:
    """The log likelihood per unit in PyTensor, without :func:`row_constant`."""
    import pytensor.tensor as pt

    return y * eta - w * pt.softplus(eta)


def log_likelihood(
    y: np.ndarray, w: np.ndarray, eta: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The log likelihood per unit in numpy (broadcast over draws), without
    :func:`row_constant`."""
    return y * eta - w * np.logaddexp(0.0, eta)


def expected(eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """The success probability."""
    return special.expit(eta)


def draw(
    rng: np.random.Generator, eta: np.ndarray, w: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Replicated successes out of ``w`` trials."""
    return rng.binomial(np.broadcast_to(w, np.shape(eta)).astype(np.int64), special.expit(eta))


def information(eta: np.ndarray, w: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Fisher information of ``eta`` per unit: ``n p (1 - p)``."""
    p = special.expit(eta)
    return w * p * (1.0 - p)
