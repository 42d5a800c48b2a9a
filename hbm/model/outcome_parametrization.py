"""``auto`` for an outcome family: centered or non-centered effects, per grouping factor, and why.

Without an exact marginal, the choice is the literature's (Papaspiliopoulos, Roberts and Sköld
2007; Betancourt and Girolami 2015): the **centered** form samples well when each group's own data
pin its effect down (the effects then hardly depend on the sd), the **non-centered** form when
they do not (the effects then follow the sd, and the centered form has a funnel). How much a
group's data say is measured by the Fisher information ``I_j`` of its intercept on the link scale
(the family's :func:`information` at the pooled rate: ``n p (1 - p)`` for a binomial group,
its expected count for a Poisson one), against a between-group sd ``s`` estimated by the method
of moments from the groups' raw link-scale estimates. The pooling factor of group ``j`` is
``1 / (1 + I_j s^2)``: the share of the population in its estimate.

A factor is centered when the median group is pooled less than halfway **at half of** ``s``
(``I_j (s / 2)^2 > 1``): ``s`` is itself uncertain, and the centered form's funnel opens where
the posterior of the sd reaches small values. Otherwise, and for factors whose varying terms are
all slopes, it is non-centered. The reason, with its numbers, is recorded with the fit.
"""

from __future__ import annotations

import numpy as np

from hbm.core.names import ALPHA, INTERCEPT, NU, SIGMA
from hbm.data.model_data import FactorData, ModelData
from hbm.model.families import get_family
from hbm.model.families.links import link
from hbm.model.outcome_priors import pooled_link

__all__ = ["choose_outcome_forms", "group_information"]

#: Centered when the median group's ``I_j (s / 2)^2`` exceeds this.
CENTERED_AT = 1.0


def choose_outcome_forms(data: ModelData) -> tuple[dict[str, str], str]:
    """``auto``'s form per grouping factor and the reason in words (see the module docstring).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from hbm.model.formula import parse_formula
    >>> from hbm.model.outcome_design import build_outcome_data
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(40), 200)
    >>> y = rng.poisson(np.exp(1 + rng.normal(0, 0.5, 40))[g])
    >>> data = build_outcome_data(pd.DataFrame({"g": g.astype(str), "y": y}),
    ...                           parse_formula("y ~ 1 + (1 | g)"), "poisson")
    >>> choose_outcome_forms(data)[0]
    {'g': 'centered'}
    """
    forms, reasons = {}, []
    for position, factor in enumerate(data.factors):
        form, why = _choose(data, factor, position)
        forms[factor.name] = form
        reasons.append(f"{factor.name}: {form} ({why})")
    return forms, "; ".join(reasons) + "."


def group_information(data: ModelData, factor: FactorData, position: int) -> np.ndarray:
    """The Fisher information of each group's intercept on the link scale, at the pooled rate."""
    outcome = data.outcome
    family = get_family(outcome.family)  # type: ignore[union-attr]
    eta = pooled_link(data) + outcome.offset  # type: ignore[union-attr]
    info = family.information(eta, outcome.weight, _pilot(data))  # type: ignore[union-attr]
    codes = outcome.codes[:, position]  # type: ignore[union-attr]
    return np.bincount(codes, weights=info, minlength=factor.n_groups)


def _choose(data: ModelData, factor: FactorData, position: int) -> tuple[str, str]:
    if factor.terms[0] != INTERCEPT:
        return (
            "noncentered",
            "its varying terms are slopes only, whose information depends on the covariates",
        )
    info = group_information(data, factor, position)
    raw, variance = _raw_estimates(data, factor, position, info)
    usable = np.isfinite(raw) & (variance > 0)
    if usable.sum() < 2:
        return "noncentered", "too few groups with data to tell how informative they are"
    spread = float(np.var(raw[usable], ddof=1) - np.mean(variance[usable]))
    sd = float(np.sqrt(max(spread, 0.0)))
    median = float(np.median(info))
    at_half = median * (sd / 2) ** 2
    pooling = 1.0 / (1.0 + median * sd**2)
    words = (
        f"{factor.n_groups} groups; the median group's data hold {median:.3g} units of "
        f"information on its intercept (link scale) against a between-group sd of about "
        f"{sd:.2g} (method of moments), so it is pooled {pooling:.0%} towards the population at "
        f"that sd and {1 / (1 + at_half):.0%} at half of it"
    )
    if at_half > CENTERED_AT:
        return "centered", words + ": each group's own data dominate"
    return (
        "noncentered",
        words + ": the groups lean on the population, where the centered form has a funnel",
    )


def _raw_estimates(
    data: ModelData, factor: FactorData, position: int, info: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each group's own link-scale estimate (its rows alone) and that estimate's variance."""
    outcome = data.outcome
    family = get_family(outcome.family)  # type: ignore[union-attr]
    totals = outcome.group_totals(position, factor.n_groups)  # type: ignore[union-attr]
    y, w = totals["y"], totals["weight"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if family.LINK == "logit":
            raw = link("logit", (y + 0.5) / (w + 1.0))
            p = (y + 0.5) / (w + 1.0)
            variance = 1.0 / ((w + 1.0) * p * (1 - p))
        elif family.LINK == "log":
            raw = np.log((y + 0.5) / w)
            variance = 1.0 / (y + 0.5)
        else:
            raw = y / w
            variance = np.where(info > 0, 1.0 / info, np.inf)
    return raw, variance


def _pilot(data: ModelData) -> dict[str, float]:
    """Rough values of the family's own parameters, for the information: the negative binomial's
    shape from the excess of the units' variance over their mean within groups of the first
    factor (moments), the Student-t's scale from the spread within those groups."""
    outcome = data.outcome
    y, w = outcome.y, outcome.weight  # type: ignore[union-attr]
    codes = outcome.codes[:, 0]  # type: ignore[union-attr]
    n_groups = data.factors[0].n_groups
    totals = np.bincount(codes, weights=y, minlength=n_groups)
    weights = np.bincount(codes, weights=w, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(weights > 0, totals / weights, 0.0)
    mu = rate[codes] * w
    excess = float(np.sum((y - mu) ** 2 - y))
    alpha = float(np.sum(mu**2) / excess) if excess > 0 else np.inf
    within = float(np.sum((y - mu) ** 2))
    dof = max(len(y) - n_groups, 1)
    return {ALPHA: alpha, SIGMA: max(float(np.sqrt(within / dof)), 1e-12), NU: 4.0}
