"""LOO-PIT: is each observation a plausible draw from its leave-one-out predictive distribution?

For unit ``i`` the LOO probability integral transform is ``P(y_rep_i <= y_i | y_-i)``, computed
from one predictive draw per posterior draw weighted by PSIS leave-one-out weights (arviz-stats'
``loo_pit``, on the same log likelihood as :func:`hbm.analysis.loo.loo`). For a calibrated model
the values are uniform on (0, 1): too many near 0 and 1 mean predictive intervals that are too
narrow, a hump in the middle too wide, a slope a shifted centre.

- **rows** (where the fit kept them): ``y_rep_i ~ Normal(theta_g[i], sigma)``, weights from
  leaving row ``i`` out; the statistic is the row's value.
- **groups**: the mean of a *new* group of ``n_j`` rows (or a new estimate with se ``se_j``),
  ``ybar_rep_j ~ Normal(mu, sqrt(tau^2 + s_j^2))``, weights from leaving group ``j``'s whole data
  out (the effect integrated out); the statistic is the group's mean. With few groups the picture
  is coarse, but it still shows a level-2 distribution that is too narrow or too wide.

Draws use their own stream seeded by the fit's seed, so the same fit gives the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from hbm.analysis.draws import maybe_role_draws, role_draws
from hbm.analysis.formula_log_likelihood import formula_row_means, new_group_means_by_block
from hbm.analysis.log_likelihood import (
    GROUP,
    ROW,
    default_unit,
    stored_log_likelihood,
    unit_log_likelihood,
)
from hbm.analysis.loo import loo, quiet_psis
from hbm.analysis.loo_blocks import block_log_likelihood, needs_blocks
from hbm.analysis.units import units_of
from hbm.core.seeds import stream
from hbm.model.families.normal import replicate_means, sampling_variance
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result

__all__ = ["LooPit", "loo_pit"]

#: Mixed into the fit's seed so the replicates use a stream of their own.
PIT_STREAM = 0x917
#: Units per call of arviz-stats (a block of 4,000 draws x 256 units is 8 MB).
_UNIT_BLOCK = 256


@dataclass(frozen=True, eq=False)
class LooPit:
    """LOO-PIT values, one per unit.

    Attributes
    ----------
    unit : {"groups", "rows"}
    values : ndarray
        The PIT values, in the data's order.
    statistic : str
        What was compared (``"row values"`` or ``"group means"``), for labels.
    n_draws : int
        Posterior draws (one predictive draw each) behind every value.
    """

    unit: str
    values: np.ndarray
    statistic: str
    n_draws: int

    def ecdf(self, ci_prob: float = 0.94, *, random_seed: int = 214) -> dict[str, np.ndarray]:
        """The PIT values' ECDF with simultaneous ``ci_prob`` bands for uniform values
        (arviz-stats' simulation method: 1,000 simulations, 250 past 500 values, where each
        costs a sort and a binomial CDF per value), at ``x`` points: keys ``x``, ``ecdf``,
        ``lower``, ``upper``."""
        from arviz_stats.ecdf_utils import ecdf_pit

        simulations = 1000 if len(self.values) <= 500 else 250
        x, ecdf, lower, upper = ecdf_pit(
            self.values, ci_prob, simulations, rng=np.random.default_rng(random_seed)
        )
        return {"x": x, "ecdf": ecdf, "lower": lower, "upper": upper}


def loo_pit(source: Any, unit: str | None = None) -> LooPit:
    """LOO-PIT values of a fit on ``unit`` (default: rows if the fit kept them, else groups).

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> f = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...             draws=500, tune=500, progressbar=False)
    >>> pit = loo_pit(f)
    >>> pit.unit, pit.values.shape, bool(((pit.values >= 0) & (pit.values <= 1)).all())
    ('groups', (8,), True)
    """
    result = as_result(source)
    unit = default_unit(result) if unit is None else unit
    return result.cache.get(("loo_pit", unit), lambda: _loo_pit(result, unit))


def _loo_pit(result: FitResult, unit: str) -> LooPit:
    if unit == GROUP and stored_log_likelihood(result, GROUP) is None and needs_blocks(result):
        values: Any = _BlockValues(result)  # past the limit: each block's log likelihood when used
        step = 1
    else:
        log_lik = unit_log_likelihood(result, unit)
        values, step = log_lik.values, log_lik.draw_step
    data = units_of(result)
    rng = stream(result.random_seed, PIT_STREAM)
    shape = (values.sizes["chain"], values.sizes["draw"])
    if data.formula:
        predict, observed, statistic = _formula_predictive(result, unit, rng, shape, step)
    elif unit == ROW:
        predict, observed, statistic = _rows_predictive(result, rng, shape, step)
    else:
        predict, observed, statistic = _groups_predictive(result, rng)
    reff = loo(result, unit).r_eff
    dim = values.dims[-1]
    pit = np.empty(len(observed))
    # A block of units at a time: PSIS and the PIT are per unit, so the values are the same as
    # in one call, and the copies arviz-stats makes stay the size of a block.
    for start in range(0, len(observed), _UNIT_BLOCK):
        part = slice(start, start + _UNIT_BLOCK)
        block = values.isel({dim: part})
        predictive = xr.DataArray(
            predict(part).reshape(*shape, -1), dims=block.dims, coords=block.coords
        )
        y_obs = xr.DataArray(observed[part], dims=(dim,), coords={dim: block[dim].values})
        with quiet_psis():
            values_pit, _ = predictive.azstats.loo_pit(
                y_obs=y_obs,
                log_ratios=-block,
                r_eff=reff,
                sample_dims=["chain", "draw"],
                random_state=result.random_seed,
            )
        pit[part] = values_pit.values
    return LooPit(unit=unit, values=pit, statistic=statistic, n_draws=int(shape[0] * shape[1]))


Predictive = tuple[Callable[[slice], np.ndarray], np.ndarray, str]


def _rows_predictive(
    result: FitResult, rng: np.random.Generator, shape: tuple[int, int], step: int
) -> Predictive:
    """The seed's model: ``y_rep_i ~ Normal(theta_g[i], sigma)``."""
    data = result.grouped
    if data.codes is None or data.values is None:
        raise ValueError("LOO-PIT of the rows needs the rows, which this fit did not keep.")
    sigma = _sigma(result, shape, step)
    # the rows' groups only, every step-th draw (at most the rows' log likelihood's size)
    used, codes = np.unique(data.codes, return_inverse=True)
    per_chain = result.idata["posterior"].sizes["draw"]
    draws = (np.arange(shape[0])[:, None] * per_chain + np.arange(per_chain)[::step]).reshape(-1)
    theta = result.group_draws().picked(used, draws)[:, :, 0]
    scale2 = np.ones(1) if sigma is None else sigma[:, None] ** 2
    codes = codes.reshape(-1)

    def predict(part: slice) -> np.ndarray:
        return replicate_means(rng, theta[:, codes[part]], scale2)

    return predict, data.values, "row values"


def _groups_predictive(result: FitResult, rng: np.random.Generator) -> Predictive:
    """The seed's model: a new group's mean, ``Normal(mu, sqrt(tau^2 + s_j^2))``."""
    data = result.grouped
    sigma = _sigma(result, None, 1)
    mu = role_draws(result, "coefficient")[:, None]
    tau2 = role_draws(result, "group_sd")[:, None] ** 2
    variance = sampling_variance(data, sigma)

    def predict(part: slice) -> np.ndarray:
        return replicate_means(rng, mu, np.atleast_2d(variance)[:, part] + tau2)

    return predict, data.mean, "estimates" if data.kind == "summaries" else "group means"


def _formula_predictive(
    result: FitResult, unit: str, rng: np.random.Generator, shape: tuple[int, int], step: int
) -> Predictive:
    """A formula model: a row given the effects, or a new group's mean (one grouping factor)."""
    units = units_of(result)
    if unit == ROW:
        if units.values is None:
            raise ValueError("LOO-PIT of the rows needs the rows, which this fit did not keep.")
        means = np.concatenate(
            [formula_row_means(result, c, slice(0, None), step)[0] for c in range(shape[0])]
        )
        sigma = _sigma(result, shape, step)
        scale2 = sigma[:, None] ** 2  # type: ignore[index]

        def predict(part: slice) -> np.ndarray:
            return replicate_means(rng, means[:, part], scale2)

        return predict, units.values, "row values"
    by_block = new_group_means_by_block(result)

    def predict_groups(part: slice) -> np.ndarray:
        location, variance = by_block(part)
        return replicate_means(rng, location, variance)

    return predict_groups, units.mean, "group means"


class _BlockValues:
    """The groups' log likelihood past the limit, as :func:`_loo_pit` reads it: its sizes and
    dims, and a block of groups (``isel``) computed when asked for (the same values as the
    whole array's slice: :mod:`hbm.analysis.loo_blocks`)."""

    def __init__(self, result: FitResult) -> None:
        sizes = result.idata["posterior"].sizes
        self.sizes = {"chain": int(sizes["chain"]), "draw": int(sizes["draw"])}
        self.labels = np.asarray(units_of(result).labels)
        self.dims = ("chain", "draw", units_of(result).group)
        self._block = block_log_likelihood(result, integrated=True)

    def isel(self, where: dict[str, slice]) -> xr.DataArray:
        first, last, _ = where[self.dims[2]].indices(len(self.labels))
        values = self._block(slice(first, last))
        return xr.DataArray(
            values.reshape(self.sizes["chain"], self.sizes["draw"], -1),
            dims=self.dims,
            coords={self.dims[2]: self.labels[first:last]},
        )


def _sigma(result: FitResult, shape: tuple[int, int] | None, step: int) -> np.ndarray | None:
    sigma = maybe_role_draws(result, "residual_scale")
    if sigma is not None and shape is not None:
        sigma = sigma.reshape(shape[0], -1)[:, ::step].reshape(-1)
    return sigma
