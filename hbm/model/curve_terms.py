"""The structure of a curve model: which curve, which parameters vary, which are fixed; its
parameter table; and ``auto``'s parametrization.

A curve model ``y[i] ~ family(f(t[i]; theta[g[i]]))``: every free parameter of the curve ``f``
has a population value ``beta[<term>]`` on its pooled scale (level 3); the ``varying`` ones get a
deviation per group ``u_<g>[<label>, <term>]`` drawn from ``N(0, Sigma)`` with sds
``sd_<g>[<term>]`` and, when several vary, LKJ-distributed correlations ``corr_<g>[<t1>, <t2>]``
(level 2); the rest are shared by all groups. ``sigma`` is the rows' sd around the curve
(level 1, normal family). For counts (``poisson``, ``negbinomial``: the families of
:mod:`hbm.model.families`) the curve is the expected count and its log the linear predictor (log
link): ``y[i] ~ Poisson(f(t[i]; theta[g[i]]))``, or negative binomial with the shape ``alpha``
(variance ``mu + mu^2 / alpha``) in place of ``sigma``; the expected count must be positive, so
an amplitude (the logistic's ``asym``) is pooled on the log scale (``log_asym``), and a curve
that crosses zero (``linear``) is refused. Terms are the pooled-scale names (``log_qi``, see
:mod:`hbm.model.curves`).

>>> spec = CurveSpec("arps", ("qi", "di"), {"b": 0.8})
>>> spec.free_terms, spec.varying_terms
(('log_qi', 'log_di'), ('log_qi', 'log_di'))
>>> curve_parameter_table(spec, "well", "noncentered").names()
['beta', 'sd_well', 'corr_well', 'sigma', 'u_well', 'u_well_z']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hbm.core.names import (
    BETA,
    BETA_DIM,
    SIGMA,
    corr_name,
    effect_name,
    pair_dim,
    sd_name,
    term_dim,
)
from hbm.model.curves import Curve, count_curves, get_curve
from hbm.model.families import get_family
from hbm.model.parameters import Parameter, ParameterTable

__all__ = [
    "CURVE_FAMILIES",
    "CURVE_LINKS",
    "CURVE_PARAMETRIZATIONS",
    "CurveSpec",
    "choose_curve_parametrization",
    "curve_pairs",
    "curve_parameter_table",
]

#: The outcome families a curve model is written for (one place: :mod:`hbm.model.curve_build`),
#: with their link: the curve is the outcome's mean, so the linear predictor is the curve itself
#: (identity) or its log (counts).
CURVE_LINKS = {"normal": "identity", "poisson": "log", "negbinomial": "log"}
CURVE_FAMILIES = tuple(CURVE_LINKS)
#: ``partial``: centered for the groups whose own rows pin their effects, non-centered for the
#: others (:func:`choose_curve_parametrization`).
CURVE_PARAMETRIZATIONS = ("partial", "centered", "noncentered")


@dataclass(frozen=True)
class CurveSpec:
    """Which curve, the parameters that vary by group, and those fixed (natural values).

    Raises ValueError (one line, naming the option) for an unknown curve, a varying or fixed
    parameter the curve lacks, a parameter both varying and fixed, or a fixed value out of range.
    """

    curve: str
    varying: tuple[str, ...]
    fixed: Mapping[str, float] = field(default_factory=dict)
    family: str = "normal"

    def __post_init__(self) -> None:
        curve = get_curve(self.curve)
        if self.family not in CURVE_FAMILIES:
            raise ValueError(
                f"The 'family' option of a curve model must be one of "
                f"{', '.join(map(repr, CURVE_FAMILIES))}; got {self.family!r}."
            )
        if CURVE_LINKS[self.family] == "log" and not curve.counts:
            raise ValueError(
                f"The {self.curve!r} curve cannot be the expected count of the {self.family!r} "
                f"family: {curve.formula} can reach zero or below, which an expected count "
                f"cannot; use a curve positive by construction "
                f"({', '.join(map(repr, count_curves()))}), or the 'normal' family."
            )
        curve = curve.for_link(CURVE_LINKS[self.family])  # fixed values on the count scales
        if isinstance(self.varying, str) or not isinstance(self.varying, Sequence):
            raise TypeError(
                f"The 'varying' option must be a list of parameter names; got {self.varying!r}."
            )
        natural = tuple(curve.parameter(str(v)).name for v in self.varying)
        if len(set(natural)) < len(natural):
            raise ValueError(f"The 'varying' option names a parameter twice: {self.varying!r}.")
        object.__setattr__(self, "varying", natural)
        if not isinstance(self.fixed, Mapping):
            raise TypeError(f"The 'fixed' option must be a mapping; got {self.fixed!r}.")
        fixed: dict[str, float] = {}
        for name, value in self.fixed.items():
            p = curve.parameter(str(name))
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"The fixed value of {p.name!r} must be a number; got {value!r}.")
            p.check_natural(float(value))
            if p.name in natural:
                raise ValueError(
                    f"The curve parameter {p.name!r} cannot both vary by group and be fixed."
                )
            fixed[p.name] = float(value)
        if len(fixed) == len(curve.parameters):
            raise ValueError("Every parameter of the curve is fixed: there is nothing to fit.")
        object.__setattr__(self, "fixed", fixed)

    @property
    def shape(self) -> Curve:
        """The curve, its parameters on the scales this family pools them on
        (:meth:`hbm.model.curves.Curve.for_link`: a count curve's ``asym`` on the log scale)."""
        return get_curve(self.curve).for_link(self.link)

    @property
    def link(self) -> str:
        """The family's link: ``identity`` (normal) or ``log`` (counts)."""
        return CURVE_LINKS[self.family]

    @property
    def free(self) -> tuple[str, ...]:
        """The parameters that are estimated (natural names, the curve's order)."""
        return tuple(n for n in self.shape.names if n not in self.fixed)

    @property
    def free_terms(self) -> tuple[str, ...]:
        """``beta``'s terms: the free parameters on their pooled scale."""
        return tuple(self.shape.parameter(n).term for n in self.free)

    @property
    def varying_terms(self) -> tuple[str, ...]:
        """The group effects' terms, in the curve's order."""
        return tuple(self.shape.parameter(n).term for n in self.free if n in self.varying)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (stored in the model description)."""
        return {
            "curve": self.curve,
            "varying": list(self.varying),
            "fixed": dict(self.fixed),
            "family": self.family,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CurveSpec:
        """Read :meth:`to_dict`."""
        return cls(raw["curve"], tuple(raw["varying"]), dict(raw["fixed"]), raw["family"])


def curve_pairs(spec: CurveSpec) -> list[tuple[str, str]]:
    """The correlated pairs of varying terms (all of them, one LKJ block)."""
    terms = spec.varying_terms
    return [(a, b) for i, a in enumerate(terms) for b in terms[i + 1 :]]


def choose_curve_parametrization(centered: np.ndarray) -> tuple[str, str]:
    """``auto``'s choice for a curve model and the reason in words, given which groups' rows pin
    their effects (``centered``, from :func:`hbm.model.curve_build.informative_groups`)."""
    n, k = int(centered.size), int(np.sum(centered))
    why = (
        "The curve is nonlinear in its parameters, so the group effects have no exact marginal "
        "form. A group whose own rows pin its curve's parameters (estimated standard error "
        "below half the scale of their between-group sd) is sampled centered, where the "
        "non-centered form would tie its effect to the population values, in its own frame "
        "(an affine map from a fit of its rows that takes out the correlations of its "
        "parameters with each other and with the shared ones); the others "
        "non-centered (u = diag(sd) L z), which avoids the funnel between the sds and the "
        f"effects of groups with little data: {k} of {n} groups centered, {n - k} non-centered."
    )
    if k == n:
        return "centered", why
    if k == 0:
        return "noncentered", why
    return "partial", why


def curve_parameter_table(spec: CurveSpec, group: str, parametrization: str) -> ParameterTable:
    """The parameters of the curve model ``spec`` by ``group`` in ``parametrization``."""
    curve = spec.shape
    scales = ", ".join(f"{curve.parameter(n).term} = {_pooled_word(curve, n)}" for n in spec.free)
    entries = [
        Parameter(
            BETA,
            "coefficient",
            (BETA_DIM,),
            "none",
            f"population values of the {curve.name} curve's parameters on their pooled "
            f"scale ({scales}) (level 3)",
            has_prior=True,
        )
    ]
    if spec.varying:
        entries.append(
            Parameter(
                sd_name(group),
                "group_sd",
                (term_dim(group),),
                "none",
                f"sd of the {group} effects of each varying parameter, on its pooled scale "
                "(level 2)",
                has_prior=True,
                support="positive",
            )
        )
    if len(spec.varying) > 1:
        entries.append(
            Parameter(
                corr_name(group),
                "correlation",
                (pair_dim(group),),
                "none",
                f"correlations of the {group} effects",
                has_prior=True,
                support="correlation",
            )
        )
    entries.extend(_family_parameters(spec.family))
    if spec.varying:
        entries.append(
            Parameter(
                effect_name(group),
                "group_effect",
                (group, term_dim(group)),
                "none",
                f"each {group}'s deviation from the population, per varying parameter, on its "
                "pooled scale",
            )
        )
        if parametrization in ("noncentered", "partial"):
            entries.append(
                Parameter(
                    f"{effect_name(group)}_z", "auxiliary", (), "none", "standardized effects"
                )
            )
        if parametrization in ("centered", "partial"):
            entries.append(
                Parameter(
                    f"{effect_name(group)}_c",
                    "auxiliary",
                    (),
                    "none",
                    "centered effects in each group's own frame",
                )
            )
    return ParameterTable(tuple(entries))


def _family_parameters(family: str) -> tuple[Parameter, ...]:
    """``sigma`` (normal) or the count family's own parameters (``alpha``; none for Poisson)."""
    if family == "normal":
        return (
            Parameter(
                SIGMA,
                "residual_scale",
                (),
                "none",
                "sd of the rows around their group's curve (level 1)",
                has_prior=True,
                support="positive",
            ),
        )
    return tuple(get_family(family).PARAMETERS)


def _pooled_word(curve: Curve, name: str) -> str:
    p = curve.parameter(name)
    return {
        "identity": name,
        "log": f"log({name})",
        "logit2": f"logit({name} / 2)",
    }[p.scale]
