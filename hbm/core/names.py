"""The names DESIGN.md fixes for parameters and model variables: written here once.

Users and scripts rely on these names (``summary.csv``'s ``param`` column, prior text, the
DataTree's variables), so they are a contract. Every module that needs one takes it from here or,
better, from a fit's parameter table (:mod:`hbm.model.parameters`), which says each parameter's
role; nothing else spells them.

The seed's model (``value ~ 1 + (1 | group)``, normal) keeps its own names:

- :data:`MU` the population mean (level 3), :data:`TAU` the sd of the group means (level 2),
  :data:`SIGMA` the sd of the rows around their group mean (level 1), :data:`THETA` the group
  means, and :data:`THETA_Z` their standardized form in the non-centered parametrization.

Every other model follows the general scheme: ``beta[<term>]``, ``sd_<group>[<term>]``,
``corr_<group>[<t1>, <t2>]``, ``u_<group>[<label>, <term>]``, ``sigma``, ``nu``, ``alpha``.

>>> MU, TAU, SIGMA, THETA
('mu', 'tau', 'sigma', 'theta')
>>> support_of("tau"), support_of("sd_school"), support_of("mu")
('positive', 'positive', 'real')
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "ALPHA",
    "BETA",
    "BETA_DIM",
    "INTERCEPT",
    "LOG_LIK_GROUPS",
    "LOG_LIK_ROWS",
    "MU",
    "NU",
    "OBSERVED",
    "RESERVED",
    "SIGMA",
    "TAU",
    "THETA",
    "THETA_Z",
    "Support",
    "base_names",
    "corr_name",
    "effect_name",
    "pair_dim",
    "sd_name",
    "support_of",
    "term_dim",
]

# The seed model's parameters.
MU = "mu"
TAU = "tau"
SIGMA = "sigma"
THETA = "theta"
THETA_Z = "theta_z"

# The general scheme's parameters and prefixes.
BETA = "beta"
NU = "nu"
ALPHA = "alpha"
SD_PREFIX = "sd_"
CORR_PREFIX = "corr_"
EFFECT_PREFIX = "u_"

#: The dimension of ``beta``: the population terms.
BETA_DIM = "term"
#: The population term that takes the response's location.
INTERCEPT = "Intercept"

#: Observed variables of the normal family: one row (``y``), a group mean (``ybar``), the pooled
#: within-group sum of squares (``ss_within``).
OBSERVED = ("y", "ybar", "ss_within")

#: Variables of a fit's ``log_likelihood`` group: one value per row (named as the observed rows,
#: so arviz pairs them) and one per group, the group's whole data (leave-one-group-out).
LOG_LIK_ROWS = OBSERVED[0]
LOG_LIK_GROUPS = "y_group"

#: Names a column that becomes a dimension may not have: they name variables of the model.
RESERVED = frozenset({MU, TAU, SIGMA, THETA, THETA_Z, *OBSERVED, LOG_LIK_GROUPS})

Support = Literal["real", "positive", "correlation"]

#: Parameters that are standard deviations or other positive quantities.
_POSITIVE = frozenset({TAU, SIGMA, NU, ALPHA})


def support_of(name: str) -> Support:
    """Where a parameter's values lie, from its name: ``"positive"`` (sds, ``nu``, ``alpha``),
    ``"correlation"`` (``corr_<group>``) or ``"real"``."""
    base = name.split("[", 1)[0]
    if base.startswith(CORR_PREFIX):
        return "correlation"
    return "positive" if base in _POSITIVE or base.startswith(SD_PREFIX) else "real"


def base_names(params: Any) -> Any:
    """The parameter of each summary row: ``"theta[North]"`` -> ``"theta"``, for a pandas
    Series of row names (one vectorised regex on pandas' string dtype: a million group rows cost
    a fraction of a second and no per-row lists, where ``.str.split("[")`` took 5 s and 360 MB).

    Examples
    --------
    >>> import pandas as pd
    >>> base_names(pd.Series(["mu", "theta[North]", "u_g[a\\nb, x]"])).tolist()
    ['mu', 'theta', 'u_g']
    """
    return params.str.replace(r"(?s)\[.*", "", regex=True)


def sd_name(factor: str) -> str:
    """``sd_<factor>``: the sds of a grouping factor's effects."""
    return f"{SD_PREFIX}{factor}"


def corr_name(factor: str) -> str:
    """``corr_<factor>``: the correlations of a grouping factor's effects."""
    return f"{CORR_PREFIX}{factor}"


def effect_name(factor: str) -> str:
    """``u_<factor>``: a grouping factor's effects (deviations from the population)."""
    return f"{EFFECT_PREFIX}{factor}"


def term_dim(factor: str) -> str:
    """The dimension of a factor's varying terms: ``<factor>_term``."""
    return f"{factor}_term"


def pair_dim(factor: str) -> str:
    """The dimension of a factor's correlated pairs: ``<factor>_pair``."""
    return f"{factor}_pair"
