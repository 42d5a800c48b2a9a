"""Building a formula model: ``ModelData`` + priors -> ``pm.Model``, in one parametrization.

1. ``beta_centred``, the population coefficients with the covariates centred (the intercept is
   the expected response at the covariates' means), from its per-term priors; ``beta`` (the
   coefficients of the formula as written) follows from it;
2. per grouping factor: ``sd_<g>`` per term, the LKJ Cholesky factor of each correlated block,
   ``corr_<g>`` (the pairs' correlations);
3. ``sigma``;
4. the likelihood from per-cell moments (:mod:`hbm.model.families.normal_cells`): with the group
   effects integrated out (``marginal``: one grouping factor, or nested ones through
   :mod:`hbm.model.linear_nested`), or given the effects ``u_<g>`` drawn as ``N(0, Sigma)``
   (``centered``) or as ``F z`` (``noncentered``).

Data enter as shared variables, so the compiled model depends on the formula's structure only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

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
from hbm.data.model_data import ModelData
from hbm.model.families.normal_cells import (
    Packed,
    observe_cells,
    observe_marginal_cells,
    pack_moments,
)
from hbm.model.families.normal_cells_conditional import marginal_statistics
from hbm.model.linear_effects import (
    correlations,
    effects,
    factor_cholesky,
    precision_entries,
    prior_vector,
)
from hbm.model.linear_nested import marginal_nesting, nested_choice, observe_nested
from hbm.model.linear_terms import CENTRED, correlated_pairs, linear_parameter_table, standard_name
from hbm.model.parameters import ParameterTable
from hbm.model.priors import Prior

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["LINEAR_PARAMETRIZATIONS", "LinearModel", "build_linear", "choose_linear"]

#: Most varying terms per factor for which the marginal form is written out element by element.
MAX_MARGINAL_TERMS = 8
LINEAR_PARAMETRIZATIONS = ("centered", "noncentered", "marginal")


class LinearModel(NamedTuple):
    """A built formula model, the parametrization used and why, and its parameter table."""

    model: pm.Model
    parametrization: str
    reason: str
    parameters: ParameterTable


def choose_linear(data: ModelData, likelihood: str = "sufficient") -> tuple[str, str]:
    """``auto``'s choice for a formula model, and the reason in words."""
    factors = data.factors
    if len(factors) > 1:
        return nested_choice(data)
    if len(factors) == 1 and factors[0].n_terms <= MAX_MARGINAL_TERMS:
        factor = factors[0]
        return (
            "marginal",
            f"One grouping factor ({factor.name}, {factor.n_groups} groups) with "
            f"{factor.n_terms} varying term(s): for a normal model the group effects can be "
            "integrated out exactly (q x q matrices per group), so NUTS samples only the "
            "population parameters, and the effects are then drawn exactly from their "
            "Gaussian conditional posterior.",
        )
    why = (
        f"{factors[0].n_terms} varying terms are more than the marginal form writes out "
        f"({MAX_MARGINAL_TERMS})"
    )
    return (
        "noncentered",
        f"{why}; the non-centered form samples the effects without a funnel between their sds "
        "and the effects.",
    )


def build_linear(data: ModelData, priors: Mapping[str, Prior], parametrization: str) -> LinearModel:
    """The PyMC model of ``data`` with ``priors`` (resolved, every term named)."""
    import pymc as pm

    if parametrization not in LINEAR_PARAMETRIZATIONS:
        raise ValueError(
            f"The 'parametrization' option must be one of 'auto', "
            f"{', '.join(map(repr, LINEAR_PARAMETRIZATIONS))}; got {parametrization!r}."
        )
    if parametrization == "marginal" and len(data.factors) > 1:
        marginal_nesting(data)  # nested factors only; a ValueError naming a crossing
    coords: dict[str, list[str]] = {BETA_DIM: list(data.population)}
    for factor in data.factors:
        coords[factor.name] = list(factor.labels)
        coords[term_dim(factor.name)] = list(factor.terms)
        pairs = correlated_pairs(factor)
        if pairs:
            coords[pair_dim(factor.name)] = [f"{a}, {b}" for a, b in pairs]
    with pm.Model(coords=coords) as model:
        beta, centred = _coefficients(data, priors)
        choleskies = {}
        for factor in data.factors:
            g = factor.name
            sd = prior_vector(
                sd_name(g),
                factor.terms,
                [priors[f"{sd_name(g)}[{t}]"] for t in factor.terms],
                term_dim(g),
            )
            choleskies[g], blocks = factor_cholesky(factor, sd, priors.get(corr_name(g)))
            if blocks:
                correlations(factor, blocks, pair_dim(g))
        sigma = priors[SIGMA].to_pymc(SIGMA)
        if parametrization == "marginal" and len(data.factors) > 1:
            intercept = INTERCEPT in data.population
            observe_nested(
                data,
                _population_entries(data, beta),
                centred[data.population.index(INTERCEPT)] if intercept else None,
                choleskies,
                sigma,
            )
        elif parametrization == "marginal":
            factor = data.factors[0]
            stats = marginal_statistics(data, factor)
            from hbm.model.families.normal_marginal_op import pack_groups

            totals = {
                key: _shared(f"data_{key}", stats[key])
                for key in ("gram", "shift", "n_rows", "n_groups")
            }
            constants = np.flatnonzero(stats["constant"])
            precision, log_det = precision_entries(choleskies[factor.name])
            observe_marginal_cells(
                _shared("data_groups", pack_groups(stats["zw"], stats["ztz"])),
                totals,
                _population_entries(data, beta),
                sigma,
                precision,
                log_det,
                int(constants[0]) if constants.size else None,
                centred[data.population.index(INTERCEPT)] if INTERCEPT in data.population else None,
            )
        else:
            cells = data.moments
            packed, rows = pack_moments(cells.n, cells.mean + cells.low, cells.comoment)
            moments = Packed(_shared("data_cells", packed), rows)
            coefficients = _population_entries(data, beta)
            for factor in data.factors:
                g = factor.name
                u = effects(
                    effect_name(g),
                    standard_name(g),
                    (g, term_dim(g)),
                    choleskies[g],
                    parametrization,
                )
                cells = pm.Data(f"data_cells_{g}", factor.cells)
                for term, column in enumerate(factor.columns):
                    coefficients[column] = coefficients[column] - u[cells, term]
            observe_cells(moments, coefficients, sigma)
    return LinearModel(
        model, parametrization, "asked for", linear_parameter_table(data, parametrization)
    )


def _coefficients(data: ModelData, priors: Mapping[str, Prior]) -> tuple[Any, Any]:
    """``beta`` (the formula's coefficients) and ``beta_centred`` (sampled, from its priors)."""
    import pymc as pm
    import pytensor.tensor as pt

    terms = data.population
    centred = prior_vector(CENTRED, terms, [priors[f"{BETA}[{t}]"] for t in terms], BETA_DIM)
    if INTERCEPT not in terms:
        return pm.Deterministic(BETA, centred, dims=BETA_DIM), centred
    means = _shared("data_covariate_means", _covariate_means(data))
    where = terms.index(INTERCEPT)
    intercept = centred[where] - (means * centred).sum()
    beta = pm.Deterministic(BETA, pt.set_subtensor(centred[where], intercept), dims=BETA_DIM)
    return beta, centred


def _covariate_means(data: ModelData) -> np.ndarray:
    """The population columns' means over all rows (0 for the intercept, which is not centred)."""
    means = data.column_summary()[0][: len(data.population)].copy()
    if INTERCEPT in data.population:
        means[data.population.index(INTERCEPT)] = 0.0
    return means


def _population_entries(data: ModelData, beta: Any) -> list[Any]:
    """The coefficient of every column of ``W`` in the population part: ``-beta``, 0, ``+1``."""
    k, p = len(data.columns), len(data.population)
    return [-beta[i] for i in range(p)] + [0.0] * (k - p - 1) + [1.0]


def _shared(name: str, values: Any) -> Any:
    import pymc as pm

    return pm.Data(name, np.asarray(values, dtype=np.float64))
