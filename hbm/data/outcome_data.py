"""The outcome of a model whose rows are not normal: per unit, successes / counts and their weight.

A binomial, Poisson, negative binomial or Student-t model's likelihood is a sum over **units**,
each with its design row, its groups, and

- ``y``: successes (binomial), the count (Poisson, negative binomial) or the value (Student-t);
- ``weight``: the trials (binomial) or the exposure (Poisson, negative binomial: ``exp`` of the
  offset, which is how a log link takes an offset), 1 where there is none;
- ``offset``: what the offset adds to the linear predictor where the weight cannot carry it
  (binomial, Student-t), else 0;
- ``constant``: the part of the units' rows' log likelihood that no parameter touches (the
  binomial coefficients, ``-log y!``), so that the per-unit log likelihood is exactly the sum of
  its rows' (leave-one-out and ``compare`` need the real value, not a kernel).

**Exact reduction.** Rows with the same groups and the same design row (and, for the binomial,
the same offset) share their linear predictor. For the binomial and Poisson families the sum over
such rows of the log likelihood depends on the parameters only through the rows' totals::

    sum_i [y_i eta - n_i log(1 + e^eta)] = S eta - N log(1 + e^eta)        (binomial)
    sum_i [y_i eta - E_i e^eta]          = Y eta - E e^eta                  (Poisson)

so :func:`reduce_outcome` merges them into one unit (a *cell*) with the totals: a million 0/1
rows in 10,000 groups with only group and categorical terms cost what 10,000 cells cost. Where
no two rows share a linear predictor (a continuous covariate) the units are the rows, in table
order; they are never held as a rows x groups matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["OutcomeData", "reduce_outcome"]


@dataclass(frozen=True, eq=False)
class OutcomeData:
    """A non-normal outcome, per unit (see the module docstring).

    Attributes
    ----------
    family : str
        ``binomial``, ``poisson``, ``negbinomial`` or ``studentt``.
    kind : str
        How the response was written: ``binary`` (0/1 rows), ``level`` (``use[Y]``: a two-level
        column and its success level), ``proportion`` (``p(successes, trials)``), ``counts`` or
        ``values``.
    form : {"cells", "rows"}
        Units merged by the exact reduction, or one unit per row (table order).
    codes : ndarray of int64 (U, F)
        Each unit's group in every grouping factor.
    design : ndarray (U, K - 1)
        Each unit's design row (the columns of ``ModelData.columns`` but the response).
    y, weight, offset, constant : ndarray (U,)
        See the module docstring.
    n_rows : ndarray of int64 (U,)
        Rows merged into each unit.
    trials : str or None
        The trials of ``p(successes, trials)``: a column, or a whole number as text.
    level : str or None
        The success level of ``use[Y]``.
    offsets : tuple of str
        The offset terms of the formula as written (``offset(np.log(exposure))``).
    notes : tuple of str
        Warnings about the data (separation), shown with the fit and in its report.
    row_unit : ndarray of int64 (N,) or None
        For cells: each kept row's unit (rows in table order); None for the rows form (the
        units are the rows) or when the rows were not kept.
    row_y, row_weight, row_constant : ndarray (N,) or None
        The kept rows' own values (cells form), for their log likelihood one by one.
    """

    family: str
    kind: str
    form: str
    codes: np.ndarray = field(repr=False)
    design: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    weight: np.ndarray = field(repr=False)
    offset: np.ndarray = field(repr=False)
    constant: np.ndarray = field(repr=False)
    n_rows: np.ndarray = field(repr=False)
    trials: str | None = None
    level: str | None = None
    offsets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    row_unit: np.ndarray | None = field(default=None, repr=False)
    row_y: np.ndarray | None = field(default=None, repr=False)
    row_weight: np.ndarray | None = field(default=None, repr=False)
    row_constant: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_units(self) -> int:
        """Number of units ``U``."""
        return int(self.y.shape[0])

    @property
    def has_rows(self) -> bool:
        """Whether each row's own log likelihood can be computed (the rows form, or cells whose
        rows were kept)."""
        return self.form == "rows" or self.row_unit is not None

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per kept row: its unit, ``y``, weight and constant (a ValueError if none were kept)."""
        if self.form == "rows":
            return np.arange(self.n_units), self.y, self.weight, self.constant
        if self.row_unit is None or self.row_y is None:
            raise ValueError("The rows of this outcome were not kept (only their cells).")
        return self.row_unit, self.row_y, self.row_weight, self.row_constant  # type: ignore[return-value]

    def group_totals(self, factor: int, n_groups: int) -> dict[str, np.ndarray]:
        """Per group of factor ``factor``: ``rows``, ``y`` and ``weight`` summed over its units."""
        codes = self.codes[:, factor]
        return {
            "rows": np.bincount(codes, weights=self.n_rows, minlength=n_groups),
            "y": np.bincount(codes, weights=self.y, minlength=n_groups),
            "weight": np.bincount(codes, weights=self.weight, minlength=n_groups),
        }


def reduce_outcome(
    codes: np.ndarray,
    design: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    offset: np.ndarray,
    constant: np.ndarray,
    *,
    reducible: bool,
    keep_rows: bool,
) -> dict[str, np.ndarray | str | None]:
    """Merge rows that share their groups, design row and offset into cells (``reducible``),
    summing ``y``, ``weight`` and ``constant``; keep the rows as units when that merges nothing.

    Returns the fields of :class:`OutcomeData` from ``form`` to ``row_constant`` (less the
    descriptive ones).

    Examples
    --------
    >>> codes = np.array([[0], [0], [1], [0]])
    >>> design = np.ones((4, 1))
    >>> y, n = np.array([1.0, 0, 1, 1]), np.ones(4)
    >>> out = reduce_outcome(codes, design, y, n, np.zeros(4), np.zeros(4), reducible=True,
    ...                      keep_rows=True)
    >>> out["form"], out["y"].tolist(), out["weight"].tolist(), out["row_unit"].tolist()
    ('cells', [2.0, 1.0], [3.0, 1.0], [0, 0, 1, 0])
    """
    n = len(y)
    rows = {
        "form": "rows",
        "codes": np.ascontiguousarray(codes, dtype=np.int64),
        "design": np.ascontiguousarray(design, dtype=float),
        "y": np.asarray(y, dtype=float),
        "weight": np.asarray(weight, dtype=float),
        "offset": np.asarray(offset, dtype=float),
        "constant": np.asarray(constant, dtype=float),
        "n_rows": np.ones(n, dtype=np.int64),
        "row_unit": None,
        "row_y": None,
        "row_weight": None,
        "row_constant": None,
    }
    if not reducible or n < 2:
        return rows
    unit = _patterns([codes, design, offset[:, None]])
    n_units = int(unit.max()) + 1
    if n_units == n:
        return rows
    first = np.full(n_units, n, dtype=np.int64)
    np.minimum.at(first, unit, np.arange(n))

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(unit, weights=values, minlength=n_units)

    return {
        "form": "cells",
        "codes": np.ascontiguousarray(codes[first], dtype=np.int64),
        "design": np.ascontiguousarray(design[first], dtype=float),
        "y": total(y),
        "weight": total(weight),
        "offset": np.asarray(offset[first], dtype=float),
        "constant": total(constant),
        "n_rows": np.bincount(unit, minlength=n_units).astype(np.int64),
        "row_unit": unit if keep_rows else None,
        "row_y": np.asarray(y, dtype=float) if keep_rows else None,
        "row_weight": np.asarray(weight, dtype=float) if keep_rows else None,
        "row_constant": np.asarray(constant, dtype=float) if keep_rows else None,
    }


def _patterns(blocks: list[np.ndarray]) -> np.ndarray:
    """Each row's pattern (0..P-1, sorted by the columns, first column first) over the columns
    of ``blocks``: the columns are coded one by one (hashing, O(N)), then combined."""
    columns = [np.asarray(block)[:, k] for block in blocks for k in range(np.shape(block)[1])]
    coded = []
    for column in columns:
        codes, uniques = pd.factorize(column, sort=True)
        if len(uniques) > 1:
            coded.append((codes.astype(np.int64), len(uniques)))
    if not coded:
        return np.zeros(len(columns[0]), dtype=np.int64)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for codes, size in coded:
        if span * size >= 2**62:  # too many combinations for one integer: compress first
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            span = int(key.max()) + 1
        key = key * size + codes
        span *= size
    return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
