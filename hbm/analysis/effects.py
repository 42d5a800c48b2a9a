"""What a formula model says about each group: its coefficients, with and without pooling.

For a grouping factor ``g`` with varying terms ``t``, a group's **coefficient** of ``t`` is
``beta[t] + u_g[j, t]`` when ``t`` is also a population term (a group's own intercept or slope)
and ``u_g[j, t]`` otherwise; a nested level's group adds the effects of ``t`` of the groups it
lies in (a school's intercept is ``beta + u_district + u_school``). :func:`group_coefficients`
summarises their posterior per group and term; :func:`no_pooling` gives the classical estimate
of the same coefficients from the group's rows alone (least squares of the group's rows on its
varying terms, the other population terms held at their posterior means), computed from the
per-group moments, with NaN where the group has too few distinct rows to estimate them.
Together they are the 2D shrinkage plot's arrows.

Effects drawn from their exact conditional (the marginal form: one grouping factor, or nested
ones) have their means and sds Rao-Blackwellized, as in the summary (:func:`hbm.model.families.
normal_cells_draws.rao_blackwell_effects`, with the population coefficients added per draw; for
a nested level :func:`hbm.model.families.normal_nested_rao_blackwell.nested_rao_blackwell`, with
the same terms' effects of the groups it lies in added too); their intervals are
quantiles of the exact draws, held or made again a block of groups at a time
(:mod:`hbm.results.group_draws`), so no draws x groups x terms array is made whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.analysis.draws import check_prob, tag
from hbm.analysis.groupwise import group_quantiles
from hbm.analysis.level_effects import add_ancestor_effects
from hbm.core.names import BETA, INTERCEPT, effect_name, sd_name
from hbm.data.model_data import FactorData
from hbm.data.nesting import is_nested_in, nesting_of
from hbm.model.families.normal_cells_conditional import group_statistics
from hbm.model.families.normal_cells_draws import rao_blackwell_effects
from hbm.model.families.normal_nested_rao_blackwell import (
    coefficient_selector,
    nested_rao_blackwell,
)
from hbm.model.families.normal_rao_blackwell import GroupMoments
from hbm.results.fit_result import FitResult
from hbm.results.group_draws import GROUP_DRAWS_ATTR
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["coefficient_draws", "group_coefficients", "icc_by_factor", "no_pooling"]


#: Groups summarised per block: the block's draws are copied, never all groups' at once.
GROUP_BLOCK = 512


def coefficient_draws(
    result: FitResult, factor: FactorData, groups: slice = slice(None)
) -> np.ndarray:
    """Each group's coefficients per draw, ``(S, J, q)`` (see the module docstring).

    ``groups`` picks a block of groups (by position), so that callers can go through many groups
    without holding a second copy of all their draws.
    """
    posterior = result.idata["posterior"]
    name = effect_name(factor.name)
    if name in posterior:
        u = posterior[name].transpose("chain", "draw", ...).values
        u = np.asarray(u, dtype=float).reshape(-1, factor.n_groups, factor.n_terms)
        values = u[:, groups].copy()
    else:  # exact draws the fit does not hold: this block's, made again from the seed
        values = result.group_draws(factor.name).columns(np.arange(factor.n_groups)[groups])
    values += _population_part(result, factor)[:, None, :]
    add_ancestor_effects(result, factor, values, groups)
    return values


def _population_part(result: FitResult, factor: FactorData) -> np.ndarray:
    """Per draw, the population coefficient of each varying term (0 where there is none):
    ``(S, q)``."""
    data = result.model_data
    posterior = result.idata["posterior"]
    beta = np.asarray(posterior[BETA].values, dtype=float).reshape(-1, len(data.population))
    out = np.zeros((beta.shape[0], factor.n_terms))
    for t, term in enumerate(factor.terms):
        if term in data.population:
            out[:, t] = beta[:, data.population.index(term)]
    return out


def group_coefficients(
    source: Any, factor: str | None = None, *, ci_prob: float = CI_PROB
) -> pd.DataFrame:
    """Posterior mean, sd and interval of every group's coefficient of every varying term.

    Returns
    -------
    pandas.DataFrame
        One row per group and term: ``group``, ``term``, ``mean``, ``sd``, ``eti<p>_lb``,
        ``eti<p>_ub``, ``no_pooling`` (:func:`no_pooling`), and ``n`` (rows in the group).
    """
    check_prob(ci_prob)
    result = as_result(source)
    chosen = _factor(result, factor)
    key = ("group_coefficients", chosen.name, ci_prob)

    def compute() -> pd.DataFrame:
        tail = (1 - ci_prob) / 2
        size = chosen.n_groups * chosen.n_terms
        mean, sd, lb, ub = (np.empty(size) for _ in range(4))
        for start in range(0, chosen.n_groups, GROUP_BLOCK):
            block = slice(start, min(start + GROUP_BLOCK, chosen.n_groups))
            draws = coefficient_draws(result, chosen, block)
            flat = draws.reshape(draws.shape[0], -1)
            where = slice(block.start * chosen.n_terms, block.stop * chosen.n_terms)
            mean[where] = flat.mean(axis=0)
            sd[where] = flat.std(axis=0, ddof=1)
            lb[where], ub[where] = group_quantiles(flat, [tail, 1 - tail])
        moments = _rao_blackwellized(result, chosen)
        if moments is not None:  # the means and sds of the exact conditional, as in the summary
            mean, sd = moments.mean.reshape(-1), moments.sd.reshape(-1)
        raw = no_pooling(result, chosen.name).to_numpy()
        sizes = np.bincount(chosen.cells, weights=result.model_data.moments.n)
        prefix = tag(ci_prob)
        return pd.DataFrame(
            {
                chosen.name: np.repeat(chosen.labels, chosen.n_terms),
                "term": np.tile(chosen.terms, chosen.n_groups),
                "mean": mean,
                "sd": sd,
                f"{prefix}_lb": lb,
                f"{prefix}_ub": ub,
                "no_pooling": raw.reshape(-1),
                "n": np.repeat(sizes.astype(np.int64), chosen.n_terms),
            }
        )

    return result.cache.get(key, compute).copy(deep=False)  # copy-on-write: the cache is safe


def _rao_blackwellized(result: FitResult, factor: FactorData) -> GroupMoments | None:
    """The Rao-Blackwellized moments of ``factor``'s groups' coefficients ``(J, q)`` where the
    fit's effects were drawn from their exact conditional (one factor, or a chain of nested
    ones: the ancestors' effects of the same terms added per draw), else ``None``."""
    if GROUP_DRAWS_ATTR not in result.idata.attrs:
        return None
    posterior = result.idata["posterior"].to_dataset()
    data = result.model_data
    if len(data.factors) == 1:
        return rao_blackwell_effects(posterior, data, _population_part(result, factor))
    nesting = result.cache.get(("nesting",), lambda: nesting_of(data))
    if nesting is None or factor.name not in nesting.names:  # pragma: no cover - exact: nested
        return None

    def every_level() -> dict[int, GroupMoments]:  # one pass for every level's coefficients
        return nested_rao_blackwell(
            posterior,
            data,
            nesting,
            selectors=[coefficient_selector(nesting, lv) for lv in range(nesting.depth)],
            offsets=[_population_part(result, f) for f in nesting.factors],
        )

    moments = result.cache.get(("nested_coefficient_moments",), every_level)
    return moments[nesting.names.index(factor.name)]


def no_pooling(source: Any, factor: str | None = None) -> pd.DataFrame:
    """Each group's own least-squares coefficients of the varying terms, ``(J, q)`` as a table.

    The population terms that do not vary by ``factor`` are held at their posterior means; a
    group whose varying terms' columns are not of full rank in its rows gets NaN.
    """
    result = as_result(source)
    chosen = _factor(result, factor)
    data = result.model_data
    stats = group_statistics(data, chosen)
    beta = np.asarray(result.idata["posterior"][BETA].mean(("chain", "draw")).values)
    fixed = np.zeros(len(data.columns))
    for i, term in enumerate(data.population):
        if term not in chosen.terms:
            fixed[i] = beta[i]
    cols = list(chosen.columns)
    n, mean, comoment = stats["n"], stats["mean"], stats["comoment"]
    y = data.y_index
    # Z'r for r = y - X_fixed beta, from the centred moments: C_z,r + n m_z m_r
    a = -fixed
    a[y] = 1.0
    zr = comoment[:, cols, :] @ a + n[:, None] * mean[:, cols] * (mean @ a)[:, None]
    ztz = stats["ztz"]
    out = np.full((chosen.n_groups, chosen.n_terms), np.nan)
    full = (np.linalg.matrix_rank(ztz) == chosen.n_terms) & (n > chosen.n_terms - 1)
    if full.any():
        out[full] = np.linalg.solve(ztz[full], zr[full][:, :, None])[:, :, 0]
    return pd.DataFrame(out, index=pd.Index(chosen.labels, name=chosen.name), columns=chosen.terms)


def icc_by_factor(source: Any) -> dict[str, np.ndarray]:
    """Draws of the intraclass correlation of every factor whose only varying term is the
    intercept: the correlation of two rows in the same group of it.

    With one factor it is ``sd^2 / (sd^2 + sigma^2)``. With several, and intercepts only, the
    denominator holds every factor's ``sd^2`` and the numerator the factor's own and those of the
    factors it is nested in (two pupils of one school share their school's and their district's
    effects; two ratings by one rater share only the rater's). Where some factor has a varying
    slope, a row's variance depends on its covariates and no factor gets one number here (see
    :func:`hbm.analysis.levels.variance_decomposition` for the average over the rows).
    """
    result = as_result(source)
    posterior = result.idata["posterior"]
    sigma = np.asarray(posterior[result.parameters.one("residual_scale").name].values).reshape(-1)
    factors = result.model_data.factors
    if len(factors) > 1 and any(f.terms != (INTERCEPT,) for f in factors):
        return {}
    variances = {
        f.name: np.asarray(posterior[sd_name(f.name)].values).reshape(-1) ** 2
        for f in factors
        if f.terms == (INTERCEPT,)
    }
    total = sigma**2 + sum(variances.values(), np.zeros_like(sigma))
    return {
        f.name: sum(
            (variances[g.name] for g in factors if g is f or is_nested_in(f, g)),
            np.zeros_like(sigma),
        )
        / total
        for f in factors
        if f.name in variances
    }


def _factor(result: FitResult, name: str | None) -> FactorData:
    data = result.model_data
    if name is None:
        return data.factors[0]
    try:
        return data.factor(name)
    except KeyError:
        names = ", ".join(repr(f.name) for f in data.factors)
        raise ValueError(f"The model has no grouping factor {name!r}; it has {names}.") from None
