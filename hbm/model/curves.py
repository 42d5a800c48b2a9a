"""Named curves for group-level curve models: small pure functions of time and parameters.

Each curve is a formula ``f(t; params)`` with named parameters, each with its *natural* meaning
and the scale on which it is pooled across groups: ``identity`` (any real value), ``log`` (a
parameter that must be positive: the model's term is ``log_<name>``) or ``logit2`` (Arps's ``b``,
in ``(0, 2)``: the term is ``logit_b`` with ``b = 2 / (1 + exp(-logit_b))``). Group effects are
normal on the pooled scale, so a log-scale parameter varies by a factor between groups.

=============  ==============================================  ============================
curve          formula                                          pooled terms
=============  ==============================================  ============================
linear         intercept + slope t                              intercept, slope
exponential    qi exp(-di t)                                    log_qi, log_di
arps           qi / (1 + b di t)^(1/b),  0 < b < 2              log_qi, log_di, logit_b
harmonic       qi / (1 + di t)  (Arps with b = 1)               log_qi, log_di
logistic       asym / (1 + exp((xmid - t) / scal))  (SSlogis)   asym, xmid, log_scal
gompertz       asym exp(-exp(-(t - xmid) / scal))               asym, xmid, log_scal
asymptotic     asym + (r0 - asym) exp(-exp(lrc) t)  (SSasymp)   asym, r0, lrc
=============  ==============================================  ============================

With a count family (log link) the curve is the expected count and must stay positive: the
logistic's and the Gompertz curve's ``asym``, and the asymptotic curve's ``asym`` and ``r0``, are
then pooled on the log scale (``log_asym``, ``log_r0``: :meth:`Curve.for_link`), the asymptotic
curve for times >= 0 only (it mixes ``r0`` and ``asym`` there); a line crosses zero, so
``linear`` cannot be a count's mean (:func:`count_curves` lists those that can).

The functions work on numpy arrays and on PyTensor tensors alike (``lib`` is ``numpy`` or
``pytensor.tensor``).

>>> import numpy as np
>>> CURVES["exponential"].evaluate(np.array([0.0, 10.0]), {"qi": 100.0, "di": 0.1}).round(3)
array([100.   ,  36.788])
>>> CURVES["arps"].parameter("b").term, CURVES["logistic"].terms
('logit_b', ('asym', 'xmid', 'log_scal'))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

__all__ = ["CURVES", "Curve", "CurveParameter", "count_curves", "get_curve"]

Scale = Literal["identity", "log", "logit2"]
#: Where a curve parameter's prior centre comes from (see :mod:`hbm.model.curve_priors`).
Anchor = Literal["level", "first", "last", "rate", "time_mid", "time_scale", "slope", "shape"]


@dataclass(frozen=True)
class CurveParameter:
    """One parameter of a curve.

    Attributes
    ----------
    name : str
        Its natural name (``qi``), as ``--varying`` and ``fixed`` take it.
    scale : {"identity", "log", "logit2"}
        The scale on which it is pooled (see the module docstring).
    meaning : str
        What it is, in words.
    anchor : str
        What in the data sets its default prior's centre and spread.
    """

    name: str
    scale: Scale
    meaning: str
    anchor: Anchor

    @property
    def term(self) -> str:
        """The model's term: ``log_qi`` for a log-scale ``qi``, ``logit_b``, or the name."""
        prefix = {"identity": "", "log": "log_", "logit2": "logit_"}[self.scale]
        return f"{prefix}{self.name}"

    def to_natural(self, value: Any, lib: Any = np) -> Any:
        """The natural value of a pooled-scale value."""
        if self.scale == "log":
            return lib.exp(value)
        if self.scale == "logit2":
            return 2.0 / (1.0 + lib.exp(-value))
        return value

    def to_pooled(self, value: Any) -> Any:
        """The pooled-scale value of a natural value (numpy)."""
        value = np.asarray(value, dtype=float)
        if self.scale == "log":
            return np.log(value)
        if self.scale == "logit2":
            return np.log(value / (2.0 - value))
        return value

    def check_natural(self, value: float) -> None:
        """A ValueError when a fixed natural value lies outside the parameter's range."""
        ok = {
            "identity": bool(np.isfinite(value)),
            "log": bool(np.isfinite(value) and value > 0),
            "logit2": bool(np.isfinite(value) and 0 < value <= 2),
        }[self.scale]
        if not ok:
            need = {
                "identity": "a finite number",
                "log": "a positive number",
                "logit2": "a number in (0, 2]",
            }[self.scale]
            raise ValueError(f"The curve parameter {self.name!r} must be {need}; got {value!r}.")


@dataclass(frozen=True)
class Curve:
    """A named curve: its parameters and its formula (see the module docstring)."""

    name: str
    formula: str
    parameters: tuple[CurveParameter, ...]
    function: Callable[[Any, Mapping[str, Any], Any], Any]
    #: Whether the curve describes a positive quantity (a rate): then values must not be < 0.
    positive: bool = False
    #: ``log f`` written so that it keeps its digits where ``f`` underflows (a count family's
    #: linear predictor); ``None``: the log of :meth:`evaluate`.
    log_function: Callable[[Any, Mapping[str, Any], Any], Any] | None = None
    #: The parameters that keep the curve positive when they are (the logistic's ``asym``; the
    #: asymptotic curve's ``asym`` and ``r0``): with a log link (the curve an expected count)
    #: :meth:`for_link` pools them on the log scale. ``None``: no parametrization keeps the curve
    #: positive (a line crosses zero), so it cannot be an expected count.
    amplitudes: tuple[str, ...] | None = ()
    #: With the log link the curve is positive for times ``>= count_time_min`` only (``None``: at
    #: every time): the asymptotic curve mixes ``r0`` and ``asym`` for t >= 0 and overshoots
    #: below t = 0.
    count_time_min: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters' natural names."""
        return tuple(p.name for p in self.parameters)

    @property
    def terms(self) -> tuple[str, ...]:
        """The parameters' pooled-scale terms (``log_qi``)."""
        return tuple(p.term for p in self.parameters)

    def parameter(self, name: str) -> CurveParameter:
        """The parameter by natural name or term; a ValueError listing them otherwise."""
        for p in self.parameters:
            if name in (p.name, p.term):
                return p
        raise ValueError(
            f"The curve {self.name!r} has no parameter {name!r}; its parameters are "
            f"{', '.join(map(repr, self.names))}."
        )

    def evaluate(self, t: Any, params: Mapping[str, Any], lib: Any = np) -> Any:
        """``f(t; params)`` with natural parameter values (numbers, arrays or tensors)."""
        return self.function(t, params, lib)

    @property
    def counts(self) -> bool:
        """Whether the curve can be an expected count (a log link): positive by construction
        once its :attr:`amplitudes` are pooled on the log scale."""
        return self.amplitudes is not None

    def for_link(self, link: str) -> Curve:
        """The curve as a family with ``link`` pools it: with the log link (counts) the curve is
        an expected count, so its amplitudes pooled on the identity scale (the logistic's and the
        Gompertz curve's ``asym``, the asymptotic curve's ``asym`` and ``r0``) are pooled on the
        log scale instead (terms ``log_asym``, ``log_r0``), as every parameter that must be
        positive is; otherwise the curve itself. A curve that no parametrization keeps positive
        (``linear``) is a ValueError.

        >>> CURVES["logistic"].for_link("log").terms
        ('log_asym', 'xmid', 'log_scal')
        >>> CURVES["asymptotic"].for_link("log").terms
        ('log_asym', 'log_r0', 'lrc')
        """
        if link != "log":
            return self
        if self.amplitudes is None:
            raise ValueError(
                f"The {self.name!r} curve cannot be an expected count (log link): "
                f"{self.formula} can reach zero or below; the curves that can are "
                f"{', '.join(map(repr, count_curves()))}."
            )
        parameters = tuple(
            replace(p, scale="log") if p.name in self.amplitudes and p.scale == "identity" else p
            for p in self.parameters
        )
        return replace(self, parameters=parameters)

    def log_evaluate(self, t: Any, params: Mapping[str, Any], lib: Any = np) -> Any:
        """``log f(t; params)``: the linear predictor of a count family (log link), NaN where
        ``f <= 0``.

        >>> p = {"asym": 100.0, "xmid": 0.0, "scal": 1.0}
        >>> round(float(CURVES["logistic"].log_evaluate(-800.0, p)), 2)
        -795.39
        """
        if self.log_function is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                return lib.log(self.function(t, params, lib))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.log_function(t, params, lib)


def _linear(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["intercept"] + p["slope"] * t


def _exponential(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["qi"] * lib.exp(-p["di"] * t)


def _arps(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    # qi (1 + b di t)^(-1/b), written with log1p so small b di t keeps its digits
    return p["qi"] * lib.exp(-lib.log1p(p["b"] * p["di"] * t) / p["b"])


def _harmonic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["qi"] / (1.0 + p["di"] * t)


def _logistic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["asym"] / (1.0 + lib.exp((p["xmid"] - t) / p["scal"]))


def _gompertz(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["asym"] * lib.exp(-lib.exp(-(t - p["xmid"]) / p["scal"]))


def _asymptotic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return p["asym"] + (p["r0"] - p["asym"]) * lib.exp(-lib.exp(p["lrc"]) * t)


def _log_exponential(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return lib.log(p["qi"]) - p["di"] * t


def _log_arps(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return lib.log(p["qi"]) - lib.log1p(p["b"] * p["di"] * t) / p["b"]


def _log_harmonic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return lib.log(p["qi"]) - lib.log1p(p["di"] * t)


def _log_logistic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    # log(1 + e^z) as logaddexp(0, z): no overflow far before the rise
    return lib.log(p["asym"]) - lib.logaddexp(0.0, (p["xmid"] - t) / p["scal"])


def _log_gompertz(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    return lib.log(p["asym"]) - lib.exp(-(t - p["xmid"]) / p["scal"])


def _log_asymptotic(t: Any, p: Mapping[str, Any], lib: Any) -> Any:
    # log(asym (1 - w) + r0 w), w = exp(-k t): a mix of two positive values for t >= 0, with
    # 1 - w as -expm1(-k t) so that r0 keeps its digits near t = 0 when asym >> r0
    k = lib.exp(p["lrc"])
    return lib.log(-p["asym"] * lib.expm1(-k * t) + p["r0"] * lib.exp(-k * t))


_QI = CurveParameter("qi", "log", "initial rate (at t = 0)", "first")
_DI = CurveParameter("di", "log", "initial decline rate (per unit of time)", "rate")
_ASYM = CurveParameter("asym", "identity", "upper asymptote", "level")
_XMID = CurveParameter("xmid", "identity", "time of the inflection point", "time_mid")
_SCAL = CurveParameter("scal", "log", "time scale of the rise", "time_scale")

#: Every named curve.
CURVES: dict[str, Curve] = {
    c.name: c
    for c in (
        Curve(
            "linear",
            "intercept + slope * t",
            (
                CurveParameter("intercept", "identity", "value at t = 0", "first"),
                CurveParameter("slope", "identity", "change per unit of time", "slope"),
            ),
            _linear,
            amplitudes=None,
        ),
        Curve(
            "exponential",
            "qi * exp(-di * t)",
            (_QI, _DI),
            _exponential,
            positive=True,
            log_function=_log_exponential,
        ),
        Curve(
            "arps",
            "qi / (1 + b * di * t)^(1 / b)",
            (_QI, _DI, CurveParameter("b", "logit2", "hyperbolic exponent, 0 < b < 2", "shape")),
            _arps,
            positive=True,
            log_function=_log_arps,
        ),
        Curve(
            "harmonic",
            "qi / (1 + di * t)",
            (_QI, _DI),
            _harmonic,
            positive=True,
            log_function=_log_harmonic,
        ),
        Curve(
            "logistic",
            "asym / (1 + exp((xmid - t) / scal))",
            (_ASYM, _XMID, _SCAL),
            _logistic,
            log_function=_log_logistic,
            amplitudes=("asym",),
        ),
        Curve(
            "gompertz",
            "asym * exp(-exp(-(t - xmid) / scal))",
            (_ASYM, _XMID, _SCAL),
            _gompertz,
            log_function=_log_gompertz,
            amplitudes=("asym",),
        ),
        Curve(
            "asymptotic",
            "asym + (r0 - asym) * exp(-exp(lrc) * t)",
            (
                CurveParameter("asym", "identity", "horizontal asymptote", "last"),
                CurveParameter("r0", "identity", "value at t = 0", "first"),
                CurveParameter("lrc", "identity", "log of the rate constant", "rate"),
            ),
            _asymptotic,
            log_function=_log_asymptotic,
            amplitudes=("asym", "r0"),
            count_time_min=0.0,
        ),
    )
}


def count_curves() -> tuple[str, ...]:
    """The curves that can be an expected count (a count family's log link).

    >>> count_curves()
    ('exponential', 'arps', 'harmonic', 'logistic', 'gompertz', 'asymptotic')
    """
    return tuple(name for name, curve in CURVES.items() if curve.counts)


def get_curve(name: object) -> Curve:
    """The curve named ``name``; an unknown name is a ValueError that lists the curves.

    >>> get_curve("gaussian")
    Traceback (most recent call last):
    ...
    ValueError: The 'curve' option must be one of 'linear', 'exponential', 'arps', 'harmonic', \
'logistic', 'gompertz', 'asymptotic'; got 'gaussian'.
    """
    if not isinstance(name, str) or name not in CURVES:
        raise ValueError(
            f"The 'curve' option must be one of {', '.join(map(repr, CURVES))}; got {name!r}."
        )
    return CURVES[name]
