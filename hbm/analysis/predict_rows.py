"""Posterior predictive draws for new rows of a formula model, in existing or new groups.

For every posterior draw ``s`` and new row ``i`` with covariates ``x_i`` (and ``z_i`` for each
grouping factor):

- a row of an **existing** group ``j`` uses that group's effects: ``u_j^(s)``;
- a row of a **new** group (a label the fit never saw) uses effects drawn from the population,
  ``u_new^(s) ~ N(0, Sigma^(s))``, once per new group and draw, shared by its rows;
- the expected value is ``eta_i = x_i' beta^(s) + sum_g z_gi' u_g^(s)``, and the predicted value
  ``y_i^(s) ~ Normal(eta_i, sigma^(s))``.

The design of the new rows is built with the fit's own coding (levels, reference levels,
stateful transforms: :mod:`hbm.model.design_info`), so a loaded fit predicts exactly as the fit
in memory. Draws come from a random stream of their own derived from ``random_seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.core.names import BETA, SIGMA, effect_name
from hbm.core.seeds import check_seed, new_seed, stream
from hbm.data.columns import check_columns, labels_as_strings
from hbm.model.design_info import new_design
from hbm.model.families.normal_cells_conditional import covariance_draws
from hbm.results.tree import as_result

__all__ = [
    "PREDICT_ROWS_STREAM",
    "factor_design",
    "group_labels",
    "pick_draws",
    "predict_rows",
    "row_summary",
]

#: Mixed into the seed so these predictions use a random stream of their own.
PREDICT_ROWS_STREAM = 0x9D1C8


def predict_rows(
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
        A ``predictions`` group with ``y`` (predicted values) and ``expected`` (expected values),
        dims ``(chain, draw, row)``, and ``new_group`` per row and factor.

    Examples
    --------
    >>> import hbm, pandas as pd
    >>> fit = hbm.fit(hbm.datasets.load("sleepstudy"), "Reaction ~ Days + (Days | Subject)",
    ...               random_seed=1, progressbar=False, draws=200, tune=200, chains=2)
    >>> new = pd.DataFrame({"Days": [3, 10], "Subject": ["308", "a new subject"]})
    >>> tree = predict_rows(fit, new, random_seed=1)
    >>> tree["predictions"].sizes["row"], tree["predictions"]["new_Subject"].values.tolist()
    (2, [False, True])
    """
    import xarray as xr

    result = as_result(source)
    data = result.model_data
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("predict_rows needs a non-empty table of new rows (a DataFrame).")
    seed = check_seed(random_seed)
    seed = new_seed() if seed is None else seed
    rng = stream(seed, PREDICT_ROWS_STREAM)
    posterior = result.idata["posterior"].to_dataset()
    chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    pick = pick_draws(rng, chains * n_draws, draws)
    beta = np.asarray(posterior[BETA].values, dtype=float).reshape(chains * n_draws, -1)[pick]
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)[pick]
    names, x = new_design(data.design, "population", table)
    if tuple(names) != data.population:
        raise ValueError(
            f"The new rows give the population terms {names}; the fit has {list(data.population)}."
        )
    eta = beta @ x.T  # (S, N)
    new_flags = {}
    for factor in data.factors:
        z = factor_design(data, factor, table)
        labels = group_labels(factor.name, table)
        known = {label: j for j, label in enumerate(factor.labels)}
        codes = np.array([known.get(label, -1) for label in labels])
        unseen = sorted({label for label, code in zip(labels, codes, strict=True) if code < 0})
        effects = np.zeros((len(sigma), len(labels), factor.n_terms))
        old = codes >= 0
        name = effect_name(factor.name)
        if name in posterior:
            u = np.asarray(
                posterior[name].transpose("chain", "draw", ...).values, dtype=float
            ).reshape(chains * n_draws, factor.n_groups, factor.n_terms)[pick]
            effects[:, old] = u[:, codes[old]]
        else:  # exact draws the fit does not hold: those groups' only, made again from the seed
            used = np.unique(codes[old])
            u = result.group_draws(factor.name).columns(used)[pick]
            effects[:, old] = u[:, np.searchsorted(used, codes[old])]
        if unseen:
            chol = np.linalg.cholesky(covariance_draws(posterior, factor)[pick])
            fresh = np.einsum(
                "sij,snj->sni", chol, rng.standard_normal((len(sigma), len(unseen), factor.n_terms))
            )
            where = {label: k for k, label in enumerate(unseen)}
            index = np.array([where.get(label, 0) for label in labels])
            effects[:, ~old] = fresh[:, index[~old]]
        eta += np.einsum("snt,nt->sn", effects, z)
        new_flags[f"new_{factor.name}"] = ("row", ~old)
    y = eta + sigma[:, None] * rng.standard_normal(eta.shape)
    shape = (1, len(sigma)) if draws is not None else (chains, n_draws)
    dataset = xr.Dataset(
        {
            "y": (("chain", "draw", "row"), y.reshape(*shape, -1)),
            "expected": (("chain", "draw", "row"), eta.reshape(*shape, -1)),
            **new_flags,
        },
        coords={
            "chain": np.arange(shape[0]),
            "draw": np.arange(shape[1]),
            "row": np.arange(len(table)),
        },
    )
    dataset.attrs.update(
        random_seed=int(seed), response=data.response, formula=result.description.formula
    )
    return xr.DataTree.from_dict({"predictions": dataset})


def row_summary(prediction: Any) -> pd.DataFrame:
    """Per new row: mean, sd and 3%, 50%, 97% quantiles of the predicted value, and the mean of
    the expected value."""
    dataset = prediction["predictions"].to_dataset()
    y = dataset["y"].stack(sample=("chain", "draw")).transpose("row", "sample").values
    quantiles = np.quantile(y, [0.03, 0.5, 0.97], axis=1)
    expected = dataset["expected"].mean(("chain", "draw")).values
    return pd.DataFrame(
        {
            "expected": expected,
            "mean": y.mean(axis=1),
            "sd": y.std(axis=1, ddof=1),
            "q3%": quantiles[0],
            "median": quantiles[1],
            "q97%": quantiles[2],
        },
        index=pd.Index(dataset["row"].values, name="row"),
    )


def factor_design(data: Any, factor: Any, table: pd.DataFrame) -> np.ndarray:
    """The new rows' values of the factor's varying terms, in the factor's order (also for the
    other families' predictions)."""
    columns: dict[str, np.ndarray] = {}
    for part in data.design["parts"]:
        if part.endswith(f" | {factor.name}"):
            names, values = new_design(data.design, part, table)
            columns.update({name: values[:, k] for k, name in enumerate(names)})
    return np.column_stack([columns[term] for term in factor.terms])


def group_labels(factor: str, table: pd.DataFrame) -> list[str]:
    """The new rows' labels of ``factor`` (parts of a nested factor joined by ``:``)."""
    parts = factor.split(":")
    check_columns(table, parts)
    text = [labels_as_strings(table[part]) for part in parts]
    missing = np.logical_or.reduce([column.isna().to_numpy() for column in text])
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} new row(s) have no {factor!r} label; every row needs one (a "
            "label the fit never saw is a new group)."
        )
    return [":".join(values) for values in zip(*[column.tolist() for column in text], strict=True)]


def pick_draws(rng: np.random.Generator, total: int, draws: int | None) -> np.ndarray:
    """All draws, or ``draws`` of them at random (sorted)."""
    if draws is None:
        return np.arange(total)
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or not 0 < draws <= total:
        raise ValueError(f"The 'draws' option must be an integer from 1 to {total}; got {draws!r}.")
    return np.sort(rng.choice(total, size=draws, replace=False))
