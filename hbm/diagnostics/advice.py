"""The diagnosis in words: one plain sentence per problem, naming its likely cause and the fix.

Each function returns ``(level, sentence)`` with level ``"warn"`` or ``"fail"``, or ``None`` when
there is no problem. Parameter names come from the fit's parameter table (``sd`` is the group sd,
``effect`` the group effects: ``tau`` and ``theta`` in the seed's model), so the advice names the
parameters the user sees.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

__all__ = [
    "DIVERGENCE_FRACTION_FAIL",
    "EBFMI_OK",
    "ESS_PER_CHAIN_FAIL",
    "ESS_PER_CHAIN_OK",
    "FEW_GROUPS",
    "RHAT_FAIL",
    "RHAT_OK",
    "TREE_DEPTH_SATURATION_WARN",
    "Names",
]

Level = Literal["ok", "warn", "fail"]
Problem = tuple[Level, str]

RHAT_OK, RHAT_FAIL = 1.01, 1.05
ESS_PER_CHAIN_OK, ESS_PER_CHAIN_FAIL = 100, 20
DIVERGENCE_FRACTION_FAIL = 0.01
EBFMI_OK = 0.3
TREE_DEPTH_SATURATION_WARN = 0.01
FEW_GROUPS = 5


class Names(NamedTuple):
    """The names advice uses: the group sd and the group effects."""

    sd: str
    effect: str


def divergences(
    count: int,
    per_chain: list[int],
    n_draws: int,
    parametrization: str,
    funnel: dict[str, object],
    names: Names,
    marginal: bool = True,
) -> Problem:
    """Divergent transitions: how many, where (the funnel triage), why and what to do.
    ``marginal``: whether the model has a marginal form to suggest (crossed factors have none).
    """
    fraction = count / n_draws
    level: Level = "fail" if fraction > DIVERGENCE_FRACTION_FAIL else "warn"
    sd, effect = names
    head = (
        f"{count} divergent transitions ({fraction:.1%} of draws; per chain "
        f"{', '.join(map(str, per_chain))}): the sampler could not follow the posterior's shape "
        "there, and the estimates may be biased."
    )
    where = funnel.get("where", "none")
    below = funnel.get("below_median_tau", 0)
    located = f" {below} of {count} divergent draws lie below the median of {sd}." if funnel else ""
    if parametrization == "centered":
        cause = (
            f" Divergences concentrate at small {sd}: the funnel between {sd} and {effect}."
            if where == f"small {sd}"
            else f" In the centered form they come from the funnel between {sd} and {effect}."
        )
        fix = (
            " Use parametrization='marginal' (exact for this model) or 'noncentered'."
            if marginal
            else " Use parametrization='noncentered'."
        )
    elif parametrization == "noncentered":
        cause = (
            " In the non-centered form this usually means groups with strong data, whose "
            f"{effect} is pinned while {sd} moves (an inverted funnel)."
        )
        fix = (
            " Use parametrization='marginal', or raise target_accept (e.g. 0.99)."
            if marginal
            else " Raise target_accept (e.g. 0.99) and tune (e.g. 2000)."
        )
    else:
        cause = (
            f" They sit at {where}, in a tail of {sd} where the log density bends sharply."
            if where in (f"small {sd}", f"large {sd}")
            else ""
        )
        fix = (
            " Raise target_accept (e.g. 0.99) and tune (e.g. 2000); parametrization='auto' "
            "does this once by itself."
        )
    return level, head + located + cause + fix


def r_hat(value: float, worst: str, tune: int, draws: int, marginal: bool = True) -> Problem | None:
    """R-hat above :data:`RHAT_OK`: the chains disagree. ``marginal``: whether to suggest the
    marginal form (not where the fit already uses it, nor for a model without one)."""
    if not value > RHAT_OK:
        return None
    other = ", or use parametrization='marginal'" if marginal else ""
    return (
        "fail" if value > RHAT_FAIL else "warn",
        f"R-hat of {worst} is {value:.3f} (should be <= {RHAT_OK}): the chains "
        f"disagree; run more tuning and draws (e.g. tune={2 * tune}, "
        f"draws={2 * draws}){other}.",
    )


def ess(
    label: str, value: float, worst: str, chains: int, draws: int, funnel_first: bool
) -> Problem | None:
    """Bulk or tail ESS below :data:`ESS_PER_CHAIN_OK` per chain.

    ``funnel_first``: a centered fit that diverges is stuck in its funnel, and more draws would
    not help.
    """
    needed = ESS_PER_CHAIN_OK * chains
    if not value < needed:
        return None
    more = int(math.ceil(draws * 1.2 * needed / max(value, 1.0) / 100.0) * 100)
    fix = (
        "the funnel is the cause, so change the parametrization rather than add draws"
        if funnel_first
        else f"increase draws (e.g. draws={more})"
    )
    return (
        "fail" if value < ESS_PER_CHAIN_FAIL * chains else "warn",
        f"{label} ESS of {worst} is {value:.0f} (should be >= {needed}, "
        f"{ESS_PER_CHAIN_OK} per chain): {fix}.",
    )


def e_bfmi(values: list[float], names: Names) -> Problem | None:
    """E-BFMI below :data:`EBFMI_OK` in some chain."""
    low = [(c, v) for c, v in enumerate(values) if v < EBFMI_OK]
    if not low:
        return None
    which = ", ".join(f"chain {c} {v:.2f}" for c, v in low)
    return (
        "warn",
        f"E-BFMI is low ({which}; should be >= {EBFMI_OK}): the sampler explores the "
        f"posterior's energy poorly, typically a funnel or a heavy tail in {names.sd}; use "
        "parametrization='marginal' or 'noncentered', or a more informative prior on "
        f"{names.sd}.",
    )


def tree_depth(saturation: list[float], max_depth: int | None) -> Problem | None:
    """More than :data:`TREE_DEPTH_SATURATION_WARN` of a chain's draws at the maximum depth."""
    saturated = [(c, v) for c, v in enumerate(saturation) if v > TREE_DEPTH_SATURATION_WARN]
    if not saturated:
        return None
    which = ", ".join(f"chain {c} {v:.0%}" for c, v in saturated)
    return (
        "warn",
        f"Draws hit the maximum tree depth ({which} of draws, depth {max_depth}): "
        "trajectories are cut short in a strongly correlated or badly scaled posterior, so "
        "sampling is slow and may not explore it all; use parametrization='marginal'.",
    )


def few_groups(n_groups: int, names: Names) -> Problem | None:
    """Fewer than :data:`FEW_GROUPS` groups: the group sd leans on its prior."""
    if not 0 < n_groups < FEW_GROUPS:
        return None
    sd = names.sd
    return (
        "warn",
        f"Only {n_groups} groups: {sd} (the between-group sd) is barely identified by "
        f"{n_groups} group means, so its posterior, and how much the groups are pooled, "
        f"leans on {sd}'s prior; check fit.prior_summary(), refit with another prior on {sd} "
        f"to see how much the results move, and report {sd} with that caveat.",
    )


def trusted(problems: list[Problem], clean: bool) -> str | None:
    """The closing sentence when divergences, R-hat and ESS are all fine."""
    if not clean:
        return None
    return (
        f"No divergences, R-hat <= {RHAT_OK} and ESS >= {ESS_PER_CHAIN_OK} per chain for "
        "every parameter: the draws can be trusted"
        + (" (see the note above)." if problems else ".")
    )
