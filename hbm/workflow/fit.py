"""Fitting: table -> GroupedData -> model -> NUTS -> DataTree -> ``FitResult``.

:func:`fit_grouped` runs the flow on reduced data: it resolves the priors, builds the model in
standard units, samples (refitting once with safer settings if ``auto`` needs it), restores the
draws to the user's units, draws the group effects exactly in the marginal form, summarises and
diagnoses, and records everything in the result. :func:`fit_table` checks and reduces a table
first. The user-facing ``hbm.fit`` wraps the result in a :class:`hbm.api.Fit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from hbm.analysis.log_likelihood import store_log_likelihood
from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import new_seed
from hbm.data.grouped import GroupedData, grouped_data
from hbm.diagnostics.diagnosis import Diagnosis, diagnose
from hbm.inference.config import SampleConfig
from hbm.model.build import build_model
from hbm.model.description import ModelDescription
from hbm.model.families import normal
from hbm.model.families.normal_conditional import THETA_STREAM
from hbm.model.parametrizations import (
    check_likelihood,
    check_parametrization,
    choose_parametrization,
)
from hbm.model.priors import Prior, prior_table
from hbm.model.standardize import Standardization
from hbm.results.fit_result import FitResult
from hbm.results.fit_spec import FitSpec
from hbm.results.fit_summary import fit_summary
from hbm.results.group_draws import GROUP_DRAWS_ATTR, draw_record, holds_group_draws
from hbm.workflow.attempts import finished_result, run_record, sample_with_retries

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["fit_grouped", "fit_table"]

PriorsLike = str | Mapping[str, str | float | Prior] | None


def fit_table(
    table: pd.DataFrame,
    *,
    group: str,
    value: str,
    se: str | None = None,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
) -> FitResult:
    """Check and reduce ``table``, then :func:`fit_grouped` (see :func:`hbm.fit`)."""
    check_parametrization(parametrization)
    check_likelihood(likelihood)
    data = grouped_data(
        table,
        group=group,
        value=value,
        se=se,
        order=order,  # type: ignore[arg-type]
        missing=missing,  # type: ignore[arg-type]
        keep_rows=likelihood == "rows",
    )
    return fit_grouped(
        data, priors=priors, parametrization=parametrization, likelihood=likelihood, config=config
    )


def fit_grouped(
    data: GroupedData,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    source: str | None = None,
    reduction: dict[str, object] | None = None,
) -> FitResult:
    """Fit already-reduced data.

    ``source`` is recorded in the spec as where the data came from (a path, say), and
    ``reduction`` (the engine that reduced the rows, and how) in the run record.

    With ``parametrization="auto"``, a run that still shows divergences, R-hat above 1.01 or low
    ESS is repeated once with safer settings (:mod:`hbm.workflow.refit`); ``diagnosis.attempts``
    (and ``diagnostics.json["attempts"]``) records every run.
    """
    config = config or SampleConfig()
    resolved = normal.resolve_priors(data, priors)
    if config.random_seed is None:
        config = replace(config, random_seed=new_seed())
    # Sample in standard units, so that values in billions or millionths sample as well as values
    # near 1; the draws are mapped back to the user's units (see hbm.model.standardize).
    standard = Standardization.of(data)
    check_parametrization(parametrization)
    if parametrization == "auto":
        # Chosen from the data in the user's units, so the reason quotes numbers they recognise.
        chosen, reason = choose_parametrization(data, resolved, likelihood=likelihood)  # type: ignore[arg-type]
    else:
        chosen, reason = parametrization, "asked for"
    parameters = normal.parameter_table(data, chosen)
    built = build_model(
        standard.data(data),
        standard.priors(resolved, parameters),
        parametrization=chosen,  # type: ignore[arg-type]
        likelihood=likelihood,  # type: ignore[arg-type]
    )._replace(reason=reason)
    texts = {name: prior.text() for name, prior in resolved.items()}
    description = ModelDescription.for_groups(
        group=data.group,
        value=data.value,
        se=data.se,
        priors=texts,
        parametrization=parametrization,
        likelihood=likelihood,
    )
    spec = FitSpec.of(description, config, order=data.order, source=source)
    if config.progressbar:
        _announce(data, resolved, built.parametrization, built.reason, config)

    def finish(idata: xr.DataTree, run_config: SampleConfig) -> tuple[pd.DataFrame, Diagnosis]:
        standard.restore(idata, data, resolved, parameters)
        if built.parametrization == "marginal":
            # theta is exact given (mu, tau, sigma): held in the posterior when small, else drawn
            # again a block at a time whenever needed (hbm.results.group_draws)
            seed = int(run_config.random_seed)  # type: ignore[arg-type]
            sizes = idata["posterior"].sizes
            held = holds_group_draws(sizes["chain"] * sizes["draw"], data.n_groups)
            if held:
                _add_group_means(idata, data, seed)
            idata.attrs[GROUP_DRAWS_ATTR] = draw_record(seed, THETA_STREAM, held)
        _add_group_data(idata, data)
        # Sampled parameters from their draws, theta Rao-Blackwellized (hbm.results.fit_summary)
        table = fit_summary(idata, data, parameters)
        diagnosis = diagnose(
            idata,
            parametrization=built.parametrization,
            sampler=config.sampler,
            summary=table,
            parameters=parameters,
            data=data,
        )
        return table, diagnosis

    run = sample_with_retries(
        built.model,
        config,
        auto=parametrization == "auto",
        parametrization=built.parametrization,
        finish=finish,
    )
    idata, diagnosis = run.idata, run.diagnosis
    effects = parameters.one("group_effect").name
    record = run_record(
        config,
        run,
        built.parametrization,
        built.reason,
        {
            effects: (
                "drawn exactly from its normal conditional posterior, once per draw"
                if built.parametrization == "marginal"
                else "sampled by NUTS"
            )
        },
    )
    if reduction:
        record["reduction"] = dict(reduction)
    result = finished_result(
        idata,
        record,
        config,
        data=data,
        description=description,
        spec=spec,
        priors=resolved,
        parameters=parameters,
        diagnosis=diagnosis,
        table=run.table,
        parametrization=built.parametrization,
        reason=built.reason,
    )
    # What PSIS-LOO and `hbm compare` read (hbm.analysis.log_likelihood); past 10M values LOO
    # makes it a block of groups at a time when asked for (hbm.analysis.loo_blocks).
    store_log_likelihood(result, small_only=True)
    return result


def _announce(
    data: GroupedData,
    priors: Mapping[str, Prior],
    parametrization: str,
    reason: str,
    config: SampleConfig,
) -> None:
    described = data.describe()
    print(
        f"hbm: {described['n_rows']} rows in {described['n_groups']} groups "
        f"({data.kind} form, group={data.group!r}, value={data.value!r})"
    )
    print("hbm: priors")
    print(prior_table(priors)[["parameter", "prior", "source"]].to_string(index=False))
    print(f"hbm: parametrization {parametrization} ({reason})")
    print(
        f"hbm: sampler {config.sampler}, {config.chains} chains x {config.draws} draws "
        f"({config.tune} tuning), target_accept {config.target_accept}, seed {config.random_seed}"
    )


def _add_group_means(idata: xr.DataTree, data: GroupedData, random_seed: int) -> None:
    posterior = idata["posterior"].to_dataset()
    draws = normal.draw_group_means(posterior, data, random_seed)
    posterior[draws.name] = draws
    idata["posterior"] = posterior


def _add_group_data(idata: xr.DataTree, data: GroupedData) -> None:
    import xarray as xr

    columns = {"n": data.n, "mean": data.mean, "ss": data.ss}
    if data.stderr is not None:
        columns["se"] = data.stderr
    idata["group_data"] = xr.Dataset(
        {name: ((data.group,), values) for name, values in columns.items()},
        coords={data.group: list(data.labels)},
    )
