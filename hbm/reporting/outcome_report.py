"""The report of an outcome family's fit (binomial, Poisson, negative binomial, Student-t).

Verdict and advice; the findings in words on the outcome scale (the population rate, how much the
groups differ, which groups stand out in the funnel plot); the data; the model with its link and
priors; the coefficients; each group's rate raw and partially pooled (shrinkage, league table
with rank intervals and P(top / bottom quarter)); the institutional funnel plot; the predictive
checks (per group; the rootogram of counts, the calibration of probabilities); leave-one-out;
trace and rank plots; diagnostics; what ran.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hbm.analysis.institutional_funnel import institutional_funnel
from hbm.analysis.outcome_checks import group_check
from hbm.analysis.outcome_draws import family_of, outcome_of
from hbm.analysis.rates import population_rate, rate_table
from hbm.core.names import INTERCEPT, sd_name
from hbm.data.model_data import ModelData
from hbm.model.families import get_family
from hbm.reporting.blocks import Block, Bullets, Figure, Heading, Para, Table, format_table
from hbm.reporting.loo_section import loo_blocks, loo_brief
from hbm.reporting.sections import (
    bounded,
    diagnostics_table,
    hyper_summary,
    summary_table,
    verdict_block,
    versions_table,
)
from hbm.results.fit_result import FitResult

__all__ = ["OUTCOME_MODEL", "outcome_blocks", "outcome_model_text"]

#: Each family's model in words.
OUTCOME_MODEL = {
    "binomial": "successes ~ Binomial(trials, p), logit(p) = eta",
    "poisson": "count ~ Poisson(exposure × rate), log(rate) = eta",
    "negbinomial": "count ~ NegBinomial(mean exposure × rate, shape alpha; variance mean + "
    "mean² / alpha), log(rate) = eta",
    "studentt": "y ~ StudentT(nu, eta, sigma) (identity link)",
}
_SHRINKAGE_TEXT = (
    "Each group's raw rate (orange: its own data alone) and posterior rate (blue: partial "
    "pooling), joined, against its size. Small groups say little and are pulled far towards the "
    "population rate (dashed); large groups keep close to their own rate."
)
_LEAGUE_TEXT = (
    "Posterior rates with 94% intervals (blue) and raw rates (crosses), ranked; the right axis "
    "gives each group's posterior rank with its 94% interval. Where intervals overlap, the order "
    "of neighbours is not supported by the data, however far apart their raw rates look."
)
_FUNNEL_TEXT = (
    "Spiegelhalter's funnel plot: each group's raw rate against its size, with 95% (alert) and "
    "99.8% (alarm) control limits around the target — where a group would fall by chance alone "
    "if it had the target's rate (exact {kind} limits, interpolated between whole counts). On "
    "the right the same groups' posterior rates: partial pooling pulls the small groups in, so "
    "a group still far out stands out with reason."
)
_PPC_TEXT = (
    "Data replicated from the posterior for the same groups ({draws} draws). Top: each group's "
    "observed total against its 94% predictive interval (red: outside). Bottom: the sd of the "
    "group rates over replicated data; a p-value near 0 or 1 flags a misfit of how much the "
    "groups differ."
)
_ROOTOGRAM_TEXT = (
    "Hanging rootogram: for each count a bar of height √(observed frequency) hangs from the "
    "curve √(expected frequency). Bars ending above zero: the count is seen less often than "
    "expected; below: more often (too many zeros, a tail heavier than the model's)."
)
_CALIBRATION_TEXT = (
    "The units binned by predicted probability (bins of equal trials): observed proportion with "
    "its 94% interval against the mean prediction; a calibrated model stays on the diagonal."
)
_RANK_TEXT = (
    "Fractional-rank ECDF differences per chain: lines close to zero and to each other mean the "
    "chains explore the same distribution."
)


def outcome_blocks(result: FitResult, figures: tuple[str, ...]) -> list[Block]:
    """The report's content for an outcome family's fit."""
    data = result.model_data
    family = family_of(result)
    summary = summary_table(result)
    hyper = hyper_summary(result, summary)
    run, spec = result.run_info, result.spec
    rates = rate_table(result)
    words = family.WORDS
    shown = rates.sort_values("mean", ascending=False).reset_index()
    blocks: list[Block] = [
        Heading(1, f"hbm report: {result.description.formula} ({family.NAME})"),
        verdict_block(result),
        Heading(2, "In brief"),
        Bullets(_brief(result, hyper, rates) + loo_brief(result)),
        Heading(2, "Data"),
        Table(format_table(_data_table(data))),
        Heading(2, "Model and priors"),
        Para(outcome_model_text(result)),
        Para(f"Parametrization {result.parametrization}: {result.reason}"),
        Table(format_table(result.prior_summary())),
        Heading(2, "Posterior summary"),
        Para(
            "Posterior means, sds and 94% equal-tailed intervals"
            + (
                f", on the {family.LINK} scale (coefficients and group sds)."
                if family.LINK != "identity"
                else "."
            )
        ),
        Table(format_table(hyper)),
        Figure("coefficients", "coefficient plot", "Population coefficients and group sds."),
        Heading(2, f"Each group's {words['mean']}"),
        Figure("shrinkage", f"shrinkage of the group {words['means']}", _SHRINKAGE_TEXT),
        Heading(2, "League table"),
        Figure("league", "league table", _LEAGUE_TEXT),
        Para(
            f"raw = {words['y']} / {words['weight']}; mean, sd and interval: the posterior "
            f"{words['mean']}; population: the {words['mean']} the model expects of the group "
            "with no effect of its own; shrinkage = (raw - mean) / (raw - population); rank = "
            "posterior mean rank (1 = highest) with its 94% interval; p_best = P(rank 1); top / "
            "bottom quarter = the highest / lowest quarter of ranks."
        ),
        *bounded(shown, f"{rates.index.name} groups (the highest first)", "rates.csv"),
    ]
    if "funnel" in figures:
        funnel = institutional_funnel(result)
        outside = funnel.table[funnel.table["outside_95"] != 0]
        blocks += [
            Heading(2, "Funnel plot"),
            Figure("funnel", "institutional funnel plot", _FUNNEL_TEXT.format(kind=funnel.kind)),
        ]
        if len(outside):
            blocks.append(
                Table(format_table(outside.reset_index().iloc[:50]), collapsed=len(outside) > 10)
            )
    check = group_check(result)
    blocks += [
        Heading(2, "Posterior predictive checks"),
        Figure("ppc", "group-level predictive check", _PPC_TEXT.format(draws=check.n_draws)),
    ]
    if "rootogram" in figures:
        blocks.append(Figure("rootogram", "hanging rootogram", _ROOTOGRAM_TEXT))
    if "calibration" in figures:
        blocks.append(Figure("calibration", "calibration plot", _CALIBRATION_TEXT))
    blocks += [
        *loo_blocks(result),
        Heading(2, "Trace and rank plots"),
        Figure("trace", "trace plots", "Left: posterior density per chain; right: the draws."),
        Figure("rank", "rank plots", _RANK_TEXT),
        Heading(2, "Diagnostics"),
        Table(format_table(diagnostics_table(result))),
        Heading(2, "What ran"),
        Para(
            f"Sampler {run['sampler']}, seed {run['random_seed']}, {spec.chains} chains x "
            f"{spec.draws} draws after {spec.tune} tuning steps, target_accept "
            f"{spec.target_accept}; sampling took {run['sampling_seconds']} s. Group effects "
            f"sampled by NUTS ({_forms(run)})." + (f" Data: {spec.data}." if spec.data else "")
        ),
        Table(format_table(versions_table(run["versions"]))),
        Heading(3, "Full posterior summary"),
        *bounded(summary, "group effects", "summary.csv", collapsed=True),
    ]
    return blocks


def outcome_model_text(result: FitResult) -> str:
    """The model in words: the family and link, the linear predictor, the groups."""
    data = result.model_data
    family = family_of(result)
    outcome = outcome_of(result)
    parts = []
    for factor in data.factors:
        brackets = []
        for block, correlated in zip(factor.blocks, factor.correlated, strict=True):
            joined = " + ".join(block)
            brackets.append(f"({joined}, correlated)" if correlated else f"({joined})")
        parts.append(f"{factor.name}: {', '.join(brackets)}")
    offsets = f" + {' + '.join(outcome.offsets)}" if outcome.offsets else ""
    return (
        f"{result.description.formula}: {OUTCOME_MODEL[family.NAME]}, with eta = the population "
        f"terms ({', '.join(data.population) or 'none'}){offsets} + each group's effects "
        f"(varying by group — {'; '.join(parts)}). The group effects are normal around 0 on the "
        f"{family.LINK} scale with the sds and correlations below. Link: {family.LINK}."
    )


def _data_table(data: ModelData) -> pd.DataFrame:
    outcome = data.outcome
    if outcome is None:  # pragma: no cover - the report dispatches on the family
        raise ValueError("The data have no outcome of a non-normal family.")
    words = {
        "binary": "0/1 rows",
        "level": f"two levels, success = {outcome.level!r}",
        "proportion": f"successes of trials ({outcome.trials})",
        "counts": "counts",
        "values": "values",
    }
    rows: list[tuple[str, object]] = [
        ("rows", data.n_rows),
        ("response", f"{data.response} ({words.get(outcome.kind, outcome.kind)})"),
        ("family, link", f"{outcome.family}, {_link(outcome.family)}"),
        (
            "units of the likelihood",
            f"{outcome.n_units:,} cells (exact reduction: rows sharing their groups and design)"
            if outcome.form == "cells"
            else f"{outcome.n_units:,} rows (no exact reduction)",
        ),
    ]
    if outcome.family != "studentt":
        rows.append(("total y / total weight", f"{outcome.y.sum():g} / {outcome.weight.sum():g}"))
    if outcome.offsets:
        rows.append(("offsets", ", ".join(outcome.offsets)))
    for position, factor in enumerate(data.factors):
        totals = outcome.group_totals(position, factor.n_groups)["rows"]
        rows.append(
            (
                f"{factor.name}: groups (rows per group min / median / max)",
                f"{factor.n_groups} ({totals.min():g} / {np.median(totals):g} / {totals.max():g})",
            )
        )
    for name, level in data.design.get("reference_levels", {}).items():
        rows.append((f"reference level of {name}", level))
    rows.append(("rows dropped for missing values", data.dropped))
    for note in outcome.notes:
        rows.append(("warning", note))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _link(family: str) -> str:
    return str(get_family(family).LINK)


def _brief(result: FitResult, hyper: pd.DataFrame, rates: pd.DataFrame) -> list[str]:
    family = family_of(result)
    words = family.WORDS
    data = result.model_data
    lines = []
    population = population_rate(result)
    low, high = np.quantile(population, [0.03, 0.97])
    lines.append(
        f"{family.NAME.capitalize()} model ({family.LINK} link). A typical group's {words['mean']}"
        + (" at the covariates' means" if len(data.population) > 1 else "")
        + f": {np.mean(population):.4g} (94% interval {low:.4g} to {high:.4g})."
    )
    row = hyper.set_index("param")
    for factor in data.factors:
        name = f"{sd_name(factor.name)}[{INTERCEPT}]"
        if name in row.index and family.LINK != "identity":
            sd = float(row.loc[name, "mean"])
            odds = "odds" if family.LINK == "logit" else "rate"
            lines.append(
                f"{factor.n_groups} {factor.name} groups; {name} = {sd:.3g} on the {family.LINK} "
                f"scale: a group one sd above a typical one has {'an ' if odds == 'odds' else 'a '}"
                f"{odds} {np.exp(sd):.2g} times as high."
            )
    shrink = rates["shrinkage"].to_numpy()
    if np.isfinite(shrink).any():
        lines.append(
            f"Raw {words['means']} range from {rates['raw'].min():.3g} to "
            f"{rates['raw'].max():.3g}; "
            f"after partial pooling from {rates['mean'].min():.3g} to {rates['mean'].max():.3g} "
            f"(median shrinkage towards the population {np.nanmedian(shrink):.0%})."
        )
    if family.NAME in ("binomial", "poisson", "negbinomial"):
        funnel = institutional_funnel(result)
        n_out = int((funnel.table["outside_95"] != 0).sum())
        n_alarm = int((funnel.table["outside_998"] != 0).sum())
        lines.append(
            f"Funnel plot: {n_out} of {len(funnel.table)} groups lie outside the 95% control "
            f"limits on their raw rates, {n_alarm} outside 99.8%."
        )
    check = group_check(result)
    lines.append(
        f"Predictive check: {len(check.outside())} of {len(check.labels)} groups' totals lie "
        f"outside their 94% predictive intervals; {check.statistic}: p = {check.p_value:.2f}."
    )
    return lines


def _forms(run: Mapping[str, object]) -> str:
    """Each grouping factor's form, as recorded: ``"herd centered, period noncentered"``."""
    forms = run.get("forms")
    if not isinstance(forms, Mapping):
        return ""
    return ", ".join(f"{g} {f}" for g, f in forms.items())
