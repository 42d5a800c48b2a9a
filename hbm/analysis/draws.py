"""Posterior draws of a fit by role, pooled over chains; the group effects' intervals, kept.

The analysis functions ask for "the group effects" or "the group sd", never for a name: the
fit's parameter table says which variable plays that role (``theta`` and ``tau`` in the seed's
model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbm.analysis.groupwise import group_quantiles
from hbm.results.fit_result import FitResult
from hbm.results.summary import CI_PROB
from hbm.results.tree import as_result

__all__ = ["check_prob", "effect_interval", "maybe_role_draws", "quarter_size", "role_draws", "tag"]


def role_draws(result: FitResult, role: str) -> np.ndarray:
    """Draws of the parameter with ``role``: shape ``(S,)``, or ``(S, J)`` for group effects.

    Group effects come in the order of the data's group labels (checked).
    """
    parameter = result.parameters.one(role)
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
    result: the league table, the pooling comparison and their plots share it)."""
    check_prob(ci_prob)
    result = as_result(source)

    def compute() -> np.ndarray:
        tail = (1.0 - ci_prob) / 2.0
        return group_quantiles(role_draws(result, "group_effect"), [tail, 1.0 - tail])

    return result.cache.get(("effect_interval", ci_prob), compute).copy()


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
