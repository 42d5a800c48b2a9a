"""``ModelData``: a formula model's table, checked and reduced to exact per-cell statistics.

What a builder of a formula model sees (and all it sees):

- the design's columns ``W = [population terms X, group-only terms, response y]`` by name;
- per grouping factor: its labels, the terms that vary by it (and where they sit in ``W``), how
  they form correlation blocks, and the factor's code in every cell;
- per cell (a group, or a combination of groups when there are several factors): the count, the
  mean vector and the centred co-moment matrix of ``W`` (:mod:`hbm.data.comoments`);
- what was dropped and why, and what is needed to build the design again for new rows.

The rows themselves are kept only when asked (the per-row likelihood, plots of the data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hbm.data.comoments import CellMoments
from hbm.data.outcome_data import OutcomeData

__all__ = ["FactorData", "ModelData"]


@dataclass(frozen=True, eq=False)
class FactorData:
    """One grouping factor of a formula model.

    Attributes
    ----------
    name : str
        As in the formula: ``Subject``, or ``district:school`` for a nested level.
    labels : tuple of str
        Its groups, in first-seen (or sorted) order.
    terms : tuple of str
        The terms that vary by it, formulae's spelling (``Intercept``, ``Days``).
    columns : tuple of int
        Where each term's values sit among the design columns ``W``.
    blocks : tuple of tuple of str
        The terms grouped by parenthesis: effects in one block are correlated when the block is.
    correlated : tuple of bool
        Per block.
    cells : ndarray of int64 (C,)
        The group (index into ``labels``) of every cell.
    """

    name: str
    labels: tuple[str, ...]
    terms: tuple[str, ...]
    columns: tuple[int, ...]
    blocks: tuple[tuple[str, ...], ...]
    correlated: tuple[bool, ...]
    cells: np.ndarray = field(repr=False)

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    @property
    def n_terms(self) -> int:
        """Number of varying terms ``q``."""
        return len(self.terms)


@dataclass(frozen=True, eq=False)
class ModelData:
    """A formula model's data (see the module docstring).

    Attributes
    ----------
    response : str
        The response column.
    columns : tuple of str
        Names of the design columns ``W``; the response is last.
    population : tuple of str
        The population terms (the first ``len(population)`` columns of ``W``).
    factors : tuple of FactorData
        The grouping factors, in the formula's order.
    moments : CellMoments
        Per cell: count, mean vector and centred co-moment matrix of ``W``.
    dropped : int
        Rows dropped for missing values.
    design : dict
        JSON-ready description of the design (variables, their kinds and levels, reference
        levels), for reports and for building the design of new rows.
    rows : tuple of (codes, values) or None
        ``codes`` (N, factors) and ``values`` (N, K): the rows, when kept.
    outcome : OutcomeData or None
        A non-normal model's outcome per unit (binomial, Poisson, negative binomial,
        Student-t; :mod:`hbm.data.outcome_data`); None for a normal model, whose likelihood
        comes from the moments.
    """

    response: str
    columns: tuple[str, ...]
    population: tuple[str, ...]
    factors: tuple[FactorData, ...]
    moments: CellMoments = field(repr=False)
    dropped: int = 0
    design: dict[str, Any] = field(default_factory=dict, repr=False)
    rows: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    outcome: OutcomeData | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.columns[-1] != self.response:
            raise ValueError("ModelData.columns must end with the response.")
        if tuple(self.columns[: len(self.population)]) != tuple(self.population):
            raise ValueError("ModelData.columns must start with the population terms.")
        k = len(self.columns)
        if self.moments.mean.shape[1] != k or self.moments.comoment.shape[1:] != (k, k):
            raise ValueError(f"ModelData.moments must be of {k} columns.")
        for factor in self.factors:
            if factor.cells.shape != (self.n_cells,):
                raise ValueError(f"Factor {factor.name!r} must give a group for every cell.")

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.moments.n_cells

    @property
    def n_rows(self) -> int:
        """Number of rows reduced."""
        return int(self.moments.n.sum())

    @property
    def y_index(self) -> int:
        """Position of the response among the columns."""
        return len(self.columns) - 1

    def factor(self, name: str) -> FactorData:
        """The grouping factor called ``name``."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise KeyError(f"The model has no grouping factor {name!r}.")

    def column_summary(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd (population, ``ddof=0``) of every design column over all rows."""
        n_rows, mean, comoment = self.moments.totals()
        return mean, np.sqrt(np.maximum(np.diag(comoment), 0.0) / n_rows)

    @property
    def center(self) -> float:
        """The response's grand mean."""
        return float(self.column_summary()[0][self.y_index])

    @property
    def scale(self) -> float:
        """The response's sd over all rows."""
        return float(self.column_summary()[1][self.y_index])

    def describe(self) -> dict[str, object]:
        """A JSON-ready description (counts, columns, factors), for results and reports."""
        sizes = (
            np.bincount(self.factors[0].cells, weights=self.moments.n)
            if self.factors
            else np.zeros(0)
        )
        return {
            "form": "formula",
            "response": self.response,
            "population": list(self.population),
            "factors": {
                f.name: {"groups": f.n_groups, "terms": list(f.terms)} for f in self.factors
            },
            "n_rows": self.n_rows,
            "n_cells": self.n_cells,
            "min_group_size": int(np.min(sizes)) if len(sizes) else 0,
            "max_group_size": int(np.max(sizes)) if len(sizes) else 0,
            "dropped_missing": self.dropped,
            **({} if self.outcome is None else _outcome_description(self.outcome)),
        }


def _outcome_description(outcome: OutcomeData) -> dict[str, object]:
    """What a non-normal outcome adds to :meth:`ModelData.describe`."""
    return {
        "family": outcome.family,
        "response_kind": outcome.kind,
        "units": outcome.form,
        "n_units": outcome.n_units,
        "trials": outcome.trials,
        "level": outcome.level,
        "offsets": list(outcome.offsets),
        "total_y": float(outcome.y.sum()),
        "total_weight": float(outcome.weight.sum()),
    }
