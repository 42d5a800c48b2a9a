"""Fitting a formula: table -> ModelData -> model -> NUTS -> exact effects -> ``FitResult``.

``value ~ 1 + (1 | group)`` (the seed's model, however it is written) goes the seed's way
(:func:`hbm.workflow.fit.fit_table`) and keeps its names ``mu``, ``tau``, ``sigma``, ``theta``;
every other formula is built by :mod:`hbm.model.linear_build`, sampled in standard units, and
restored to the user's units, with the group effects drawn exactly from their conditional in the
marginal form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hbm.core.defaults import DEFAULTS
from hbm.core.names import INTERCEPT
from hbm.core.seeds import new_seed
from hbm.data.model_data import ModelData
from hbm.data.nesting import told_apart
from hbm.diagnostics.diagnosis import Diagnosis, diagnose
from hbm.inference.config import SampleConfig
from hbm.model.description import GroupTerm, ModelDescription
from hbm.model.design import build_model_data
from hbm.model.families import get_family
from hbm.model.families.normal_cells_conditional import EFFECTS_STREAM
from hbm.model.families.normal_cells_draws import draw_effects_exact
from hbm.model.families.normal_nested_draws import NESTED_STREAM, draw_held_levels
from hbm.model.formula import ParsedFormula, parse_formula
from hbm.model.level_checks import check_identified
from hbm.model.linear_build import build_linear, choose_linear
from hbm.model.linear_nested import marginal_nesting
from hbm.model.linear_priors import resolve_linear_priors
from hbm.model.linear_terms import linear_parameter_table
from hbm.model.offsets import split_offsets
from hbm.model.parametrizations import check_likelihood, check_parametrization
from hbm.model.priors import Prior, prior_table
from hbm.model.response import check_family_response, parse_response
from hbm.model.standardize import Standardization
from hbm.results.fit_result import FitResult
from hbm.results.fit_spec import FitSpec
from hbm.results.fit_summary import fit_summary
from hbm.results.group_draws import GROUP_DRAWS_ATTR, draw_record, holds_group_draws
from hbm.results.model_data_tree import add_cell_data, add_plot_rows, plotted_groups
from hbm.workflow.attempts import finished_result, run_record, sample_with_retries
from hbm.workflow.fit import fit_table
from hbm.workflow.fit_outcome import fit_outcome

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["fit_formula", "seed_shape"]

PriorsLike = str | Mapping[str, str | float | Prior] | None


def seed_shape(parsed: ParsedFormula) -> tuple[str, str] | None:
    """``(group, value)`` when the formula is the seed's model ``value ~ 1 + (1 | group)``."""
    import formulae

    population = formulae.model_description(f"{parsed.response} ~ {parsed.population}")
    terms = [term.name for term in population.common_terms]
    response = population.response.term.name if population.response else ""
    if terms != [INTERCEPT] or len(parsed.blocks) != 1:
        return None
    block = parsed.blocks[0]
    expr = formulae.model_description(f"{parsed.response} ~ {block.expr}")
    if [t.name for t in expr.common_terms] != [INTERCEPT] or ":" in block.factor:
        return None
    return block.factor.strip("`"), response


def fit_formula(
    table: pd.DataFrame,
    formula: str,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
    source: str | None = None,
    family: str = "normal",
) -> FitResult:
    """Fit the model a formula describes (see :func:`hbm.fit`): normal here, the other families
    by :func:`hbm.workflow.fit_outcome.fit_outcome`."""
    check_parametrization(parametrization)
    check_likelihood(likelihood)
    get_family(family)
    parsed = parse_formula(formula)
    if family != "normal":
        return fit_outcome(
            table,
            parsed,
            family,
            priors=priors,  # type: ignore[arg-type]
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            order=order,
            missing=missing,
            source=source,
        )
    check_family_response(parse_response(parsed.response), "normal")
    if split_offsets(parsed.population)[1]:
        raise ValueError(
            f"The formula {formula!r} has an offset(); offsets are for the binomial, poisson, "
            "negbinomial and studentt families. For a normal model, subtract the offset from the "
            "response instead."
        )
    seed = seed_shape(parsed)
    if seed is not None:
        group, value = seed
        return fit_table(
            table,
            group=group,
            value=value,
            priors=priors,
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            order=order,
            missing=missing,
        )
    if likelihood != "sufficient":
        raise ValueError(
            "The 'likelihood' option 'rows' is for 'value ~ 1 + (1 | group)'; a formula model "
            "is always written with its exact per-cell statistics."
        )
    keep = len(table) <= DEFAULTS.max_kept_rows
    data = build_model_data(table, parsed, missing=missing, order=order, keep_rows=keep)
    return fit_model_data(
        data,
        parsed,
        priors=priors,
        parametrization=parametrization,
        config=config,
        source=source,
    )


def fit_model_data(
    data: ModelData,
    parsed: ParsedFormula,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    config: SampleConfig | None = None,
    source: str | None = None,
    reduction: Mapping[str, object] | None = None,
) -> FitResult:
    """Fit a formula model's reduced data; ``reduction`` (the engine that reduced the rows, and
    how) goes into the run record."""
    from dataclasses import replace

    check_identified(data)  # the normal family's levels
    config = config or SampleConfig()
    if config.random_seed is None:
        config = replace(config, random_seed=new_seed())
    resolved = resolve_linear_priors(data, priors)  # type: ignore[arg-type]
    if parametrization == "auto":
        chosen, reason = choose_linear(data)
    else:
        chosen, reason = parametrization, "asked for"
    parameters = linear_parameter_table(data, chosen)
    standard = Standardization.of_model_data(data)
    built = build_linear(standard.model_data(data), standard.priors(resolved, parameters), chosen)
    description = describe(data, parsed, resolved, parametrization)
    spec = FitSpec.of(description, config, order=DEFAULTS.order, source=source)
    if config.progressbar:
        _announce(data, resolved, chosen, reason, config)

    def finish(idata: xr.DataTree, run_config: SampleConfig) -> tuple[pd.DataFrame, Diagnosis]:
        standard.restore(idata, data, resolved, parameters)
        if chosen == "marginal":
            # exact given the sampled parameters: held when small, else drawn again a block at a
            # time whenever needed (hbm.results.group_draws)
            seed = int(run_config.random_seed)  # type: ignore[arg-type]
            posterior = idata["posterior"].to_dataset()
            if len(data.factors) == 1:
                factor = data.factors[0]
                n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
                held = holds_group_draws(n_draws, factor.n_groups, factor.n_terms)
                if held:
                    effects = draw_effects_exact(posterior, data, seed)
                    posterior[str(effects.name)] = effects
                    idata["posterior"] = posterior
                idata.attrs[GROUP_DRAWS_ATTR] = draw_record(seed, EFFECTS_STREAM, held)
            else:  # nested levels: each level held when small, else drawn again when needed
                nesting = marginal_nesting(data)
                n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
                kept = [holds_group_draws(n_draws, f.n_groups, f.n_terms) for f in nesting.factors]
                for effects in draw_held_levels(posterior, data, nesting, seed, kept):
                    posterior[str(effects.name)] = effects
                idata["posterior"] = posterior
                idata.attrs[GROUP_DRAWS_ATTR] = draw_record(seed, NESTED_STREAM, all(kept))
        add_cell_data(idata, data)
        add_plot_rows(idata, data, plotted_groups(data, int(run_config.random_seed)))  # type: ignore[arg-type]
        table = fit_summary(idata, data, parameters)
        diagnosis = diagnose(
            idata,
            parametrization=chosen,
            sampler=config.sampler,
            summary=table,
            parameters=parameters,
            marginal_form=choose_linear(data)[0] == "marginal",
            n_groups=data.factors[0].n_groups if len(data.factors) == 1 else None,
        )
        return table, diagnosis

    run = sample_with_retries(
        built.model, config, auto=parametrization == "auto", parametrization=chosen, finish=finish
    )
    how = (
        "drawn exactly from their Gaussian conditional posterior, once per draw"
        if chosen == "marginal"
        else "sampled by NUTS"
    )
    record = run_record(
        config, run, chosen, reason, {p.name: how for p in parameters.by_role("group_effect")}
    )
    if reduction:
        record["reduction"] = dict(reduction)
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


def describe(
    data: ModelData, parsed: ParsedFormula, priors: Mapping[str, Prior], parametrization: str
) -> ModelDescription:
    """The description of a formula model fitted to ``data``."""
    return ModelDescription(
        response=data.response,
        groups=tuple(
            GroupTerm(factor.name, tuple(factor.blocks), tuple(factor.correlated))
            for factor in data.factors
        ),
        population=tuple(data.population),
        formula=parsed.text,
        priors={name: prior.text() for name, prior in priors.items()},
        parametrization=parametrization,
    )


def _announce(
    data: ModelData,
    priors: Mapping[str, Prior],
    parametrization: str,
    reason: str,
    config: SampleConfig,
) -> None:
    factors = ", ".join(f"{f.name} ({f.n_groups} groups)" for f in data.factors)
    print(f"hbm: {data.n_rows} rows; {data.response} by {factors}")
    for sentence in told_apart(data):
        print(f"hbm: {sentence}")
    references = data.design.get("reference_levels", {})
    if references:
        levels = ", ".join(f"{name}: {level!r}" for name, level in references.items())
        print(f"hbm: reference levels (treatment coding): {levels}")
    print("hbm: priors")
    print(prior_table(priors)[["parameter", "prior", "source"]].to_string(index=False))
    print(f"hbm: parametrization {parametrization} ({reason})")
    print(
        f"hbm: sampler {config.sampler}, {config.chains} chains x {config.draws} draws "
        f"({config.tune} tuning), target_accept {config.target_accept}, seed {config.random_seed}"
    )
