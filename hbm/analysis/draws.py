"""Posterior draws of a fit by role, pooled over chains; the group effects' means and intervals.

The analysis functions ask for "the group effects" or "the group sd", never for a name: the
fit's parameter table says which variable plays that role (``theta`` and ``tau`` in the seed's
model).

The group effects' draws are ``draws x groups`` values: a fit with many groups does not hold
them (:mod:`hbm.results.group_draws`), and :func:`role_draws` makes them whole only up to
``DEFAULTS.group_draws_max_values``. :func:`effect_means` and :func:`effect_interval` work at any
size: the means are the summary's (Rao-Blackwellized for exact draws), the intervals are
quantiles of every draw, a block of groups at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.analysis.groupwise import group_quantiles, group_sd
from hbm.results.fit_result import FitResult
from hbm.results.fit_summary import METHOD, RAO_BLACKWELL
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = [
    "check_prob",
    "effect_interval",
    "effect_means",
    "maybe_role_draws",
    "quarter_size",
    "role_draws",
    "tag",
]


def role_draws(result: FitResult, role: str) -> np.ndarray:
    """Draws of the parameter with ``role``: shape ``(S,)``, or ``(S, J)`` for group effects.

    Group effects come in the order of the data's group labels (checked).
    """
    parameter = result.parameters.one(role)
    if role == "group_effect" and parameter.name not in result.idata["posterior"]:
        values = result.group_draws().all()  # drawn again exactly (a ValueError past the limit)
        return values.reshape(values.shape[0], *values.shape[1:][: len(parameter.dims)])
    array = result.idata["posterior"][parameter.name]
    if not parameter.dims:
        return np.asarray(array.values, dtype=float).reshape(-1)
    array = array.transpose("chain", "draw", *parameter.dims)
    if role == "group_effect" and len(parameter.dims) == 1:
        data = result.grouped
        labels = tuple(str(v) for v in array[data.group].values)
        if labels != data.labels:
            raise ValueError(
                f"{parameter.name}'s {data.group!r} coordinates do not match the data's group "
                "labels."
            )
    values = np.asarray(array.values, dtype=float)
    return values.reshape(-1, *values.shape[2:])


def maybe_role_draws(result: FitResult, role: str) -> np.ndarray | None:
    """:func:`role_draws`, or ``None`` when the model has no parameter with ``role``."""
    return None if result.parameters.maybe(role) is None else role_draws(result, role)


def effect_interval(source: Any, ci_prob: float = CI_PROB) -> np.ndarray:
    """The equal-tailed ``ci_prob`` interval of each group effect, shape ``(2, J)`` (kept on the
    result: the league table, the pooling comparison and their plots share it).

    Quantiles of every draw (equal to ``np.quantile``), a block of groups at a time; for the
    summary's probability they are read from the summary, which computed them already.
    """
    check_prob(ci_prob)
    result = as_result(source)

    def compute() -> np.ndarray:
        rows = _summary_rows(result)
        if ci_prob == CI_PROB and rows is not None:
            prefix = tag(ci_prob)
            return np.stack([rows[f"{prefix}_lb"], rows[f"{prefix}_ub"]])
        tail = (1.0 - ci_prob) / 2.0
        draws = result.group_draws()
        out = np.empty((2, draws.n_groups))
        for part, values in draws.blocks():
            out[:, part] = group_quantiles(values[:, :, 0], [tail, 1.0 - tail])
        return out

    return result.cache.get(("effect_interval", ci_prob), compute).copy()


def effect_means(source: Any) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mean and sd of each group effect, two ``(J,)`` arrays: Rao-Blackwellized
    where the effects are drawn exactly (the summary's), else the draws' mean and sd."""
    result = as_result(source)

    def compute() -> tuple[np.ndarray, np.ndarray]:
        rows = _summary_rows(result)
        if rows is not None:
            return rows["mean"], rows["sd"]
        theta = role_draws(result, "group_effect")
        mean = theta.mean(axis=0)
        return mean, group_sd(theta, mean)

    mean, sd = result.cache.get(("effect_means",), compute)
    return mean.copy(), sd.copy()


def _summary_rows(result: FitResult) -> dict[str, np.ndarray] | None:
    """The summary's Rao-Blackwellized group rows of the seed model, by column (``None`` when
    the effects are sampled)."""
    table = result.summary()
    rows = table[table[METHOD] == RAO_BLACKWELL]
    if rows.empty:
        return None
    return {name: rows[name].to_numpy(dtype=float) for name in rows.columns[1:-1]}


def quarter_size(n_groups: int) -> int:
    """``k = ceil(J / 4)``: how many ranks make the top (or bottom) quarter of ``J`` groups."""
    return max(1, -(-n_groups // 4))


def tag(ci_prob: float) -> str:
    """``eti94`` for 0.94 (the column prefix :func:`hbm.results.summary.posterior_summary` uses)."""
    return f"eti{round(ci_prob * 100):d}"


def check_prob(ci_prob: float) -> None:
    """A ValueError unless ``ci_prob`` is a number strictly between 0 and 1."""
    if isinstance(ci_prob, bool) or not isinstance(ci_prob, float | int) or not 0 < ci_prob < 1:
        raise ValueError(
            f"The 'ci_prob' option must be a number between 0 and 1 (exclusive); got {ci_prob!r}."
        )
