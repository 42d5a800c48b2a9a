"""Fitting a group-level curve: table -> CurveData -> model -> NUTS -> ``FitResult``.

A decline curve per oil well, a growth curve per tree, an epidemic curve per country: the
curve's parameters are drawn from a population (:mod:`hbm.model.curve_terms`), so a group with
few points borrows from the others. Priors default to the data's scale and time range and are
printed; ``auto`` picks the non-centered form and says why; NUTS starts at a pooled
least-squares fit; a group with one point is fitted (its curve is mostly the population's) and
said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from hbm.analysis.log_likelihood import store_log_likelihood
from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import new_seed
from hbm.data.columns import numeric_column, position
from hbm.data.curve_data import CurveData, curve_data
from hbm.diagnostics.diagnosis import Diagnosis, diagnose
from hbm.inference.config import SampleConfig
from hbm.model.curve_build import (
    build_curve,
    centered_frames,
    informative_groups,
    pooled_start,
)
from hbm.model.curve_frames import GroupFrames
from hbm.model.curve_priors import curve_default_priors, resolve_curve_priors
from hbm.model.curve_terms import (
    CURVE_PARAMETRIZATIONS,
    CurveSpec,
    choose_curve_parametrization,
    curve_parameter_table,
)
from hbm.model.description import GroupTerm, ModelDescription, quote_name
from hbm.model.priors import Prior, prior_table
from hbm.model.response import Response, response_values
from hbm.results.curve_tree import add_curve_data
from hbm.results.fit_result import FitResult
from hbm.results.fit_spec import FitSpec
from hbm.results.summary import posterior_summary
from hbm.workflow.attempts import finished_result, run_record, sample_with_retries

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["check_count_times", "curve_formula", "fit_curve_table", "single_point_groups"]


def fit_curve_table(
    table: pd.DataFrame,
    *,
    curve: str,
    group: str,
    time: str,
    value: str,
    varying: Sequence[str],
    fixed: Mapping[str, float] | None = None,
    family: str = "normal",
    priors: Mapping[str, str | float | Prior] | None = None,
    parametrization: str = DEFAULTS.parametrization,
    config: SampleConfig | None = None,
    missing: str = DEFAULTS.missing,
    source: str | None = None,
) -> FitResult:
    """Fit the curve model (see :func:`hbm.fit_curve`); every check runs before sampling."""
    spec = CurveSpec(curve, _names(varying), dict(fixed or {}), family)
    if not spec.varying:
        raise ValueError(
            f"The 'varying' option must name at least one parameter of the {curve!r} curve "
            f"({', '.join(map(repr, spec.shape.names))})."
        )
    if parametrization not in ("auto", *CURVE_PARAMETRIZATIONS):
        raise ValueError(
            f"The 'parametrization' option of a curve model must be one of 'auto', "
            f"{', '.join(map(repr, CURVE_PARAMETRIZATIONS))}; got {parametrization!r}."
        )
    data = curve_data(table, group=group, time=time, value=value, missing=missing)
    check_counts(table, value, spec.family)
    check_curve_values(data, spec, table)
    check_count_times(data, spec, table)
    defaults = curve_default_priors(data, spec.shape, spec.free, spec.varying, spec.family)
    resolved = resolve_curve_priors(defaults, group, priors)
    config = config or SampleConfig()
    if config.random_seed is None:
        config = replace(config, random_seed=new_seed())
    start = pooled_start(data, spec, resolved)
    centered = informative_groups(data, spec, resolved, start)
    if parametrization == "auto":
        chosen, reason = choose_curve_parametrization(centered)
    else:
        chosen, reason = parametrization, "asked for"
    parameters = curve_parameter_table(spec, group, chosen)
    if chosen == "noncentered":
        centered = np.zeros_like(centered)
    elif chosen == "centered":
        centered = np.ones_like(centered)
    frames = centered_frames(data, spec, resolved, start, centered)
    model = build_curve(data, spec, resolved, chosen, start, centered, frames)
    description = ModelDescription(
        response=value,
        family=spec.family,
        link=spec.link,
        groups=(GroupTerm(group, (spec.varying_terms,), (True,)),),
        population=spec.free_terms,
        formula=curve_formula(spec, data),
        priors={name: prior.text() for name, prior in resolved.items()},
        parametrization=parametrization,
        curve={**spec.to_dict(), "time": time},
    )
    fit_spec = FitSpec.of(description, config, source=source)
    if config.progressbar:
        _announce(data, spec, resolved, start, chosen, reason, config)
        if frames is not None:
            print(f"hbm: {_frame_words(frame_record(frames))}")

    def finish(idata: xr.DataTree, run_config: SampleConfig) -> tuple[pd.DataFrame, Diagnosis]:
        add_curve_data(idata, data)
        summary = posterior_summary(idata, parameters=parameters)
        diagnosis = diagnose(
            idata,
            parametrization=chosen,
            sampler=config.sampler,
            summary=summary,
            parameters=parameters,
        )
        return summary, diagnosis

    run = sample_with_retries(
        model, config, auto=parametrization == "auto", parametrization=chosen, finish=finish
    )
    effects = {p.name: "sampled by NUTS" for p in parameters.by_role("group_effect")}
    record = run_record(config, run, chosen, reason, effects)
    record["start"] = start
    record["family"], record["link"] = spec.family, spec.link
    record["single_point_groups"] = single_point_groups(data)
    record["group_frames"] = frame_record(frames)
    result = finished_result(
        run.idata,
        record,
        config,
        data=data,
        description=description,
        spec=fit_spec,
        priors=resolved,
        parameters=parameters,
        diagnosis=run.diagnosis,
        table=run.table,
        parametrization=chosen,
        reason=reason,
    )
    store_log_likelihood(result, small_only=True)  # rows and groups, for LOO and compare
    return result


def frame_record(frames: GroupFrames | None) -> dict[str, object]:
    """How the centered groups were sampled (the run record's ``group_frames``): how many in
    their own frames, how many of those from a finite fit of their rows, the shared terms."""
    if frames is None:
        return {"groups": 0, "fitted": 0, "shared": []}
    return {
        "groups": int(frames.fitted.size),
        "fitted": int(frames.fitted.sum()),
        "shared": list(frames.shared),
    }


def _names(varying: Sequence[str] | str) -> tuple[str, ...]:
    """``"qi,di"`` or ``["qi", "di"]`` as a tuple of names."""
    if isinstance(varying, str):
        return tuple(v.strip() for v in varying.split(",") if v.strip())
    return tuple(varying)


def check_counts(table: pd.DataFrame, value: str, family: str) -> None:
    """A count family's values must be whole numbers >= 0: a ValueError naming the column and the
    first bad row otherwise (the families' own check, :func:`hbm.model.response.response_values`).
    """
    if family in ("poisson", "negbinomial"):
        response_values(table, Response(quote_name(value), "column", value), family)


def check_curve_values(data: CurveData, spec: CurveSpec, table: pd.DataFrame) -> None:
    """Negative values for a curve of a positive quantity (a rate) are an error naming the row."""
    if not spec.shape.positive:
        return
    negative = data.y < 0
    if negative.any():
        first = float(data.y[negative][0])
        where = np.flatnonzero(table[data.value].to_numpy(dtype=float, na_value=np.nan) == first)
        row = position(table.index, int(where[0])) if where.size else "a row"
        raise ValueError(
            f"The value column {data.value!r} must not be negative for the {spec.curve!r} curve "
            f"(a rate, whose parameters are pooled on the log scale); {row} holds {first:g} "
            f"({int(negative.sum())} negative value(s) in all)."
        )


def check_count_times(data: CurveData, spec: CurveSpec, table: pd.DataFrame) -> None:
    """A count curve positive from a time on only (the asymptotic curve, t >= 0): an earlier
    time is an error naming the time column and the row."""
    least = spec.shape.count_time_min
    if spec.link != "log" or least is None:
        return
    early = data.t < least
    if early.any():
        times = numeric_column(table[data.time], data.time, "time column")
        where = np.flatnonzero(times < least)  # the first in the table's order
        first = float(times[where[0]]) if where.size else float(data.t[early][0])
        row = position(table.index, int(where[0])) if where.size else "a row"
        raise ValueError(
            f"The time column {data.time!r} must be >= {least:g} for the {spec.curve!r} curve "
            f"with the {spec.family!r} family (its expected count {spec.shape.formula} stays "
            f"positive from t = {least:g} on); {row} holds {first:g} "
            f"({int(early.sum())} such time(s) in all)."
        )


def single_point_groups(data: CurveData) -> list[str]:
    """The groups with a single row (fitted: their curve is mostly the population's)."""
    return [label for label, n in zip(data.labels, data.n, strict=True) if n == 1]


def curve_formula(spec: CurveSpec, data: CurveData) -> str:
    """The model as text: ``rate ~ arps(month; qi, di, b = 0.8) + (log_qi + log_di | well)``."""
    parts = [
        f"{name} = {spec.fixed[name]:g}" if name in spec.fixed else name
        for name in spec.shape.names
    ]
    varying = " + ".join(spec.varying_terms)
    return (
        f"{quote_name(data.value)} ~ {spec.curve}({quote_name(data.time)}; {', '.join(parts)})"
        f" + ({varying} | {quote_name(data.group)})"
    )


def _frame_words(record: dict[str, object]) -> str:
    """The frames in a line: ``1990 of 2000 centered groups ... own fit``."""
    shared = ", ".join(map(str, record["shared"])) or "none"  # type: ignore[call-overload]
    return (
        f"{record['groups']} centered group(s) sampled in their own frames "
        f"({record['fitted']} from a fit of their rows, the others from the start); "
        f"shared terms taken out of them: {shared}"
    )


def _announce(
    data: CurveData,
    spec: CurveSpec,
    priors: Mapping[str, Prior],
    start: Mapping[str, float],
    parametrization: str,
    reason: str,
    config: SampleConfig,
) -> None:
    n = data.n
    print(
        f"hbm: {data.n_rows} rows; {data.value} over {data.time} in {data.n_groups} "
        f"{data.group} groups ({int(n.min())} to {int(n.max())} rows each)"
    )
    print(f"hbm: model {curve_formula(spec, data)}")
    print(f"hbm: family {spec.family}, link {spec.link}: {_family_words(spec)}")
    print(f"hbm: curve {spec.shape.formula}; pooled scales: {_scales(spec)}")
    single = single_point_groups(data)
    if single:
        shown = ", ".join(map(repr, single[:10])) + (" ..." if len(single) > 10 else "")
        print(
            f"hbm: {len(single)} {data.group} group(s) have a single point ({shown}): fitted, "
            "their curves are the population's shifted towards that point (pooled)"
        )
    print("hbm: priors")
    print(prior_table(priors)[["parameter", "prior", "source"]].to_string(index=False))
    starts = ", ".join(f"{term} {value:.4g}" for term, value in start.items())
    print(f"hbm: start: beta at a pooled least-squares fit ({starts})")
    print(f"hbm: parametrization {parametrization} ({reason})")
    print(
        f"hbm: sampler {config.sampler}, {config.chains} chains x {config.draws} draws "
        f"({config.tune} tuning), target_accept {config.target_accept}, seed {config.random_seed}"
    )


def _family_words(spec: CurveSpec) -> str:
    """The outcome's distribution around the curve, in words."""
    if spec.family == "normal":
        return f"{spec.shape.name} curve = the expected value, rows normal around it (sd sigma)"
    extra = "; variance mu + mu^2 / alpha" if spec.family == "negbinomial" else "; variance mu"
    return f"{spec.shape.name} curve = the expected count mu, log mu the linear predictor{extra}"


def _scales(spec: CurveSpec) -> str:
    words = []
    for name in spec.shape.names:
        p = spec.shape.parameter(name)
        if name in spec.fixed:
            words.append(f"{name} fixed at {spec.fixed[name]:g}")
        else:
            words.append(f"{name}: {p.scale} ({p.term})")
    return "; ".join(words)
