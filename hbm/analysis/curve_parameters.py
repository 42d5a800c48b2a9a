"""A curve fit's parameters on their natural scale: the population's and each group's.

The model pools parameters on their own scale (``log_qi``); these tables take the draws back to
the curve's natural parameters (``qi``). The transforms are monotone, so the median and the
equal-tailed interval of ``qi`` are the transformed ones of ``log_qi``; the mean is of the
transformed draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.core.defaults import DEFAULTS
from hbm.core.names import BETA, effect_name
from hbm.model.curve_terms import CurveSpec
from hbm.results.tree import as_result

__all__ = ["group_curve_parameters", "population_curve_parameters"]


def population_curve_parameters(source: Any, *, ci_prob: float = DEFAULTS.ci_prob) -> pd.DataFrame:
    """One row per curve parameter: its pooled term, scale, and the population value's mean,
    median and interval on the natural scale (fixed parameters with their value)."""
    result = as_result(source)
    spec = CurveSpec.from_dict(result.description.curve or {})
    beta = result.idata["posterior"][BETA]
    rows = []
    for name in spec.shape.names:
        p = spec.shape.parameter(name)
        if name in spec.fixed:
            value = spec.fixed[name]
            rows.append(_row(name, p.term, "fixed", np.array([value]), ci_prob))
            continue
        draws = p.to_natural(np.asarray(beta.sel({beta.dims[-1]: p.term}).values).ravel())
        rows.append(_row(name, p.term, p.scale, draws, ci_prob))
    return pd.DataFrame(rows)


def group_curve_parameters(source: Any, *, ci_prob: float = DEFAULTS.ci_prob) -> pd.DataFrame:
    """Per group and varying parameter: the group's rows and its value's mean, median and
    interval on the natural scale (``beta + u`` transformed)."""
    result = as_result(source)
    data = result.curve_data
    spec = CurveSpec.from_dict(result.description.curve or {})
    posterior = result.idata["posterior"]
    beta = posterior[BETA]
    u = posterior[effect_name(data.group)]
    rows = []
    for name in spec.varying:
        p = spec.shape.parameter(name)
        b = np.asarray(beta.sel({beta.dims[-1]: p.term}).values).reshape(-1)
        effects = np.asarray(u.sel({u.dims[-1]: p.term}).values)
        effects = effects.reshape(-1, effects.shape[-1])
        natural = p.to_natural(b[:, None] + effects)
        tail = (1 - ci_prob) / 2
        low, median, high = np.quantile(natural, [tail, 0.5, 1 - tail], axis=0)
        rows.append(
            pd.DataFrame(
                {
                    data.group: data.labels,
                    "parameter": name,
                    "n_rows": data.n,
                    "mean": natural.mean(axis=0),
                    "median": median,
                    "lower": low,
                    "upper": high,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _row(name: str, term: str, scale: str, draws: np.ndarray, ci_prob: float) -> dict[str, Any]:
    tail = (1 - ci_prob) / 2
    low, median, high = np.quantile(draws, [tail, 0.5, 1 - tail])
    return {
        "parameter": name,
        "term": term,
        "pooled_scale": scale,
        "mean": float(draws.mean()),
        "median": float(median),
        "lower": float(low),
        "upper": float(high),
    }
