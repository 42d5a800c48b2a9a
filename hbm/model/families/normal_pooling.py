"""The normal family's complete- and no-pooling models, drawn exactly from their posteriors.

They are the baselines partial pooling is judged against (by ELPD, in the report): the Bayesian
twins of the classical estimates the pooling plot draws, with reference priors (flat in the means
and in ``log sigma``), so their posteriors are known in closed form and drawn without a sampler.

- **complete pooling** (one mean for all; ``tau = 0``). Rows form: ``sigma^2 | y ~ S_tot /
  chi2_(N-1)`` with ``S_tot`` the sum of squares of all rows about their grand mean ``ybar``, and
  ``mu | sigma, y ~ Normal(ybar, sigma / sqrt(N))``. Summaries form: ``mu | y ~ Normal(m, 1 /
  sqrt(sum_j 1 / se_j^2))`` with ``m`` the precision-weighted mean of the estimates.
- **no pooling** (each group on its own; ``tau`` infinite). Rows form: ``sigma^2 | y ~ sum_j SS_j
  / chi2_(N-J)`` and ``theta_j | sigma, y ~ Normal(ybar_j, sigma / sqrt(n_j))``. Summaries form:
  ``theta_j | y ~ Normal(estimate_j, se_j)``.

Draws come keyed by role (``coefficient``, ``group_effect``, ``residual_scale``), never by name.
"""

from __future__ import annotations

import numpy as np

from hbm.data.grouped import GroupedData

__all__ = ["complete_pooling_draws", "no_pooling_draws"]


def complete_pooling_draws(
    data: GroupedData, rng: np.random.Generator, size: int
) -> dict[str, np.ndarray]:
    """``size`` exact posterior draws of the complete-pooling model (see the module docstring).

    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> d = grouped_data(pd.DataFrame({"g": list("aabb"), "y": [1.0, 2, 4, 6]}), group="g",
    ...                  value="y")
    >>> draws = complete_pooling_draws(d, np.random.default_rng(1), 20_000)
    >>> sorted(draws), bool(abs(draws["coefficient"].mean() - 3.25) < 0.1)  # ybar = 3.25
    (['coefficient', 'residual_scale'], True)
    """
    if data.kind == "summaries":
        weights = 1.0 / data.known_se**2
        centre = float(np.sum(weights * data.mean) / weights.sum())
        return {"coefficient": centre + rng.standard_normal(size) / np.sqrt(weights.sum())}
    grand = data.center
    total = data.ss_within + float(np.sum(data.n * (data.mean - grand) ** 2))
    sigma = np.sqrt(total / rng.chisquare(data.n_rows - 1, size))
    mu = grand + sigma / np.sqrt(data.n_rows) * rng.standard_normal(size)
    return {"coefficient": mu, "residual_scale": sigma}


def no_pooling_draws(
    data: GroupedData, rng: np.random.Generator, size: int
) -> dict[str, np.ndarray]:
    """``size`` exact posterior draws of the no-pooling model: ``group_effect`` has shape
    ``(size, J)`` (see the module docstring)."""
    noise = rng.standard_normal((size, data.n_groups))
    if data.kind == "summaries":
        return {"group_effect": data.mean + noise * data.known_se}
    dof = data.n_rows - data.n_groups
    sigma = np.sqrt(data.ss_within / rng.chisquare(dof, size))
    theta = data.mean + noise * (sigma[:, None] / np.sqrt(data.n))
    return {"group_effect": theta, "residual_scale": sigma}
