"""The parameters of a formula model, with their roles, dims and units.

``y = X beta + sum_g Z_g u_g + e``: population coefficients ``beta[<term>]`` (level 3), per
grouping factor ``g`` the sds ``sd_<g>[<term>]`` and correlations ``corr_<g>[<t1>, <t2>]`` of its
effects (level 2) and the effects themselves ``u_<g>[<label>, <term>]`` (each group's deviation
from the population), and the residual sd ``sigma`` (level 1). Names follow DESIGN.md.

Sampled helpers are ``auxiliary``: ``beta_centred`` (the coefficients with the intercept taken at
the covariates' means, which is what NUTS samples and what the intercept's prior is about),
``u_<g>_z`` (standardized effects, non-centered form) and ``corr_<g>_chol`` (the Cholesky factor
of a block's correlations).

>>> import hbm
>>> from hbm.model.formula import parse_formula
>>> from hbm.model.design import build_model_data
>>> data = build_model_data(hbm.datasets.load("sleepstudy"),
...                         parse_formula("Reaction ~ Days + (Days | Subject)"))
>>> linear_parameter_table(data, "marginal").names()
['beta', 'sd_Subject', 'corr_Subject', 'sigma', 'u_Subject', 'beta_centred']
"""

from __future__ import annotations

from hbm.core.names import (
    BETA,
    BETA_DIM,
    SIGMA,
    corr_name,
    effect_name,
    pair_dim,
    sd_name,
    support_of,
    term_dim,
)
from hbm.data.model_data import FactorData, ModelData
from hbm.model.parameters import Parameter, ParameterTable

__all__ = [
    "CENTRED",
    "correlated_pairs",
    "linear_parameter_table",
    "model_in_words",
    "standard_name",
]

#: The sampled coefficients, intercept at the covariates' means.
CENTRED = f"{BETA}_centred"


def linear_parameter_table(data: ModelData, parametrization: str) -> ParameterTable:
    """The parameters of the formula model on ``data`` in ``parametrization``."""
    entries = [
        Parameter(
            BETA,
            "coefficient",
            (BETA_DIM,),
            "coefficients",
            "population coefficients (level 3); the intercept's prior is on its value at the "
            "covariates' means",
            has_prior=True,
        )
    ]
    for factor in data.factors:
        g = factor.name
        entries.append(
            Parameter(
                sd_name(g),
                "group_sd",
                (term_dim(g),),
                "scale",
                f"sd of the {g} effects of each term (level 2)",
                has_prior=True,
                support="positive",
            )
        )
        if correlated_pairs(factor):
            entries.append(
                Parameter(
                    corr_name(g),
                    "correlation",
                    (pair_dim(g),),
                    "none",
                    f"correlations of the {g} effects of the terms in one bracket",
                    has_prior=True,
                    support="correlation",
                )
            )
    entries.append(
        Parameter(
            SIGMA,
            "residual_scale",
            (),
            "scale",
            "sd of the rows around their expected value (level 1)",
            has_prior=True,
            support=support_of(SIGMA),
        )
    )
    for factor in data.factors:
        g = factor.name
        entries.append(
            Parameter(
                effect_name(g),
                "group_effect",
                (g, term_dim(g)),
                "scale",
                f"each {g}'s deviation from the population, per term",
            )
        )
    entries.append(
        Parameter(CENTRED, "auxiliary", (BETA_DIM,), "coefficients", "coefficients, centred")
    )
    for factor in data.factors:
        g = factor.name
        if parametrization == "noncentered":
            entries.append(
                Parameter(
                    standard_name(g), "auxiliary", (g, term_dim(g)), "none", "standardized effects"
                )
            )
    return ParameterTable(tuple(entries))


def standard_name(factor: str) -> str:
    """The standardized effects of the non-centered form: ``u_<factor>_z``."""
    return f"{effect_name(factor)}_z"


def correlated_pairs(factor: FactorData) -> list[tuple[str, str]]:
    """The pairs of terms whose effects are correlated, block by block, in order."""
    pairs: list[tuple[str, str]] = []
    for block, correlated in zip(factor.blocks, factor.correlated, strict=True):
        if correlated:
            pairs.extend((a, b) for i, a in enumerate(block) for b in block[i + 1 :])
    return pairs


def model_in_words(data: ModelData, formula: str) -> str:
    """The model a formula describes, in words (for reports)."""
    parts = []
    for factor in data.factors:
        brackets = []
        for block, correlated in zip(factor.blocks, factor.correlated, strict=True):
            joined = " + ".join(block)
            brackets.append(f"({joined}, correlated)" if correlated else f"({joined})")
        parts.append(f"{factor.name}: {', '.join(brackets)}")
    return (
        f"{formula}: a normal model of {data.response} with population terms "
        f"{', '.join(data.population) or 'none'}; varying by group — {'; '.join(parts)}. "
        "The group effects are normal around the population values with the sds and "
        "correlations below; rows are normal around their expected value with sd sigma."
    )
