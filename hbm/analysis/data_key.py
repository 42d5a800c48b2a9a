"""Which data a fit was made on, as a comparable key: what ``compare`` checks before ranking.

Two fits can be compared by ELPD only if they predict the same data unit by unit: the same
response, the same groups in the same order, the same rows and values. The key holds the
response and group column, the form, the group labels and sizes, the response's per-group means
and within-group sums of squares (standard errors for summaries), the per-group trials or
exposure of a binomial, Poisson or negative binomial fit (rows for the others), and a SHA-256
digest of the rows where they were kept; :func:`difference` says in one sentence how two keys
differ. Fits of different models of the same table (the seed's model and one with covariates,
say; a Poisson and a negative binomial model of the same counts) have the same key: the
statistics are compared to 1e-9 relative, as two models reduce the same rows in different orders
of summation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbm.analysis.log_likelihood import LOG_LIKELIHOOD, VARIABLES, rows_sha256
from hbm.analysis.outcome_draws import is_outcome_fit
from hbm.analysis.units import units_of
from hbm.results.fit_result import FitResult

__all__ = ["DataKey", "data_key", "difference"]


@dataclass(frozen=True)
class DataKey:
    """The data a fit was made on (see the module docstring)."""

    response: str
    group: str
    form: str
    labels: tuple[str, ...]
    n: tuple[int, ...]
    means: tuple[float, ...]
    spreads: tuple[float, ...]
    rows_sha256: str | None = None
    weights: tuple[float, ...] = ()

    @property
    def n_rows(self) -> int:
        return int(sum(self.n))


def data_key(result: FitResult) -> DataKey:
    """The key of a fit's data."""
    units = units_of(result)
    rows = None
    if units.codes is not None and units.values is not None:
        rows = rows_sha256(units.codes, units.values)
    elif LOG_LIKELIHOOD in result.idata.children:
        stored = result.idata[LOG_LIKELIHOOD].to_dataset()
        name = VARIABLES["rows"]
        if name in stored:
            rows = stored[name].attrs.get("rows_sha256")
    spreads = units.ss if units.stderr is None else units.stderr
    weights: tuple[float, ...] = ()
    if is_outcome_fit(result):
        outcome = result.model_data.outcome
        totals = outcome.group_totals(0, units.n_groups)  # type: ignore[union-attr]
        weights = tuple(float(v) for v in totals["weight"])
    return DataKey(
        response=units.response,
        group=units.group,
        form=units.kind if units.se is None else f"summaries (se={units.se!r})",
        labels=units.labels,
        n=tuple(int(v) for v in units.n),
        means=tuple(float(v) for v in units.mean),
        spreads=tuple(float(v) for v in spreads),
        rows_sha256=rows,
        weights=weights,
    )


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> np.ndarray:
    x, y = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(x), initial=0.0)), 1.0)
    return np.isclose(x, y, rtol=1e-9, atol=1e-12 * scale)


def difference(a_name: str, a: DataKey, b_name: str, b: DataKey, *, rows: bool) -> str | None:
    """How the data of ``a`` and ``b`` differ, in one sentence, or None when they are the same
    (``rows``: the rows themselves must match too, in order)."""
    names = f"{a_name!r} and {b_name!r}"
    if a.response != b.response:
        return (
            f"{names} model different responses ({a.response!r} and {b.response!r}); ELPDs are "
            "comparable only for the same data."
        )
    if a.form != b.form:
        return f"{names} are fitted to different forms of data ({a.form} and {b.form})."
    if a.group != b.group:
        return f"{names} group by different columns ({a.group!r} and {b.group!r})."
    if set(a.labels) != set(b.labels):
        only_a = sorted(set(a.labels) - set(b.labels))
        only_b = sorted(set(b.labels) - set(a.labels))
        example = (
            f"{only_a[0]!r} is only in {a_name!r}"
            if only_a
            else f"{only_b[0]!r} only in {b_name!r}"
        )
        return (
            f"{names} have different groups ({len(a.labels):,} and {len(b.labels):,} "
            f"{a.group!r} groups; {example})."
        )
    if a.labels != b.labels:
        return (
            f"{names} list the same groups in different orders; fit both with the same "
            "'order' option."
        )
    if a.n != b.n:
        j = next(i for i, (x, y) in enumerate(zip(a.n, b.n, strict=True)) if x != y)
        return (
            f"{names} are fitted to different rows ({a.n_rows:,} and {b.n_rows:,}; group "
            f"{a.labels[j]!r} has {a.n[j]} and {b.n[j]})."
        )
    same_means, same_spreads = _close(a.means, b.means), _close(a.spreads, b.spreads)
    if not (same_means.all() and same_spreads.all()):
        moved = np.flatnonzero(~same_means)
        where = (
            f" (group {a.labels[moved[0]]!r}: mean {a.means[moved[0]]:.6g} and "
            f"{b.means[moved[0]]:.6g})"
            if moved.size
            else " (the within-group spreads or standard errors)"
        )
        return f"{names} have the same groups and rows but different values{where}."
    weights_a = a.weights or tuple(float(v) for v in a.n)
    weights_b = b.weights or tuple(float(v) for v in b.n)
    same_weights = _close(weights_a, weights_b)
    if not same_weights.all():
        j = int(np.flatnonzero(~same_weights)[0])
        return (
            f"{names} have the same groups, rows and values but different trials or exposures "
            f"(group {a.labels[j]!r}: {weights_a[j]:.6g} and {weights_b[j]:.6g})."
        )
    if rows and a.rows_sha256 != b.rows_sha256:
        return (
            f"{names} have the same per-group statistics but different rows (values or their "
            "order), so their rows cannot be paired; compare them by groups (unit='groups')."
        )
    return None
