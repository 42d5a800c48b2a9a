"""The parameters of an outcome family's formula model, with their roles, dims and units.

The linear predictor's parameters are a formula model's (:mod:`hbm.model.linear_terms`:
``beta[<term>]``, ``sd_<g>[<term>]``, ``corr_<g>[<t1>, <t2>]``, ``u_<g>[<label>, <term>]``), on
the link scale; the family adds its own (``sigma`` and ``nu`` for the Student-t, ``alpha`` for
the negative binomial, none for the binomial and Poisson). On a logit or log scale nothing moves
with the response's units, so every unit is ``none`` there; the Student-t keeps a normal model's.

>>> import pandas as pd
>>> from hbm.model.formula import parse_formula
>>> from hbm.model.outcome_design import build_outcome_data
>>> table = pd.DataFrame({"g": list("aabbb"), "y": [1, 0, 4, 1, 0]})
>>> data = build_outcome_data(table, parse_formula("y ~ 1 + (1 | g)"), "negbinomial")
>>> outcome_parameter_table(data, {"g": "noncentered"}).names()
['beta', 'sd_g', 'alpha', 'u_g', 'beta_centred', 'u_g_z']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hbm.core.names import SIGMA, term_dim
from hbm.data.model_data import ModelData
from hbm.model.families import get_family
from hbm.model.linear_terms import linear_parameter_table, standard_name
from hbm.model.parameters import Parameter, ParameterTable

__all__ = ["outcome_parameter_table"]


def outcome_parameter_table(data: ModelData, forms: Mapping[str, str]) -> ParameterTable:
    """The parameters of the model on ``data`` with each factor's form (``centered`` or
    ``noncentered``) in ``forms``."""
    family = get_family(data.outcome.family)  # type: ignore[union-attr]
    linear = [p for p in linear_parameter_table(data, "centered") if p.name != SIGMA]
    effects = next(i for i, p in enumerate(linear) if p.role == "group_effect")
    entries = [*linear[:effects], *family.PARAMETERS, *linear[effects:]]
    for factor in data.factors:
        if forms.get(factor.name) == "noncentered":
            g = factor.name
            entries.append(
                Parameter(
                    standard_name(g), "auxiliary", (g, term_dim(g)), "none", "standardized effects"
                )
            )
    if family.LINK != "identity":
        entries = [replace(p, units="none") for p in entries]
    return ParameterTable(tuple(entries))
