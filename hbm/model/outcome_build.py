"""Building an outcome family's formula model: ``ModelData`` + priors -> ``pm.Model``.

The linear predictor of unit ``i`` (a row, or a cell of rows that share it)::

    eta_i = offset_i + x_i' beta + sum_g z_gi' u_g[group_g(i)]

is written with the covariates centred (``beta_centred``, whose intercept is the link at the
covariates' means: what its prior is about), one matrix product for the population part and one
gather per varying term (``u[codes]``: never a rows x groups matrix). The family's log
likelihood per unit (:mod:`hbm.model.families.binomial` and its siblings) is summed into one
potential. Each grouping factor's effects are written in one of two forms:

- ``noncentered``: ``u = F z``, ``z ~ N(0, I)`` with ``F = diag(sd) L``: no funnel between the
  sds and the effects when the groups' own data say little (sparse groups);
- ``centered`` (hierarchical centering, Gelfand, Sahu and Carlin 1995): the group's own
  coefficients ``c_j = m + u_j ~ N(m, F F')`` are sampled, with ``m`` the population values of
  the terms that are also population terms (each population term is the mean of at most one
  factor's coefficients); then ``beta`` and the ``c_j`` are nearly independent a posteriori when
  each group's data are informative, where the non-centered form correlates ``z`` with the sds.
  ``u = c - m`` is kept; ``c`` is an auxiliary draw, removed after sampling.

Data enter as shared variables, so the compiled model depends on the structure only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hbm.core.names import (
    BETA,
    BETA_DIM,
    INTERCEPT,
    corr_name,
    effect_name,
    pair_dim,
    sd_name,
    term_dim,
)
from hbm.data.model_data import FactorData, ModelData
from hbm.model.families import get_family
from hbm.model.linear_build import LinearModel
from hbm.model.linear_effects import (
    correlations,
    effects,
    factor_cholesky,
    prior_vector,
    solve_lower,
)
from hbm.model.linear_terms import CENTRED, correlated_pairs, standard_name
from hbm.model.outcome_terms import outcome_parameter_table
from hbm.model.priors import Prior

__all__ = ["LIKELIHOOD", "OUTCOME_FORMS", "build_outcome", "centered_name"]

#: The forms a factor's effects can take in an outcome model.
OUTCOME_FORMS = ("centered", "noncentered")
#: The potential that carries the likelihood.
LIKELIHOOD = "y_outcome"


def centered_name(factor: str) -> str:
    """The sampled group coefficients of the centered form: ``u_<factor>_centered``."""
    return f"{effect_name(factor)}_centered"


def build_outcome(
    data: ModelData, priors: Mapping[str, Prior], forms: Mapping[str, str], *, reason: str = ""
) -> LinearModel:
    """The PyMC model of ``data`` with ``priors`` (resolved) and each factor's form in ``forms``.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.model.formula import parse_formula
    >>> from hbm.model.outcome_design import build_outcome_data
    >>> from hbm.model.outcome_priors import resolve_outcome_priors
    >>> table = pd.DataFrame({"g": list("aabbbc"), "y": [1, 0, 1, 1, 0, 0]})
    >>> data = build_outcome_data(table, parse_formula("y ~ 1 + (1 | g)"), "binomial")
    >>> built = build_outcome(data, resolve_outcome_priors(data, None), {"g": "noncentered"})
    >>> sorted(v.name for v in built.model.free_RVs)
    ['beta_centred', 'sd_g', 'u_g_z']
    """
    import pymc as pm
    import pytensor.tensor as pt

    outcome = data.outcome
    if outcome is None:
        raise ValueError("build_outcome needs the data of an outcome family (ModelData.outcome).")
    for factor in data.factors:
        if forms.get(factor.name) not in OUTCOME_FORMS:
            raise ValueError(
                f"The form of {factor.name!r} must be one of {', '.join(OUTCOME_FORMS)}; got "
                f"{forms.get(factor.name)!r}."
            )
    family = get_family(outcome.family)
    coords: dict[str, list[str]] = {BETA_DIM: list(data.population)}
    for factor in data.factors:
        coords[factor.name] = list(factor.labels)
        coords[term_dim(factor.name)] = list(factor.terms)
        pairs = correlated_pairs(factor)
        if pairs:
            coords[pair_dim(factor.name)] = [f"{a}, {b}" for a, b in pairs]
    means = _covariate_means(data)
    owned = _owned_terms(data, forms)
    with pm.Model(coords=coords) as model:
        centred = prior_vector(
            CENTRED, data.population, [priors[f"{BETA}[{t}]"] for t in data.population], BETA_DIM
        )
        _beta(data, centred, means)
        params = {q.name: priors[q.name].to_pymc(q.name) for q in family.PARAMETERS}
        design = outcome.design
        free = [k for k, term in enumerate(data.population) if term not in owned]
        eta: Any = _shared("data_offset", outcome.offset)
        if free:
            columns = design[:, free] - means[free]
            eta = eta + pt.dot(_shared("data_population", columns), centred[free])
        for k, term in enumerate(data.population):
            if term in owned and term != INTERCEPT:
                eta = eta - centred[k] * means[k]
        for f, factor in enumerate(data.factors):
            eta = eta + _factor_term(
                factor, f, data, priors, forms[factor.name], owned, centred, outcome.codes
            )
        y = _shared("data_y", outcome.y)
        weight = _shared("data_weight", outcome.weight)
        pm.Potential(LIKELIHOOD, family.logp(y, weight, eta, params).sum())
    chosen = {forms[f.name] for f in data.factors}
    name = chosen.pop() if len(chosen) == 1 else "mixed"
    return LinearModel(model, name, reason, outcome_parameter_table(data, forms))


def _factor_term(
    factor: FactorData,
    position: int,
    data: ModelData,
    priors: Mapping[str, Prior],
    form: str,
    owned: Mapping[str, str],
    centred: Any,
    codes: np.ndarray,
) -> Any:
    """The factor's sds, correlations and effects, and its part of the linear predictor."""
    import pymc as pm
    import pytensor.tensor as pt

    g = factor.name
    dims = (g, term_dim(g))
    sd = prior_vector(
        sd_name(g), factor.terms, [priors[f"{sd_name(g)}[{t}]"] for t in factor.terms], term_dim(g)
    )
    cholesky, blocks = factor_cholesky(factor, sd, priors.get(corr_name(g)))
    if blocks:
        correlations(factor, blocks, pair_dim(g))
    group = pm.Data(f"data_codes_{g}", codes[:, position])
    if form == "noncentered":
        coefficients = effects(effect_name(g), standard_name(g), dims, cholesky, form)
    else:
        location = [
            centred[data.population.index(t)] if owned.get(t) == g else 0.0 for t in factor.terms
        ]
        start = np.zeros((factor.n_groups, factor.n_terms))
        for t, term in enumerate(factor.terms):
            if owned.get(term) == g:
                start[:, t] = _prior_mean(priors[f"{BETA}[{term}]"])
        coefficients = pm.Flat(centered_name(g), dims=dims, initval=start)
        standardized = solve_lower(
            cholesky, [coefficients[:, t] - location[t] for t in range(factor.n_terms)]
        )
        log_det = sum(pt.log(cholesky[i][i]) for i in range(factor.n_terms))
        pm.Potential(
            f"{effect_name(g)}_prior",
            -0.5 * sum((v**2).sum() for v in standardized)
            - factor.n_groups * (log_det + 0.5 * factor.n_terms * np.log(2 * np.pi)),
        )
        pm.Deterministic(
            effect_name(g),
            pt.stack([coefficients[:, t] - location[t] for t in range(factor.n_terms)], axis=1),
            dims=dims,
        )
    design = data.outcome.design  # type: ignore[union-attr]
    total: Any = 0.0
    for t, column in enumerate(factor.columns):
        gathered = coefficients[:, t][group]
        values = design[:, column]
        if not np.all(values == 1.0):
            gathered = gathered * _shared(f"data_z_{g}_{t}", values)
        total = total + gathered
    return total


def _owned_terms(data: ModelData, forms: Mapping[str, str]) -> dict[str, str]:
    """Population term -> the centered factor whose coefficients are centred on it (the first
    centered factor that varies it)."""
    owned: dict[str, str] = {}
    for factor in data.factors:
        if forms.get(factor.name) != "centered":
            continue
        for term in factor.terms:
            if term in data.population and term not in owned:
                owned[term] = factor.name
    return owned


def _beta(data: ModelData, centred: Any, means: np.ndarray) -> Any:
    """``beta``: the formula's coefficients, from the centred ones."""
    import pymc as pm
    import pytensor.tensor as pt

    terms = data.population
    if INTERCEPT not in terms:
        return pm.Deterministic(BETA, centred, dims=BETA_DIM)
    where = terms.index(INTERCEPT)
    intercept = centred[where] - (_shared("data_covariate_means", means) * centred).sum()
    return pm.Deterministic(BETA, pt.set_subtensor(centred[where], intercept), dims=BETA_DIM)


def _covariate_means(data: ModelData) -> np.ndarray:
    """The population columns' means over all rows (0 for the intercept; all 0 without one)."""
    p = len(data.population)
    if INTERCEPT not in data.population:
        return np.zeros(p)
    means = data.column_summary()[0][:p].copy()
    means[data.population.index(INTERCEPT)] = 0.0
    return means


def _prior_mean(prior: Prior) -> float:
    if prior.family in ("normal", "fixed"):
        return float(prior.params[0])
    if prior.family == "studentt":
        return float(prior.params[1])
    return 0.0


def _shared(name: str, values: Any) -> Any:
    import pymc as pm

    return pm.Data(name, np.asarray(values, dtype=np.float64))
