"""What an engine is asked to reduce, and what it hands back.

An engine reduces a **source** (a file, or a glob of files, CSV or Parquet) given the **grouping
columns** and a list of named numeric **column expressions** to the count, the mean vector and the
centred co-moment matrix of those expressions in every cell of identical group labels. For the
seed model the list is the value column alone and the co-moment is the within-group sum of
squares; a formula model lists its design columns ``[X, Z, y]`` (``x``, ``x * z``,
``log(exposure)``), each as SQL text (DuckDB, Spark SQL) and as a function of a pandas table
(pandas, Dask), which is the seam where a formula is translated.

>>> r = Request(source="scores.parquet", groups=("school",), columns=(Column.plain("score"),))
>>> r.source_columns
('school', 'score')
>>> Column.plain('my "odd" column').sql
'"my ""odd"" column"'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from hbm.data.comoments import CellMoments

__all__ = ["Column", "Reduced", "Request", "quote_sql"]

Missing = Literal["error", "drop"]


def quote_sql(name: str) -> str:
    """A column name as a quoted SQL identifier (DuckDB and standard SQL)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    """One numeric column of the reduction, as an expression over the source's columns.

    Attributes
    ----------
    name : str
        Its name in the statistics (``score``, ``x:z``).
    sql : str
        The expression in SQL over quoted source columns (``"x" * "z"``).
    reads : tuple of str
        The source columns it reads (checked to exist, to be numeric and, with
        ``missing="drop"``, dropped when missing).
    frame : callable
        The same expression on a pandas table of the source columns (pandas and Dask engines).
    """

    name: str
    sql: str
    reads: tuple[str, ...]
    frame: Callable[[pd.DataFrame], np.ndarray] = field(compare=False, repr=False)

    @classmethod
    def plain(cls, name: str) -> Column:
        """A source column as it is."""
        return cls(name=name, sql=quote_sql(name), reads=(name,), frame=_ColumnOf(name))


@dataclass(frozen=True)
class _ColumnOf:
    """``table[name]`` as float64 (a plain, module-level callable: engines may ship it)."""

    name: str

    def __call__(self, table: pd.DataFrame) -> np.ndarray:
        return table[self.name].to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True)
class Request:
    """A reduction to run: source, grouping columns, numeric columns, what to do with gaps.

    ``labels`` names the source columns the expressions read as text (a formula's categorical
    covariates, compared with their levels), not as numbers; a missing label is a missing value.
    """

    source: str
    groups: tuple[str, ...]
    columns: tuple[Column, ...]
    missing: Missing = "error"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.groups or not self.columns:
            raise ValueError("A reduction needs at least one grouping column and one column.")
        if self.missing not in ("error", "drop"):
            raise ValueError(
                f"The 'missing' option must be one of 'error', 'drop'; got {self.missing!r}."
            )
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"The reduced columns must have different names; got {names}.")

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Every source column read: the grouping columns, then what the expressions read."""
        seen = dict.fromkeys(self.groups)
        for column in self.columns:
            seen.update(dict.fromkeys(column.reads))
        return tuple(seen)


@dataclass(frozen=True, eq=False)
class Reduced:
    """What an engine hands back.

    Attributes
    ----------
    keys : list of tuple of str
        The cells' labels (one per grouping column), sorted, or in first-seen order for pandas.
    moments : CellMoments
        Per cell: count, means, co-moments of the columns, in ``keys``' order.
    columns : tuple of str
        Names of the reduced columns.
    minimum, maximum : ndarray (k,)
        Smallest and largest value of each column (the checks of size and spread need them).
    rows : int
        Rows reduced (after dropping).
    dropped : int
        Rows dropped for missing values.
    engine : str
        The engine that ran, and ``detail``: how (threads, memory limit, cluster, partitions).
    order : {"first-seen", "sorted"}
        How ``keys`` are ordered.
    """

    keys: list[tuple[str, ...]]
    moments: CellMoments
    columns: tuple[str, ...]
    minimum: np.ndarray
    maximum: np.ndarray
    rows: int
    dropped: int
    engine: str
    detail: str = ""
    order: Literal["first-seen", "sorted"] = "sorted"
    seconds: float = 0.0
