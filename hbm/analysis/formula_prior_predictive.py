"""Prior predictive draws of a formula model: its levels simulated top down from the priors.

Per draw: the coefficients from their priors (the intercept's prior is on the intercept at the
covariates' means, as in the fit, so ``beta[Intercept]`` follows from it and the slopes), every
grouping factor's sds and, bracket by bracket, its correlations (``lkj(eta)``:
:func:`hbm.model.prior_draws.draw_lkj`), each group's effects ``u_j ~ N(0, Sigma)``, ``sigma``,
and the data they imply: the table's rows again (``y = x'beta + z'u + e``, with the rows'
covariates and groups) and each group's mean over its rows (groups of the first factor). The
result is a :class:`~hbm.analysis.prior_predictive.PriorPredictive`, so the summary, advice,
picture and report are those of the seed's model.

*Memory*: draws x groups x terms values for the effects and draws x rows for the implied rows, each
at most ``DEFAULTS.loo_max_values``: fewer draws past that (the result says so), and past it for
the rows, a seeded sample of rows (every row stays in the observed data).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from hbm.analysis.prior_predictive import FORMAT, MEAN, PRIOR_STREAM, ROW, PriorPredictive
from hbm.analysis.units import units_from_data
from hbm.core.defaults import DEFAULTS
from hbm.core.names import (
    BETA,
    BETA_DIM,
    INTERCEPT,
    SIGMA,
    corr_name,
    effect_name,
    pair_dim,
    sd_name,
    term_dim,
)
from hbm.core.seeds import stream
from hbm.data.model_data import FactorData, ModelData
from hbm.model.families.normal_cells_conditional import group_statistics
from hbm.model.linear_terms import correlated_pairs
from hbm.model.parameters import ParameterTable
from hbm.model.prior_draws import draw_lkj, draw_prior
from hbm.model.priors import Prior

__all__ = ["formula_prior_predictive"]


def formula_prior_predictive(
    data: ModelData,
    priors: dict[str, Prior],
    parameters: ParameterTable,
    *,
    draws: int,
    random_seed: int,
    model: str = "",
) -> PriorPredictive:
    """Simulate a formula model from its priors (see the module docstring); ``data`` must have
    kept its rows."""
    if data.rows is None:
        raise ValueError("A prior predictive check of a formula model needs the table's rows.")
    codes, rows = data.rows
    values_per_draw = max(
        1, sum(f.n_groups * f.n_terms for f in data.factors), data.factors[0].n_groups
    )
    n_draws = max(1, min(draws, DEFAULTS.loo_max_values // values_per_draw))
    rng = stream(random_seed, PRIOR_STREAM)
    beta = _coefficients(data, priors, rng, n_draws)
    prior: dict[str, Any] = {BETA: (("chain", "draw", BETA_DIM), beta[None])}
    coords: dict[str, Any] = {"chain": [0], "draw": np.arange(n_draws)}
    coords[BETA_DIM] = list(data.population)
    effects = {}
    for factor in data.factors:
        sd, corr, pairs = _scales(factor, priors, rng, n_draws)
        g = factor.name
        prior[sd_name(g)] = (("chain", "draw", term_dim(g)), sd[None])
        coords[term_dim(g)] = list(factor.terms)
        if pairs.shape[1]:
            prior[corr_name(g)] = (("chain", "draw", pair_dim(g)), pairs[None])
            coords[pair_dim(g)] = [f"{a}, {b}" for a, b in correlated_pairs(factor)]
        chol = np.linalg.cholesky(sd[:, :, None] * corr * sd[:, None, :])
        z = rng.standard_normal((n_draws, factor.n_groups, factor.n_terms))
        effects[g] = np.einsum("sab,sjb->sja", chol, z)
        prior[effect_name(g)] = (("chain", "draw", g, term_dim(g)), effects[g][None])
        coords[g] = list(factor.labels)
    sigma = draw_prior(priors[SIGMA], rng, n_draws)
    prior[SIGMA] = (("chain", "draw"), sigma[None])
    take = _rows_taken(rng, len(rows), n_draws)
    p = len(data.population)
    expected = beta @ rows[take, :p].T
    for f, factor in enumerate(data.factors):
        u = effects[factor.name]
        for t, column in enumerate(factor.columns):
            expected += u[:, codes[take, f], t] * rows[take, column]
    implied_rows = expected + sigma[:, None] * rng.standard_normal(expected.shape)
    means = _group_means(data, beta, effects, sigma, rng)
    first = data.factors[0].name
    predictive = {
        ROW: (("chain", "draw", f"{ROW}_dim_0"), implied_rows[None]),
        MEAN: (("chain", "draw", first), means[None]),
    }
    units = units_from_data(data)
    y = rows[:, data.y_index]
    tree = xr.DataTree.from_dict(
        {
            "prior": xr.Dataset(prior, coords=coords),
            "prior_predictive": xr.Dataset(
                predictive, coords={"chain": [0], "draw": np.arange(n_draws), first: coords[first]}
            ),
            "observed_data": xr.Dataset({ROW: ((f"{ROW}_dim_0",), y)}),
            "group_data": xr.Dataset(
                {"n": ((first,), units.n), "mean": ((first,), units.mean)},
                coords={first: coords[first]},
            ),
        }
    )
    tree.attrs.update(
        hbm_format=FORMAT,
        hbm_priors=json.dumps({name: prior_.text() for name, prior_ in priors.items()}),
        hbm_data=json.dumps(data.describe(), sort_keys=True, default=str),
        hbm_parameters=parameters.to_json(),
        random_seed=int(random_seed),
        draws=int(n_draws),
        rows_simulated=len(take),
    )
    return PriorPredictive(
        data=units,
        priors=dict(priors),
        parameters=parameters,
        idata=tree,
        observed=np.asarray(y, dtype=float),
        random_seed=int(random_seed),
        n_draws=n_draws,
        draws_asked=int(draws),
        model=model,
        notes=_notes(data, priors),
    )


def _notes(data: ModelData, priors: dict[str, Prior]) -> dict[str, str]:
    """The intercept's prior is on the intercept at the covariates' means: its picture says so."""
    if INTERCEPT not in data.population or len(data.population) == 1:
        return {}
    label = f"{BETA}[{INTERCEPT}]"
    text = priors[label].text(digits=4)
    return {label: f"implied by {text}\nat the covariates' means"}


def _coefficients(
    data: ModelData, priors: dict[str, Prior], rng: np.random.Generator, n_draws: int
) -> np.ndarray:
    """``beta`` per draw: the priors are on the coefficients with the covariates centred."""
    terms = data.population
    centred = (
        np.column_stack([draw_prior(priors[f"{BETA}[{t}]"], rng, n_draws) for t in terms])
        if terms
        else np.zeros((n_draws, 0))
    )
    beta = centred.copy()
    if INTERCEPT in terms:
        means = data.column_summary()[0][: len(terms)].copy()
        where = terms.index(INTERCEPT)
        means[where] = 0.0
        beta[:, where] = centred[:, where] - centred @ means
    return beta


def _scales(
    factor: FactorData, priors: dict[str, Prior], rng: np.random.Generator, n_draws: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per draw: the sds ``(S, q)``, the correlation matrix ``(S, q, q)`` (block diagonal by
    bracket) and the correlated pairs' values ``(S, pairs)`` in :func:`correlated_pairs` order."""
    g = factor.name
    sd = np.column_stack(
        [draw_prior(priors[f"{sd_name(g)}[{t}]"], rng, n_draws) for t in factor.terms]
    )
    corr = np.broadcast_to(np.eye(factor.n_terms), (n_draws, factor.n_terms, factor.n_terms)).copy()
    index = {term: i for i, term in enumerate(factor.terms)}
    for block, correlated in zip(factor.blocks, factor.correlated, strict=True):
        if correlated and len(block) > 1:
            eta = priors[corr_name(g)].params[0]
            drawn = draw_lkj(len(block), eta, rng, n_draws)
            where = [index[t] for t in block]
            for i, a in enumerate(where):
                for j, b in enumerate(where):
                    corr[:, a, b] = drawn[:, i, j]
    pairs = [(index[a], index[b]) for a, b in correlated_pairs(factor)]
    values = (
        np.stack([corr[:, a, b] for a, b in pairs], axis=1) if pairs else np.zeros((n_draws, 0))
    )
    return sd, corr, values


def _rows_taken(rng: np.random.Generator, n_rows: int, n_draws: int) -> np.ndarray:
    """Every row, or a seeded sample of them when draws x rows would pass the values limit."""
    most = max(1, DEFAULTS.loo_max_values // n_draws)
    if n_rows <= most:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=most, replace=False))


def _group_means(
    data: ModelData,
    beta: np.ndarray,
    effects: dict[str, np.ndarray],
    sigma: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each group's (first factor) mean over its rows, per draw: from the cells' column means,
    ``sum_c n_c (m_c' beta + sum_f m_c,f' u_f) / n_j + sigma / sqrt(n_j) e``."""
    moments = data.moments
    cell_mean = moments.mean + moments.low
    p = len(data.population)
    cell_expected = beta @ cell_mean[:, :p].T  # (S, cells)
    for factor in data.factors:
        u = effects[factor.name]
        for t, column in enumerate(factor.columns):
            cell_expected += u[:, factor.cells, t] * cell_mean[:, column]
    first = data.factors[0]
    n = group_statistics(data, first)["n"]
    weights = moments.n / n[first.cells]
    out = np.zeros((len(sigma), first.n_groups))
    for s in range(len(sigma)):
        out[s] = np.bincount(first.cells, weights=cell_expected[s] * weights, minlength=len(n))
    out += sigma[:, None] / np.sqrt(n) * rng.standard_normal(out.shape)
    return out
