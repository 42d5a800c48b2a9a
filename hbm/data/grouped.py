"""The validated, reduced form of a table: group labels, codes and per-group sufficient statistics.

``GroupedData`` is the only thing the model builders see. It is made once from a pandas table by
:func:`grouped_data`, which checks the table and reduces it:

- **rows** form (one row per unit, columns ``group`` and ``value``): per group the count ``n_j``,
  the mean ``ybar_j`` and the within-group sum of squares ``SS_j = sum_i (y_ij - ybar_j)^2``. For
  the normal model these are exact sufficient statistics: the likelihood of all rows equals the
  likelihood written with them, so a million rows cost what their groups cost. They are
  computed centred and merged chunk by chunk (:mod:`hbm.data.reduce`), never from raw sums of
  squares.
- **summaries** form (one row per group, columns ``group``, ``value`` and ``se``): per group an
  estimate and its known standard error, as in the eight-schools data.

Group labels are kept as strings (a numeric id such as ``1224`` stays the label ``"1224"``), in the
order in which they are first seen in the table (``order="first-seen"``, the default) or sorted as
strings (``order="sorted"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from hbm.data.columns import (
    check_columns,
    check_labels,
    check_range,
    labels_as_strings,
    number,
    numeric_column,
    positions,
)
from hbm.data.consistency import check_fields, reserved_names
from hbm.data.grouped_checks import check_group_name, check_reduction
from hbm.data.reduce import group_moments

__all__ = ["RESERVED_NAMES", "GroupedData", "grouped_data"]

#: Names the group column may not have: they are the sample dimensions or hbm's variable names,
#: and the group column's name becomes the name of ``theta``'s dimension.
RESERVED_NAMES = reserved_names()

Order = Literal["first-seen", "sorted"]
Missing = Literal["error", "drop"]


@dataclass(frozen=True, eq=False)
class GroupedData:
    """A checked table reduced to what the hierarchical normal model needs.

    Attributes
    ----------
    group, value : str
        Names of the group and value columns; ``group`` is also the name of ``theta``'s dimension.
    se : str or None
        Name of the standard-error column in the summaries form, ``None`` in the rows form.
    labels : tuple of str
        Group labels, in ``order``.
    order : {"first-seen", "sorted"}
        How ``labels`` are ordered.
    n : ndarray of int
        Rows per group (all ones in the summaries form).
    mean : ndarray of float
        Group means ``ybar_j`` (rows form) or the groups' estimates (summaries form).
    ss : ndarray of float
        Within-group sums of squares ``SS_j`` (zeros in the summaries form).
    stderr : ndarray of float or None
        Known standard errors of the estimates (summaries form only).
    codes, values : ndarray or None
        The rows themselves (group code and value per row), kept only when asked for with
        ``keep_rows=True`` (the per-row likelihood and posterior predictive checks of rows).
    dropped : int
        Rows dropped for missing values (``missing="drop"``).
    """

    group: str
    value: str
    se: str | None
    labels: tuple[str, ...]
    order: Order
    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    stderr: np.ndarray | None = None
    codes: np.ndarray | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        """Check the fields agree with each other (they may come from a file or a user)."""
        check_fields(self)

    @property
    def known_se(self) -> np.ndarray:
        """The known standard errors of the summaries form (a ValueError for rows data)."""
        if self.stderr is None:
            raise ValueError(
                f"The data have no standard errors: they are in the rows form "
                f"(group={self.group!r}, value={self.value!r}); give se=... for summaries."
            )
        return self.stderr

    @property
    def kind(self) -> Literal["rows", "summaries"]:
        """``"summaries"`` when the table carries a standard error per group, else ``"rows"``."""
        return "rows" if self.se is None else "summaries"

    @property
    def n_groups(self) -> int:
        """Number of groups ``J``."""
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        """Number of rows ``N`` the statistics were computed from."""
        return int(self.n.sum())

    @property
    def ss_within(self) -> float:
        """Total within-group sum of squares, ``sum_j SS_j``."""
        return float(self.ss.sum())

    @property
    def scale(self) -> float:
        """A typical spread of the values, used to scale the default priors.

        Rows form: the standard deviation of all rows. Summaries form: the square root of the
        variance of the estimates plus the mean squared standard error.
        """
        if self.kind == "summaries":
            spread = np.var(self.mean) + np.mean(self.known_se**2)
        else:
            grand = np.sum(self.n * self.mean) / self.n_rows
            spread = (self.ss_within + np.sum(self.n * (self.mean - grand) ** 2)) / self.n_rows
        return float(np.sqrt(spread))

    @property
    def center(self) -> float:
        """The grand mean of the rows (rows form) or the mean of the estimates (summaries form)."""
        if self.kind == "summaries":
            return float(np.mean(self.mean))
        return float(np.sum(self.n * self.mean) / self.n_rows)

    def to_frame(self) -> pd.DataFrame:
        """The per-group statistics as a table indexed by group label."""
        columns: dict[str, np.ndarray] = {"n": self.n, "mean": self.mean}
        if self.kind == "summaries":
            columns = {"estimate": self.mean, "se": self.known_se}
        else:
            sd = np.full(self.n_groups, np.nan)
            several = self.n > 1
            sd[several] = np.sqrt(self.ss[several] / (self.n[several] - 1))
            columns["sd"] = sd
        return pd.DataFrame(columns, index=pd.Index(self.labels, name=self.group))

    def describe(self) -> dict[str, object]:
        """A JSON-ready description of the data (form, counts, columns), for results and reports."""
        out: dict[str, object] = {
            "form": self.kind,
            "group": self.group,
            "value": self.value,
            "se": self.se,
            "n_groups": self.n_groups,
            "n_rows": self.n_rows,
            "order": self.order,
            "dropped_missing": self.dropped,
        }
        if self.kind == "rows":
            out.update(
                min_group_size=int(self.n.min()),
                max_group_size=int(self.n.max()),
                grand_mean=self.center,
                sd=self.scale,
            )
        return out


def grouped_data(
    table: pd.DataFrame,
    *,
    group: str,
    value: str,
    se: str | None = None,
    order: Order = "first-seen",
    missing: Missing = "error",
    keep_rows: bool = False,
) -> GroupedData:
    """Check a tidy table and reduce it to per-group sufficient statistics.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per unit (rows form) or one row per group with a standard error (summaries form).
    group, value : str
        Names of the group-label column and the numeric value column.
    se : str, optional
        Name of the standard-error column; giving it selects the summaries form.
    order : {"first-seen", "sorted"}
        Order of the group labels: as first seen in the table, or sorted as strings.
    missing : {"error", "drop"}
        What to do with rows whose group, value or se is missing.
    keep_rows : bool
        Keep the per-row codes and values (needed for ``likelihood="rows"``).

    Returns
    -------
    GroupedData

    Raises
    ------
    TypeError
        If ``table`` is not a pandas DataFrame.
    ValueError
        With a message naming the column, value or option at fault and what is expected.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> table = pd.DataFrame({"school": ["a", "a", "b"], "score": [1.0, 3.0, 5.0]})
    >>> data = grouped_data(table, group="school", value="score")
    >>> data.labels, data.n.tolist(), data.mean.tolist(), data.ss.tolist()
    (('a', 'b'), [2, 1], [2.0, 5.0], [2.0, 0.0])
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"The table must be a pandas DataFrame; got {type(table).__name__}.")
    if order not in ("first-seen", "sorted"):
        raise ValueError(
            f"The 'order' option must be one of 'first-seen', 'sorted'; got {order!r}."
        )
    if missing not in ("error", "drop"):
        raise ValueError(f"The 'missing' option must be one of 'error', 'drop'; got {missing!r}.")
    columns = [group, value] + ([se] if se is not None else [])
    check_columns(table, columns)
    check_group_name(group, columns)

    frame = table[columns]
    labels = labels_as_strings(frame[group])
    check_labels(labels, group)
    roles = {value: "value column", se: "standard-error column"}
    numbers = {name: numeric_column(frame[name], name, roles[name]) for name in columns[1:]}

    gaps = {group: labels.isna().to_numpy()} | {n: np.isnan(v) for n, v in numbers.items()}
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
        labels = labels[keep]
        numbers = {name: values[keep] for name, values in numbers.items()}
    after = f" after dropping {dropped} row(s) with missing values" if dropped else ""
    if len(labels) == 0:
        raise ValueError(f"The table has no rows with data{after}.")

    codes, uniques = pd.factorize(labels, sort=False)
    unique_labels = [str(label) for label in uniques]
    if order == "sorted":
        permutation = np.argsort(np.asarray(unique_labels, dtype=object), kind="stable")
        rank = np.empty_like(permutation)
        rank[permutation] = np.arange(len(permutation))
        codes = rank[codes]
        unique_labels = [unique_labels[i] for i in permutation]
    n_groups = len(unique_labels)
    if n_groups < 2:
        raise ValueError(
            f"The group column {group!r} has {n_groups} distinct value(s) "
            f"({', '.join(map(repr, unique_labels))}){after}; a hierarchical model needs at "
            "least 2 groups."
        )

    y = numbers[value]
    if se is not None:
        return _summaries(group, value, se, codes, unique_labels, y, numbers[se], order, dropped)
    check_range(value, y)

    moments = group_moments(codes, y, n_groups)
    n, mean, ss = moments.n, moments.mean, moments.ss
    check_reduction(group, value, n, ss, float(np.min(y)), float(np.max(y)))
    return GroupedData(
        group=group,
        value=value,
        se=None,
        labels=tuple(unique_labels),
        order=order,
        n=n,
        mean=mean,
        ss=ss,
        codes=codes.astype(np.int64) if keep_rows else None,
        values=y if keep_rows else None,
        dropped=dropped,
    )


def _summaries(
    group: str,
    value: str,
    se: str,
    codes: np.ndarray,
    labels: list[str],
    estimate: np.ndarray,
    stderr: np.ndarray,
    order: Order,
    dropped: int,
) -> GroupedData:
    counts = np.bincount(codes, minlength=len(labels))
    if (counts > 1).any():
        twice = [labels[i] for i in np.flatnonzero(counts > 1)[:5]]
        raise ValueError(
            f"In the summaries form (se={se!r}) each group must be listed once; "
            f"group(s) {', '.join(map(repr, twice))} in column {group!r} appear more than once."
        )
    bad = np.flatnonzero(stderr <= 0)
    if bad.size:
        more = f" ({bad.size} groups in all)" if bad.size > 1 else ""
        raise ValueError(
            f"The standard-error column {se!r} must be > 0 (it holds standard deviations of the "
            f"estimates); got {number(stderr[bad[0]])} for group {labels[codes[bad[0]]]!r}{more}."
        )
    check_range(value, estimate, spread=False)
    check_range(se, stderr, spread=False)
    if np.min(stderr) < 1e-150:
        raise ValueError(
            f"The standard-error column {se!r} holds {number(np.min(stderr))}, too small to model "
            "in double precision (expected > 1e-150). Rescale the columns."
        )
    inverse = np.empty_like(codes)
    inverse[codes] = np.arange(len(codes))
    estimates = estimate[inverse]
    return GroupedData(
        group=group,
        value=value,
        se=se,
        labels=tuple(labels),
        order=order,
        n=np.ones(len(labels), dtype=np.int64),
        mean=estimates,
        ss=np.zeros(len(labels)),
        stderr=stderr[inverse],
        dropped=dropped,
    )
