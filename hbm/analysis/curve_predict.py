"""A curve fit's curves: each group's, the population's and a new group's, with bands and
forecasts (the curve's total to a horizon, e.g. a well's expected ultimate recovery).

For every kept draw ``s`` the group's parameters are ``beta_s + u_s[g]`` on their pooled scale
(shared ones ``beta_s``), taken to their natural scale; the curve is evaluated on a time grid.
The *population* curve has ``u = 0`` (the typical group: for log-scale parameters the median
group). A *new* group draws ``u ~ N(0, Sigma_s)`` once per draw, with ``Sigma_s`` from that
draw's sds and correlations, so its band carries the spread between groups.

Curves are expected values (no residual noise). At most ``max_draws`` draws are used (evenly
thinned), so 2,000 groups on a 200-point grid stay within memory.

A forecast is the integral of the curve from ``start`` (default 0) to ``horizon`` by the
trapezoid rule on ``points`` times; with an economic ``limit``, times where the curve is below it
add nothing (a well is shut in once its rate falls below the limit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.core.names import BETA, corr_name, effect_name, sd_name
from hbm.model.curve_terms import CurveSpec
from hbm.results.tree import as_result

__all__ = ["NEW_GROUP", "POPULATION", "curve_bands", "curve_draws", "forecast", "time_grid"]

#: The labels of the population curve and of a new group in tables and plots.
POPULATION, NEW_GROUP = "(population)", "(new group)"
MAX_DRAWS = 400
#: Curve values (draws x labels x times) a forecast holds at once.
FORECAST_BLOCK_VALUES = 2**22


def time_grid(source: Any, *, horizon: float | None = None, points: int = 120) -> np.ndarray:
    """``points`` times from the data's first time (or 0 if earlier) to ``horizon`` (default:
    the data's last time)."""
    data = as_result(source).curve_data
    low = min(0.0, float(data.t.min()))
    high = float(data.t.max()) if horizon is None else float(horizon)
    if not high > low:
        raise ValueError(f"The horizon must be after {low:g}; got {high:g}.")
    return np.linspace(low, high, points)


def curve_draws(
    source: Any,
    times: np.ndarray,
    groups: list[str] | None = None,
    *,
    max_draws: int = MAX_DRAWS,
    random_seed: int | None = None,
) -> tuple[list[str], np.ndarray]:
    """Curve draws ``(labels, values)`` with ``values`` of shape ``(draws, len(labels), times)``.

    ``groups``: labels of the fit's groups, :data:`POPULATION` and/or :data:`NEW_GROUP`
    (default: every group, then the population and a new group).
    """
    result = as_result(source)
    data = result.curve_data
    spec = CurveSpec.from_dict(result.description.curve or {})
    g = data.group
    labels = list(groups) if groups is not None else [*data.labels, POPULATION, NEW_GROUP]
    unknown = [x for x in labels if x not in (*data.labels, POPULATION, NEW_GROUP)]
    if unknown:
        raise ValueError(f"The fit has no {g} {unknown[0]!r}; its groups are {data.labels[:5]}…")
    posterior = result.idata["posterior"].to_dataset()
    beta = _stacked(posterior[BETA], max_draws)  # (S, K)
    n_draws = beta.shape[0]
    varying = spec.varying_terms
    u = _stacked(posterior[effect_name(g)], max_draws) if varying else None  # (S, G, q)
    new_u = _new_effects(posterior, spec, g, max_draws, random_seed or result.random_seed)
    curve, times = spec.shape, np.asarray(times, dtype=float)
    out = np.empty((n_draws, len(labels), times.size))
    for j, label in enumerate(labels):
        natural: dict[str, Any] = dict(spec.fixed)
        for k, name in enumerate(spec.free):
            p = curve.parameter(name)
            value = beta[:, k]
            if p.term in varying:
                column = varying.index(p.term)
                if label == NEW_GROUP:
                    value = value + new_u[:, column]
                elif label != POPULATION:
                    value = value + u[:, data.labels.index(label), column]  # type: ignore[index]
            natural[name] = p.to_natural(value)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            out[:, j, :] = curve.evaluate(times[None, :], natural)
    return labels, out


def curve_bands(
    source: Any,
    times: np.ndarray,
    groups: list[str] | None = None,
    *,
    ci_prob: float = DEFAULTS.ci_prob,
) -> pd.DataFrame:
    """Per group and time: the curve's posterior ``mean`` and equal-tailed ``lower``/``upper``."""
    labels, draws = curve_draws(source, times, groups)
    tail = (1 - ci_prob) / 2
    lower, upper = np.nanquantile(draws, [tail, 1 - tail], axis=0)
    mean = np.nanmean(draws, axis=0)
    return pd.DataFrame(
        {
            "group": np.repeat(labels, len(times)),
            "t": np.tile(times, len(labels)),
            "mean": mean.ravel(),
            "lower": lower.ravel(),
            "upper": upper.ravel(),
        }
    )


def forecast(
    source: Any,
    horizon: float,
    *,
    start: float = 0.0,
    limit: float | None = None,
    points: int = 241,
    ci_prob: float = DEFAULTS.ci_prob,
) -> pd.DataFrame:
    """Per group (and the population and a new group): the curve's value at ``horizon`` and its
    total from ``start`` to ``horizon`` (mean and interval), and the group's rows and last time.

    Examples
    --------
    >>> forecast(fit, horizon=360, limit=5.0)  # doctest: +SKIP
    """
    result = as_result(source)
    data = result.curve_data
    if not np.isfinite(horizon) or horizon <= start:
        raise ValueError(f"The horizon must be a number after {start:g}; got {horizon!r}.")
    times = np.linspace(start, horizon, points)
    labels = [*data.labels, POPULATION, NEW_GROUP]
    total, at_horizon = _totals(result, times, labels, limit)
    tail = (1 - ci_prob) / 2
    n = dict(zip(data.labels, data.n.tolist(), strict=True))
    last = {label: float(data.rows_of(label)[0].max()) for label in data.labels}
    rows = []
    for j, label in enumerate(labels):
        lo, hi = np.nanquantile(total[:, j], [tail, 1 - tail])
        vlo, vhi = np.nanquantile(at_horizon[:, j], [tail, 1 - tail])
        rows.append(
            {
                "group": label,
                "n_rows": n.get(label, 0),
                "last_time": last.get(label, np.nan),
                "total_mean": float(np.nanmean(total[:, j])),
                "total_lower": float(lo),
                "total_upper": float(hi),
                "value_at_horizon": float(np.nanmean(at_horizon[:, j])),
                "value_lower": float(vlo),
                "value_upper": float(vhi),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update(horizon=float(horizon), start=float(start), limit=limit)
    return table


def _totals(
    result: Any, times: np.ndarray, labels: list[str], limit: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's curve total over ``times`` (trapezoid; below ``limit`` adds nothing) and its
    value at the last time, per draw ``(S, labels)``: the curves drawn a block of labels at a
    time (at most :data:`FORECAST_BLOCK_VALUES` values), so a field of thousands of wells on a
    long grid needs no more memory than a few dozen of them."""
    n_draws = min(MAX_DRAWS, _n_draws(result))
    per_label = max(1, n_draws * times.size)
    size = max(1, FORECAST_BLOCK_VALUES // per_label)
    totals, last = [], []
    for first in range(0, len(labels), size):
        _, draws = curve_draws(result, times, labels[first : first + size])
        rates = np.nan_to_num(draws, nan=0.0, posinf=0.0, neginf=0.0)
        if limit is not None:
            rates[rates < limit] = 0.0
        totals.append(np.trapezoid(rates, times, axis=2))
        last.append(draws[:, :, -1].copy())  # a copy: a view would keep the block alive
    return np.concatenate(totals, axis=1), np.concatenate(last, axis=1)


def _n_draws(result: Any) -> int:
    sizes = result.idata["posterior"].sizes
    return int(sizes["chain"] * sizes["draw"])


def _stacked(values: Any, max_draws: int) -> np.ndarray:
    """Draws of a posterior variable as ``(S, ...)``, chains stacked, thinned to ``max_draws``."""
    array = np.asarray(values.values, dtype=float)
    array = array.reshape(-1, *array.shape[2:])
    step = max(1, int(np.ceil(array.shape[0] / max_draws)))
    return array[::step]


def _new_effects(posterior: Any, spec: CurveSpec, g: str, max_draws: int, seed: int) -> np.ndarray:
    """One new group's effects per draw: ``u ~ N(0, Sigma_s)``, seeded."""
    q = len(spec.varying_terms)
    if q == 0:
        return np.zeros((0, 0))
    sd = _stacked(posterior[sd_name(g)], max_draws)  # (S, q)
    corr = np.broadcast_to(np.eye(q), (sd.shape[0], q, q)).copy()
    if q > 1:
        pairs = _stacked(posterior[corr_name(g)], max_draws)  # (S, pairs)
        k = 0
        for i in range(q):
            for j in range(i + 1, q):
                corr[:, i, j] = corr[:, j, i] = pairs[:, k]
                k += 1
    chol = np.linalg.cholesky(corr + 1e-12 * np.eye(q))
    z = np.random.default_rng([int(seed), 18]).standard_normal((sd.shape[0], q))
    return sd * np.einsum("sij,sj->si", chol, z)
