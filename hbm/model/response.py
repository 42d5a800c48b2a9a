"""The left-hand side of a formula, read for a family, and its values checked row by row.

    passed ~ ...             a column: 0/1 rows (binomial), counts (Poisson, negative binomial),
                             values (Student-t, normal)
    use[Y] ~ ...             a two-level text column and its success level, as formulae writes it
                             (use["Yes please"] for a level with spaces)
    p(incidence, size) ~ ... successes and trials (binomial); p(s, 10): ten trials in every row

Every check names the column and the first bad row: a binomial response that is not 0/1, a
column with more than two levels, successes above the trials or not whole, negative or fractional
counts.

>>> r = parse_response("p(incidence, size)")
>>> r.kind, r.column, r.trials
('proportion', 'incidence', 'size')
>>> parse_response('use["Yes please"]').level
'Yes please'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hbm.data.columns import number, numeric_column, position

__all__ = [
    "FAMILY_RESPONSES",
    "Response",
    "check_family_response",
    "parse_response",
    "response_values",
]

#: The kinds of response each family takes.
FAMILY_RESPONSES: dict[str, tuple[str, ...]] = {
    "binomial": ("column", "level", "proportion"),
    "poisson": ("column",),
    "negbinomial": ("column",),
    "studentt": ("column",),
}
_NAME = r"(?:`[^`]+`|[A-Za-z_][\w.]*)"
_PROPORTION = re.compile(rf"^p\(\s*({_NAME})\s*,\s*({_NAME}|\d+)\s*\)$")
_LEVEL = re.compile(rf"^({_NAME})\[(.+)\]$")


@dataclass(frozen=True)
class Response:
    """A formula's response as a family reads it.

    Attributes
    ----------
    text : str
        As written.
    kind : {"column", "level", "proportion"}
    column : str
        The outcome column (the successes of ``p(successes, trials)``).
    trials : str or None
        The trials of ``p()``: a column, or a whole number as text.
    level : str or None
        The success level of ``column[level]``.
    """

    text: str
    kind: str
    column: str
    trials: str | None = None
    level: str | None = None

    @property
    def columns(self) -> list[str]:
        """The table columns it reads."""
        extra = [self.trials] if self.trials is not None and not self.trials.isdigit() else []
        return [self.column, *extra]


def parse_response(text: str) -> Response:
    """Read a formula's left-hand side (see the module docstring).

    Examples
    --------
    >>> parse_response("`log y`").column
    'log y'
    >>> parse_response("p(s, 10)").trials
    '10'
    """
    raw = text.strip()
    proportion = _PROPORTION.match(raw)
    if proportion:
        return Response(raw, "proportion", _bare(proportion.group(1)), _bare(proportion.group(2)))
    level = _LEVEL.match(raw)
    if level:
        value = level.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return Response(raw, "level", _bare(level.group(1)), level=value)
    if re.fullmatch(_NAME, raw):
        return Response(raw, "column", _bare(raw))
    return Response(raw, "expression", raw)


def check_family_response(response: Response, family: str) -> None:
    """A ValueError unless ``family`` takes a response written like ``response``."""
    if family == "normal":
        if response.kind in ("level", "proportion"):
            raise ValueError(
                f"The response {response.text!r} is a binomial response (successes of trials, or a "
                "two-level column); fit it with family='binomial' (CLI: --family binomial)."
            )
        return
    allowed = FAMILY_RESPONSES[family]
    if response.kind in allowed:
        return
    if family == "binomial":
        expected = (
            "a 0/1 column, a two-level column with its success level (use[Y]), or "
            "p(successes, trials)"
        )
    elif family == "studentt":
        expected = "one numeric column"
    else:
        expected = "one column of counts (an exposure goes in offset(np.log(exposure)))"
    raise ValueError(
        f"The response {response.text!r} cannot be the response of a {family} model; expected "
        f"{expected}."
    )


def response_values(
    table: pd.DataFrame, response: Response, family: str
) -> tuple[np.ndarray, np.ndarray]:
    """The response's values ``y`` and weights (trials; 1 elsewhere) per row, checked.

    Missing values stay NaN (the caller counts and drops or refuses them).

    Raises
    ------
    ValueError
        Naming the column and the first bad row: not 0/1, more than two levels, a level that does
        not occur, successes above the trials, negative or fractional counts.
    """
    check_family_response(response, family)
    column = table[response.column]
    ones = np.ones(len(table))
    if response.kind == "level":
        return _level_values(column, response), ones
    if response.kind == "proportion":
        successes = _whole(column, response.column, "successes")
        trials = _trials(table, response)
        over = successes > trials
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise ValueError(
                f"The successes {response.column!r} exceed the trials "
                f"{response.trials!r} in {position(table.index, i)} ({number(successes[i])} of "
                f"{number(trials[i])}); successes must lie between 0 and the trials."
            )
        return successes, trials
    if family == "binomial":
        values = _binary(column, response.column)
        return values, ones
    if family in ("poisson", "negbinomial"):
        return _whole(column, response.column, "counts"), ones
    return numeric_column(column, response.column, "response column"), ones


def _binary(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(column.dtype):
        levels = sorted({str(v) for v in column.dropna()})
        shown = ", ".join(map(repr, levels[:4])) + (", ..." if len(levels) > 4 else "")
        raise ValueError(
            f"The response {name!r} of a binomial model holds text ({shown}); name the success "
            f"level as formulae does, e.g. {name}[{levels[0] if levels else 'Y'}] ~ ..., or give "
            "0/1 values."
        )
    values = numeric_column(column, name, "response column")
    bad = ~np.isnan(values) & (values != 0) & (values != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The response {name!r} of a binomial model must be 0 or 1 in every row; "
            f"{position(column.index, i)} holds {number(values[i])}. For successes out of several "
            "trials write p(successes, trials)."
        )
    return values


def _level_values(column: pd.Series, response: Response) -> np.ndarray:
    name, level = response.column, str(response.level)
    text = column.astype(object).where(column.notna(), None)
    labels = np.array([None if v is None else _text(v) for v in text], dtype=object)
    present = np.array([v is not None for v in labels])
    seen = list(dict.fromkeys(labels[present].tolist()))
    if len(seen) > 2:
        third = next(i for i, v in enumerate(labels) if v is not None and v not in seen[:2])
        raise ValueError(
            f"The response column {name!r} has more than two levels "
            f"({', '.join(map(repr, seen[:5]))}{', ...' if len(seen) > 5 else ''}): "
            f"{position(column.index, third)} holds "
            f"{labels[third]!r}, a third level; a binomial response needs two."
        )
    if level not in seen:
        raise ValueError(
            f"The success level {level!r} of {response.text!r} does not occur in the column "
            f"{name!r}; its levels are {', '.join(map(repr, seen)) or 'none'}."
        )
    values = np.full(len(labels), np.nan)
    values[present] = (labels[present] == level).astype(float)
    return values


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(column: pd.Series, name: str, what: str) -> np.ndarray:
    values = numeric_column(column, name, "response column")
    bad = ~np.isnan(values) & ((values < 0) | (values != np.round(values)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The {what} {name!r} must be whole numbers >= 0; {position(column.index, i)} holds "
            f"{number(values[i])}."
        )
    return values


def _trials(table: pd.DataFrame, response: Response) -> np.ndarray:
    trials = str(response.trials)
    if trials.isdigit():
        values = np.full(len(table), float(trials))
    else:
        values = _whole(table[trials], trials, "trials")
    zero = values == 0
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise ValueError(
            f"The trials {trials!r} must be whole numbers >= 1; {position(table.index, i)} has 0 "
            "trials (drop the rows without trials)."
        )
    return values


def _bare(name: str) -> str:
    return name[1:-1] if name.startswith("`") and name.endswith("`") else name
