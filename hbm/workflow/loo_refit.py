"""Exact leave-one-out by refitting: for the units whose Pareto k are high, or for all of them.

arviz-stats' :func:`~arviz_stats.reloo` keeps the PSIS estimate where Pareto k is at most the
threshold and refits the model without each other unit; this module gives it what it needs
(:class:`UnitRefits`, an arviz ``SamplingWrapper``): the data without one group (or row), a fit of
them with the same priors as the original (as used, so data-scaled defaults do not move),
sampler settings and seed, and the log predictive density of the unit left out under each draw of
the refit:

- a group: ``log p(y_j | mu, tau, sigma)`` with the group's effect integrated out (the family's
  ``marginal_group_log_likelihood``), so ``log mean_s p(y_j | draw s)`` is the exact LOGO
  predictive density up to Monte Carlo error;
- a row: ``log p(y_i | theta_g, sigma)`` under the refit's draws of its group's effect.

``refit_loo(fit, which="all")`` is exact leave-one-group-out (one refit per group): what the
PSIS-LOGO estimate is checked against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr
from arviz_stats.loo import SamplingWrapper

from hbm.analysis.draws import maybe_role_draws, role_draws
from hbm.analysis.log_likelihood import GROUP, unit_log_likelihood
from hbm.analysis.loo import LooResult, loo, quiet_psis
from hbm.data.grouped import GroupedData
from hbm.data.reduce import group_moments
from hbm.inference.config import SampleConfig
from hbm.model.families import get_family
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result
from hbm.workflow.fit import fit_grouped

__all__ = ["UnitRefits", "refit_loo", "without_group", "without_row"]

WHICH = ("high_k", "all")


def refit_loo(
    source: Any,
    unit: str | None = None,
    *,
    which: str = "high_k",
    progress: Callable[[str], None] | None = None,
) -> LooResult:
    """PSIS-LOO with the units of high Pareto k (``which="high_k"``) or every unit (``"all"``,
    exact LOO) replaced by refits without them.

    Examples
    --------
    >>> exact = refit_loo(fit, "groups", which="all")  # doctest: +SKIP
    >>> exact.refitted  # doctest: +SKIP
    ('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H')
    """
    import arviz_stats

    if which not in WHICH:
        raise ValueError(f"The 'which' option must be one of 'high_k', 'all'; got {which!r}.")
    result = as_result(source)
    if not result.description.is_seed_model:
        raise ValueError(
            "Refitting without a unit is available for 'value ~ 1 + (1 | group)' so far; this fit "
            f"is of {result.description.formula!r}. Use its PSIS-LOO (refit=False), whose "
            "Pareto k says where it is reliable."
        )
    psis = loo(result, unit)
    values = unit_log_likelihood(result, psis.unit)
    if values.draw_step > 1:
        raise ValueError(
            "Refitting needs the rows' log likelihood at every draw; this fit has too many rows "
            "(leave groups out instead)."
        )
    tree = xr.DataTree.from_dict(
        {
            "posterior": result.idata["posterior"].to_dataset(),
            "log_likelihood": xr.Dataset({str(values.values.name): values.values}),
        }
    )
    wrapper = UnitRefits(result, psis.unit, tree, progress=progress)
    threshold = -math.inf if which == "all" else psis.good_k
    with quiet_psis():
        refitted = arviz_stats.reloo(
            wrapper, loo_orig=psis.elpd_data, k_threshold=threshold, pointwise=True
        )
    labels = tuple(psis.labels[i] for i in wrapper.refitted)
    method = psis.method + (
        f"; all {len(labels)} {psis.unit} refitted exactly (one fit without each)"
        if which == "all"
        else f"; {len(labels)} with high Pareto k refitted exactly"
    )
    return replace(
        psis,
        method=method,
        elpd=float(refitted.elpd),
        se=float(refitted.se),
        p_loo=float(refitted.p),
        elpd_i=np.asarray(refitted.elpd_i.values, dtype=float),
        pareto_k=np.asarray(refitted.pareto_k.values, dtype=float),
        elpd_data=refitted,
        refitted=labels,
    )


class UnitRefits(SamplingWrapper):
    """arviz-stats' ``SamplingWrapper`` for one hbm fit and one unit (see the module docstring).

    ``sel_observations(i)`` returns the data without unit ``i`` and ``i``; ``sample`` fits them
    as the original was fitted; ``log_likelihood__i`` gives the left-out unit's log density per
    draw of the refit.
    """

    def __init__(
        self,
        result: FitResult,
        unit: str,
        tree: xr.DataTree,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(model=None, idata_orig=tree)
        self.result, self.unit, self.progress = result, unit, progress
        self.refitted: list[int] = []
        self.family = get_family(result.description.family)
        if unit == GROUP and getattr(self.family, "marginal_group_log_likelihood", None) is None:
            raise ValueError(
                f"Refitting groups needs the {self.family.NAME} family's integrated per-group "
                "likelihood, which it does not have."
            )

    def sel_observations(self, idx: Any) -> tuple[GroupedData, int]:
        i = int(idx)
        data = self.result.grouped
        left = without_group(data, i) if self.unit == GROUP else without_row(data, i)
        return left, i

    def sample(self, data: GroupedData) -> FitResult:
        spec, description = self.result.spec, self.result.description
        config = SampleConfig(
            draws=spec.draws,
            tune=spec.tune,
            chains=spec.chains,
            target_accept=spec.target_accept,
            random_seed=self.result.random_seed,
            sampler=spec.sampler,  # type: ignore[arg-type]
            progressbar=False,
        )
        return fit_grouped(
            data,
            priors=self.result.priors,
            parametrization=description.parametrization,
            likelihood=description.likelihood,
            config=config,
        )

    def get_inference_data(self, fitted: FitResult) -> FitResult:
        return fitted

    def log_likelihood__i(self, excluded: int, refit: FitResult) -> xr.DataArray:
        data = self.result.grouped
        sizes = refit.idata["posterior"].sizes
        residual = maybe_role_draws(refit, "residual_scale")
        if self.unit == GROUP:
            values = self.family.marginal_group_log_likelihood(
                data,
                role_draws(refit, "coefficient"),
                role_draws(refit, "group_sd"),
                residual,
            )[:, excluded]
            label = data.labels[excluded]
        else:
            codes, rows = data.codes, data.values
            if codes is None or rows is None:  # pragma: no cover - loo(unit="rows") checked
                raise ValueError("Leaving rows out needs the rows.")
            label = data.labels[int(codes[excluded])]
            effect = role_draws(refit, "group_effect")[:, refit.grouped.labels.index(label)]
            values = self.family.pointwise_log_likelihood(
                np.zeros(1, dtype=np.int64),
                rows[excluded : excluded + 1],
                effect[:, None],
                residual,
            )[:, 0]
        self.refitted.append(excluded)
        if self.progress is not None:
            self.progress(f"hbm: refitted without {self.unit[:-1]} {excluded + 1} ({label})")
        return xr.DataArray(values.reshape(sizes["chain"], sizes["draw"]), dims=("chain", "draw"))


def without_group(data: GroupedData, j: int) -> GroupedData:
    """The data without group ``j`` (its rows too, where kept)."""
    keep = np.arange(data.n_groups) != j
    if keep.sum() < 2:
        raise ValueError("Leaving a group out needs at least 3 groups.")
    codes = values = None
    if data.codes is not None and data.values is not None:
        rows = data.codes != j
        codes = data.codes[rows] - (data.codes[rows] > j)
        values = data.values[rows]
    return GroupedData(
        group=data.group,
        value=data.value,
        se=data.se,
        labels=tuple(label for i, label in enumerate(data.labels) if i != j),
        order=data.order,
        n=data.n[keep],
        mean=data.mean[keep],
        ss=data.ss[keep],
        stderr=None if data.stderr is None else data.stderr[keep],
        codes=codes,
        values=values,
        dropped=data.dropped,
    )


def without_row(data: GroupedData, i: int) -> GroupedData:
    """The rows without row ``i``, reduced again (its group keeps at least one row)."""
    if data.codes is None or data.values is None:
        raise ValueError("Leaving a row out needs the rows (likelihood='rows').")
    group = int(data.codes[i])
    if data.n[group] < 2:
        raise ValueError(
            f"Row {i + 1} is the only row of {data.group} {data.labels[group]!r}: leaving it out "
            "leaves the group out (use unit='groups')."
        )
    keep = np.arange(len(data.codes)) != i
    codes, values = data.codes[keep], data.values[keep]
    moments = group_moments(codes, values, data.n_groups)
    return replace(data, n=moments.n, mean=moments.mean, ss=moments.ss, codes=codes, values=values)
