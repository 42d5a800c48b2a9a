"""What it takes to build a formula's design again, for rows the model never saw.

A fit keeps a small JSON record of its design (stored in ``fit.nc``): every covariate's kind and
levels (as formulae orders them: the first level is the reference of treatment coding), and the
learned parameters of formulae's stateful transforms (``center(x)`` remembers the mean of ``x``).
:func:`new_design` evaluates a part of the formula on new rows with that record: formulae first
evaluates it on a *skeleton* table holding each covariate's levels, which reproduces the same
coding, then the stateful transforms get their learned parameters back, then the new rows are
evaluated. ``tests/test_design.py`` checks the result equals formulae's own evaluation of the
new rows with the original design, for categorical terms, interactions, ``I()``, ``np.log`` and
``center``.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hbm.model.formula import ParsedFormula, formula_variables

__all__ = [
    "design_info",
    "design_record",
    "new_design",
    "reference_levels",
    "stateful_state",
]

#: A numeric covariate with at most this many distinct values keeps them all (so ``C(x)`` of a
#: numeric column rebuilds its levels); others keep their smallest and largest value.
MAX_KEPT_VALUES = 200


def design_info(
    parsed: ParsedFormula,
    frame: pd.DataFrame,
    population: list[str],
    states: dict[str, list[dict[str, Any]]],
) -> dict:
    """The JSON-ready record of a design evaluated on ``frame`` (see the module docstring);
    ``states`` holds each part's stateful-transform parameters (:func:`stateful_state`)."""
    _, covariates, _ = formula_variables(parsed)
    variables = {name: _variable(frame[name]) for name in covariates}
    return design_record(parsed, variables, population, states)


def design_record(
    parsed: ParsedFormula,
    variables: dict[str, dict[str, Any]],
    population: list[str],
    states: dict[str, list[dict[str, Any]]],
) -> dict:
    """:func:`design_info`'s record from the covariates' records (kind and values) themselves:
    what an out-of-core engine's probe gives (:mod:`hbm.data.engines.probe`)."""
    response, _, _ = formula_variables(parsed)
    parts = {"population": f"{parsed.response} ~ {parsed.population}"}
    for block in parsed.blocks:
        parts[f"{block.expr} | {block.factor}"] = f"{parsed.response} ~ {block.expr}"
    return {
        "response": response,
        "variables": variables,
        "parts": parts,
        "stateful": {key: state for key, state in states.items() if state},
        "population": list(population),
        "reference_levels": reference_levels(variables, population),
    }


def new_design(info: dict, part: str, table: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Evaluate ``part`` (``"population"`` or ``"<expr> | <factor>"``) of a fitted design on
    ``table``: the term names and the rows × terms matrix.

    Raises
    ------
    ValueError
        If ``table`` lacks a covariate, or a categorical covariate has a level the fit never saw.
    """
    text = info["parts"][part]
    variables = info["variables"]
    missing = [name for name in variables if name not in table.columns]
    if missing:
        raise ValueError(
            f"The new rows lack the column(s) {', '.join(map(repr, missing))}, which the model "
            "uses."
        )
    for name, variable in variables.items():
        if variable["kind"] == "categoric":
            unseen = sorted({str(v) for v in table[name].dropna()} - set(variable["values"]))
            if unseen:
                raise ValueError(
                    f"The column {name!r} holds level(s) {', '.join(map(repr, unseen[:5]))} that "
                    f"the fit never saw; its levels are {', '.join(map(repr, variable['values']))}."
                )
    skeleton = _skeleton(variables, info["response"])
    matrices = _matrices(text, skeleton)
    _restore(matrices, info.get("stateful", {}).get(part, []))
    frame = table[list(variables)].copy()
    for name, variable in variables.items():
        if variable["kind"] == "categoric":
            frame[name] = frame[name].astype(str)
    if matrices.common is None:
        return [], np.empty((len(table), 0))
    names = [str(c) for c in matrices.common.as_dataframe().columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = matrices.common.evaluate_new_data(frame).design_matrix
    return names, np.asarray(values, dtype=float).reshape(len(table), len(names))


def reference_levels(variables: dict, population: list[str]) -> dict[str, str]:
    """The reference (dropped) level of each categorical covariate that treatment coding spans
    with the intercept: ``{"sector": "Catholic"}``."""
    out = {}
    for name, variable in variables.items():
        if variable["kind"] != "categoric" or len(variable["values"]) < 2:
            continue
        word = re.compile(rf"(^|[^\w.]){re.escape(name)}([^\w.]|$)")
        shown = {t for t in population if "[" in t and ":" not in t and word.search(t)}
        levels = variable["values"]
        dropped = [level for level in levels if not any(f"[{level}]" in t for t in shown)]
        if shown and len(dropped) == 1:
            out[name] = dropped[0]
    return out


def stateful_state(matrices: Any) -> list[dict[str, Any]]:
    """The learned parameters of the stateful transforms in a design, in evaluation order."""
    return [_jsonable(vars(t)) for t in _transforms(matrices)]


def _variable(column: pd.Series) -> dict[str, Any]:
    if pd.api.types.is_numeric_dtype(column.dtype) and not isinstance(
        column.dtype, pd.CategoricalDtype
    ):
        values = np.unique(column.dropna().to_numpy())
        if values.size > MAX_KEPT_VALUES:
            values = values[[0, -1]]
        return {"kind": "numeric", "values": [v.item() for v in values]}
    if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered:
        levels = [str(v) for v in column.dtype.categories]
    else:
        levels = sorted(str(v) for v in pd.unique(column.dropna()))
    return {"kind": "categoric", "values": levels}


def _skeleton(variables: dict, response: str) -> pd.DataFrame:
    length = max([len(v["values"]) for v in variables.values()] + [2])
    columns: dict[str, Any] = {response: np.arange(length, dtype=float)}
    for name, variable in variables.items():
        values = variable["values"] or [0.0]
        cycled = [values[i % len(values)] for i in range(length)]
        if variable["kind"] == "categoric":
            dtype = pd.CategoricalDtype(categories=values, ordered=True)
            columns[name] = pd.Series(cycled, dtype=dtype)
        else:  # whole numbers stay integers: C(period) of an int column names its levels "2"
            whole = all(isinstance(v, int) and not isinstance(v, bool) for v in cycled)
            columns[name] = np.asarray(cycled, dtype=np.int64 if whole else float)
    return pd.DataFrame(columns)


def _matrices(text: str, frame: pd.DataFrame) -> Any:
    import formulae

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return formulae.design_matrices(text, frame, na_action="error")


def _transforms(matrices: Any) -> list[Any]:
    found: list[Any] = []
    if matrices.common is None:
        return found
    for term in matrices.common.terms.values():
        for component in getattr(term, "components", []):
            _walk(getattr(component, "call", None), found)
    return found


def _walk(call: Any, found: list[Any]) -> None:
    if call is None:
        return
    for argument in getattr(call, "args", []):
        _walk(argument, found)
    transform = getattr(call, "stateful_transform", None)
    if transform is not None:
        found.append(transform)


def _restore(matrices: Any, states: list[dict[str, Any]]) -> None:
    for transform, state in zip(_transforms(matrices), states, strict=False):
        for key, value in state.items():
            setattr(transform, key, np.asarray(value) if isinstance(value, list) else value)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, np.ndarray):
            out[key] = value.tolist()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        elif isinstance(value, bool | int | float | str) or value is None:
            out[key] = value
    return out
