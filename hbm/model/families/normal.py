"""The normal family: ``y ~ Normal(theta[group], sigma)`` (rows) or ``Normal(theta_j, se_j)``.

Every family module has the same shape (:class:`hbm.model.families.Family`): its parameters and
their roles, what to reduce, default priors, the log likelihood (from the statistics and from the
rows; per group and per row), predictive draws, the likelihood terms of a PyMC model
(:mod:`~hbm.model.families.normal_likelihood`), and — here, because it exists — the exact
conditional of the group effects (:mod:`~hbm.model.families.normal_conditional`), which is what
makes the marginal parametrization possible.

The seed's model (``value ~ 1 + (1 | group)``) names its parameters ``mu`` (population mean),
``tau`` (sd of the group means), ``sigma`` (sd of the rows around their group mean; rows form
only) and ``theta`` (the group means); the non-centered form samples ``theta_z``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import MU, SIGMA, TAU, THETA, THETA_Z, support_of
from hbm.data.grouped import GroupedData
from hbm.data.reduce import GroupMoments, group_moments
from hbm.model.families.normal_conditional import (
    conditional_moments,
    draw_group_means,
    sampling_variance,
)
from hbm.model.families.normal_likelihood import observe, observe_marginal
from hbm.model.parameters import Parameter, ParameterTable
from hbm.model.priors import Prior, complete_priors

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "HAS_EXACT_CONDITIONAL",
    "LINKS",
    "NAME",
    "conditional_moments",
    "default_priors",
    "draw_group_means",
    "draw_rows",
    "group_log_likelihood",
    "icc_text",
    "log_likelihood",
    "marginal_group_log_likelihood",
    "model_text",
    "observe",
    "observe_marginal",
    "parameter_table",
    "parameter_table_from_posterior",
    "pointwise_log_likelihood",
    "pooling_evidence",
    "reduce",
    "replicate_means",
    "replicate_within_sds",
    "resolve_priors",
    "sampling_variance",
]

NAME = "normal"
LINKS = ("identity",)
HAS_EXACT_CONDITIONAL = True
#: The "seed" preset: the worked example the project started from.
SEED_PRESET = {MU: Prior("normal", (60.0, math.sqrt(5.0))), TAU: Prior("fixed", (1.0,))}
PRESETS = ("default", "seed")


def parameter_table(data: GroupedData, parametrization: str = "marginal") -> ParameterTable:
    """The seed model's parameters, their roles, dims and units.

    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> d = grouped_data(pd.DataFrame({"g": list("aabb"), "y": [1.0, 2, 4, 6]}), group="g",
    ...                  value="y")
    >>> parameter_table(d).names()
    ['mu', 'tau', 'sigma', 'theta']
    """
    return _seed_table(
        data.group, rows=data.kind == "rows", noncentered=parametrization == "noncentered"
    )


def parameter_table_from_posterior(posterior: xr.Dataset) -> ParameterTable:
    """The seed model's table read off its posterior draws (a fit saved before fits carried their
    table, or draws made by hand): ``sigma`` present means the rows form."""
    group = "group"
    if THETA in posterior:
        group = str(next(d for d in posterior[THETA].dims if d not in ("chain", "draw")))
    table = _seed_table(group, rows=SIGMA in posterior, noncentered=THETA_Z in posterior)
    return ParameterTable(tuple(p for p in table if p.name in posterior))


def _seed_table(group: str, *, rows: bool, noncentered: bool) -> ParameterTable:
    parameters = [
        Parameter(MU, "coefficient", (), "location", "population mean of the groups (level 3)"),
        Parameter(TAU, "group_sd", (), "scale", f"sd of the group means around {MU} (level 2)"),
    ]
    if rows:
        meaning = "sd of the rows around their group mean (level 1)"
        parameters.append(Parameter(SIGMA, "residual_scale", (), "scale", meaning))
    parameters.append(
        Parameter(THETA, "group_effect", (group,), "location", f"mean of each {group}")
    )
    if noncentered:
        standard = f"standardized {THETA}: ({THETA} - {MU}) / {TAU}"
        parameters.append(Parameter(THETA_Z, "auxiliary", (group,), "none", standard))
    return ParameterTable(
        tuple(
            Parameter(
                p.name,
                p.role,
                p.dims,
                p.units,
                p.meaning,
                has_prior=p.role in ("coefficient", "group_sd", "residual_scale"),
                support=support_of(p.name),
            )
            for p in parameters
        )
    )


def default_priors(data: GroupedData) -> dict[str, Prior]:
    """Weakly informative priors scaled to the data, like rstanarm's.

    ``c`` is the grand mean of the rows (or the mean of the estimates) and ``s`` the sd of all
    rows (or ``sqrt(var(estimates) + mean(se^2))``): ``mu ~ normal(c, 2.5 s)``,
    ``tau ~ halfnormal(s)`` and, rows form only, ``sigma ~ halfnormal(s)``.
    """
    c, s = data.center, data.scale
    priors = {
        MU: Prior("normal", (c, 2.5 * s), source="default"),
        TAU: Prior("halfnormal", (s,), source="default"),
    }
    if data.kind == "rows":
        priors[SIGMA] = Prior("halfnormal", (s,), source="default")
    return priors


def resolve_priors(
    data: GroupedData,
    priors: str | Mapping[str, str | float | Prior] | None = None,
) -> dict[str, Prior]:
    """Complete a user's priors with the defaults, checking every name and text.

    Parameters
    ----------
    data : GroupedData
        The data the model is for: sets the default scales and whether ``sigma`` exists.
    priors : {"default", "seed"}, mapping or None
        A preset name, or a mapping from parameter name to prior text, number or :class:`Prior`.
        Parameters not named get their default. ``"seed"`` is the worked example the project
        started from: ``mu ~ Normal(mu0 = 60, sigma0^2 = 5)`` (a *variance* of 5, so
        ``normal(60, 2.2360679...)``) and ``tau`` fixed at 1.

    Returns
    -------
    dict
        ``{"mu": Prior, "tau": Prior[, "sigma": Prior]}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> table = pd.DataFrame({"g": list("aabb"), "y": [1.0, 2, 4, 6]})
    >>> d = grouped_data(table, group="g", value="y")
    >>> resolve_priors(d, {"tau": "halfcauchy(5)"})["tau"].text()
    'halfcauchy(5)'
    """
    return complete_priors(
        default_priors(data),
        priors,
        presets={"default": {}, "seed": SEED_PRESET},
        hints={SIGMA: f" ({SIGMA} exists only in the rows form)."},
    )


def reduce(codes: np.ndarray, values: np.ndarray, n_groups: int) -> GroupMoments:
    """What the normal family keeps of the rows: per group ``n``, mean and centred sum of squares
    (exact sufficient statistics; see :mod:`hbm.data.reduce`)."""
    return group_moments(codes, values, n_groups)


def pooling_evidence(data: GroupedData) -> tuple[str, int]:
    """A sentence on how well the data measure each group, and how many groups are weak.

    ``s_j`` (``se_j``, or the pooled within-group sd over ``sqrt(n_j)``) against a
    method-of-moments estimate of ``tau``; ``weak`` counts the groups with ``s_j > tau_hat / 2``
    (pooling above 20%). GroupedData has at least 2 groups, so ``tau_hat`` exists.
    """
    pooled_sd = None
    if data.kind == "rows":  # GroupedData guarantees within-group variation: n_rows > n_groups
        pooled_sd = math.sqrt(data.ss_within / (data.n_rows - data.n_groups))
    s = np.sqrt(sampling_variance(data, pooled_sd))
    tau_hat = float(np.sqrt(max(0.0, float(np.var(data.mean, ddof=1) - np.mean(s**2)))))
    weak = int(np.sum(s > tau_hat / 2))
    halfway = int(np.sum(s > tau_hat))
    spread = (
        f"{s.min():.3g}"
        if np.ptp(s) < 1e-12 * max(1.0, s.max())
        else (f"{s.min():.3g} to {s.max():.3g}")
    )
    return (
        f"The {data.n_groups} group means are measured with sd {spread}, against a "
        f"between-group sd {TAU} of about {tau_hat:.3g} (method of moments): {halfway} of "
        f"{data.n_groups} groups are pooled more than halfway towards {MU}.",
        weak,
    )


def model_text(data: GroupedData) -> str:
    """The model in one line of text, level by level (for reports)."""
    level1 = (
        f"y[i] | {THETA} ~ Normal({THETA}[group[i]], {SIGMA})   (level 1: one row)"
        if data.kind == "rows"
        else f"estimate[j] | {THETA} ~ Normal({THETA}[j], se[j])   (level 1: known se)"
    )
    return (
        f"{MU} ~ prior (level 3: the population of groups); {THETA}[j] | {MU} ~ "
        f"Normal({MU}, {TAU}) (level 2: group j's mean); {level1}."
    )


def icc_text(data: GroupedData) -> str:
    """What the intraclass correlation is here, or why it is not shown (for reports)."""
    icc = f"{TAU}² / ({TAU}² + {SIGMA}²)"
    if data.kind == "rows":
        return f"icc = {icc}, the share of the variance of a single row that lies between groups."
    return (
        f"The intraclass correlation {icc} is not shown: it needs the within-group sd "
        f"{SIGMA}, which the summaries form does not estimate."
    )


# ---- log likelihood ---------------------------------------------------------------------------


def group_log_likelihood(
    data: GroupedData, theta: np.ndarray, sigma: Any, groups: slice | None = None
) -> np.ndarray:
    """Log density of each group's data given its mean, from the statistics: shape ``S + (J,)``.

    Rows form: ``sum_i log N(y_ij | theta_j, sigma) = -n_j/2 log(2 pi sigma^2) - (SS_j +
    n_j (ybar_j - theta_j)^2) / (2 sigma^2)``, exactly the sum over the group's rows. Summaries
    form: ``log N(estimate_j | theta_j, se_j)``. ``groups`` keeps those groups (``theta`` then
    has theirs only).
    """
    theta = np.asarray(theta, dtype=float)
    part = slice(None) if groups is None else groups
    mean = data.mean[part]
    if data.kind == "summaries":
        variance = sampling_variance(data, None, groups)
        return -0.5 * (np.log(2 * np.pi * variance) + (mean - theta) ** 2 / variance)
    n = data.n[part]
    sigma2 = np.asarray(sigma, dtype=float)[..., None] ** 2
    squares = data.ss[part] + n * (mean - theta) ** 2
    return -0.5 * n * np.log(2 * np.pi * sigma2) - squares / (2 * sigma2)


def log_likelihood(data: GroupedData, theta: np.ndarray, sigma: Any) -> np.ndarray:
    """Log likelihood of all the data given the group means, from the statistics: shape ``S``."""
    return group_log_likelihood(data, theta, sigma).sum(axis=-1)


def pointwise_log_likelihood(
    codes: np.ndarray, values: np.ndarray, theta: np.ndarray, sigma: Any
) -> np.ndarray:
    """Log density of every row, ``log N(y_i | theta[group_i], sigma)``: shape ``S + (N,)``."""
    theta = np.asarray(theta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)[..., None]
    z = (values - theta[..., codes]) / sigma
    return -0.5 * (np.log(2 * np.pi) + z**2) - np.log(sigma)


def marginal_group_log_likelihood(
    data: GroupedData, mu: Any, tau: Any, sigma: Any, groups: slice | None = None
) -> np.ndarray:
    """Log density of each group's data with its mean integrated out: shape ``S + (J,)``.

    ``p(y_j | mu, tau, sigma) = (2 pi sigma^2)^(-(n_j - 1)/2) n_j^(-1/2) exp(-SS_j / (2 sigma^2))
    N(ybar_j | mu, sqrt(tau^2 + sigma^2 / n_j))`` (rows form), ``N(estimate_j | mu, sqrt(tau^2 +
    se_j^2))`` (summaries form): the marginal parametrization's terms, per group. ``groups``
    keeps those groups only.
    """
    part = slice(None) if groups is None else groups
    mu = np.asarray(mu, dtype=float)[..., None]
    tau2 = np.asarray(tau, dtype=float)[..., None] ** 2
    variance = sampling_variance(data, sigma, groups) + tau2
    between = -0.5 * (np.log(2 * np.pi * variance) + (data.mean[part] - mu) ** 2 / variance)
    if data.kind == "summaries":
        return between
    n = data.n[part]
    sigma2 = np.asarray(sigma, dtype=float)[..., None] ** 2
    within = -0.5 * (n - 1) * np.log(2 * np.pi * sigma2) - 0.5 * np.log(n)
    return between + within - data.ss[part] / (2 * sigma2)


# ---- predictive draws ---------------------------------------------------------------------------


def replicate_means(
    rng: np.random.Generator,
    location: np.ndarray,
    variance: np.ndarray,
    overwrite_variance: bool = False,
) -> np.ndarray:
    """Replicated group means ``Normal(location, sqrt(variance))``, drawn in place.

    ``location`` is ``theta`` (same groups) or ``mu`` broadcast (new groups, with ``variance``
    then ``s_j^2 + tau^2``): exact for the rows' mean, whose distribution given the group mean is
    ``Normal(theta_j, sigma / sqrt(n_j))``. With ``overwrite_variance`` the square root is taken
    in ``variance``'s own buffer (a caller that no longer needs it saves one array of draws).
    """
    shape = np.broadcast_shapes(np.shape(location), np.shape(variance))
    out = rng.standard_normal(shape)
    out *= np.sqrt(variance, out=variance if overwrite_variance else None)
    out += location
    return out


def replicate_within_sds(rng: np.random.Generator, sigma: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Replicated within-group sds of groups of ``n >= 2`` rows, ``sigma sqrt(chi2_(n-1) / (n-1))``.

    ``sigma`` has shape ``(S,)``; the result ``(S, len(n))``. chi2_k is drawn as ``2 Gamma(k / 2)``
    (numpy's chisquare with one k per column is slower).
    """
    dof = n - 1
    gamma = rng.standard_gamma(dof / 2.0, size=(sigma.shape[0], len(n)))
    # sigma * sqrt(2 gamma / dof), in place: the same numbers without four temporary arrays
    gamma *= 2.0
    gamma /= dof
    np.sqrt(gamma, out=gamma)
    gamma *= sigma[:, None]
    return gamma


def draw_rows(
    rng: np.random.Generator, theta: np.ndarray, scale: np.ndarray | float, rows: int
) -> np.ndarray:
    """New rows (or estimates) ``Normal(theta, scale)``, ``rows`` per group and draw: shape
    ``theta.shape + (rows,)``."""
    return theta[..., None] + scale * rng.standard_normal((*theta.shape, rows))
