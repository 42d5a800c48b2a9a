"""The Poisson family: ``count ~ Poisson(exposure * e^eta)`` (log link).

The module has the shape of every outcome family (see :mod:`hbm.model.families.binomial`). An
offset ``offset(np.log(exposure))`` is carried as the unit's exposure ``E`` (its weight), so a
unit with count ``y`` contributes::

    log p(y | eta) = y eta - E e^eta + y log E - log y!

Rows with the same linear predictor reduce exactly to their totals of ``y`` and ``E`` (the last
two terms no parameter touches: :func:`row_constant`).

>>> import numpy as np
>>> from scipy import stats
>>> y, e, eta = np.array([4.0]), np.array([2.5]), np.array([0.3])
>>> value = log_likelihood(y, e, eta, {}) + row_constant(y, e)
>>> bool(np.allclose(value, stats.poisson(2.5 * np.exp(0.3)).logpmf(4)))
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

NAME = "poisson"
LINKS = ("log",)
LINK = "log"
HAS_EXACT_CONDITIONAL = False
REDUCES = True
OFFSET_IN_WEIGHT = True
PARAMETERS: tuple[Parameter, ...] = ()
WORDS = {"mean": "rate", "means": "rates", "y": "count", "weight": "exposure", "rate": "rate"}


def default_family_priors(center: float, spread: float) -> dict[str, Prior]:
    """Priors of :data:`PARAMETERS` (none)."""
    return {}


def row_constant(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``y log E - log y!`` per row of exposure ``E = w``."""
    return special.xlogy(y, w) - special.gammaln(y + 1)


def logp(y: Any, w: Any, eta: Any, params: Mapping[str, Any]) -> Any:
    """The log likelihood per unit in PyTensor, without :func:`row_constant`."""
    import pytensor.tensor as pt

    return y * eta - w * pt.exp(eta)


def log_likelihood(
    y: np.ndarray, w: np.ndarray, eta: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The log likelihood per unit in numpy, without :func:`row_constant`."""
    return y * eta - w * np.exp(eta)


def expected(eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """The rate per unit of exposure."""
    return np.exp(eta)


def draw(
    rng: np.random.Generator, eta: np.ndarray, w: np.ndarray, params: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Replicated counts."""
    return rng.poisson(w * np.exp(eta)).astype(float)


def information(eta: np.ndarray, w: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Fisher information of ``eta`` per unit: the expected count."""
    return w * np.exp(eta)
