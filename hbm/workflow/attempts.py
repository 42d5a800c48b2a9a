"""Sampling a built model, judged and, for ``auto``, retried once: the loop every fit runs.

:func:`sample_with_retries` samples, lets the caller finish the draws (restore the user's units,
draw exact group effects, summarise, diagnose), and with ``parametrization="auto"`` samples once
more with safer settings (:mod:`hbm.workflow.refit`) when the diagnosis asks for it. Every run is
recorded in the diagnosis's ``attempts``; :func:`run_record` is the ``hbm_run`` JSON of a fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hbm.diagnostics.diagnosis import Diagnosis
from hbm.inference.config import SampleConfig
from hbm.inference.sampling import sample, versions
from hbm.results.fit_result import FitResult
from hbm.results.tree import record_attrs
from hbm.workflow.refit import MAX_ATTEMPTS, attempt_record, refit_reason, safer_config

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["Run", "finished_result", "run_record", "sample_with_retries"]

#: Completes one run's draws: ``(idata, config) -> (summary table, diagnosis)``.
Finish = Callable[["xr.DataTree", SampleConfig], "tuple[pd.DataFrame, Diagnosis]"]


@dataclass(frozen=True, eq=False)
class Run:
    """The kept run: its DataTree, summary, diagnosis (with every attempt), settings and time."""

    idata: xr.DataTree
    table: pd.DataFrame
    diagnosis: Diagnosis
    config: SampleConfig
    seconds: float
    attempts: int


def sample_with_retries(
    model: Any, config: SampleConfig, *, auto: bool, parametrization: str, finish: Finish
) -> Run:
    """Sample ``model``; with ``auto``, once more with safer settings if the first run needs it."""
    attempts: list[dict[str, object]] = []
    run_config = config
    while True:
        idata, seconds = sample(model, run_config)
        if "constant_data" in idata.children:
            # The model's shared data and prior parameters, in standard units: the fit's data
            # groups and its spec hold them in the user's units.
            del idata["constant_data"]
        table, diagnosis = finish(idata, run_config)
        retry = refit_reason(diagnosis) if auto else None
        if len(attempts) + 1 >= MAX_ATTEMPTS:
            retry = None
        attempts.append(
            attempt_record(
                run_config,
                diagnosis,
                parametrization=parametrization,
                seconds=seconds,
                refit_because=retry,
            )
        )
        if retry is None:
            break
        run_config = safer_config(run_config, diagnosis)
        if config.progressbar:
            print(
                f"hbm: {retry}; refitting once with target_accept {run_config.target_accept}, "
                f"tune {run_config.tune}, draws {run_config.draws} (parametrization='auto')"
            )
    return Run(
        idata=idata,
        table=table,
        diagnosis=replace(diagnosis, attempts=attempts),
        config=run_config,
        seconds=seconds,
        attempts=len(attempts),
    )


def run_record(
    config: SampleConfig, run: Run, parametrization: str, reason: str, effects: dict[str, str]
) -> dict[str, object]:
    """The ``hbm_run`` record: what ran, how the group effects were obtained, versions."""
    return {
        "sampler": config.sampler,
        "random_seed": config.random_seed,
        "parametrization": parametrization,
        "parametrization_reason": reason,
        **effects,
        "sampling_seconds": round(run.seconds, 3),
        "attempts": run.attempts,
        "draws": run.config.draws,
        "tune": run.config.tune,
        "target_accept": float(run.config.target_accept),
        "versions": versions(),
    }


def finished_result(
    idata: xr.DataTree,
    record: dict[str, object],
    config: SampleConfig,
    *,
    data: Any,
    description: Any,
    spec: Any,
    priors: Any,
    parameters: Any,
    diagnosis: Diagnosis | None,
    table: pd.DataFrame,
    parametrization: str,
    reason: str,
) -> FitResult:
    """A finished fit, every kind alike: the run ``record`` and the data's description written
    into ``idata``'s attributes, the :class:`FitResult` with its summary ``table`` cached, and
    the result's own record (:func:`hbm.results.tree.record_attrs`) in the attributes too."""
    idata.attrs.update(
        hbm_run=json.dumps(record, sort_keys=True),
        hbm_data=json.dumps(data.describe(), sort_keys=True),
        sampler=config.sampler,
        random_seed=int(config.random_seed),  # type: ignore[arg-type]
        parametrization=parametrization,
    )
    result = FitResult(
        description=description,
        spec=spec,
        data=data,
        priors=priors,
        idata=idata,
        parameters=parameters,
        diagnosis=diagnosis,
        parametrization=parametrization,
        reason=reason,
    )
    result.cache.put(("summary",), table)
    record_attrs(result)
    return result
