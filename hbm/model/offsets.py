"""Offset terms: ``offset(np.log(exposure))`` adds a known amount to the linear predictor.

An offset is not a covariate (it has no coefficient), so it is taken out of the population part
before the design is built, and evaluated on its own. For a log link it is the log of an exposure
(person-years, area, trials at risk): ``count ~ Poisson(exposure * exp(eta))``. Its values must
be finite: a missing exposure, or one that is zero or negative under ``np.log``, is an error that
names the column and the row.

>>> split_offsets("x + offset(np.log(e)) + C(k)")
('x + C(k)', ('offset(np.log(e))',))
>>> split_offsets("offset(t)")
('1', ('offset(t)',))
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from hbm.data.columns import number, position

__all__ = ["evaluate_offsets", "offset_variables", "split_offsets"]

#: A stand-in response while formulae evaluates an offset on its own.
_Y = "hbm_offset_response"


def split_offsets(population: str) -> tuple[str, tuple[str, ...]]:
    """The population part without its ``offset(...)`` terms, and those terms as written."""
    kept, offsets = [], []
    for term in _terms(population):
        stripped = term.strip()
        if stripped.startswith("offset(") and stripped.endswith(")"):
            offsets.append(stripped)
        elif stripped:
            kept.append(stripped)
    return " + ".join(kept) or "1", tuple(offsets)


def offset_variables(offsets: tuple[str, ...]) -> list[str]:
    """The table columns the offset terms read."""
    import formulae

    names: list[str] = []
    for term in offsets:
        names += sorted(formulae.model_description(f"{_Y} ~ 0 + {term}").var_names - {_Y, ""})
    return list(dict.fromkeys(names))


def evaluate_offsets(offsets: tuple[str, ...], table: pd.DataFrame) -> np.ndarray:
    """The sum of the offset terms on every row of ``table`` (0 when there are none).

    Raises
    ------
    ValueError
        If an offset column lacks values, or an offset is not finite (an exposure of 0 or below
        under ``np.log``), naming the column and the first row.
    """
    total = np.zeros(len(table))
    if not offsets:
        return total
    import formulae

    for term in offsets:
        variables = offset_variables((term,))
        missing = [name for name in variables if name not in table.columns]
        if missing:
            raise ValueError(
                f"The offset {term} needs the column(s) {', '.join(map(repr, missing))}, which the "
                "table lacks."
            )
        for name in variables:
            gaps = table[name].isna().to_numpy()
            if gaps.any():
                i = int(np.flatnonzero(gaps)[0])
                raise ValueError(
                    f"The offset column {name!r} of {term} has missing values in "
                    f"{int(gaps.sum())} row(s), the first at {position(table.index, i)}; an "
                    "offset needs a value in every row (fill them in, or drop those rows first)."
                )
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                matrices = formulae.design_matrices(f"{_Y} ~ 0 + {term}", _with_y(table, variables))
            values = np.asarray(matrices.common.as_dataframe(), dtype=float)[:, 0]
        except Exception as error:  # formulae's evaluation errors, worded for the offset
            raise ValueError(f"The offset {term} could not be evaluated ({error}).") from None
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = ", ".join(f"{n} = {number(table[n].iloc[i])}" for n in variables)
            raise ValueError(
                f"The offset {term} is not finite in {position(table.index, i)} ({shown}"
                f"{'' if int(bad.sum()) == 1 else f'; {int(bad.sum())} rows in all'}): an "
                "exposure must be > 0."
            )
        total += values
    return total


def _with_y(table: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    frame = table[variables].copy()
    frame[_Y] = 0.0
    return frame


def _terms(text: str) -> list[str]:
    """``text`` split at the ``+`` signs outside brackets and backticks."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == "`":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "+" and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
