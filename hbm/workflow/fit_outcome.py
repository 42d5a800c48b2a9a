"""Fitting an outcome family: table -> ModelData with units -> model -> NUTS -> ``FitResult``.

Binomial, Poisson, negative binomial and Student-t formula models
(:mod:`hbm.model.outcome_design`, :mod:`hbm.model.outcome_build`): the effects centered or
non-centered per grouping factor (``auto`` chooses from how informative each group's data are,
:mod:`hbm.model.outcome_parametrization`, and refits once with safer settings if the first run
still diverges), the likelihood from per-cell totals where the family reduces exactly, else from
the rows. A Student-t model is sampled in standard units and restored, as a normal one is; the
link-scale models need no such step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import new_seed
from hbm.data.model_data import ModelData
from hbm.diagnostics.diagnosis import Diagnosis, diagnose
from hbm.inference.config import SampleConfig
from hbm.model.description import GroupTerm, ModelDescription
from hbm.model.families import get_family
from hbm.model.formula import ParsedFormula
from hbm.model.outcome_build import OUTCOME_FORMS, build_outcome, centered_name
from hbm.model.outcome_design import build_outcome_data
from hbm.model.outcome_parametrization import choose_outcome_forms
from hbm.model.outcome_priors import resolve_outcome_priors
from hbm.model.outcome_terms import outcome_parameter_table
from hbm.model.priors import Prior, prior_table
from hbm.model.standardize import Standardization
from hbm.results.fit_result import FitResult
from hbm.results.fit_spec import FitSpec
from hbm.results.model_data_tree import add_cell_data
from hbm.results.outcome_tree import add_outcome_data
from hbm.results.summary import posterior_summary
from hbm.workflow.attempts import finished_result, run_record, sample_with_retries

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["fit_outcome", "fit_outcome_data"]

PriorsLike = Mapping[str, str | float | Prior] | None


def fit_outcome(
    table: pd.DataFrame,
    parsed: ParsedFormula,
    family: str,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
    source: str | None = None,
) -> FitResult:
    """Fit the ``family`` model a formula describes (see :func:`hbm.fit`).

    ``likelihood="rows"`` keeps one unit per row where the family would reduce the rows to cells
    (the same posterior: for checking).
    """
    check_outcome_parametrization(parametrization, family)
    keep = len(table) <= DEFAULTS.max_kept_rows
    data = build_outcome_data(
        table,
        parsed,
        family,
        missing=missing,
        order=order,
        keep_rows=keep,
        reduce=likelihood != "rows",
    )
    return fit_outcome_data(
        data, parsed, priors=priors, parametrization=parametrization, config=config, source=source
    )


def check_outcome_parametrization(parametrization: str, family: str) -> None:
    """A ValueError unless ``parametrization`` is ``auto``, ``centered`` or ``noncentered``."""
    if parametrization == "marginal":
        raise ValueError(
            f"parametrization='marginal' integrates the group effects out exactly, which only the "
            f"normal family allows; a {family} model takes 'auto', 'centered' or 'noncentered'."
        )
    if parametrization != "auto" and parametrization not in OUTCOME_FORMS:
        raise ValueError(
            "The 'parametrization' option must be one of 'auto', 'centered', 'noncentered' for a "
            f"{family} model; got {parametrization!r}."
        )


def fit_outcome_data(
    data: ModelData,
    parsed: ParsedFormula,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    config: SampleConfig | None = None,
    source: str | None = None,
) -> FitResult:
    """Fit an outcome family's reduced data."""
    outcome = data.outcome
    if outcome is None:
        raise ValueError("fit_outcome_data needs the data of an outcome family.")
    family = get_family(outcome.family)
    check_outcome_parametrization(parametrization, family.NAME)
    config = config or SampleConfig()
    if config.random_seed is None:
        config = replace(config, random_seed=new_seed())
    resolved = resolve_outcome_priors(data, priors)
    if parametrization == "auto":
        forms, reason = choose_outcome_forms(data)
    else:
        forms, reason = {f.name: parametrization for f in data.factors}, "asked for"
    parameters = outcome_parameter_table(data, forms)
    standard = Standardization.of_model_data(data) if family.LINK == "identity" else None
    sampled, sampled_priors = data, resolved
    if standard is not None:
        sampled = _standard_data(standard, data)
        sampled_priors = standard.priors(resolved, parameters)
    built = build_outcome(sampled, sampled_priors, forms, reason=reason)
    chosen = built.parametrization
    description = describe_outcome(data, parsed, resolved, parametrization)
    spec = FitSpec.of(description, config, order=DEFAULTS.order, source=source)
    if config.progressbar:
        _announce(data, resolved, forms, reason, config)

    def finish(idata: xr.DataTree, run_config: SampleConfig) -> tuple[pd.DataFrame, Diagnosis]:
        posterior = idata["posterior"].to_dataset()
        auxiliary = [centered_name(f.name) for f in data.factors]
        idata["posterior"] = posterior.drop_vars([n for n in auxiliary if n in posterior])
        if standard is not None:
            standard.restore(idata, data, resolved, parameters)
        add_cell_data(idata, data)
        add_outcome_data(idata, data)
        table = posterior_summary(idata, parameters=parameters)
        diagnosis = diagnose(
            idata,
            parametrization=chosen,
            sampler=config.sampler,
            summary=table,
            parameters=parameters,
        )
        return table, _with_notes(diagnosis, outcome.notes)

    run = sample_with_retries(
        built.model, config, auto=parametrization == "auto", parametrization=chosen, finish=finish
    )
    effects = {p.name: "sampled by NUTS" for p in parameters.by_role("group_effect")}
    record = run_record(config, run, chosen, reason, effects)
    record["forms"] = dict(forms)
    record["family"] = family.NAME
    record["link"] = family.LINK
    return finished_result(
        run.idata,
        record,
        config,
        data=data,
        description=description,
        spec=spec,
        priors=resolved,
        parameters=parameters,
        diagnosis=run.diagnosis,
        table=run.table,
        parametrization=chosen,
        reason=reason,
    )


def describe_outcome(
    data: ModelData, parsed: ParsedFormula, priors: Mapping[str, Prior], parametrization: str
) -> ModelDescription:
    """The description of an outcome family's model fitted to ``data``."""
    outcome = data.outcome
    family = get_family(outcome.family)  # type: ignore[union-attr]
    return ModelDescription(
        response=data.response,
        groups=tuple(
            GroupTerm(factor.name, tuple(factor.blocks), tuple(factor.correlated))
            for factor in data.factors
        ),
        family=family.NAME,
        link=family.LINK,
        population=tuple(data.population),
        formula=parsed.text,
        priors={name: prior.text() for name, prior in priors.items()},
        parametrization=parametrization,
        likelihood="sufficient" if outcome.form == "cells" else "rows",  # type: ignore[union-attr]
    )


def _standard_data(standard: Standardization, data: ModelData) -> ModelData:
    """A Student-t model's data in standard units: the moments and the units' values."""
    moved = standard.model_data(data)
    outcome = data.outcome
    scaled = replace(
        outcome,  # type: ignore[type-var]
        y=(outcome.y - standard.center) / standard.scale,  # type: ignore[union-attr]
        offset=outcome.offset / standard.scale,  # type: ignore[union-attr]
    )
    return replace(moved, outcome=scaled)


def _with_notes(diagnosis: Diagnosis, notes: tuple[str, ...]) -> Diagnosis:
    """The diagnosis with the data's notes (separation) first; ``ok`` becomes ``warn``."""
    if not notes:
        return diagnosis
    verdict = "warn" if diagnosis.verdict == "ok" else diagnosis.verdict
    return replace(diagnosis, verdict=verdict, advice=[*notes, *diagnosis.advice])


def _announce(
    data: ModelData,
    priors: Mapping[str, Prior],
    forms: Mapping[str, str],
    reason: str,
    config: SampleConfig,
) -> None:
    outcome = data.outcome
    family = get_family(outcome.family)  # type: ignore[union-attr]
    factors = ", ".join(f"{f.name} ({f.n_groups} groups)" for f in data.factors)
    units = (
        f"reduced exactly to {outcome.n_units} cells"  # type: ignore[union-attr]
        if outcome.form == "cells"  # type: ignore[union-attr]
        else "one unit per row"
    )
    print(f"hbm: {data.n_rows} rows ({units}); {data.response} by {factors}")
    print(f"hbm: family {family.NAME}, link {family.LINK}")
    references = data.design.get("reference_levels", {})
    if references:
        levels = ", ".join(f"{name}: {level!r}" for name, level in references.items())
        print(f"hbm: reference levels (treatment coding): {levels}")
    for note in outcome.notes:  # type: ignore[union-attr]
        print(f"hbm: warning: {note}")
    print("hbm: priors (link scale)" if family.LINK != "identity" else "hbm: priors")
    print(prior_table(priors)[["parameter", "prior", "source"]].to_string(index=False))
    print(f"hbm: parametrization {', '.join(f'{g} {f}' for g, f in forms.items())} ({reason})")
    print(
        f"hbm: sampler {config.sampler}, {config.chains} chains x {config.draws} draws "
        f"({config.tune} tuning), target_accept {config.target_accept}, seed {config.random_seed}"
    )
