"""Link functions of the outcome families: the linear predictor ``eta`` and the outcome's mean.

``logit`` (binomial: ``p = 1 / (1 + e^-eta)``), ``log`` (Poisson, negative binomial: the rate
``e^eta``) and ``identity`` (Student-t, normal). Written with numpy, stable in the tails.

>>> round(float(inverse_link("logit", 0.0)), 3), round(float(link("log", 1.0)), 3)
(0.5, 0.0)
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["inverse_link", "link"]


def inverse_link(name: str, eta: np.ndarray | float) -> np.ndarray:
    """The outcome's mean (per unit of weight) for the linear predictor ``eta``."""
    if name == "logit":
        return special.expit(eta)
    if name == "log":
        return np.exp(eta)
    if name == "identity":
        return np.asarray(eta, dtype=float)
    raise ValueError(f"Unknown link {name!r}; links are 'logit', 'log', 'identity'.")


def link(name: str, mean: np.ndarray | float) -> np.ndarray:
    """The linear predictor of a mean (a probability in (0, 1), a rate > 0, a value)."""
    if name == "logit":
        return special.logit(mean)
    if name == "log":
        return np.log(mean)
    if name == "identity":
        return np.asarray(mean, dtype=float)
    raise ValueError(f"Unknown link {name!r}; links are 'logit', 'log', 'identity'.")
