"""Model builders: ``GroupedData`` + priors -> ``pm.Model``, one per parametrization.

Every builder names its variables the same way, so everything downstream works on any of them:
``mu``, ``tau``, ``sigma`` (rows form only) and ``theta``, with a dimension named after the group
column whose coordinates are the group labels.

Likelihoods (``likelihood="sufficient"``, the default, is exact for the normal model):

- rows form, sufficient statistics: ``ybar_j ~ Normal(theta_j, sigma / sqrt(n_j))`` for every group,
  and the pooled within-group sum of squares ``SS = sum_j SS_j ~ Gamma((N - J) / 2, rate =
  1 / (2 sigma^2))`` (that is, ``SS / sigma^2 ~ chi^2_{N-J}``). Its log density differs from the
  row-by-row normal log likelihood by a constant that does not depend on any parameter.
- rows form, ``likelihood="rows"``: ``y_i ~ Normal(theta[group_i], sigma)``, one term per row (for
  checking and teaching; needs ``GroupedData`` made with ``keep_rows=True``).
- summaries form: ``y_j ~ Normal(theta_j, se_j)``.

Parametrizations:

- ``centered``: ``theta ~ Normal(mu, tau)``.
- ``noncentered``: ``theta = mu + tau * theta_z``, ``theta_z ~ Normal(0, 1)``.
- ``marginal``: ``theta`` integrated out, ``ybar_j ~ Normal(mu, sqrt(tau^2 + sigma^2 / n_j))`` (or
  ``sqrt(tau^2 + se_j^2)``) plus the within-group term in ``sigma``. NUTS samples only ``mu, tau,
  sigma``; :func:`hbm.conditional.draw_theta` then draws ``theta`` exactly from its normal
  conditional posterior for every draw.
- ``auto``: :func:`choose_parametrization` picks one and says why.

Data enter the graph as shared variables (``pm.Data``, no static shape), never as constants:
``data_n``, ``data_mean``, ``data_se``, ``data_ss_within``, ``data_dof``; ``data_values`` and
``data_codes`` (``likelihood="rows"``); ``data_<y>_scale``, ``data_<y>_scaled`` and
``data_<y>_log_scale`` (the centered and non-centered forms, see :func:`_scaled_normal`); and
each prior's parameters ``<name>_prior``. The compiled log density and its numba cache key then
depend on the model's structure (parametrization, likelihood, prior families), not on the data:
a new dataset reuses the compiled functions on disk instead of compiling afresh (see
:mod:`hbm.nutpie_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from hbm.data import GroupedData
from hbm.priors import Prior, resolve_priors

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "PARAMETRIZATIONS",
    "BuiltModel",
    "build_model",
    "centered",
    "choose_parametrization",
    "marginal",
    "noncentered",
]

Parametrization = Literal["auto", "centered", "noncentered", "marginal"]
Likelihood = Literal["sufficient", "rows"]
PARAMETRIZATIONS: tuple[str, ...] = ("auto", "centered", "noncentered", "marginal")
LIKELIHOODS: tuple[str, ...] = ("sufficient", "rows")
PriorsLike = Mapping[str, "str | float | Prior"] | str | None


class BuiltModel(NamedTuple):
    """A built model with the parametrization that was used and the reason it was chosen."""

    model: pm.Model
    parametrization: str
    reason: str


def centered(
    data: GroupedData, priors: PriorsLike = None, *, likelihood: Likelihood = "sufficient"
) -> pm.Model:
    """The centered model: ``theta ~ Normal(mu, tau)``.

    Examples
    --------
    >>> import hbm
    >>> from hbm.data import grouped_data
    >>> data = grouped_data(hbm.datasets.load("eight_schools"), group="school", value="effect",
    ...                     se="stderr")
    >>> model = centered(data)
    >>> sorted(v.name for v in model.free_RVs + model.observed_RVs)
    ['mu', 'tau', 'theta', 'y']
    >>> sorted(v.name for v in model.data_vars)  # the data, as shared variables
    ['data_y_log_scale', 'data_y_scale', 'data_y_scaled', 'mu_prior', 'tau_prior']
    """
    return _build(data, priors, likelihood, _centered_theta)


def noncentered(
    data: GroupedData, priors: PriorsLike = None, *, likelihood: Likelihood = "sufficient"
) -> pm.Model:
    """The non-centered model: ``theta = mu + tau * theta_z``, ``theta_z ~ Normal(0, 1)``."""
    return _build(data, priors, likelihood, _noncentered_theta)


def marginal(
    data: GroupedData, priors: PriorsLike = None, *, likelihood: Likelihood = "sufficient"
) -> pm.Model:
    """The marginal model: ``theta`` integrated out; only ``mu``, ``tau``, ``sigma`` are sampled.

    ``theta`` is not a variable of this model: draw it afterwards with
    :func:`hbm.conditional.draw_theta` (``hbm.fit`` does this for you).
    """
    check_likelihood(likelihood)
    if likelihood == "rows":
        raise ValueError(
            "The 'likelihood' option 'rows' is available for the centered and noncentered "
            "parametrizations; the marginal one is always written with the sufficient statistics, "
            "which is exact for the normal model."
        )
    import pymc as pm

    resolved = _resolved(data, priors)
    with pm.Model(coords={data.group: list(data.labels)}) as model:
        mu, tau, sigma = _hyperparameters(resolved)
        mean = _shared("data_mean", data.mean, data.group)
        if data.kind == "summaries":
            se = _shared("data_se", data.known_se, data.group)
            sd = pm.math.sqrt(tau**2 + se**2)
            pm.Normal("y", mu=mu, sigma=sd, observed=mean, dims=data.group)
        else:
            n = _shared("data_n", data.n, data.group)
            sd = pm.math.sqrt(tau**2 + sigma**2 / n)
            pm.Normal("ybar", mu=mu, sigma=sd, observed=mean, dims=data.group)
            _within_group_term(data, sigma)
    if not model.free_RVs:
        raise ValueError(
            "With mu and tau both fixed the marginal model has nothing to sample; "
            "use parametrization='centered' (theta's posterior is then independent normals)."
        )
    return model


BUILDERS: dict[str, Callable[..., pm.Model]] = {
    "centered": centered,
    "noncentered": noncentered,
    "marginal": marginal,
}


def choose_parametrization(
    data: GroupedData, priors: Mapping[str, Prior], *, likelihood: Likelihood = "sufficient"
) -> tuple[str, str]:
    """The parametrization ``auto`` uses for these data and priors, and why.

    The reason quotes the data: how precisely each group mean is measured (``s_j``: ``se_j``, or
    the pooled within-group sd over ``sqrt(n_j)``) against a method-of-moments estimate of the
    between-group sd ``tau``. Groups with ``s_j > tau`` are pooled more than halfway towards
    ``mu``: the data say little about them, and the centered form has a funnel there.

    - ``marginal`` whenever it applies (the sufficient-statistics likelihood): exact for the
      normal model, and with ``theta`` integrated out there is no funnel whatever the data.
    - ``likelihood="rows"``: ``centered`` if ``tau`` is fixed or every group's data dominate
      (``s_j < tau / 2``, pooling below 20%), where the centered form samples best; otherwise
      ``noncentered``.
    - ``centered`` if ``mu`` and ``tau`` are both fixed (``theta``'s posterior is then
      independent normals).

    Returns
    -------
    tuple of str
        ``(name, reason)``.

    Examples
    --------
    >>> import hbm
    >>> from hbm.data import grouped_data
    >>> from hbm.priors import resolve_priors
    >>> data = grouped_data(hbm.datasets.load("eight_schools"), group="school", value="effect",
    ...                     se="stderr")
    >>> name, reason = choose_parametrization(data, resolve_priors(data, None))
    >>> name
    'marginal'
    """
    free = [name for name in ("mu", "tau") if not priors[name].is_fixed]
    if not free:
        return (
            "centered",
            "mu and tau are fixed, so theta's posterior has no funnel and the centered form "
            "samples it directly.",
        )
    evidence, weak = _pooling_evidence(data)
    if likelihood == "rows":
        if priors["tau"].is_fixed:
            return (
                "centered",
                "likelihood='rows' was asked for, which the marginal form does not use; tau is "
                "fixed, so theta has no funnel and the centered form samples it directly.",
            )
        if weak == 0:
            return (
                "centered",
                "likelihood='rows' was asked for, which the marginal form does not use. "
                f"{evidence} The data dominate every group, where the centered form samples "
                "best (the non-centered one would have an inverted funnel).",
            )
        return (
            "noncentered",
            f"likelihood='rows' was asked for, which the marginal form does not use. {evidence} "
            "The non-centered form has no funnel between tau and theta for such groups.",
        )
    sampled = ", ".join(free + (["sigma"] if data.kind == "rows" else []))
    return (
        "marginal",
        f"{evidence} For a normal model theta can be integrated out exactly, so NUTS samples "
        f"only {sampled} (no funnel between tau and theta, near-independent draws) and theta "
        "is then drawn exactly from its normal conditional posterior.",
    )


def _pooling_evidence(data: GroupedData) -> tuple[str, int]:
    """A sentence on how well the data measure each group, and how many groups are weak.

    ``weak`` counts the groups with ``s_j > tau_hat / 2`` (pooling above 20%). GroupedData has
    at least 2 groups, so the moment estimate ``tau_hat`` exists.
    """
    if data.kind == "summaries":
        s = np.asarray(data.known_se, dtype=float)
    else:  # GroupedData guarantees within-group variation, so n_rows > n_groups
        s = np.sqrt(data.ss_within / (data.n_rows - data.n_groups) / data.n)
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
        f"between-group sd tau of about {tau_hat:.3g} (method of moments): {halfway} of "
        f"{data.n_groups} groups are pooled more than halfway towards mu.",
        weak,
    )


def build_model(
    data: GroupedData,
    priors: PriorsLike = None,
    *,
    parametrization: Parametrization = "auto",
    likelihood: Likelihood = "sufficient",
) -> BuiltModel:
    """Build the model in the given parametrization (``auto`` chooses one and says why).

    Examples
    --------
    >>> import hbm
    >>> from hbm.data import grouped_data
    >>> data = grouped_data(hbm.datasets.load("schools"), group="school", value="score")
    >>> built = build_model(data)
    >>> built.parametrization, sorted(v.name for v in built.model.free_RVs)
    ('marginal', ['mu', 'sigma', 'tau'])
    """
    check_parametrization(parametrization)
    check_likelihood(likelihood)
    resolved = _resolved(data, priors)
    if parametrization == "auto":
        name, reason = choose_parametrization(data, resolved, likelihood=likelihood)
    else:
        name, reason = parametrization, "asked for"
    return BuiltModel(BUILDERS[name](data, resolved, likelihood=likelihood), name, reason)


def _build(
    data: GroupedData,
    priors: PriorsLike,
    likelihood: Likelihood,
    make_theta: Callable[..., Any],
) -> pm.Model:
    import pymc as pm

    check_likelihood(likelihood)
    resolved = _resolved(data, priors)
    with pm.Model(coords={data.group: list(data.labels)}) as model:
        mu, tau, sigma = _hyperparameters(resolved)
        theta = make_theta(data, mu, tau)
        if data.kind == "summaries":
            if likelihood == "rows":
                raise ValueError(
                    "The 'likelihood' option 'rows' needs the rows form; summaries data "
                    "(se=...) have one estimate per group."
                )
            # y_j ~ Normal(theta_j, se_j), written as y_j / se_j ~ Normal(theta_j / se_j, 1)
            # plus the constant -sum_j log se_j: the same density (see _scaled_normal)
            _scaled_normal("y", theta, 1.0, data.mean, 1.0 / data.known_se, data.group)
        elif likelihood == "rows":
            if data.codes is None or data.values is None:
                raise ValueError(
                    "likelihood='rows' needs the rows: make the GroupedData with keep_rows=True."
                )
            codes = pm.Data("data_codes", np.asarray(data.codes, dtype=np.int64))
            values = pm.Data("data_values", np.asarray(data.values, dtype=np.float64))
            pm.Normal("y", mu=theta[codes], sigma=sigma, observed=values)
        else:
            # ybar_j ~ Normal(theta_j, sigma / sqrt(n_j)), written with sqrt(n_j) as the scale
            _scaled_normal("ybar", theta, sigma, data.mean, np.sqrt(data.n), data.group)
            _within_group_term(data, sigma)
    return model


def _centered_theta(data: GroupedData, mu, tau):
    import pymc as pm

    return pm.Normal("theta", mu=mu, sigma=tau, dims=data.group)


def _noncentered_theta(data: GroupedData, mu, tau):
    import pymc as pm

    theta_z = pm.Normal("theta_z", mu=0.0, sigma=1.0, dims=data.group)
    return pm.Deterministic("theta", mu + tau * theta_z, dims=data.group)


def _hyperparameters(priors: Mapping[str, Prior]):
    mu = priors["mu"].to_pymc("mu")
    tau = priors["tau"].to_pymc("tau")
    sigma = priors["sigma"].to_pymc("sigma") if "sigma" in priors else None
    return mu, tau, sigma


def _within_group_term(data: GroupedData, sigma) -> None:
    """``SS ~ Gamma((N - J) / 2, rate = 1 / (2 sigma^2))``, when any group has two or more rows."""
    import pymc as pm

    dof = data.n_rows - data.n_groups
    if dof > 0:
        shape = _shared("data_dof", float(dof)) / 2.0
        ss = _shared("data_ss_within", data.ss_within)
        pm.Gamma("ss_within", alpha=shape, beta=1.0 / (2.0 * sigma**2), observed=ss)


def _scaled_normal(name: str, mu, sigma, observed: np.ndarray, scale: np.ndarray, dims: str):
    """``observed_j ~ Normal(mu_j, sigma / scale_j)``, as ``Normal(scale_j mu_j, sigma)``.

    The density of ``observed_j`` is that of ``scale_j observed_j ~ Normal(scale_j mu_j, sigma)``
    times ``scale_j``, so the model adds the constant ``sum_j log scale_j`` (a potential named
    ``<name>_scale``): the log density is the same as ``pm.Normal(name, mu, sigma / scale)``'s.
    Written this way, the per-group scales (data, so shared variables) cost a multiplication per
    evaluation instead of a square root and a logarithm: as fast as with the scales constants.
    """
    import pymc as pm

    scale = np.asarray(scale, dtype=np.float64)
    factor = _shared(f"data_{name}_scale", scale, dims)
    scaled = _shared(f"data_{name}_scaled", np.asarray(observed, dtype=np.float64) * scale, dims)
    normal = pm.Normal(name, mu=mu * factor, sigma=sigma, observed=scaled, dims=dims)
    log_scale = _shared(f"data_{name}_log_scale", np.sum(np.log(scale)))
    pm.Potential(f"{name}_scale", pm.math.sum(log_scale))  # a new variable: keeps the data's name
    return normal


def _shared(name: str, values: Any, dims: str | None = None) -> Any:
    """``values`` (float64) as a shared variable of no static shape, so no size enters the graph."""
    import pymc as pm

    return pm.Data(name, np.asarray(values, dtype=np.float64), dims=dims)


def _resolved(data: GroupedData, priors: PriorsLike) -> dict[str, Prior]:
    if not isinstance(data, GroupedData):
        raise TypeError(
            f"Builders take a GroupedData (see hbm.grouped_data); got {type(data).__name__}."
        )
    return resolve_priors(data, priors)


def check_parametrization(parametrization: str) -> None:
    """Raise a ValueError naming the choices if ``parametrization`` is not one of them."""
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(
            "The 'parametrization' option must be one of "
            f"{', '.join(map(repr, PARAMETRIZATIONS))}; got {parametrization!r}."
        )


def check_likelihood(likelihood: str) -> None:
    """Raise a ValueError naming the choices if ``likelihood`` is not one of them."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"The 'likelihood' option must be one of {', '.join(map(repr, LIKELIHOODS))}; "
            f"got {likelihood!r}."
        )
