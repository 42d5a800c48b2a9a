"""The units a fit's data can be left out by, whatever the model: groups and rows.

Leave-one-out and model comparison need the same few facts about any fit's data: the response,
the grouping column whose groups are left out, their labels, rows and response means, and, where
the rows were kept, each row's group and value. The seed's model has them in its
:class:`~hbm.data.grouped.GroupedData`; a formula model in its per-cell moments (the groups are
those of its grouping factor, or the outermost of nested ones, else the first; the response's
per-group count, mean and within-group sum of
squares follow from the cells' moments); a curve model in its rows (sorted by group, then time).
:func:`units_of` gives them in one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hbm.data.curve_data import CurveData
from hbm.data.grouped import GroupedData
from hbm.data.model_data import ModelData
from hbm.data.nesting import outermost_factor
from hbm.model.families.normal_cells_conditional import group_statistics
from hbm.results.fit_result import FitResult

__all__ = ["Units", "units_from_data", "units_of"]


@dataclass(frozen=True, eq=False)
class Units:
    """A fit's data as units to leave out (see the module docstring).

    Attributes
    ----------
    response : str
        The response column.
    group : str
        The grouping column (a formula model's grouping factor: the outermost of nested ones,
        else the first).
    labels : tuple of str
        The groups, in the fit's order.
    n, mean, ss : ndarray
        Per group: rows, the response's mean, and its within-group sum of squares.
    kind : {"rows", "summaries"}
    se : str or None
        The standard-error column of summaries data.
    stderr : ndarray or None
        The standard errors of summaries data.
    codes, values : ndarray or None
        Per kept row: its group's position and its response value.
    formula : bool
        Whether the fit is of a formula model (its own likelihood code paths).
    curve : bool
        Whether the fit is of a group-level curve model (rows given the drawn curves).
    """

    response: str
    group: str
    labels: tuple[str, ...]
    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    kind: str = "rows"
    se: str | None = None
    stderr: np.ndarray | None = None
    codes: np.ndarray | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)
    formula: bool = False
    curve: bool = False

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        return int(np.sum(self.n))

    def describe(self) -> dict[str, object]:
        """What the units are, as JSON-ready values (for a result's attributes)."""
        return {
            "response": self.response,
            "group": self.group,
            "n_groups": self.n_groups,
            "n_rows": self.n_rows,
            "form": self.kind,
        }

    @property
    def value(self) -> str:
        """The response column (the name :class:`~hbm.data.grouped.GroupedData` uses)."""
        return self.response

    @property
    def known_se(self) -> np.ndarray:
        """The standard errors of summaries data (a ValueError for rows)."""
        if self.stderr is None:
            raise ValueError("Rows data have no known standard errors.")
        return self.stderr


def units_of(result: FitResult) -> Units:
    """The units of a fit's data (computed once per fit)."""
    data = result.data
    return result.cache.get(("units",), lambda: units_from_data(data))


def units_from_data(data: GroupedData | ModelData | CurveData) -> Units:
    """The units of reduced data, before or without a fit."""
    if isinstance(data, CurveData):
        n = np.asarray(data.n, dtype=float)
        mean = np.bincount(data.codes, weights=data.y, minlength=data.n_groups) / n
        ss = np.bincount(
            data.codes, weights=(data.y - mean[data.codes]) ** 2, minlength=data.n_groups
        )
        return Units(
            response=data.value,
            group=data.group,
            labels=data.labels,
            n=n,
            mean=mean,
            ss=ss,
            codes=data.codes,
            values=data.y,
            curve=True,
        )
    if isinstance(data, GroupedData):
        return Units(
            response=data.value,
            group=data.group,
            labels=data.labels,
            n=np.asarray(data.n, dtype=float),
            mean=np.asarray(data.mean, dtype=float),
            ss=np.asarray(data.ss, dtype=float),
            kind=data.kind,
            se=data.se,
            stderr=data.stderr,
            codes=data.codes,
            values=data.values,
        )
    factor = outermost_factor(data) or data.factors[0]
    position = data.factors.index(factor)
    stats = group_statistics(data, factor)
    y = data.y_index
    codes = values = None
    if data.rows is not None:
        stacked, rows = data.rows
        codes = np.ascontiguousarray(stacked[:, position])
        values = np.ascontiguousarray(rows[:, y])
    return Units(
        response=data.response,
        group=factor.name,
        labels=tuple(factor.labels),
        n=stats["n"],
        mean=stats["mean"][:, y],
        ss=stats["comoment"][:, y, y],
        codes=codes,
        values=values,
        formula=True,
    )
