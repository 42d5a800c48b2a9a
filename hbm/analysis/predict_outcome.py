"""Predictions on the outcome scale for new rows of a binomial, Poisson, negative binomial or
Student-t model, in existing or new groups.

For every posterior draw ``s`` and new row ``i`` (covariates ``x_i``, ``z_i`` per factor):

- a row of an **existing** group uses that group's effects ``u_j^(s)``; a row of a **new** group
  (a label the fit never saw) uses effects drawn from the population, ``u_new^(s) ~ N(0,
  Sigma^(s))``, once per new group and draw, shared by its rows;
- ``eta_i = offset_i + x_i' beta^(s) + sum_g z_gi' u_g^(s)``;
- ``expected``: the outcome's mean per unit of weight — a probability (binomial), a rate per unit
  of exposure (Poisson, negative binomial), a mean (Student-t);
- ``y``: a predicted outcome — successes out of the row's trials (the trials column of
  ``p(successes, trials)`` when the new rows have it, else 1 trial), a count at the row's
  exposure (from the offset's columns), a value.

The design is built with the fit's own coding (:mod:`hbm.model.design_info`), the offsets are
evaluated on the new rows, and the draws come from a random stream of their own derived from
``random_seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.analysis.outcome_draws import family_of, family_params, n_draws, outcome_of
from hbm.analysis.predict_rows import factor_design, group_labels, pick_draws
from hbm.core.names import BETA, effect_name
from hbm.core.seeds import check_seed, new_seed, stream
from hbm.model.design_info import new_design
from hbm.model.families.normal_cells_conditional import covariance_draws
from hbm.model.offsets import evaluate_offsets
from hbm.results.tree import as_result

__all__ = ["PREDICT_OUTCOME_STREAM", "predict_outcome"]

#: Mixed into the seed so these predictions use a random stream of their own.
PREDICT_OUTCOME_STREAM = 0x9D1C9


def predict_outcome(
    source: Any,
    table: pd.DataFrame,
    *,
    draws: int | None = None,
    random_seed: int | None = None,
) -> Any:
    """Predictive draws for the rows of ``table`` (see the module docstring).

    Returns
    -------
    xarray.DataTree
        A ``predictions`` group with ``y`` (predicted outcomes) and ``expected`` (the outcome's
        mean per unit of weight), dims ``(chain, draw, row)``; ``weight`` (trials or exposure)
        and ``new_<factor>`` per row.
    """
    import xarray as xr

    result = as_result(source)
    data = result.model_data
    outcome = outcome_of(result)
    family = family_of(result)
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("predict needs a non-empty table of new rows (a DataFrame).")
    seed = check_seed(random_seed)
    seed = new_seed() if seed is None else seed
    rng = stream(seed, PREDICT_OUTCOME_STREAM)
    posterior = result.idata["posterior"].to_dataset()
    chains, per_chain = posterior.sizes["chain"], posterior.sizes["draw"]
    pick = pick_draws(rng, n_draws(result), draws)
    beta = np.asarray(posterior[BETA].transpose("chain", "draw", ...).values, dtype=float)
    beta = beta.reshape(chains * per_chain, -1)[pick]
    names, x = new_design(data.design, "population", table)
    if tuple(names) != data.population:
        raise ValueError(
            f"The new rows give the population terms {names}; the fit has {list(data.population)}."
        )
    offset = evaluate_offsets(outcome.offsets, table)
    weight = _trials(outcome, table)
    if family.OFFSET_IN_WEIGHT:
        weight, offset = weight * np.exp(offset), np.zeros_like(offset)
    eta = beta @ x.T + offset
    flags = {}
    for factor in data.factors:
        z = factor_design(data, factor, table)
        labels = group_labels(factor.name, table)
        known = {label: j for j, label in enumerate(factor.labels)}
        codes = np.array([known.get(label, -1) for label in labels])
        u = np.asarray(
            posterior[effect_name(factor.name)].transpose("chain", "draw", ...).values, dtype=float
        ).reshape(chains * per_chain, factor.n_groups, factor.n_terms)[pick]
        effects = np.zeros((len(pick), len(labels), factor.n_terms))
        old = codes >= 0
        effects[:, old] = u[:, codes[old]]
        unseen = sorted({label for label, code in zip(labels, codes, strict=True) if code < 0})
        if unseen:
            chol = np.linalg.cholesky(covariance_draws(posterior, factor)[pick])
            fresh = np.einsum(
                "sij,snj->sni", chol, rng.standard_normal((len(pick), len(unseen), factor.n_terms))
            )
            where = {label: k for k, label in enumerate(unseen)}
            index = np.array([where.get(label, 0) for label in labels])
            effects[:, ~old] = fresh[:, index[~old]]
        eta += np.einsum("snt,nt->sn", effects, z)
        flags[f"new_{factor.name}"] = ("row", ~old)
    params = family_params(result, pick)
    expected = family.expected(eta, params)
    y = family.draw(rng, eta, weight, params)
    shape = (1, len(pick)) if draws is not None else (chains, per_chain)
    dataset = xr.Dataset(
        {
            "y": (("chain", "draw", "row"), y.reshape(*shape, -1)),
            "expected": (("chain", "draw", "row"), expected.reshape(*shape, -1)),
            "weight": ("row", weight),
            **flags,
        },
        coords={
            "chain": np.arange(shape[0]),
            "draw": np.arange(shape[1]),
            "row": np.arange(len(table)),
        },
    )
    dataset.attrs.update(
        random_seed=int(seed),
        response=data.response,
        formula=result.description.formula,
        family=family.NAME,
        expected_is=family.WORDS["mean"],
    )
    return xr.DataTree.from_dict({"predictions": dataset})


def _trials(outcome: Any, table: pd.DataFrame) -> np.ndarray:
    """The new rows' trials: the trials column (or number) of ``p(s, n)`` when given, else 1."""
    trials = outcome.trials
    if trials is None:
        return np.ones(len(table))
    if trials.isdigit():
        return np.full(len(table), float(trials))
    if trials not in table.columns:
        return np.ones(len(table))
    values = pd.to_numeric(table[trials], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.round(values))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The trials column {trials!r} of the new rows must hold whole numbers >= 1; row "
            f"{first} holds {table[trials].iloc[first]!r}."
        )
    return values
