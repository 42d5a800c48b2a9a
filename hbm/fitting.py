"""``hbm.fit``: table -> GroupedData -> model -> NUTS -> DataTree -> ``Fit``.

``Fit`` is a small result object. It holds what was asked (the spec), the reduced data, the
priors, the DataTree and the diagnosis; its methods delegate to plain functions in their own
modules (:mod:`hbm.summary`, :mod:`hbm.plots`, :mod:`hbm.report`, :mod:`hbm.io`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hbm.data import GroupedData, grouped_data
from hbm.diagnostics import Diagnosis, diagnose
from hbm.models import (
    build_model,
    check_likelihood,
    check_parametrization,
    choose_parametrization,
)
from hbm.priors import Prior, prior_table, resolve_priors
from hbm.refit import MAX_ATTEMPTS, attempt_record, refit_reason, safer_config
from hbm.sampling import SampleConfig, new_seed, sample, versions
from hbm.spec import FitSpec
from hbm.standardize import Standardization
from hbm.summary import posterior_summary

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["Fit", "fit", "fit_grouped"]


@dataclass(frozen=True, eq=False)
class Fit:
    """The result of :func:`fit`.

    Attributes
    ----------
    spec : FitSpec
        What was asked, with the priors and seed that actually ran.
    data : GroupedData
        The reduced data.
    priors : dict of Prior
        The priors used (defaults filled in).
    idata : xarray.DataTree
        Posterior draws (``theta`` with a dimension named after the group column), sampler
        statistics, observed data, the per-group data (``group_data``), and in its attributes the
        spec, sampler, seed, versions and parametrization as JSON.
    diagnosis : Diagnosis
        Divergences, R-hat, ESS, verdict and advice.
    parametrization, reason : str
        The parametrization that ran, and why it was chosen.
    """

    spec: FitSpec
    data: GroupedData
    priors: dict[str, Prior]
    idata: xr.DataTree
    diagnosis: Diagnosis
    parametrization: str
    reason: str
    _summary: pd.DataFrame | None = field(default=None, repr=False)
    #: Derived tables (shrinkage, pooling, predictive checks) computed once per fit: a report
    #: asks for each several times, and for 10,000 groups each costs seconds.
    _cache: dict[object, object] = field(default_factory=dict, repr=False)

    def summary(self) -> pd.DataFrame:
        """Posterior summary: ``param`` (mu, tau, sigma, ``theta[<label>]``), mean, sd, ESS, ..."""
        summary = self._summary
        if summary is None:  # computed once (fit_grouped fills it in), then copied out
            summary = posterior_summary(self.idata)
            object.__setattr__(self, "_summary", summary)
        return summary.copy()

    def diagnose(self) -> Diagnosis:
        """The diagnosis: divergences, R-hat, ESS, verdict and advice."""
        return self.diagnosis

    def prior_summary(self) -> pd.DataFrame:
        """The priors used, as a table (like rstanarm's ``prior_summary``)."""
        return prior_table(self.priors)

    def plot_shrinkage(self) -> Figure:
        """The shrinkage plot: raw group means -> posterior means (see :func:`hbm.plots`)."""
        from hbm.plots import plot_shrinkage

        return plot_shrinkage(self)

    def shrinkage(self, *, higher_is_better: bool = True) -> pd.DataFrame:
        """Per-group shrinkage and league table (see :func:`hbm.shrinkage.shrinkage_table`)."""
        from hbm.shrinkage import shrinkage_table

        return shrinkage_table(self, higher_is_better=higher_is_better)

    def icc(self) -> pd.Series:
        """Intraclass correlation tau² / (tau² + sigma²), rows form (:func:`hbm.shrinkage.icc`)."""
        from hbm.shrinkage import icc

        return icc(self)

    def plot_league(self) -> Figure:
        """League table / caterpillar plot (see :func:`hbm.plots.plot_league`)."""
        from hbm.plots import plot_league

        return plot_league(self)

    def plot_pooling(self) -> Figure:
        """Complete vs no vs partial pooling (see :func:`hbm.plots.plot_pooling`)."""
        from hbm.plots import plot_pooling

        return plot_pooling(self)

    def plot_ppc(self) -> Figure:
        """Posterior predictive check of the group means (see :func:`hbm.plots.plot_ppc`)."""
        from hbm.plots import plot_ppc

        return plot_ppc(self)

    def plot_trace(self, kind: str = "trace") -> Figure:
        """Trace or rank plots of mu, tau, sigma (see :func:`hbm.plots.plot_trace`)."""
        from hbm.plots import plot_trace

        return plot_trace(self, kind=kind)

    def plot_funnel(self, **kwargs: object) -> Figure:
        """Draws of ``theta[j]`` against ``log tau``, divergent ones in red (:mod:`hbm.funnel`)."""
        from hbm.funnel import plot_funnel

        return plot_funnel(self, **kwargs)  # type: ignore[arg-type]

    def report(self, path: str | Path) -> Path:
        """Write the report to ``path`` (HTML, or Markdown for ``.md``); return the path."""
        from hbm.report import write_report

        return write_report(self, Path(path))

    def save(self, path: str | Path) -> Path:
        """Save to netCDF (the DataTree, with spec and diagnosis as JSON attributes)."""
        from hbm.io import save_fit

        return save_fit(self, Path(path))

    def predict(self, groups: str | list[str] | None = None, **options: object) -> object:
        """Posterior predictive draws for existing and/or new groups (:func:`hbm.predict.predict`).

        >>> fit.predict(["Ashford"], new_groups=["new school"], random_seed=1)  # doctest: +SKIP
        """
        from hbm.predict import predict

        return predict(self, groups, **options)  # type: ignore[arg-type]

    @property
    def run_info(self) -> dict[str, object]:
        """Sampler, seed, versions, parametrization and timing that actually ran."""
        return json.loads(self.idata.attrs["hbm_run"])

    def _repr_html_(self) -> str:
        from hbm.report import fit_html_snippet

        return fit_html_snippet(self)

    def __repr__(self) -> str:
        d = self.diagnosis
        return (
            f"<hbm.Fit {self.data.n_groups} {self.data.group} groups, {self.data.n_rows} rows; "
            f"{self.parametrization} via {d.sampler}, {d.chains}x{d.draws} draws; "
            f"verdict {d.verdict}>"
        )


def fit(
    table: pd.DataFrame,
    *,
    group: str,
    value: str,
    se: str | None = None,
    priors: str | Mapping[str, str | float | Prior] | None = None,
    parametrization: str = "auto",
    likelihood: str = "sufficient",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.95,
    random_seed: int | None = None,
    sampler: str = "nutpie",
    progressbar: bool = True,
    order: str = "first-seen",
    missing: str = "error",
) -> Fit:
    """Fit the three-level hierarchical normal model to a tidy table.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows form (one row per unit: ``group``, ``value``) or summaries form (one row per group:
        ``group``, ``value``, ``se``).
    group, value : str
        Column names of the group labels and of the numeric values.
    se : str, optional
        Column of known standard errors: selects the summaries form.
    priors : {"default", "seed"} or mapping, optional
        Prior text per parameter, e.g. ``{"mu": "normal(0, 5)", "tau": "halfcauchy(5)"}``;
        parameters not named get the data-scaled defaults (see :mod:`hbm.priors`).
    parametrization : {"auto", "centered", "noncentered", "marginal"}
        ``auto`` (default) chooses and records why, and refits once with safer settings if
        the first run shows divergences or low ESS (see :func:`fit_grouped`).
    likelihood : {"sufficient", "rows"}
        Exact sufficient statistics (default) or one term per row (checking, teaching).
    draws, tune, chains, target_accept, random_seed, sampler
        NUTS settings (see :class:`hbm.sampling.SampleConfig`). ``random_seed=None`` draws a seed
        and records it.
    progressbar : bool
        Show the priors, the choice of parametrization and sampling progress.
    order : {"first-seen", "sorted"}
        Order of the group labels.
    missing : {"error", "drop"}
        Rows with missing group / value / se: an error (default), or dropped and counted.

    Returns
    -------
    Fit

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("schools")
    >>> result = hbm.fit(df, group="school", value="score", random_seed=1, progressbar=False)
    >>> result.summary().param.iloc[:3].tolist()
    ['mu', 'tau', 'sigma']
    """
    check_parametrization(parametrization)
    check_likelihood(likelihood)
    config = SampleConfig(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=random_seed,
        sampler=sampler,  # type: ignore[arg-type]
        progressbar=progressbar,
    )
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
    priors: str | Mapping[str, str | float | Prior] | None = None,
    parametrization: str = "auto",
    likelihood: str = "sufficient",
    config: SampleConfig | None = None,
    source: str | None = None,
) -> Fit:
    """Fit already-reduced data (what :func:`fit` does after checking the table).

    ``source`` is recorded in the spec as where the data came from (a path, say).

    With ``parametrization="auto"``, a run that still shows divergences, R-hat above 1.01 or low
    ESS is repeated once with safer settings (:mod:`hbm.refit`); ``diagnosis.attempts`` (and
    ``diagnostics.json["attempts"]``) records every run.
    """
    config = config or SampleConfig()
    resolved = resolve_priors(data, priors)
    if config.random_seed is None:
        config = replace(config, random_seed=new_seed())
    # Sample in standard units, so that values in billions or millionths sample as well as values
    # near 1; the draws are mapped back to the user's units (see hbm.standardize).
    standard = Standardization.of(data)
    check_parametrization(parametrization)
    if parametrization == "auto":
        # Chosen from the data in the user's units, so the reason quotes numbers they recognise.
        chosen, reason = choose_parametrization(data, resolved, likelihood=likelihood)  # type: ignore[arg-type]
    else:
        chosen, reason = parametrization, "asked for"
    built = build_model(
        standard.data(data),
        standard.priors(resolved),
        parametrization=chosen,  # type: ignore[arg-type]
        likelihood=likelihood,  # type: ignore[arg-type]
    )._replace(reason=reason)
    spec = FitSpec(
        group=data.group,
        value=data.value,
        se=data.se,
        parametrization=parametrization,
        likelihood=likelihood,
        priors={name: prior.text() for name, prior in resolved.items()},
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        target_accept=float(config.target_accept),
        random_seed=config.random_seed,
        sampler=config.sampler,
        order=data.order,
        data=source,
    )
    if config.progressbar:
        _announce(data, resolved, built.parametrization, built.reason, config)

    attempts: list[dict[str, object]] = []
    run_config = config
    while True:
        idata, seconds = sample(built.model, run_config)
        if "constant_data" in idata.children:
            # The model's shared data and prior parameters (hbm.models), in standard units:
            # group_data and the spec hold them in the user's units.
            del idata["constant_data"]
        standard.restore(idata, data, resolved)
        if built.parametrization == "marginal":
            _add_theta(idata, data, int(run_config.random_seed))  # type: ignore[arg-type]
        _add_group_data(idata, data)
        # One pass over the draws for the summary table and the diagnosis (10,000 groups: seconds).
        table = posterior_summary(idata)
        diagnosis = diagnose(
            idata, parametrization=built.parametrization, sampler=config.sampler, summary=table
        )
        retry = refit_reason(diagnosis) if parametrization == "auto" else None
        if len(attempts) + 1 >= MAX_ATTEMPTS:
            retry = None
        attempts.append(
            attempt_record(
                run_config,
                diagnosis,
                parametrization=built.parametrization,
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
    diagnosis = replace(diagnosis, attempts=attempts)
    run = {
        "sampler": config.sampler,
        "random_seed": config.random_seed,
        "parametrization": built.parametrization,
        "parametrization_reason": built.reason,
        "theta": (
            "drawn exactly from its normal conditional posterior, once per draw"
            if built.parametrization == "marginal"
            else "sampled by NUTS"
        ),
        "sampling_seconds": round(seconds, 3),
        "attempts": len(attempts),
        "draws": run_config.draws,
        "tune": run_config.tune,
        "target_accept": float(run_config.target_accept),
        "versions": versions(),
    }
    idata.attrs.update(
        hbm_spec=spec.to_json(),
        hbm_run=json.dumps(run, sort_keys=True),
        hbm_data=json.dumps(data.describe(), sort_keys=True),
        sampler=config.sampler,
        random_seed=int(config.random_seed),  # type: ignore[arg-type]
        parametrization=built.parametrization,
    )
    idata.attrs["hbm_diagnosis"] = json.dumps(diagnosis.to_dict(), sort_keys=True)
    return Fit(
        spec=spec,
        data=data,
        priors=resolved,
        idata=idata,
        diagnosis=diagnosis,
        parametrization=built.parametrization,
        reason=built.reason,
        _summary=table,
    )


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


def _add_theta(idata: xr.DataTree, data: GroupedData, random_seed: int) -> None:
    from hbm.conditional import draw_theta

    posterior = idata["posterior"].to_dataset()
    posterior["theta"] = draw_theta(posterior, data, random_seed)
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
