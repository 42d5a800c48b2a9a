"""Complete, no and partial pooling judged by leave-one-out ELPD, not only pictured.

The fit is the partial-pooling model. Its two baselines are the family's complete- and
no-pooling models with reference priors, drawn exactly from their posteriors (for the normal
family :mod:`hbm.model.families.normal_pooling`), as many draws as the fit has, from a stream of
their own seeded by the fit's seed. All three are scored by PSIS-LOO on the same unit and ranked
with :func:`hbm.analysis.compare.compare`.

Which baselines exist depends on the unit:

- **rows** (a new row of a known group): all three.
- **groups** (a new group): complete and partial pooling. No pooling estimates each group's mean
  from its own data alone, so it has nothing to say about a group left out (its predictive
  density is that of a flat prior): it has no leave-one-group-out ELPD, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from hbm.analysis.compare import Comparison, compare
from hbm.analysis.data_key import data_key
from hbm.analysis.log_likelihood import GROUP, ROW, ROWS_DIM, default_unit
from hbm.analysis.loo import LooResult, loo, psis_loo
from hbm.core.names import LOG_LIK_GROUPS, LOG_LIK_ROWS
from hbm.core.seeds import stream
from hbm.model.families import get_family
from hbm.model.families.normal_pooling import complete_pooling_draws, no_pooling_draws
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result

__all__ = ["COMPLETE", "NO", "PARTIAL", "PoolingElpd", "pooling_elpd"]

#: Mixed into the fit's seed so the baselines' draws use a stream of their own.
POOLING_STREAM = 0x9001
PARTIAL, COMPLETE, NO = "partial pooling", "complete pooling", "no pooling"


@dataclass(frozen=True, eq=False)
class PoolingElpd:
    """The pooling levels ranked by ELPD.

    Attributes
    ----------
    comparison : Comparison
        The table (models ``partial pooling``, ``complete pooling`` and, rows unit only, ``no
        pooling``), best first.
    missing : dict of str
        Levels left out, with why.
    """

    comparison: Comparison
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return self.comparison.unit

    def verdict(self) -> str:
        """The ranking in one sentence: who predicts best, by how much, and whether that is more
        than twice the difference's standard error."""
        table = self.comparison.table
        best = str(table.index[0])
        unit = "new rows of known groups" if self.unit == ROW else "new groups"
        parts = []
        for name, row in table.iloc[1:].iterrows():
            diff, dse = -float(row["elpd_diff"]), float(row["dse"])
            clear = "a clear difference" if diff > 2 * dse else "within 2 se: not a clear one"
            parts.append(f"ahead of {name} by {diff:.1f} (se {dse:.1f}; {clear})")
        return (
            f"By leave-one-{self.unit[:-1]}-out ELPD, {best} predicts {unit} best: "
            + "; ".join(parts)
            + "."
        )


def pooling_elpd(source: Any, unit: str | None = None) -> PoolingElpd:
    """Rank complete, no and partial pooling by PSIS-LOO on ``unit`` (see the module docstring).

    Raises
    ------
    ValueError
        For a model other than the seed's (``value ~ 1 + (1 | group)``): its baselines are not
        defined here.

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> f = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...             draws=500, tune=500, progressbar=False)
    >>> ranked = pooling_elpd(f)
    >>> sorted(ranked.comparison.table.index), ranked.unit
    (['complete pooling', 'partial pooling'], 'groups')
    """
    result = as_result(source)
    unit = default_unit(result) if unit is None else unit
    key = ("pooling_elpd", unit)
    return result.cache.get(key, lambda: _pooling_elpd(result, unit))


def _pooling_elpd(result: FitResult, unit: str) -> PoolingElpd:
    description = result.description
    if not description.is_seed_model or get_family(description.family).NAME != "normal":
        raise ValueError(
            "The pooling baselines are defined for the normal model 'value ~ 1 + (1 | group)' "
            f"only; this fit is {description.formula!r} ({description.family})."
        )
    partial = loo(result, unit)
    data = result.grouped
    n_draws = partial.n_draws
    rng = stream(result.random_seed, POOLING_STREAM)
    loos: dict[str, LooResult] = {PARTIAL: partial}
    missing: dict[str, str] = {}
    complete = complete_pooling_draws(data, rng, n_draws)
    complete_theta = np.broadcast_to(complete["coefficient"][:, None], (n_draws, data.n_groups))
    loos[COMPLETE] = _baseline(result, unit, complete_theta, complete.get("residual_scale"))
    if unit == GROUP:
        missing[NO] = (
            "no pooling estimates each group from its own data alone, so it cannot predict a "
            "group left out (no leave-one-group-out ELPD)"
        )
    else:
        none = no_pooling_draws(data, rng, n_draws)
        if int(data.n.min()) < 2:
            missing[NO] = (
                "a group of one row has no data left when its row is left out, so no pooling "
                "cannot predict it"
            )
        else:
            loos[NO] = _baseline(result, unit, none["group_effect"], none.get("residual_scale"))
    return PoolingElpd(comparison=compare(loos), missing=missing)


def _baseline(
    result: FitResult, unit: str, theta: np.ndarray, sigma: np.ndarray | None
) -> LooResult:
    """PSIS-LOO of a baseline whose draws are group means ``theta`` (S, J) and ``sigma`` (S,)."""
    family = get_family(result.description.family)
    data = result.grouped
    coords: Any
    if unit == GROUP:
        values = family.group_log_likelihood(data, theta, sigma)
        name, dim, coords = LOG_LIK_GROUPS, data.group, list(data.labels)
    else:
        if data.codes is None or data.values is None:
            raise ValueError("Leaving rows out needs the rows; use unit='groups'.")
        values = family.pointwise_log_likelihood(data.codes, data.values, theta, sigma)
        name, dim, coords = LOG_LIK_ROWS, ROWS_DIM, np.arange(len(data.values))
    log_lik = xr.DataArray(
        values[None], dims=("chain", "draw", dim), coords={dim: coords}, name=name
    )
    posterior = xr.Dataset({"draws": (("chain", "draw"), theta[None, :, 0])})
    partial = loo(result, unit)
    return psis_loo(
        posterior,
        log_lik,
        unit=unit,
        method=partial.method,
        labels=partial.labels,
        key=data_key(result),
    )
