"""Posterior predictive checks of the group means (and, in the rows form, the within-group sds).

Draws are made with numpy from the posterior, one replicate per posterior draw (per ``k``-th draw
for very many groups: see *Memory* below), seeded from the fit's seed (a stream of their own), so
the same fit gives the same check bit for bit.

Replicates are made from the sufficient statistics, which is exact for the normal model: if the
``n_j`` rows of group ``j`` are ``Normal(theta_j, sigma)``, their mean is ``Normal(theta_j, sigma /
sqrt(n_j))`` and, independently, their within-group sum of squares is ``sigma^2 chi^2_{n_j - 1}``.
So the replicated group means and within-group sds are distributed exactly as those of replicated
rows, without making the rows.

Two kinds of replicate:

- **same groups** (``rep_mean``): ``ybar_rep_j ~ Normal(theta_j, s_j)`` with ``theta_j`` from the
  posterior, ``s_j = sigma / sqrt(n_j)`` or ``se_j``. Each group's observed mean should look like a
  draw from its own predictive interval.
- **new groups** (``new_mean``): ``theta_new_j ~ Normal(mu, tau)`` first, then ``ybar_rep_j`` as
  above, that is ``ybar_rep_j ~ Normal(mu, sqrt(tau^2 + s_j^2))`` in one draw. The spread of the
  group means is then a check of level 2 (is ``Normal(mu, tau)`` a fair description of how the
  groups differ?) that does not reuse each group's own mean; the same-groups replicate would
  reproduce the spread almost by construction.

Test statistics (``T``) and posterior predictive p-values ``P(T_rep >= T_obs)``: the sd of the
group means (new groups), and in the rows form the sd of the within-group sds over groups with
at least two rows (does every group share one ``sigma``?). p-values near 0 or 1 flag a misfit.

A fit that does not hold its group draws (many groups: :mod:`hbm.results.group_draws`) makes
the same-groups replicate in one step too, ``ybar_rep_j ~ Normal(m_j, sqrt(v_j + s_j^2))`` with
``m_j``, ``v_j`` theta's exact conditional mean and variance given the draw: the same distribution
as drawing ``theta_j`` first, without redrawing theta.

A fit that does not hold its group draws (many groups: :mod:`hbm.results.group_draws`) makes
the same-groups replicate in one step too, ``ybar_rep_j ~ Normal(m_j, sqrt(v_j + s_j^2))`` with
``m_j``, ``v_j`` theta's exact conditional mean and variance given the draw: the same distribution
as drawing ``theta_j`` first, without redrawing theta.

*Memory*: each replicate array holds draws x groups values. Beyond :data:`MAX_REPLICATED_VALUES`
(10,000 groups x 4,000 draws would be 320 MB per array) the check uses every ``k``-th posterior
draw, the smallest ``k`` that fits: 400 of 4,000 draws for 10,000 groups, all of them up to
1,000 groups (so that a fit of 10,000 groups stays within 1 GiB from table to report).
``GroupCheck.n_posterior_draws`` and ``GroupCheck.thinned`` say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hbm.analysis.draws import maybe_role_draws, role_draws
from hbm.analysis.groupwise import group_quantiles
from hbm.model.families.normal import (
    conditional_moments,
    replicate_means,
    replicate_within_sds,
    sampling_variance,
)
from hbm.results.fit_result import FitResult
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["GroupCheck", "posterior_predictive"]

#: Mixed into the fit's seed so the replicates use a stream of their own.
PPC_STREAM = 0x99C
#: Most values (draws x groups) in one replicate array before the draws are thinned (32 MB).
MAX_REPLICATED_VALUES = 4_000_000


@dataclass(frozen=True, eq=False)
class GroupCheck:
    """Replicated and observed group statistics, shape ``(S, J)`` for ``S`` posterior draws.

    Attributes
    ----------
    labels : tuple of str
    observed_mean : ndarray (J,)
        Observed group means (or estimates).
    rep_mean, new_mean : ndarray (S, J)
        Replicated group means: same groups, and new groups (see the module docstring).
    observed_sd, rep_sd : ndarray or None
        Within-group sds, observed ``(J,)`` and replicated ``(S, J)``; NaN for groups of one row.
        ``None`` in the summaries form.
    n_posterior_draws : int
        Draws in the posterior.
    draw_step : int
        The replicates use every ``draw_step``-th posterior draw (1: all of them; see the module
        docstring).
    """

    labels: tuple[str, ...]
    observed_mean: np.ndarray
    rep_mean: np.ndarray
    new_mean: np.ndarray
    observed_sd: np.ndarray | None
    rep_sd: np.ndarray | None
    n_posterior_draws: int = 0
    draw_step: int = 1
    _memo: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def thinned(self) -> bool:
        """Whether the replicates use fewer draws than the posterior holds."""
        return self.draw_step > 1

    def describe_draws(self) -> str:
        """One sentence on the draws the replicates come from (for reports)."""
        used = self.rep_mean.shape[0]
        if not self.thinned:
            return f"One replicate per posterior draw ({used:,})."
        return (
            f"One replicate per posterior draw, thinned to one draw in {self.draw_step} "
            f"({used:,} of {self.n_posterior_draws:,}) to keep {len(self.labels):,} groups "
            "within memory."
        )

    def intervals(self, what: str = "mean", ci_prob: float = CI_PROB) -> np.ndarray:
        """Equal-tailed predictive intervals per group, shape ``(2, J)``: ``"mean"`` or ``"sd"``."""
        key = ("intervals", what, ci_prob)
        if key not in self._memo:
            self._memo[key] = self._intervals(what, ci_prob)
        return self._memo[key].copy()  # type: ignore[attr-defined]

    def _intervals(self, what: str, ci_prob: float) -> np.ndarray:
        values = self.rep_mean if what == "mean" else self.rep_sd
        if values is None:
            raise ValueError("Within-group sds are checked in the rows form only.")
        tail = (1.0 - ci_prob) / 2.0
        if what == "sd":
            several = ~np.isnan(self.observed_sd)  # type: ignore[arg-type]
            out = np.full((2, values.shape[1]), np.nan)
            out[:, several] = group_quantiles(values[:, several], [tail, 1 - tail])
            return out
        return group_quantiles(values, [tail, 1 - tail])

    def observed(self, what: str = "mean") -> np.ndarray:
        """The observed group means (``"mean"``) or within-group sds (``"sd"``, rows form only)."""
        observed = self.observed_mean if what == "mean" else self.observed_sd
        if observed is None:
            raise ValueError(
                "Within-group sds exist only in the rows form; summaries data have one estimate "
                "per group."
            )
        return observed

    def outside(self, what: str = "mean", ci_prob: float = CI_PROB) -> list[str]:
        """Labels of the groups whose observed statistic lies outside its predictive interval."""
        lb, ub = self.intervals(what, ci_prob)
        observed = self.observed(what)
        flag = (observed < lb) | (observed > ub)
        return [label for label, out in zip(self.labels, flag, strict=True) if out]

    def statistic_draws(self) -> dict[str, tuple[float, np.ndarray]]:
        """Each test statistic's observed value and its ``S`` replicated values."""
        if "statistics" not in self._memo:
            self._memo["statistics"] = self._statistic_draws()
        return dict(self._memo["statistics"])  # type: ignore[call-overload]

    def _statistic_draws(self) -> dict[str, tuple[float, np.ndarray]]:
        out = {"sd of group means": _sd_stat(self.observed_mean, self.new_mean)}
        if self.observed_sd is not None and self.rep_sd is not None:
            several = ~np.isnan(self.observed_sd)
            if several.sum() >= 2:
                out["sd of within-group sds"] = _sd_stat(
                    self.observed_sd[several], self.rep_sd[:, several]
                )
        return out

    def statistics(self) -> dict[str, dict[str, float]]:
        """Test statistics: observed value, replicated mean and p-value ``P(T_rep >= T_obs)``."""
        return {
            name: {
                "observed": t_obs,
                "replicated_mean": float(t_rep.mean()),
                "p_value": float(np.mean(t_rep >= t_obs)),
            }
            for name, (t_obs, t_rep) in self.statistic_draws().items()
        }


def posterior_predictive(source: Any, *, random_seed: int | None = None) -> GroupCheck:
    """Replicate the group statistics once per posterior draw.

    Parameters
    ----------
    source : FitResult, Fit or xarray.DataTree
    random_seed : int, optional
        Defaults to the fit's seed (the draws use their own stream derived from it).

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> f = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...             parametrization="marginal", draws=200, tune=200, chains=2, progressbar=False)
    >>> check = posterior_predictive(f)
    >>> check.rep_mean.shape
    (400, 8)
    """
    result = as_result(source)
    if random_seed is None:
        return result.cache.get(("ppc",), lambda: _posterior_predictive(result, None))
    return _posterior_predictive(result, random_seed)


def _posterior_predictive(result: FitResult, random_seed: int | None) -> GroupCheck:
    data = result.grouped
    seed = result.random_seed if random_seed is None else random_seed
    rng = np.random.default_rng([seed, PPC_STREAM])
    draws = result.group_draws()
    n_posterior_draws = draws.n_draws
    step = replicate_step(n_posterior_draws, data.n_groups)
    keep = slice(None, None, step)
    mu = role_draws(result, "coefficient")[keep]
    tau = role_draws(result, "group_sd")[keep]
    sigma = maybe_role_draws(result, "residual_scale")
    sigma = None if sigma is None else sigma[keep]
    variance = sampling_variance(data, sigma)
    if draws.held:
        theta = role_draws(result, "group_effect")[keep]
        rep_mean = replicate_means(rng, theta, variance)
        del theta
    else:  # theta_j | draw ~ Normal(m, sqrt(v)): ybar_rep_j ~ Normal(m, sqrt(v + s_j^2))
        mean, sd = conditional_moments(data, mu, tau, sigma)
        sd *= sd
        sd += variance
        rep_mean = replicate_means(rng, mean, sd, overwrite_variance=True)
        del mean, sd
    if variance.ndim == 2:  # rows form, (S, J): in place, the same numbers with 1 array less
        variance += tau[:, None] ** 2
    else:  # summaries form: the known se^2, (J,)
        variance = variance + tau[:, None] ** 2
    new_mean = replicate_means(rng, mu[:, None], variance, overwrite_variance=True)
    del variance
    observed_sd = rep_sd = None
    if sigma is not None:  # rows form
        dof = data.n - 1
        several = dof > 0
        observed_sd = np.full(data.n_groups, np.nan)
        observed_sd[several] = np.sqrt(data.ss[several] / dof[several])
        rep_sd = np.full(rep_mean.shape, np.nan)
        rep_sd[:, several] = replicate_within_sds(rng, sigma, data.n[several])
    return GroupCheck(
        labels=data.labels,
        observed_mean=data.mean,
        rep_mean=rep_mean,
        new_mean=new_mean,
        observed_sd=observed_sd,
        rep_sd=rep_sd,
        n_posterior_draws=n_posterior_draws,
        draw_step=step,
    )


def replicate_step(n_draws: int, n_groups: int) -> int:
    """Use every ``k``-th draw: the smallest ``k`` keeping draws x groups within the limit.

    >>> replicate_step(4000, 1000), replicate_step(4000, 10_000)
    (1, 10)
    """
    return max(1, math.ceil(n_draws * n_groups / MAX_REPLICATED_VALUES))


def _sd_stat(observed: np.ndarray, replicated: np.ndarray) -> tuple[float, np.ndarray]:
    return float(np.std(observed, ddof=1)), np.std(replicated, axis=1, ddof=1)
