"""A table and a formula -> ``ModelData``: the design built column by column, then reduced.

formulae evaluates each *part* of the formula on the table — the population terms (``X``) and
each group block's expression (``Z``) — as dense matrices of rows × terms, which is small; the
grouping factors become integer codes here, never formulae's rows × groups indicator matrices.
The columns ``W = [X, Z, y]`` are then reduced to per-cell moments (:mod:`hbm.data.comoments`).

Everything about the table is checked first, with messages that name the column and the value:
unknown columns (with a did-you-mean), text in a numeric covariate, missing values (counted, with
``missing="drop"`` to drop them), a response that is not numeric, a factor with one level,
perfectly collinear population terms (named), and a nesting written with ``/`` that the labels
contradict (:mod:`hbm.model.level_checks`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from hbm.data.columns import (
    check_columns,
    check_labels,
    check_range,
    labels_as_strings,
    numeric_column,
    positions,
)
from hbm.data.comoments import cell_moments
from hbm.data.model_data import FactorData, ModelData
from hbm.model.design_info import design_info, stateful_state
from hbm.model.formula import ParsedFormula, formula_variables
from hbm.model.level_checks import check_declared_nesting

__all__ = [
    "build_model_data",
    "cells_of",
    "check_collinear",
    "factor_codes",
    "factor_data",
    "population_design",
]

#: Smallest eigenvalue, relative to the largest, of the population terms' correlation matrix
#: before they count as collinear.
COLLINEAR = 1e-10


def build_model_data(
    table: pd.DataFrame,
    parsed: ParsedFormula,
    *,
    missing: str = "error",
    order: str = "first-seen",
    keep_rows: bool = False,
) -> ModelData:
    """Check ``table`` against ``parsed`` and reduce it (see the module docstring).

    Examples
    --------
    >>> import hbm
    >>> from hbm.model.formula import parse_formula
    >>> sleep = hbm.datasets.load("sleepstudy")
    >>> data = build_model_data(sleep, parse_formula("Reaction ~ Days + (Days | Subject)"))
    >>> data.columns, data.factors[0].terms, data.n_cells
    (('Intercept', 'Days', 'Reaction'), ('Intercept', 'Days'), 18)
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The table must be a pandas DataFrame; got {type(table).__name__}.")
    if missing not in ("error", "drop"):
        raise ValueError(f"The 'missing' option must be one of 'error', 'drop'; got {missing!r}.")
    if order not in ("first-seen", "sorted"):
        raise ValueError(
            f"The 'order' option must be one of 'first-seen', 'sorted'; got {order!r}."
        )
    if not parsed.blocks:
        raise ValueError(
            f"The formula {parsed.text!r} has no group term such as (1 | group) or "
            "(1 + x | group); hbm fits multilevel models, so add at least one."
        )
    response, covariates, factor_columns = formula_variables(parsed)
    check_columns(table, [response, *covariates, *factor_columns])
    frame = table[list(dict.fromkeys([response, *covariates, *factor_columns]))]
    frame = _numbers_where_numbers_are_meant(frame, covariates)
    labels = {name: labels_as_strings(frame[name]) for name in factor_columns}
    for name, column in labels.items():
        check_labels(column, name)
    y = numeric_column(frame[response], response, "response column")
    gaps = {response: np.isnan(y)}
    gaps |= {name: frame[name].isna().to_numpy() for name in covariates}
    gaps |= {name: column.isna().to_numpy() for name, column in labels.items()}
    is_missing = np.logical_or.reduce(list(gaps.values()))
    dropped = int(is_missing.sum())
    if dropped and missing == "error":
        counts = ", ".join(f"{name!r}: {int(gap.sum())}" for name, gap in gaps.items() if gap.any())
        raise ValueError(
            f"{dropped} row(s) have missing values (by column: {counts}); the first at "
            f"{positions(table.index, is_missing)}. Drop them with missing='drop' "
            "(CLI: --drop-missing) or fill them in."
        )
    if dropped:
        keep = ~is_missing
        frame, y = frame[keep], y[keep]
        labels = {name: column[keep] for name, column in labels.items()}
    if len(frame) < 2:
        raise ValueError(f"The table has {len(frame)} row(s) with data; a model needs more.")
    check_range(response, y)
    check_declared_nesting(parsed, labels)

    x_names, x, state = _evaluate(f"{parsed.response} ~ {parsed.population}", frame, parsed.text)
    _check_collinearity(x_names, x)
    states = {"population": state}
    columns = {name: x[:, j] for j, name in enumerate(x_names)}
    factors_z: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    for block in parsed.blocks:
        text = f"{parsed.response} ~ {block.expr}"
        z_names, z, states[f"{block.expr} | {block.factor}"] = _evaluate(text, frame, parsed.text)
        for j, name in enumerate(z_names):
            if name in columns and not np.array_equal(columns[name], z[:, j]):
                raise ValueError(
                    f"The term {name!r} of ({block.expr} | {block.factor}) differs from the "
                    "population term of the same name; rename one of them."
                )
            columns.setdefault(name, z[:, j])
        factors_z.setdefault(block.factor, []).append((tuple(z_names), block.correlated))
    names = [*columns, response]
    values = np.column_stack([columns[name] for name in columns] + [y])

    codes, factor_labels = {}, {}
    for factor in parsed.factors:
        parts = [labels[part].to_numpy(dtype=object) for part in factor.split(":")]
        joined = parts[0] if len(parts) == 1 else _join(parts)
        codes[factor], factor_labels[factor] = factor_codes(joined, factor, order)
    stacked = np.column_stack([codes[f] for f in parsed.factors])
    cell_codes, cell_of_row = cells_of(stacked)
    moments = cell_moments(cell_of_row, values, len(cell_codes))
    factors = tuple(
        factor_data(
            name, factor_labels[name], factors_z[name], names, cell_codes[:, i], parsed.text
        )
        for i, name in enumerate(parsed.factors)
    )
    return ModelData(
        response=response,
        columns=tuple(names),
        population=tuple(x_names),
        factors=factors,
        moments=moments,
        dropped=dropped,
        design=design_info(parsed, frame, x_names, states),
        rows=(stacked, values) if keep_rows else None,
    )


def population_design(parsed: ParsedFormula, frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The population terms' names and their rows × terms matrix."""
    names, matrix, _ = _evaluate(f"{parsed.response} ~ {parsed.population}", frame, parsed.text)
    return names, matrix


def _evaluate(
    text: str, frame: pd.DataFrame, formula: str
) -> tuple[list[str], np.ndarray, list[dict]]:
    """Names, rows × terms matrix and stateful-transform state of one part of a formula."""
    import formulae

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrices = formulae.design_matrices(text, frame, na_action="error")
    except Exception as error:  # formulae's evaluation errors, worded for the user's formula
        raise ValueError(
            f"The formula {formula!r} could not be evaluated on the table ({error})."
        ) from None
    if matrices.common is None:
        return [], np.empty((len(frame), 0)), []
    design = matrices.common.as_dataframe()
    names = [str(c) for c in design.columns]
    return names, np.asarray(design, dtype=float), stateful_state(matrices)


def _numbers_where_numbers_are_meant(
    frame: pd.DataFrame, covariates: Iterable[str]
) -> pd.DataFrame:
    """A text column that mostly holds numbers is a numeric column with a typo: say where."""
    out = frame
    for name in covariates:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype) or isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            continue
        values = pd.to_numeric(column, errors="coerce")
        present = column.notna().to_numpy()
        parsed = values.notna().to_numpy()
        if present.any() and parsed[present].mean() >= 0.5:
            numeric = numeric_column(column, name, "covariate column")  # raises at the first text
            out = out.assign(**{name: numeric})
    return out


def _check_collinearity(names: list[str], x: np.ndarray) -> None:
    if x.shape[1] == 0:
        return
    has_intercept = "Intercept" in names
    centred = x - x.mean(axis=0) if has_intercept else x
    check_collinear(names, centred.T @ centred / len(x))


def check_collinear(names: list[str], second: np.ndarray) -> None:
    """Refuse population terms that do not vary or are perfectly collinear, given their second
    moments ``second`` (about their means when there is an intercept, about 0 otherwise): from
    the rows here, from the per-cell co-moments out of core."""
    if not names:
        return
    has_intercept = "Intercept" in names
    scale = np.sqrt(np.maximum(np.diag(second), 0.0))
    for j, name in enumerate(names):
        if name != "Intercept" and scale[j] == 0:
            raise ValueError(
                f"The term {name!r} does not vary in the data"
                + (", so it is collinear with the intercept" if has_intercept else "")
                + "; drop it from the formula."
            )
    keep = [j for j, name in enumerate(names) if name != "Intercept" or not has_intercept]
    if len(keep) < 1:
        return
    gram = second[np.ix_(keep, keep)] / np.outer(scale[keep], scale[keep])
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    if eigenvalues[0] < COLLINEAR * max(eigenvalues[-1], 1.0):
        vector = eigenvectors[:, 0]
        involved = [names[keep[i]] for i in np.flatnonzero(np.abs(vector) > 1e-6)]
        hint = (
            " (or, if a covariate in an interaction sits far from zero compared with its spread, "
            "centre it first, e.g. I(x - 1000000): the interaction then no longer copies the main "
            "effect)"
            if any(":" in name for name in involved)
            else ""
        )
        raise ValueError(
            f"The population terms {', '.join(map(repr, involved))} are perfectly collinear "
            "(one is a linear combination of the others), so their coefficients cannot be told "
            f"apart; drop one of them from the formula{hint}."
        )


def _join(parts: list[np.ndarray]) -> np.ndarray:
    out = parts[0].astype(str)
    for part in parts[1:]:
        out = np.char.add(np.char.add(out, ":"), part.astype(str))
    return out.astype(object)


def factor_codes(labels: np.ndarray, factor: str, order: str) -> tuple[np.ndarray, tuple[str, ...]]:
    codes, uniques = pd.factorize(labels, sort=False)
    unique_labels = [str(u) for u in uniques]
    if order == "sorted":
        permutation = np.argsort(np.asarray(unique_labels, dtype=object), kind="stable")
        rank = np.empty_like(permutation)
        rank[permutation] = np.arange(len(permutation))
        codes = rank[codes]
        unique_labels = [unique_labels[i] for i in permutation]
    if len(unique_labels) < 2:
        raise ValueError(
            f"The grouping factor {factor!r} has {len(unique_labels)} distinct value(s); "
            "a group term needs at least 2 groups."
        )
    return codes.astype(np.int64), tuple(unique_labels)


def cells_of(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct combinations of group codes (C, F), and each row's combination."""
    if stacked.shape[1] == 1:
        sizes = int(stacked.max()) + 1
        present = np.zeros(sizes, dtype=bool)
        present[stacked[:, 0]] = True
        groups = np.flatnonzero(present)
        index = np.full(sizes, -1, dtype=np.int64)
        index[groups] = np.arange(groups.size)
        return groups[:, None], index[stacked[:, 0]]
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1).astype(np.int64)


def factor_data(
    name: str,
    labels: tuple[str, ...],
    blocks: list[tuple[tuple[str, ...], bool]],
    columns: list[str],
    cells: np.ndarray,
    formula: str,
) -> FactorData:
    terms: list[str] = []
    for block_terms, _ in blocks:
        repeated = [t for t in block_terms if t in terms]
        if repeated:
            raise ValueError(
                f"The term(s) {', '.join(map(repr, repeated))} vary by {name!r} in more than one "
                f"group term of {formula!r}; name each varying term once per factor."
            )
        terms.extend(block_terms)
    return FactorData(
        name=name,
        labels=labels,
        terms=tuple(terms),
        columns=tuple(columns.index(t) for t in terms),
        blocks=tuple(block for block, _ in blocks),
        correlated=tuple(correlated and len(block) > 1 for block, correlated in blocks),
        cells=np.asarray(cells, dtype=np.int64),
    )
