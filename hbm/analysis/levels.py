"""Where the variance lies, level by level, and how much each level's groups are pooled.

**Variance decomposition.** A row's variance around the population part splits into one
component per grouping factor and the residual::

    var(y_i | x_i) = sum_g z_gi' Sigma_g z_gi + sigma^2

averaged over the rows (``E[z z']`` from the data's moments), so that with intercepts only each
component is ``sd_g^2``, and with varying slopes it is the variance the factor adds at the rows
observed (with varying slopes, the ICC below is then the average over the rows). The
**share** of a component is its variance over the total; the **intraclass
correlation** of a factor (ICC) is the correlation of two rows in the same group of it: the
share of the factor plus the shares of every factor it is nested in (two pupils of one school
share their school's and their district's effects). :func:`variance_decomposition` gives both,
per draw summarised with equal-tailed intervals.

**Shrinkage per level.** A group's own estimate (least squares on its rows) is pulled towards
its parent's coefficient: a school towards its district, a district towards the population.
:func:`level_shrinkage` gives, per group of a factor, its own estimate, its posterior mean, the
posterior mean of its parent's coefficient and the **pooling** ``1 - (posterior - parent) /
(own - parent)`` (0: not pooled, 1: completely pooled to the parent).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.analysis.draws import check_prob, tag
from hbm.analysis.effects import group_coefficients
from hbm.core.names import BETA, sd_name
from hbm.data.model_data import FactorData, ModelData
from hbm.data.nesting import is_nested_in, nesting_of
from hbm.model.families.normal_cells_conditional import covariance_draws
from hbm.results.fit_result import FitResult
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["RESIDUAL", "component_variances", "level_shrinkage", "variance_decomposition"]

#: The name of the residual component in the decomposition.
RESIDUAL = "residual"


def _second_moments(data: ModelData, factor: FactorData) -> np.ndarray:
    """``E[z z']`` of the factor's varying columns over all rows."""
    n_rows, mean, comoment = data.moments.totals()
    cols = list(factor.columns)
    return (comoment[np.ix_(cols, cols)] + n_rows * np.outer(mean[cols], mean[cols])) / n_rows


def component_variances(source: Any) -> dict[str, np.ndarray]:
    """Draws ``(S,)`` of every factor's variance component and of the residual's (``sigma^2``),
    in the formula's order of factors, residual last (see the module docstring)."""
    result = as_result(source)
    data = result.model_data
    posterior = result.idata["posterior"].to_dataset()
    sigma = posterior[result.parameters.one("residual_scale").name].values.reshape(-1)
    out = {}
    for factor in data.factors:
        if sd_name(factor.name) not in posterior:  # pragma: no cover - every factor has its sds
            continue
        covariance = covariance_draws(posterior, factor)
        out[factor.name] = np.einsum("sab,ba->s", covariance, _second_moments(data, factor))
    out[RESIDUAL] = np.asarray(sigma, dtype=float) ** 2
    return out


def variance_decomposition(source: Any, *, ci_prob: float = CI_PROB) -> pd.DataFrame:
    """The share of variance of every level and the ICC, with equal-tailed intervals.

    Returns
    -------
    pandas.DataFrame
        One row per component (the grouping factors, outermost first when nested, then
        ``residual``): ``component``, ``groups``, ``nested_in`` (the factors it lies in),
        ``variance`` (posterior mean), ``share``, ``share_<eti>_lb``/``_ub``, ``icc``,
        ``icc_<eti>_lb``/``_ub`` (NaN for the residual).

    Examples
    --------
    >>> import hbm  # doctest: +SKIP
    >>> fit = hbm.fit(table, "y ~ 1 + (1 | district/school)")  # doctest: +SKIP
    >>> fit.variance_decomposition()[["component", "share", "icc"]]  # doctest: +SKIP
    """
    check_prob(ci_prob)
    result = as_result(source)

    def compute() -> pd.DataFrame:
        data = result.model_data
        variances = component_variances(result)
        total = sum(variances.values())
        factors = _ordered(data)
        tail = (1 - ci_prob) / 2
        prefix = tag(ci_prob)
        rows = []
        for index, name in enumerate([f.name for f in factors] + [RESIDUAL]):
            share = variances[name] / total
            row: dict[str, Any] = {"component": name}
            if name == RESIDUAL:
                row.update(groups=data.n_rows, nested_in="")
                icc = np.full_like(share, np.nan)
            else:
                factor = data.factor(name)
                outer = [f for f in factors[:index] if is_nested_in(factor, f)]
                row.update(groups=factor.n_groups, nested_in=", ".join(f.name for f in outer))
                icc = share + sum((variances[f.name] / total for f in outer), np.zeros_like(share))
            row["variance"] = float(variances[name].mean())
            for key, values in (("share", share), ("icc", icc)):
                row[key] = float(np.mean(values))
                low, high = (
                    np.quantile(values, [tail, 1 - tail])
                    if np.isfinite(values).all()
                    else (
                        np.nan,
                        np.nan,
                    )
                )
                row[f"{key}_{prefix}_lb"], row[f"{key}_{prefix}_ub"] = float(low), float(high)
            rows.append(row)
        return pd.DataFrame(rows)

    return result.cache.get(("variance_decomposition", ci_prob), compute).copy()


def _ordered(data: ModelData) -> list[FactorData]:
    """The factors, fewest groups first (outermost first when nested), then formula order."""
    order = sorted(range(len(data.factors)), key=lambda i: (data.factors[i].n_groups, i))
    return [data.factors[i] for i in order]


def level_shrinkage(source: Any, factor: str, *, term: str | None = None) -> pd.DataFrame:
    """Per group of ``factor``: its own estimate of ``term`` (the first varying term by
    default), its posterior mean, its parent's posterior mean and the pooling (module
    docstring).

    The parent is the group of the next factor out in a chain of nested factors, else the
    population (``beta[term]``, or 0 for a term that only varies).
    """
    result = as_result(source)
    data = result.model_data
    chosen = data.factor(factor)
    term = term or chosen.terms[0]
    if term not in chosen.terms:
        raise ValueError(
            f"The term {term!r} does not vary by {factor!r}; its terms are "
            f"{', '.join(map(repr, chosen.terms))}."
        )
    table = group_coefficients(result, factor)
    rows = table[table["term"] == term].reset_index(drop=True)
    nesting = nesting_of(data) if len(data.factors) > 1 else None
    parent_label: list[str] | np.ndarray
    level = nesting.names.index(factor) if nesting and factor in nesting.names else -1
    if level > 0 and nesting is not None:
        outer = nesting.factors[level - 1]
        parent_label = np.asarray(outer.labels, dtype=object)[nesting.parents[level]]
        parent_mean = np.full(len(rows), _population(result, term))
        # the nearest level out that varies the term: its group's coefficient (population's
        # plus every effect of the term above it)
        for outer_level in reversed(range(level)):
            above = nesting.factors[outer_level]
            if term in above.terms:
                table_above = group_coefficients(result, above.name)
                means = table_above.loc[table_above["term"] == term, "mean"].to_numpy()
                parent_mean = means[nesting.ancestors(level, outer_level)]
                break
    else:
        parent_mean = np.full(len(rows), _population(result, term))
        parent_label = ["population"] * len(rows)
    own, post = rows["no_pooling"].to_numpy(), rows["mean"].to_numpy()
    gap = own - parent_mean
    with np.errstate(invalid="ignore", divide="ignore"):
        pooling = np.where(np.abs(gap) > 1e-12, 1 - (post - parent_mean) / gap, np.nan)
    return pd.DataFrame(
        {
            factor: rows[factor],
            "parent": parent_label,
            "n": rows["n"],
            "own": own,
            "posterior": post,
            "parent_posterior": parent_mean,
            "pooling": pooling,
        }
    )


def _population(result: FitResult, term: str) -> float:
    data = result.model_data
    if term not in data.population:
        return 0.0
    beta = result.idata["posterior"][BETA].mean(("chain", "draw")).values
    return float(np.asarray(beta)[data.population.index(term)])
