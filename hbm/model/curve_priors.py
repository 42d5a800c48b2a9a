"""Priors of a curve model: weakly informative defaults from the data's scale and time range.

Every parameter's default centre and spread come from what it describes (its *anchor*, see
:mod:`hbm.model.curves`), measured on the data: ``s_y`` the values' sd, ``T`` the time range
(last minus first time over all rows), ``t_mid`` its midpoint, ``span`` the median time span of a
group (``T`` when groups have one time each), ``first`` / ``last`` / ``peak`` the median over
groups of each group's first, last and largest value. On the pooled scale:

=============  ==================================  =======================  ====================
anchor         beta[<term>]                         sd_<g>[<term>]           example
=============  ==================================  =======================  ====================
first (log)    normal(log first, 1.5)              halfnormal(1)            log_qi
first          normal(first, 2.5 s_y)              halfnormal(s_y)          intercept, r0
level          normal(peak, 2.5 s_y)               halfnormal(s_y)          asym (logistic)
last           normal(last, 2.5 s_y)               halfnormal(s_y)          asym (asymptotic)
rate           normal(log(1 / span), 2)            halfnormal(1)            log_di, lrc
time_mid       normal(t_mid, T)                    halfnormal(T / 2)        xmid
time_scale     normal(log(T / 4), 1.5)             halfnormal(1)            log_scal
slope          normal(0, 2.5 s_y / s_t)            halfnormal(s_y / s_t)    slope
shape          normal(0, 1.5)  (b = 1 at 0)        halfnormal(1)            logit_b
=============  ==================================  =======================  ====================

and ``corr_<g> ~ lkj(2)``, ``sigma ~ halfnormal(s_y)`` (normal family). The count families'
own parameters take their family's default (:mod:`hbm.model.families`: ``alpha ~
halfcauchy(1)`` for the negative binomial; the Poisson has none). A log-scale sd of 1 lets a
parameter differ by a factor of about e between groups. User text may name one term
(``beta[log_qi]``, ``sd_well[log_di]``) or a kind (``sd_well``: every varying term; ``beta``:
every term).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from hbm.core.names import BETA, SIGMA, corr_name, sd_name
from hbm.data.curve_data import CurveData
from hbm.model.curves import Curve, CurveParameter
from hbm.model.families import get_family
from hbm.model.priors import Prior, parse_prior

__all__ = ["CurveScales", "curve_default_priors", "curve_scales", "resolve_curve_priors"]

LKJ_ETA = 2.0


class CurveScales:
    """The data's scales that set the default priors (see the module docstring)."""

    def __init__(self, data: CurveData) -> None:
        y, t, codes = data.y, data.t, data.codes
        starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
        ends = np.r_[starts[1:], y.size] - 1
        self.s_y = _positive(float(np.std(y)), float(np.max(np.abs(y))) or 1.0)
        self.t_range = _positive(float(t.max() - t.min()), 1.0)
        self.t_mid = float(t.min() + t.max()) / 2
        self.s_t = _positive(float(np.std(t)), 1.0)
        spans = t[ends] - t[starts]
        self.span = _positive(float(np.median(spans)), self.t_range)
        self.first = float(np.median(y[starts]))
        self.last = float(np.median(y[ends]))
        self.peak = float(np.median(np.maximum.reduceat(y, starts)))

    def centre_and_spreads(self, p: CurveParameter) -> tuple[float, float, float]:
        """``(centre, sd of beta, scale of the group sd)`` on the pooled scale."""
        log = p.scale == "log"
        if p.anchor in ("first", "level", "last"):
            value = {"first": self.first, "level": self.peak, "last": self.last}[p.anchor]
            if log:
                return math.log(_positive(value, self.s_y)), 1.5, 1.0
            return value, 2.5 * self.s_y, self.s_y
        if p.anchor == "rate":
            return math.log(1.0 / self.span), 2.0, 1.0
        if p.anchor == "time_mid":
            return self.t_mid, self.t_range, self.t_range / 2
        if p.anchor == "time_scale":
            return math.log(self.t_range / 4), 1.5, 1.0
        if p.anchor == "slope":
            return 0.0, 2.5 * self.s_y / self.s_t, self.s_y / self.s_t
        return 0.0, 1.5, 1.0  # shape


def curve_scales(data: CurveData) -> CurveScales:
    """The data's scales (see :class:`CurveScales`)."""
    return CurveScales(data)


def curve_default_priors(
    data: CurveData,
    curve: Curve,
    free: Sequence[str],
    varying: Sequence[str],
    family: str = "normal",
) -> dict[str, Prior]:
    """The default prior of every parameter, by full name, for the ``free`` (not fixed) curve
    parameters of which ``varying`` vary by group (natural names), for the outcome ``family``."""
    scales = curve_scales(data)
    priors: dict[str, Prior] = {}
    for name in free:
        p = curve.parameter(name)
        centre, spread, _ = scales.centre_and_spreads(p)
        priors[f"{BETA}[{p.term}]"] = Prior("normal", (_round(centre), _round(spread)), "default")
    for name in varying:
        p = curve.parameter(name)
        scale = scales.centre_and_spreads(p)[2]
        priors[f"{sd_name(data.group)}[{p.term}]"] = Prior(
            "halfnormal", (_round(scale),), "default"
        )
    if len(varying) > 1:
        priors[corr_name(data.group)] = Prior("lkj", (LKJ_ETA,), "default")
    if family == "normal":
        priors[SIGMA] = Prior("halfnormal", (_round(scales.s_y),), "default")
    else:
        priors.update(get_family(family).default_family_priors(0.0, 1.0))
    return priors


def resolve_curve_priors(
    defaults: dict[str, Prior], group: str, priors: Mapping[str, str | float | Prior] | None
) -> dict[str, Prior]:
    """The defaults overridden by the user's priors; an unknown name is an error naming them.

    Examples
    --------
    >>> defaults = {"beta[asym]": Prior("normal", (200.0, 100.0)), "sd_Tree[asym]":
    ...             Prior("halfnormal", (50.0,)), "sigma": Prior("halfnormal", (50.0,))}
    >>> resolve_curve_priors(defaults, "Tree", {"sd_Tree": "halfnormal(30)"})["sd_Tree[asym]"]
    Prior(family='halfnormal', params=(30.0,), source='user')
    """
    resolved = dict(defaults)
    if priors is None:
        return resolved
    if not isinstance(priors, Mapping):
        raise TypeError(
            f"The 'priors' option of a curve model must be a mapping of parameter names to "
            f"prior text; got {priors!r}."
        )
    kinds = {
        BETA: [n for n in resolved if n.startswith(f"{BETA}[")],
        sd_name(group): [n for n in resolved if n.startswith(f"{sd_name(group)}[")],
    }
    for name in sorted(priors, key=lambda n: "[" in str(n)):
        targets = kinds.get(name) or ([name] if name in resolved else [])
        if not targets:
            raise ValueError(
                f"The model has no parameter {name!r} to put a prior on; its priors are on "
                f"{', '.join(map(repr, [*kinds, *resolved]))}."
            )
        for target in targets:
            spec = priors[name]
            resolved[target] = spec if isinstance(spec, Prior) else parse_prior(spec, target)
    return resolved


def _positive(value: float, fallback: float) -> float:
    return value if math.isfinite(value) and value > 0 else fallback


def _round(value: float) -> float:
    """Four significant digits: the prior table prints them, and the text reads back exactly."""
    return float(f"{value:.4g}")
