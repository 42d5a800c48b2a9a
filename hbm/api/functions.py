"""The Python API's functions: ``hbm.fit``, ``fit_grouped``, ``fit_spec`` and ``hbm.load``.

``Fit`` is a thin façade over a :class:`hbm.results.fit_result.FitResult`: its attributes are the
record's, and each method calls one plain function in its own module (summary, shrinkage, plots,
report, save, predict). Nothing below this module imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hbm.api.facade import Fit
from hbm.api.family_options import outcome_formula, outcome_table
from hbm.api.sources import formula_source, read_or_reduce
from hbm.core.defaults import DEFAULTS
from hbm.data.model_data import ModelData
from hbm.inference.config import SampleConfig
from hbm.results.io import load_result
from hbm.workflow import fit as workflow
from hbm.workflow.fit_formula import fit_formula
from hbm.workflow.reduce import Statistics
from hbm.workflow.specs import ModelSpec
from hbm.workflow.specs import fit_spec as run_spec

if TYPE_CHECKING:
    from hbm.data.grouped import GroupedData
    from hbm.model.priors import Prior
    from hbm.workflow.prior_only import PriorFit

__all__ = ["fit", "fit_grouped", "fit_spec", "load"]

PriorsLike = str | Mapping[str, "str | float | Prior"] | None


def fit(
    table: pd.DataFrame | Statistics | str | Path,
    formula: str | None = None,
    *,
    family: str = "normal",
    group: str | None = None,
    value: str | None = None,
    se: str | None = None,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    draws: int = DEFAULTS.draws,
    tune: int = DEFAULTS.tune,
    chains: int = DEFAULTS.chains,
    target_accept: float = DEFAULTS.target_accept,
    random_seed: int | None = None,
    sampler: str = DEFAULTS.sampler,
    progressbar: bool = True,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
    prior_only: bool = False,
    engine: str = DEFAULTS.engine,
    cluster: str | None = None,
) -> Fit | PriorFit:
    """Fit a hierarchical model to a tidy table: a formula, or ``group=`` and ``value=``.

    Parameters
    ----------
    table : pandas.DataFrame, Statistics, str or Path
        Rows form (one row per unit) or, with ``group``/``value``/``se``, summaries form (one row
        per group: an estimate and its standard error). For ``value ~ 1 + (1 | group)`` also:
        the :class:`~hbm.workflow.reduce.Statistics` of :func:`hbm.reduce`, the path of a data
        file (or glob) reduced on ``engine``, or of a statistics file written by ``hbm reduce``
        (then ``group``/``value`` may be left out).
    formula : str, optional
        lme4 / Bambi style: ``"Reaction ~ Days + (Days | Subject)"`` (correlated intercept and
        slope per subject), ``"y ~ x + (1 | g) + (0 + x | g)"`` (uncorrelated), ``C(x)``,
        interactions, ``I(...)``, ``np.log(x)``; backticks quote other column names
        (`` `log.radon` ~ floor + (1 | county)``). ``value ~ 1 + (1 | group)`` is the seed's
        model, with the names ``mu``, ``tau``, ``sigma``, ``theta``. Other families' responses:
        ``passed ~ ...`` (0/1 rows), ``use[Y] ~ ...`` (a two-level column and its success
        level), ``p(successes, trials) ~ ...``; counts with ``offset(np.log(exposure))``.
    family : {"normal", "studentt", "binomial", "poisson", "negbinomial"}
        The outcome's distribution: normal (identity link), Student-t (identity; ``sigma``,
        ``nu``), binomial (logit), Poisson (log), negative binomial (log; shape ``alpha``). See
        :mod:`hbm.workflow.fit_outcome`.
    group, value : str, optional
        The shorthand for ``value ~ 1 + (1 | group)`` (instead of ``formula``).
    se : str, optional
        Column of known standard errors: selects the summaries form.
    priors : {"default", "seed"} or mapping, optional
        Prior text per parameter, e.g. ``{"mu": "normal(0, 5)", "tau": "halfcauchy(5)"}``;
        parameters not named get the data-scaled defaults (see
        :func:`hbm.model.families.normal.default_priors`).
    parametrization : {"auto", "centered", "noncentered", "marginal"}
        ``auto`` (default) chooses and records why, and refits once with safer settings if
        the first run shows divergences or low ESS (see :mod:`hbm.workflow.refit`).
    likelihood : {"sufficient", "rows"}
        Exact sufficient statistics (default) or one term per row (checking, teaching).
    draws, tune, chains, target_accept, random_seed, sampler
        NUTS settings (see :class:`hbm.inference.config.SampleConfig`). ``random_seed=None``
        draws a seed and records it.
    progressbar : bool
        Show the priors, the choice of parametrization and sampling progress.
    order : {"first-seen", "sorted"}
        Order of the group labels.
    missing : {"error", "drop"}
        Rows with missing group / value / se: an error (default), or dropped and counted.
    prior_only : bool
        Sample the priors and the data they imply instead of fitting (``draws x chains`` draws;
        a :class:`hbm.workflow.prior_only.PriorFit`): a prior predictive check.
    engine : {"auto", "pandas", "duckdb", "dask"}
        Where a data file's rows are reduced (see :func:`hbm.reduce`; ``auto``: DuckDB above
        200 MB).
    cluster : str, optional
        A Dask scheduler's address for ``engine="dask"``.

    Returns
    -------
    Fit, or PriorFit with ``prior_only=True``

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("schools")
    >>> result = hbm.fit(df, group="school", value="score", random_seed=1, progressbar=False)
    >>> result.summary().param.iloc[:3].tolist()
    ['mu', 'tau', 'sigma']
    >>> sleep = hbm.fit(hbm.datasets.load("sleepstudy"), "Reaction ~ Days + (Days | Subject)",
    ...                 random_seed=1, progressbar=False)
    >>> sleep.summary().param.iloc[:4].tolist()
    ['beta[Intercept]', 'beta[Days]', 'sd_Subject[Intercept]', 'sd_Subject[Days]']
    """
    if family != "normal":
        table = outcome_table(table, family)
    if isinstance(table, str | Path) and formula is not None:
        table = formula_source(
            table, formula, likelihood, prior_only, engine, cluster, missing, order, progressbar
        )
        if isinstance(table, Statistics):
            formula = None
    if isinstance(table, str | Path) and formula is None:
        table = read_or_reduce(
            table,
            group,
            value,
            se,
            likelihood,
            prior_only,
            engine,
            cluster,
            missing,
            order,
            progressbar,
        )
    if isinstance(table, Statistics):
        return _fit_statistics(
            table,
            se,
            likelihood,
            prior_only,
            priors,
            parametrization,
            SampleConfig(
                draws=draws,
                tune=tune,
                chains=chains,
                target_accept=target_accept,
                random_seed=random_seed,
                sampler=sampler,  # type: ignore[arg-type]
                progressbar=progressbar,
            ),
        )
    _check_model_options(formula, group, value, se)
    if family != "normal":
        formula = outcome_formula(family, formula, group, value, se)
        group = value = None
    config = SampleConfig(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=random_seed,
        sampler=sampler,  # type: ignore[arg-type]
        progressbar=progressbar,
    )
    if prior_only:
        from hbm.workflow.prior_only import prior_only_formula, prior_only_table

        if formula is not None:
            if family != "normal":
                raise ValueError(
                    f"prior_only=True is available for the normal family so far; not for the "
                    f"{family} family."
                )
            return prior_only_formula(
                table,
                formula,
                priors=priors,
                draws=draws * chains,
                random_seed=random_seed,
                order=order,
                missing=missing,
            )
        return prior_only_table(
            table,
            group=group,  # type: ignore[arg-type]
            value=value,  # type: ignore[arg-type]
            se=se,
            priors=priors,
            draws=draws * chains,
            random_seed=random_seed,
            order=order,
            missing=missing,
        )
    if formula is not None:
        return Fit(
            fit_formula(
                table,
                formula,
                family=family,
                priors=priors,
                parametrization=parametrization,
                likelihood=likelihood,
                config=config,
                order=order,
                missing=missing,
            )
        )
    return Fit(
        workflow.fit_table(
            table,
            group=group,  # type: ignore[arg-type]
            value=value,  # type: ignore[arg-type]
            se=se,
            priors=priors,
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            order=order,
            missing=missing,
        )
    )


def _fit_statistics(
    stats: Statistics,
    se: str | None,
    likelihood: str,
    prior_only: bool,
    priors: PriorsLike,
    parametrization: str,
    config: SampleConfig,
) -> Fit:
    if likelihood == "rows" or se is not None or prior_only:
        given = "likelihood='rows'" if likelihood == "rows" else "prior_only=True"
        given = f"se={se!r}" if se is not None else given
        raise ValueError(
            f"{given} needs the table's rows; statistics hold each group's n, mean and ss."
        )
    source = stats.provenance.get("statistics") or stats.provenance.get("source")
    if isinstance(stats.data, ModelData):
        from hbm.model.formula import parse_formula
        from hbm.workflow.fit_formula import fit_model_data

        return Fit(
            fit_model_data(
                stats.data,
                parse_formula(stats.description.formula),
                priors=priors,  # type: ignore[arg-type]
                parametrization=parametrization,
                config=config,
                source=None if source is None else str(source),
                reduction=stats.provenance,
            )
        )
    return Fit(
        workflow.fit_grouped(
            stats.data,
            priors=priors,
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            source=None if source is None else str(source),
            reduction=stats.provenance,
        )
    )


def _check_model_options(
    formula: str | None, group: str | None, value: str | None, se: str | None
) -> None:
    """A formula, or group= and value= (never both, never neither)."""
    if formula is not None and (group is not None or value is not None or se is not None):
        given = ", ".join(
            f"{n}={v!r}" for n, v in (("group", group), ("value", value), ("se", se)) if v
        )
        raise ValueError(
            f"Give either a formula or group= and value= (the shorthand for "
            f"'value ~ 1 + (1 | group)'), not both; got the formula {formula!r} and {given}."
        )
    if formula is None and (group is None or value is None):
        raise ValueError(
            "Say what to fit: a formula such as 'y ~ x + (1 | g)', or group= and value= (the "
            "shorthand for 'value ~ 1 + (1 | group)')."
        )


def fit_grouped(
    data: GroupedData,
    *,
    priors: PriorsLike = None,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
    config: SampleConfig | None = None,
    source: str | None = None,
) -> Fit:
    """Fit already-reduced data (what :func:`fit` does after checking the table; see
    :func:`hbm.workflow.fit.fit_grouped`)."""
    return Fit(
        workflow.fit_grouped(
            data,
            priors=priors,
            parametrization=parametrization,
            likelihood=likelihood,
            config=config,
            source=source,
        )
    )


def fit_spec(spec: ModelSpec | str | Path, *, progressbar: bool = False) -> Fit:
    """Fit what a model spec (TOML) describes (see :func:`hbm.workflow.specs.fit_spec`)."""
    return Fit(run_spec(spec, progressbar=progressbar))


def load(path: str | Path) -> Fit:
    """Read a fit saved by :meth:`Fit.save` (netCDF file or ``*.zarr`` store).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file cannot be read, is not a saved hbm fit, was saved in a newer layout, or its
        model description does not match its hash.

    Examples
    --------
    >>> import hbm
    >>> fit = hbm.load("out/schools/fit.nc")  # doctest: +SKIP
    >>> fit.summary()  # doctest: +SKIP
    """
    return Fit(load_result(path))
