"""PSIS-LOO of a fit, by rows or by groups: ELPD, its se, p_loo, Pareto k, and what to do.

The Pareto-smoothed importance sampling is arviz-stats' (:func:`arviz_stats.loo`), run on the
fit's posterior and its log likelihood per unit (:mod:`hbm.analysis.log_likelihood`, which says
what each unit means and what it costs). ``r_eff`` is arviz's default (the mean relative
efficiency ESS/S over every posterior variable), computed once here with NaN (a fixed parameter)
left out, so ``fit.loo()`` equals ``arviz_stats.loo(fit.idata, var_name=...)``.

Pareto k per unit says whether the importance sampling can stand in for refitting without that
unit (Vehtari et al. 2024): up to ``good_k = min(1 - 1 / log10(S), 0.7)`` the estimate is
reliable; above it the unit's ELPD is biased (usually too optimistic), and above 1 it is useless.
The result names the groups or rows above ``good_k`` and says what to do: refit without them
(``refit=True`` in :meth:`hbm.api.Fit.loo`, arviz-stats' ``reloo``), or leave groups out with the
effects integrated out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hbm.analysis.data_key import DataKey, data_key
from hbm.analysis.log_likelihood import GROUP, ROW, default_unit, stored_log_likelihood
from hbm.analysis.log_likelihood import unit_log_likelihood as _unit_log_likelihood
from hbm.analysis.loo_blocks import block_log_likelihood, blockwise_group_loo, needs_blocks
from hbm.analysis.units import units_of
from hbm.model.families import get_family
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result

__all__ = ["LooResult", "loo", "psis_loo", "quiet_psis"]

#: arviz-stats warns once per call when a k is high; the result says which and what to do.
_HIGH_K_WARNING = "Estimated shape parameter of Pareto distribution"


@dataclass(frozen=True, eq=False)
class LooResult:
    """Leave-one-out predictive accuracy of one fit (see the module docstring).

    Attributes
    ----------
    unit : {"groups", "rows"}
        What was left out.
    method : str
        How, in words (integrated or conditional log likelihood, refits, thinning).
    elpd, se, p_loo : float
        Expected log predictive density summed over units, its standard error, and the effective
        number of parameters.
    good_k : float
        The Pareto k threshold for ``S`` draws.
    labels : tuple of str
        One label per unit: group labels, or ``row <i> (<group>)`` counted from 1.
    elpd_i, pareto_k : ndarray
        Per unit.
    n_draws : int
        Draws the estimate used.
    key : DataKey
        The data it was computed on (:func:`hbm.analysis.compare.compare` checks it).
    elpd_data : arviz_stats ELPDDataLOO
        arviz-stats' result (log weights dropped), what ``arviz_stats.compare`` reads.
    r_eff : float
        The relative efficiency PSIS used.
    refitted : tuple of str
        Units whose ELPD comes from refitting without them (exact), not from PSIS.
    """

    unit: str
    method: str
    elpd: float
    se: float
    p_loo: float
    good_k: float
    labels: tuple[str, ...]
    elpd_i: np.ndarray = field(repr=False)
    pareto_k: np.ndarray = field(repr=False)
    n_draws: int
    key: DataKey = field(repr=False)
    elpd_data: Any = field(repr=False)
    r_eff: float = 1.0
    refitted: tuple[str, ...] = ()

    @property
    def n_units(self) -> int:
        return len(self.labels)

    @property
    def what(self) -> str:
        """``"group"`` or ``"row"``."""
        return self.unit[:-1]

    def k_counts(self) -> dict[str, int]:
        """Units by Pareto k: ``good`` (<= good_k), ``bad`` (up to 1), ``very bad`` (> 1)."""
        k = self.pareto_k
        return {
            "good": int(np.sum(k <= self.good_k)),
            "bad": int(np.sum((k > self.good_k) & (k <= 1))),
            "very bad": int(np.sum(k > 1)),
        }

    def high_k(self) -> pd.Series:
        """The units with Pareto k above ``good_k``, highest first."""
        k = pd.Series(self.pareto_k, index=pd.Index(self.labels, name=self.what), name="pareto_k")
        return k[k > self.good_k].sort_values(ascending=False)

    def advice(self) -> list[str]:
        """What the Pareto k say, naming the units above ``good_k`` and what to do."""
        high = self.high_k()
        if len(self.refitted) == self.n_units:
            return [f"Every one of the {self.n_units:,} {self.unit} was refitted: exact LOO."]
        if high.empty:
            refits = f"; {len(self.refitted)} refitted exactly" if self.refitted else ""
            return [
                f"All {self.n_units:,} Pareto k are at most {self.good_k:.2f}: the PSIS estimate "
                f"is reliable{refits}."
            ]
        shown = ", ".join(f"{label!r} ({k:.2f})" for label, k in high.iloc[:8].items())
        more = f" and {len(high) - 8} more" if len(high) > 8 else ""
        worst = " (above 1: their PSIS estimate is unusable)" if high.iloc[0] > 1 else ""
        out = [
            f"{len(high)} of {self.n_units:,} {self.unit} have Pareto k above {self.good_k:.2f}"
            f"{worst}: {shown}{more}. Importance sampling cannot stand in for refitting without "
            f"them, and the ELPD is likely too optimistic."
        ]
        if self.unit == GROUP and "no exact marginal" in self.method:
            out.append(
                "A curve's group effects cannot be integrated out: compare curve models by rows "
                "(unit='rows', a new point of a known group), whose Pareto k are usually small, "
                "and read the groups' ELPD as approximate."
            )
            return out
        if self.unit == GROUP and "conditional" in self.method:
            out.append(
                "Leave groups out with their effects integrated out (integrate=True, where the "
                "family allows it): the per-group sums given the effects make k large for groups "
                "with much data."
            )
        out.append(
            f"Refit without each of them for exact values: fit.loo(unit={self.unit!r}, "
            f"refit=True) makes {len(high)} refit(s)"
            + (", or leave groups out (unit='groups')." if self.unit == ROW else ".")
        )
        if self.p_loo > 0.2 * self.n_units:
            out.append(
                f"p_loo = {self.p_loo:.1f} is large for {self.n_units:,} {self.unit}: the model "
                "may be misspecified or very flexible; check the posterior predictive check."
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row: unit, elpd, se, p_loo, units, draws and the Pareto k counts."""
        counts = self.k_counts()
        return pd.DataFrame(
            [
                {
                    "unit": self.unit,
                    "elpd": self.elpd,
                    "se": self.se,
                    "p_loo": self.p_loo,
                    "units": self.n_units,
                    "draws": self.n_draws,
                    f"k <= {self.good_k:.2f}": counts["good"],
                    "k bad": counts["bad"],
                    "k > 1": counts["very bad"],
                }
            ]
        )

    def pointwise(self) -> pd.DataFrame:
        """Per unit: ``elpd_i`` and ``pareto_k`` (exactly refitted units have k = 0)."""
        return pd.DataFrame(
            {"elpd_i": self.elpd_i, "pareto_k": self.pareto_k},
            index=pd.Index(self.labels, name=self.what),
        )

    def __str__(self) -> str:
        counts = self.k_counts()
        return "\n".join(
            [
                f"LOO by {self.unit} ({self.method})",
                f"elpd {self.elpd:.2f} (se {self.se:.2f}), p_loo {self.p_loo:.2f}; "
                f"{self.n_units:,} {self.unit}, {self.n_draws:,} draws",
                f"Pareto k: {counts['good']} <= {self.good_k:.2f}, {counts['bad']} bad, "
                f"{counts['very bad']} > 1",
                *self.advice(),
            ]
        )

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(str(self)) + "</pre>"


def loo(source: Any, unit: str | None = None, *, integrate: bool = True) -> LooResult:
    """PSIS-LOO of a fit, leaving out ``unit`` (default: rows if the fit kept them, else groups).

    Parameters
    ----------
    source : Fit, FitResult or xarray.DataTree
    unit : {"groups", "rows"}, optional
    integrate : bool
        Groups unit: integrate the group effects out (default, where the family can); ``False``
        uses the per-group sums given the effects (for comparison: their k are large).

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> f = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...             draws=500, tune=500, progressbar=False)
    >>> result = loo(f)
    >>> result.unit, result.n_units, result.k_counts()["very bad"]
    ('groups', 8, 0)
    """
    result = as_result(source)
    unit = default_unit(result) if unit is None else unit
    key = ("loo", unit, bool(integrate))
    return result.cache.get(key, lambda: _loo(result, unit, integrate))


def _loo(result: FitResult, unit: str, integrate: bool) -> LooResult:
    if unit == GROUP and stored_log_likelihood(result, GROUP) is None and needs_blocks(result):
        return _loo_in_blocks(result, integrate)
    values = _unit_log_likelihood(result, unit, integrate=integrate)
    posterior = result.idata["posterior"].to_dataset()
    if values.draw_step > 1:
        posterior = posterior.isel(draw=slice(None, None, values.draw_step))
    method = _method(result, unit, values.integrated)
    if values.draw_step > 1:
        total = result.idata["posterior"].sizes
        method += (
            f"; one draw in {values.draw_step} ({values.values.sizes['draw'] * total['chain']:,}"
            f" of {total['draw'] * total['chain']:,}) to keep the rows' log likelihood within "
            "memory"
        )
    labels = _labels(result, unit)
    return psis_loo(
        posterior, values.values, unit=unit, method=method, labels=labels, key=data_key(result)
    )


def _loo_in_blocks(result: FitResult, integrate: bool) -> LooResult:
    """Leave-one-group-out for many groups, a block of groups at a time (see
    :mod:`hbm.analysis.loo_blocks`)."""
    family = get_family(result.description.family)
    integrated = not units_of(result).curve and (
        not result.description.is_seed_model
        or (integrate and getattr(family, "marginal_group_log_likelihood", None) is not None)
    )
    posterior = result.idata["posterior"].to_dataset()
    reff = relative_efficiency(xr.DataTree.from_dict({"posterior": posterior}))
    units = units_of(result)
    block = block_log_likelihood(result, integrated)
    with quiet_psis():
        elpd = blockwise_group_loo(result, block, len(units.labels), reff, units.group)
    method = _method(result, GROUP, integrated) + "; computed a block of groups at a time"
    return LooResult(
        unit=GROUP,
        method=method,
        elpd=float(elpd.elpd),  # type: ignore[attr-defined]
        se=float(elpd.se),  # type: ignore[attr-defined]
        p_loo=float(elpd.p),  # type: ignore[attr-defined]
        good_k=float(elpd.good_k),  # type: ignore[attr-defined]
        labels=units.labels,
        elpd_i=np.asarray(elpd.elpd_i.values, dtype=float),  # type: ignore[attr-defined]
        pareto_k=np.asarray(elpd.pareto_k.values, dtype=float),  # type: ignore[attr-defined]
        n_draws=int(elpd.n_samples),  # type: ignore[attr-defined]
        key=data_key(result),
        elpd_data=elpd,
        r_eff=reff,
    )


def psis_loo(
    posterior: xr.Dataset,
    log_lik: xr.DataArray,
    *,
    unit: str,
    method: str,
    labels: tuple[str, ...],
    key: DataKey,
) -> LooResult:
    """arviz-stats' PSIS-LOO of ``log_lik`` (``(chain, draw, unit)``) with ``posterior``'s
    ``r_eff``, as a :class:`LooResult`."""
    import arviz_stats

    name = str(log_lik.name)
    tree = xr.DataTree.from_dict(
        {"posterior": posterior, "log_likelihood": xr.Dataset({name: log_lik})}
    )
    reff = relative_efficiency(tree)
    with quiet_psis():
        elpd = arviz_stats.loo(tree, pointwise=True, var_name=name, reff=reff)
    elpd.log_weights = None  # draws x units: not kept
    return LooResult(
        unit=unit,
        method=method,
        elpd=float(elpd.elpd),
        se=float(elpd.se),
        p_loo=float(elpd.p),
        good_k=float(elpd.good_k),
        labels=labels,
        elpd_i=np.asarray(elpd.elpd_i.values, dtype=float),
        pareto_k=np.asarray(elpd.pareto_k.values, dtype=float),
        n_draws=int(log_lik.sizes["chain"] * log_lik.sizes["draw"]),
        key=key,
        elpd_data=elpd,
        r_eff=reff,
    )


def relative_efficiency(tree: xr.DataTree) -> float:
    """arviz's default ``r_eff``: mean ESS ("mean" method) over the posterior variables, divided
    by the number of draws; NaN (a parameter fixed by its prior) is left out, and one chain gives
    1 (as in arviz)."""
    posterior = tree["posterior"].to_dataset()
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ess = posterior.azstats.ess(method="mean")
    values = np.concatenate([np.ravel(ess[v].values) for v in ess.data_vars])
    finite = values[np.isfinite(values)]
    return float(finite.mean() / n_draws) if finite.size else 1.0


class quiet_psis(warnings.catch_warnings):
    """Silence arviz-stats' high-k warning (the result names the units and says what to do)."""

    def __enter__(self) -> Any:
        out = super().__enter__()
        warnings.filterwarnings("ignore", message=_HIGH_K_WARNING, category=UserWarning)
        return out


def _method(result: FitResult, unit: str, integrated: bool) -> str:
    data = units_of(result)
    if unit == ROW:
        return f"PSIS-LOO: each row left out, given its {data.group}'s effect"
    if integrated:
        return (
            f"PSIS-LOGO: each {data.group}'s whole data left out, its effect integrated out exactly"
        )
    method = (
        f"PSIS-LOGO: each {data.group}'s whole data left out, conditional on the drawn effects "
        "(per-group sums; PSIS often unreliable)"
    )
    if data.curve:
        method += (
            "; a conditional approximation: a curve is nonlinear in its parameters, so no exact "
            "marginal over the group effects exists"
        )
    return method


def _labels(result: FitResult, unit: str) -> tuple[str, ...]:
    data = units_of(result)
    if unit == GROUP:
        return data.labels
    if data.codes is None:
        n_rows = data.n_rows
        return tuple(f"row {i + 1}" for i in range(n_rows))
    return tuple(f"row {i + 1} ({data.labels[c]})" for i, c in enumerate(data.codes))
