"""Prior distributions as text: parsing, checking, completing with defaults, and the prior table.

Prior text (the contract of DESIGN.md; every scale is a **standard deviation**, never a variance):

=====================  ======================================  ==============================
text                   distribution                            allowed for
=====================  ======================================  ==============================
``normal(m, s)``       Normal, mean ``m``, sd ``s``            real parameters (``mu``)
``studentt(nu, m, s)`` Student-t, ``nu`` d.o.f., loc, scale    real parameters
``halfnormal(s)``      half-Normal, scale ``s``                positive ones (``tau``, ``sigma``)
``halfcauchy(s)``      half-Cauchy, scale ``s``                positive ones
``halfstudentt(nu,s)`` half-Student-t                          positive ones
``exponential(rate)``  Exponential, mean ``1/rate``            positive ones
``gamma(a, b)``        Gamma, shape ``a``, rate ``b``          positive ones (``nu``, ``alpha``)
``lkj(eta)``           LKJ, shape ``eta`` (1: uniform)          correlations (``corr_<group>``)
``60`` (a number)      fixed at that value                     all (positive ones > 0)
=====================  ======================================  ==============================

Which parameter may take which family follows from its support (:func:`hbm.core.names.
support_of`): a standard deviation needs a positive family or value, a location a real one.
Default priors come from the model's family (e.g. :func:`hbm.model.families.normal.default_priors`),
and :func:`complete_priors` fills in what a user did not name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from hbm.core.names import support_of

__all__ = ["Prior", "complete_priors", "parse_prior", "prior_table"]

Family = Literal[
    "normal",
    "studentt",
    "halfnormal",
    "halfcauchy",
    "halfstudentt",
    "exponential",
    "gamma",
    "lkj",
    "fixed",
]

#: Parameter names of each family, in the order the text gives them.
FAMILY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "normal": ("m", "s"),
    "studentt": ("nu", "m", "s"),
    "halfnormal": ("s",),
    "halfcauchy": ("s",),
    "halfstudentt": ("nu", "s"),
    "exponential": ("rate",),
    "gamma": ("shape", "rate"),
    "lkj": ("eta",),
}
_REAL_LINE = ("normal", "studentt")
_POSITIVE = ("halfnormal", "halfcauchy", "halfstudentt", "exponential", "gamma")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    """One parameter's prior: a family and its numbers, or a fixed value.

    Attributes
    ----------
    family : str
        One of ``normal``, ``studentt``, ``halfnormal``, ``halfcauchy``, ``halfstudentt``,
        ``exponential``, ``gamma`` or ``fixed``.
    params : tuple of float
        The numbers in the order of the text form (``fixed`` has one: the value).
    source : str
        Where it came from: ``"user"``, ``"default"`` or ``"seed preset"``.
    """

    family: Family
    params: tuple[float, ...]
    source: str = "user"

    @property
    def is_fixed(self) -> bool:
        """True when the parameter is fixed at a value rather than given a distribution."""
        return self.family == "fixed"

    def text(self, digits: int | None = None) -> str:
        """The prior as text that :func:`parse_prior` reads back exactly (or rounded)."""
        numbers = [_format(p, digits) for p in self.params]
        if self.is_fixed:
            return numbers[0]
        return f"{self.family}({', '.join(numbers)})"

    def describe(self) -> str:
        """A sentence-like description with parameter names, e.g. ``Normal(mean 60, sd 2.236)``."""
        p = [_format(x, 4) for x in self.params]
        return {
            "normal": lambda: f"Normal(mean {p[0]}, sd {p[1]})",
            "studentt": lambda: f"Student-t(nu {p[0]}, loc {p[1]}, scale {p[2]})",
            "halfnormal": lambda: f"Half-Normal(sd {p[0]})",
            "halfcauchy": lambda: f"Half-Cauchy(scale {p[0]})",
            "halfstudentt": lambda: f"Half-Student-t(nu {p[0]}, scale {p[1]})",
            "exponential": lambda: (
                f"Exponential(rate {p[0]}, mean {_format(1 / self.params[0], 4)})"
            ),
            "gamma": lambda: (
                f"Gamma(shape {p[0]}, rate {p[1]}, "
                f"mean {_format(self.params[0] / self.params[1], 4)})"
            ),
            "lkj": lambda: f"LKJ(eta {p[0]})",
            "fixed": lambda: f"fixed at {p[0]}",
        }[self.family]()

    def to_pymc(self, name: str):
        """Create the PyMC variable for this prior (call inside a ``pm.Model`` context).

        The parameters enter the graph as one shared vector ``<name>_prior`` (``pm.Data``), not
        as constants: the compiled model then depends on the prior's family only, and the same
        compiled functions serve any parameter values (see :mod:`hbm.models`).
        """
        import numpy as np
        import pymc as pm

        f = self.family
        p = pm.Data(f"{name}_prior", np.asarray(self.params, dtype=np.float64))
        if f == "fixed":
            return pm.Deterministic(name, p[0])
        if f == "normal":
            return pm.Normal(name, mu=p[0], sigma=p[1])
        if f == "studentt":
            return pm.StudentT(name, nu=p[0], mu=p[1], sigma=p[2])
        if f == "halfnormal":
            return pm.HalfNormal(name, sigma=p[0])
        if f == "halfcauchy":
            return pm.HalfCauchy(name, beta=p[0])
        if f == "halfstudentt":
            return pm.HalfStudentT(name, nu=p[0], sigma=p[1])
        if f == "gamma":
            return pm.Gamma(name, alpha=p[0], beta=p[1])
        if f == "lkj":
            raise ValueError(f"An LKJ prior ({name}) is built with its correlation block.")
        return pm.Exponential(name, lam=p[0])


def parse_prior(text: str | float | int, parameter: str) -> Prior:
    """Read a prior from its text form, checking it suits ``parameter``.

    Parameters
    ----------
    text : str or number
        For example ``"normal(0, 5)"``, ``"halfcauchy(5)"`` or ``"1"`` (fixed at 1).
    parameter : str
        The parameter the prior is for (``mu``, ``tau``, ``sigma``, ``beta[x]``, ``sd_school``,
        ...): a standard deviation needs a positive family or value (see
        :func:`hbm.core.names.support_of`).

    Returns
    -------
    Prior

    Examples
    --------
    >>> parse_prior("normal(60, 2.5)", "mu")
    Prior(family='normal', params=(60.0, 2.5), source='user')
    >>> parse_prior("1", "tau").describe()
    'fixed at 1'
    """
    where = f"The prior for {parameter!r}"
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise TypeError(f"{where} must be text such as 'normal(0, 5)' or a number; got {text!r}.")
    if isinstance(text, int | float):
        return _fixed(float(text), parameter, where)
    raw = text.strip()
    if re.fullmatch(_NUMBER, raw):
        return _fixed(float(raw), parameter, where)
    call = _CALL.match(raw)
    if call is None:
        brackets = " (its brackets do not match)" if raw.count("(") != raw.count(")") else ""
        raise ValueError(
            f"{where} could not be read: {text!r}{brackets}. Expected a family with numbers in "
            "brackets, such as 'normal(0, 5)', 'halfnormal(5)', 'halfcauchy(5)', "
            "'halfstudentt(3, 5)', 'studentt(3, 0, 5)', 'exponential(1)', 'gamma(2, 0.1)', or a "
            "bare number meaning fixed."
        )
    family, inside = call.group(1).lower(), call.group(2)
    if family not in FAMILY_PARAMETERS:
        raise ValueError(
            f"{where} uses the unknown family {call.group(1)!r} in {text!r}; known families are "
            f"{', '.join(FAMILY_PARAMETERS)}."
        )
    names = FAMILY_PARAMETERS[family]
    pieces = [piece.strip() for piece in inside.split(",")] if inside.strip() else []
    if len(pieces) != len(names) or not all(re.fullmatch(_NUMBER, p) for p in pieces):
        raise ValueError(
            f"{where}: {family} takes {len(names)} number(s) ({', '.join(names)}); got {text!r}."
        )
    params = tuple(float(p) for p in pieces)
    for label, number in zip(names, params, strict=True):
        if not math.isfinite(number):
            raise ValueError(
                f"{where}: the {label} of {family} must be a finite number; got {text!r}."
            )
    for label, number in zip(names, params, strict=True):
        if label in ("s", "nu", "rate", "eta", "shape") and not number > 0:
            what = {
                "s": "scale (a standard deviation)",
                "nu": "degrees of freedom nu",
                "rate": "rate",
                "eta": "shape eta",
                "shape": "shape",
            }
            raise ValueError(f"{where}: the {what[label]} of {family} must be > 0; got {number:g}.")
    support = support_of(parameter)
    if (support == "correlation") != (family == "lkj"):
        raise ValueError(
            f"{where}: correlations take an LKJ prior such as 'lkj(2)'; got {text!r}."
            if support == "correlation"
            else f"{where}: lkj(eta) is a prior for correlations (corr_<group>); got {text!r}."
        )
    positive = support == "positive"
    if positive and family in _REAL_LINE:
        raise ValueError(
            f"{where} must be positive-valued (it is a standard deviation); {family} is not. "
            f"Use one of {', '.join(_POSITIVE)}, or a positive number to fix it."
        )
    if not positive and family in _POSITIVE:
        raise ValueError(
            f"{where} should allow any real value; {family} is positive-only. "
            "Use normal(m, s) or studentt(nu, m, s)."
        )
    return Prior(family=family, params=params)  # type: ignore[arg-type]


def complete_priors(
    defaults: Mapping[str, Prior],
    priors: str | Mapping[str, str | float | Prior] | None,
    *,
    presets: Mapping[str, Mapping[str, Prior]],
    hints: Mapping[str, str] | None = None,
) -> dict[str, Prior]:
    """A model's default priors, overridden by a preset's or by the user's, every name checked.

    Parameters
    ----------
    defaults : mapping
        The model's parameters and their default priors (the family's).
    priors : str, mapping or None
        A preset name, or prior text (or a number, or a :class:`Prior`) per parameter.
    presets : mapping
        Preset name -> the priors it sets (the others keep their defaults); their ``source``
        becomes ``"<name> preset"``.
    hints : mapping, optional
        A sentence ending the error for a name the model lacks, e.g. why it lacks it.

    Examples
    --------
    >>> defaults = {"mu": Prior("normal", (0.0, 1.0), source="default")}
    >>> complete_priors(defaults, {"mu": "normal(0, 5)"}, presets={})["mu"].text()
    'normal(0, 5)'
    """
    resolved = dict(defaults)
    if priors is None:
        return resolved
    if isinstance(priors, str):
        if priors not in presets:
            raise ValueError(
                f"The 'priors' option must be a mapping or one of {', '.join(map(repr, presets))}"
                f"; got {priors!r}."
            )
        for name, prior in presets[priors].items():
            resolved[name] = Prior(prior.family, prior.params, source=f"{priors} preset")
        return resolved
    if not isinstance(priors, Mapping):
        raise TypeError(f"The 'priors' option must be a mapping or a preset name; got {priors!r}.")
    for name, spec in priors.items():
        if name not in resolved:
            raise ValueError(
                f"The model has no parameter {name!r} to put a prior on; its parameters are "
                f"{', '.join(map(repr, resolved))}" + (hints or {}).get(name, ".")
            )
        resolved[name] = spec if isinstance(spec, Prior) else parse_prior(spec, name)
    return resolved


def prior_table(
    priors: Mapping[str, Prior], meanings: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The priors that a fit used, as a table (like rstanarm's ``prior_summary``).

    Columns: ``parameter``, ``prior`` (text that reads back), ``distribution``, ``meaning``
    (from ``meanings``, the parameter table's) and ``source``.
    """
    meaning = meanings or {}
    return pd.DataFrame(
        [
            {
                "parameter": name,
                "prior": prior.text(digits=4),
                "distribution": prior.describe(),
                "meaning": meaning.get(name, ""),
                "source": prior.source,
            }
            for name, prior in priors.items()
        ]
    )


def _fixed(value: float, parameter: str, where: str) -> Prior:
    if support_of(parameter) == "correlation":
        raise ValueError(
            f"{where} cannot be fixed at a number; give an LKJ prior such as 'lkj(2)'."
        )
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number when fixed; got {value!r}.")
    if support_of(parameter) == "positive" and value <= 0:
        raise ValueError(
            f"{where} is a standard deviation and can only be fixed at a value > 0; got {value:g}."
        )
    return Prior("fixed", (value,))


def _format(number: float, digits: int | None) -> str:
    if digits is None:
        text = repr(float(number))
    else:
        text = f"{number:.{digits}g}"
    return text[:-2] if text.endswith(".0") else text
