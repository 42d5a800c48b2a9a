"""The normal family's likelihood terms in a PyMC model: given the group means, or integrated.

Likelihoods (``likelihood="sufficient"``, the default, is exact for the normal model):

- rows form, sufficient statistics: ``ybar_j ~ Normal(theta_j, sigma / sqrt(n_j))`` for every
  group, and the pooled within-group sum of squares ``SS = sum_j SS_j ~ Gamma((N - J) / 2, rate =
  1 / (2 sigma^2))`` (that is, ``SS / sigma^2 ~ chi^2_{N-J}``). Its log density differs from the
  row-by-row normal log likelihood by a constant that does not depend on any parameter.
- rows form, ``likelihood="rows"``: ``y_i ~ Normal(theta[group_i], sigma)``, one term per row (for
  checking and teaching; needs ``GroupedData`` made with ``keep_rows=True``).
- summaries form: ``y_j ~ Normal(theta_j, se_j)``.
- marginal (``theta`` integrated out): ``ybar_j ~ Normal(mu, sqrt(tau^2 + sigma^2 / n_j))`` (or
  ``sqrt(tau^2 + se_j^2)``) plus the within-group term in ``sigma``.

Data enter the graph as shared variables (``pm.Data``, no static shape), never as constants:
``data_n``, ``data_mean``, ``data_se``, ``data_ss_within``, ``data_dof``; ``data_values`` and
``data_codes`` (``likelihood="rows"``); ``data_<y>_scale``, ``data_<y>_scaled`` and
``data_<y>_log_scale`` (see :func:`scaled_normal`). The compiled log density and its numba cache
key then depend on the model's structure, not on the data (see :mod:`hbm.inference.nutpie_model`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.core.names import OBSERVED
from hbm.data.grouped import GroupedData

__all__ = ["observe", "observe_marginal", "scaled_normal", "shared"]

ROW, MEAN, WITHIN = OBSERVED


def observe(data: GroupedData, theta: Any, sigma: Any, likelihood: str) -> None:
    """Add the likelihood of the data given the group means ``theta`` to the model in context."""
    import pymc as pm

    if data.kind == "summaries":
        if likelihood == "rows":
            raise ValueError(
                "The 'likelihood' option 'rows' needs the rows form; summaries data "
                "(se=...) have one estimate per group."
            )
        # y_j ~ Normal(theta_j, se_j), written as y_j / se_j ~ Normal(theta_j / se_j, 1)
        # plus the constant -sum_j log se_j: the same density (see scaled_normal)
        scaled_normal(ROW, theta, 1.0, data.mean, 1.0 / data.known_se, data.group)
    elif likelihood == "rows":
        if data.codes is None or data.values is None:
            raise ValueError(
                "likelihood='rows' needs the rows: make the GroupedData with keep_rows=True."
            )
        codes = pm.Data("data_codes", np.asarray(data.codes, dtype=np.int64))
        values = pm.Data("data_values", np.asarray(data.values, dtype=np.float64))
        pm.Normal(ROW, mu=theta[codes], sigma=sigma, observed=values)
    else:
        # ybar_j ~ Normal(theta_j, sigma / sqrt(n_j)), written with sqrt(n_j) as the scale
        scaled_normal(MEAN, theta, sigma, data.mean, np.sqrt(data.n), data.group)
        within_group_term(data, sigma)


def observe_marginal(data: GroupedData, mu: Any, tau: Any, sigma: Any) -> None:
    """Add the likelihood with the group means integrated out to the model in context."""
    import pymc as pm

    mean = shared("data_mean", data.mean, data.group)
    if data.kind == "summaries":
        se = shared("data_se", data.known_se, data.group)
        sd = pm.math.sqrt(tau**2 + se**2)
        pm.Normal(ROW, mu=mu, sigma=sd, observed=mean, dims=data.group)
    else:
        n = shared("data_n", data.n, data.group)
        sd = pm.math.sqrt(tau**2 + sigma**2 / n)
        pm.Normal(MEAN, mu=mu, sigma=sd, observed=mean, dims=data.group)
        within_group_term(data, sigma)


def within_group_term(data: GroupedData, sigma: Any) -> None:
    """``SS ~ Gamma((N - J) / 2, rate = 1 / (2 sigma^2))``, when any group has two or more rows."""
    import pymc as pm

    dof = data.n_rows - data.n_groups
    if dof > 0:
        shape = shared("data_dof", float(dof)) / 2.0
        ss = shared("data_ss_within", data.ss_within)
        pm.Gamma(WITHIN, alpha=shape, beta=1.0 / (2.0 * sigma**2), observed=ss)


def scaled_normal(name: str, mu: Any, sigma: Any, observed: np.ndarray, scale: Any, dims: str):
    """``observed_j ~ Normal(mu_j, sigma / scale_j)``, as ``Normal(scale_j mu_j, sigma)``.

    The density of ``observed_j`` is that of ``scale_j observed_j ~ Normal(scale_j mu_j, sigma)``
    times ``scale_j``, so the model adds the constant ``sum_j log scale_j`` (a potential named
    ``<name>_scale``): the log density is the same as ``pm.Normal(name, mu, sigma / scale)``'s.
    Written this way, the per-group scales (data, so shared variables) cost a multiplication per
    evaluation instead of a square root and a logarithm: as fast as with the scales constants.
    """
    import pymc as pm

    scale = np.asarray(scale, dtype=np.float64)
    factor = shared(f"data_{name}_scale", scale, dims)
    scaled = shared(f"data_{name}_scaled", np.asarray(observed, dtype=np.float64) * scale, dims)
    normal = pm.Normal(name, mu=mu * factor, sigma=sigma, observed=scaled, dims=dims)
    log_scale = shared(f"data_{name}_log_scale", np.sum(np.log(scale)))
    pm.Potential(f"{name}_scale", pm.math.sum(log_scale))  # a new variable: keeps the data's name
    return normal


def shared(name: str, values: Any, dims: str | None = None) -> Any:
    """``values`` (float64) as a shared variable of no static shape, so no size enters the graph."""
    import pymc as pm

    return pm.Data(name, np.asarray(values, dtype=np.float64), dims=dims)
