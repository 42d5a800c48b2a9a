"""A table and a formula of an outcome family -> ``ModelData`` with the outcome per unit.

The response is read for the family (:mod:`hbm.model.response`: 0/1 rows, ``use[Y]``,
``p(successes, trials)``, counts, values) and the offsets are taken out of the population part
(:mod:`hbm.model.offsets`); the design is then built exactly as for a normal model
(:func:`hbm.model.design.build_model_data`: design columns, group codes, per-cell moments, every
check on covariates and groups), and the rows become the family's units
(:func:`hbm.data.outcome_data.reduce_outcome`: per-cell totals where the family reduces exactly,
the rows otherwise).

Missing values in the response, the trials, the offset's columns, the covariates or the groups
are an error that names the column (an offset's own message says which row), or, with
``missing="drop"``, dropped and counted.

The binomial (and Poisson) data are also checked for **separation**: a population indicator
whose rows have no successes (or only successes), or a covariate that splits successes from
failures. The likelihood alone would then push a coefficient to infinity; the prior keeps it
finite, and the fit says so (``OutcomeData.notes``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from hbm.core.names import BETA, INTERCEPT
from hbm.data.columns import check_columns, labels_as_strings, positions
from hbm.data.model_data import ModelData
from hbm.data.outcome_data import OutcomeData, reduce_outcome
from hbm.model.description import quote_name
from hbm.model.design import build_model_data
from hbm.model.families import get_family
from hbm.model.formula import ParsedFormula, formula_variables
from hbm.model.offsets import evaluate_offsets, offset_variables, split_offsets
from hbm.model.response import Response, check_family_response, parse_response, response_values

__all__ = ["build_outcome_data", "outcome_formula"]


def outcome_formula(parsed: ParsedFormula, family: str) -> tuple[ParsedFormula, Response, tuple]:
    """The formula the design is built from (the response as its outcome column, the offsets
    taken out), the response as read, and the offset terms."""
    response = parse_response(parsed.response)
    check_family_response(response, family)
    population, offsets = split_offsets(parsed.population)
    base = replace(parsed, response=quote_name(response.column), population=population)
    return base, response, offsets


def build_outcome_data(
    table: pd.DataFrame,
    parsed: ParsedFormula,
    family: str,
    *,
    missing: str = "error",
    order: str = "first-seen",
    keep_rows: bool = True,
    reduce: bool = True,
) -> ModelData:
    """Check ``table`` against ``parsed`` for ``family`` and reduce it (see the module docstring).

    ``keep_rows``: keep the rows (their log likelihood one by one, plots); ``reduce=False``: one
    unit per row even where the family reduces exactly (for checking the reduction).

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.model.formula import parse_formula
    >>> table = pd.DataFrame({"g": list("aabbb"), "y": [1, 0, 1, 1, 0]})
    >>> data = build_outcome_data(table, parse_formula("y ~ 1 + (1 | g)"), "binomial")
    >>> out = data.outcome
    >>> out.form, out.y.tolist(), out.weight.tolist()
    ('cells', [1.0, 2.0], [2.0, 3.0])
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The table must be a pandas DataFrame; got {type(table).__name__}.")
    if missing not in ("error", "drop"):
        raise ValueError(f"The 'missing' option must be one of 'error', 'drop'; got {missing!r}.")
    module = get_family(family)
    base, response, offsets = outcome_formula(parsed, family)
    if not base.blocks:
        raise ValueError(
            f"The formula {parsed.text!r} has no group term such as (1 | group) or "
            "(1 + x | group); hbm fits multilevel models, so add at least one."
        )
    _, covariates, factors = formula_variables(base)
    offset_columns = offset_variables(offsets)
    check_columns(table, [*response.columns, *covariates, *factors, *offset_columns])
    y, weight = response_values(table, response, family)
    gaps = _gaps(table, response, y, weight, covariates, factors, offset_columns)
    is_missing = np.logical_or.reduce(list(gaps.values()))
    dropped = int(is_missing.sum())
    if dropped and missing == "error":
        evaluate_offsets(offsets, table)  # names an offset column's missing values first
        if response.trials in gaps and gaps[response.trials].any():
            where = positions(table.index, gaps[response.trials])
            raise ValueError(
                f"The trials column {response.trials!r} has missing values in "
                f"{int(gaps[response.trials].sum())} row(s), the first at {where}; drop them "
                "with missing='drop' (CLI: --drop-missing) or fill them in."
            )
    elif dropped:
        keep = ~is_missing
        table, y, weight = table[keep], y[keep], weight[keep]
    frame = table[list(dict.fromkeys([response.column, *covariates, *factors]))].copy()
    frame[response.column] = y
    data = build_model_data(frame, base, missing=missing, order=order, keep_rows=True)
    codes, values = data.rows  # type: ignore[misc]
    if len(codes) != len(y):  # pragma: no cover - every missing value was handled above
        raise ValueError("The rows of the design and of the outcome do not match.")
    offset = evaluate_offsets(offsets, table)
    if module.OFFSET_IN_WEIGHT:
        weight, offset = weight * np.exp(offset), np.zeros_like(offset)
    design = values[:, :-1]
    reduced = reduce_outcome(
        codes,
        design,
        y,
        weight,
        offset,
        module.row_constant(y, weight),
        reducible=module.REDUCES and reduce,
        keep_rows=keep_rows,
    )
    outcome = OutcomeData(
        family=family,
        kind=_kind(response, family),
        trials=response.trials,
        level=response.level,
        offsets=tuple(offsets),
        notes=separation_notes(data.population, design, y, weight, family),
        **reduced,  # type: ignore[arg-type]
    )
    return replace(data, outcome=outcome, rows=data.rows if keep_rows else None, dropped=dropped)


def _kind(response: Response, family: str) -> str:
    if response.kind != "column":
        return response.kind
    return {"binomial": "binary", "studentt": "values"}.get(family, "counts")


def _gaps(
    table: pd.DataFrame,
    response: Response,
    y: np.ndarray,
    weight: np.ndarray,
    covariates: list[str],
    factors: list[str],
    offset_columns: list[str],
) -> dict[str, np.ndarray]:
    """Missing values per column."""
    gaps = {response.column: np.isnan(y)}
    if response.trials is not None and not response.trials.isdigit():
        gaps[response.trials] = np.isnan(weight)
    for name in [*covariates, *offset_columns]:
        gaps.setdefault(name, table[name].isna().to_numpy())
    for name in factors:
        gaps.setdefault(name, labels_as_strings(table[name]).isna().to_numpy())
    return gaps


def separation_notes(
    population: tuple[str, ...],
    design: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    family: str,
) -> tuple[str, ...]:
    """Sentences on separation in binomial and count data (see the module docstring)."""
    if family not in ("binomial", "poisson", "negbinomial"):
        return ()
    binomial = family == "binomial"
    notes = []
    keep = (
        "the likelihood alone would push {what} to {side}infinity; its prior keeps it finite, so "
        "its posterior there follows the prior: report it with care."
    )
    if y.sum() == 0 or (binomial and np.all(y == weight)):
        side = "-" if y.sum() == 0 else "+"
        what = "no successes" if binomial else "only zero counts"
        what = what if side == "-" else "only successes"
        notes.append(
            f"Every row has {what}: " + keep.format(what=f"{BETA}[{INTERCEPT}]", side=side)
        )
        return tuple(notes)
    for k, term in enumerate(population):
        if term == INTERCEPT:
            continue
        x = design[:, k]
        values = np.unique(x)
        if values.size == 2 and set(values.tolist()) <= {0.0, 1.0}:
            rows = x == 1
            if y[rows].sum() == 0 or (binomial and np.all(y[rows] == weight[rows])):
                none = y[rows].sum() == 0
                what = (
                    ("no successes" if binomial else "only zero counts")
                    if none
                    else ("only successes")
                )
                notes.append(
                    f"Separation: every row with {term} = 1 has {what}; "
                    + keep.format(what=f"{BETA}[{term}]", side="-" if none else "+")
                )
        elif binomial and values.size > 2:
            failures, successes = y < weight, y > 0
            if failures.any() and successes.any():
                if x[failures].max() < x[successes].min() or x[successes].max() < x[failures].min():
                    notes.append(
                        f"Separation: {term} alone splits the successes from the failures; "
                        + keep.format(what=f"{BETA}[{term}]", side="±")
                    )
    return tuple(notes)
