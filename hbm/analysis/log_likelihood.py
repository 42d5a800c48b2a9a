"""A fit's log likelihood per unit left out, from the model's family: what PSIS-LOO reads.

Two units can be left out (the output of every LOO says which):

- ``"groups"``: each group's whole data at once (leave-one-group-out, LOGO: "how well do we
  predict a *new* group?"). Where the family integrates the group effects out exactly (the normal
  family's ``marginal_group_log_likelihood``: the marginal parametrization's terms, per group),
  the value per draw is ``log p(y_j | mu, tau, sigma)``, and PSIS-LOGO from one fit is reliable
  (Pareto k small). The conditional per-group sums ``log p(y_j | theta_j, sigma)`` give the same
  ELPD in theory but k above 1 for groups with much data (``integrate=False`` computes them, for
  teaching); a family or model without the integrated form (outcome families, curves:
  :mod:`hbm.analysis.curve_log_likelihood`) uses them and says so.
- ``"rows"``: each row given its group's effect, ``log p(y_i | theta_g[i], sigma)`` (the family's
  ``pointwise_log_likelihood``). It needs the rows, so only fits made with ``likelihood="rows"``
  (or whose ``fit.nc`` stores the rows' log likelihood) have it. The summaries form has one
  estimate per group: leaving one out *is* leaving its group out, so it has the groups unit only.

*Memory*: one value per draw and unit, float64. The groups' array is held and stored in ``fit.nc``
(group ``log_likelihood``, variable ``y_group``, so
``arviz_stats.loo(xarray.open_datatree("fit.nc"))`` reads it directly) up to
``DEFAULTS.loo_max_values`` (10M values, 80 MB: 2,500 groups at 4,000 draws). Past that it is
neither held nor stored (a million groups would be 32 GB): leaving groups out makes it a block of
groups at a time (:mod:`hbm.analysis.loo_blocks`), with the same result. The rows' array would be
draws x rows (4,000 x 1M rows = 32 GB): up to ``DEFAULTS.loo_max_values`` values (10M, 80 MB, the
posterior predictive check's limit; 2,500 rows at 4,000 draws) it uses every draw and is stored too
(variable ``y``); past that every k-th draw, down to ``DEFAULTS.loo_min_draws`` (1,000; PSIS's k
threshold is then 0.67), computed when asked and not stored; past 10,000 rows (10M values at 1,000
draws; PSIS also costs about half a millisecond per unit) leaving rows out is refused with a message
that says to leave groups out.
Every array is computed a block of draws at a time, so its temporaries stay small.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import xarray as xr

from hbm.analysis.curve_log_likelihood import curve_group_block, curve_row_block, is_curve_fit
from hbm.analysis.draws import maybe_role_draws, role_draws
from hbm.analysis.formula_log_likelihood import (
    check_groups_unit,
    formula_group_block,
    formula_row_block,
)
from hbm.analysis.outcome_draws import is_outcome_fit
from hbm.analysis.outcome_log_likelihood import outcome_group_block, outcome_row_block
from hbm.analysis.units import units_of
from hbm.core.defaults import DEFAULTS
from hbm.core.names import LOG_LIK_GROUPS, LOG_LIK_ROWS
from hbm.data.nesting import outermost_factor
from hbm.model.families import get_family
from hbm.results.fit_result import FitResult

__all__ = [
    "GROUP",
    "LOG_LIKELIHOOD",
    "ROWS_DIM",
    "UNITS",
    "UnitLogLik",
    "available_units",
    "check_unit",
    "default_unit",
    "rows_sha256",
    "store_log_likelihood",
    "stored_log_likelihood",
    "unit_log_likelihood",
]

UNITS = ("groups", "rows")
GROUP, ROW = UNITS
#: The DataTree group that holds the log likelihood (arviz's name).
LOG_LIKELIHOOD = "log_likelihood"
#: The rows' dimension (the fit's ``observed_data`` names it so).
ROWS_DIM = f"{LOG_LIK_ROWS}_dim_0"
VARIABLES = {GROUP: LOG_LIK_GROUPS, ROW: LOG_LIK_ROWS}
#: Values per block of draws while computing (512 KB temporaries).
_BLOCK_VALUES = 65_536


@dataclass(frozen=True, eq=False)
class UnitLogLik:
    """The log likelihood of one unit, ``(chain, draw, unit)``, and how it was made.

    Attributes
    ----------
    unit : {"groups", "rows"}
    values : xarray.DataArray
        Named ``y_group`` (dims chain, draw, <group column>) or ``y`` (chain, draw, ``y_dim_0``).
    integrated : bool
        Whether the group effects are integrated out (groups unit of a family that can).
    draw_step : int
        Every ``draw_step``-th posterior draw was used (1: all).
    """

    unit: str
    values: xr.DataArray
    integrated: bool
    draw_step: int = 1


def check_unit(unit: object) -> str:
    """``unit`` if it is ``"groups"`` or ``"rows"``, else a ValueError naming the choices."""
    if unit not in UNITS:
        raise ValueError(f"The 'unit' option must be one of 'groups', 'rows'; got {unit!r}.")
    return str(unit)


def available_units(result: FitResult) -> tuple[str, ...]:
    """The units this fit can leave out: groups (unless a formula model's grouping factors are
    crossed; with nested ones, the outermost groups); rows where the rows were kept (or their
    log likelihood is stored) and the data are not summaries."""
    units = units_of(result)
    if units.kind == "summaries":
        return (GROUP,)
    has_rows = units.codes is not None or _stored(result, ROW) is not None
    groups = (
        not units.formula
        or is_outcome_fit(result)
        or outermost_factor(result.model_data) is not None
    )
    return (GROUP,) * groups + (ROW,) * has_rows


def default_unit(result: FitResult) -> str:
    """Rows where the fit has them (a new row of a known group), else groups (a new group)."""
    units = available_units(result)
    if not units:
        raise ValueError(
            "This fit has nothing to leave out: its model has several grouping factors (so no "
            "one group's effects integrate out) and it kept no rows."
        )
    return units[-1]


def unit_log_likelihood(result: FitResult, unit: str, *, integrate: bool = True) -> UnitLogLik:
    """The log likelihood of each ``unit`` per draw: the stored one, or computed from the draws.

    Raises
    ------
    ValueError
        For an unknown unit, rows of a fit that kept none (or summaries data), or more rows than
        PSIS is run on (see the module docstring).
    """
    check_unit(unit)
    family = get_family(result.description.family)
    if unit == ROW:
        _check_rows(result)
        stored = _stored(result, ROW)
        if stored is not None:
            return UnitLogLik(ROW, stored, integrated=False)
        step = row_draw_step(result)
        return UnitLogLik(ROW, _rows(result, family, step), integrated=False, draw_step=step)
    if is_outcome_fit(result) or is_curve_fit(result):  # conditional: no exact integral
        stored = _stored(result, GROUP)
        if stored is not None:
            return UnitLogLik(GROUP, stored, integrated=False)
        return UnitLogLik(GROUP, _groups(result, family, False), integrated=False)
    if units_of(result).formula:
        check_groups_unit(result.model_data)
        stored = _stored(result, GROUP)
        if stored is not None:
            return UnitLogLik(GROUP, stored, integrated=True)
        return UnitLogLik(GROUP, _groups(result, family, True), integrated=True)
    marginal = getattr(family, "marginal_group_log_likelihood", None)
    integrated = integrate and marginal is not None
    if integrated:
        stored = _stored(result, GROUP)
        if stored is not None:
            return UnitLogLik(GROUP, stored, integrated=True)
    return UnitLogLik(GROUP, _groups(result, family, integrated), integrated=integrated)


def row_draw_step(result: FitResult) -> int:
    """Every k-th draw for the rows' log likelihood: the smallest k within the values limit
    (a ValueError when that leaves fewer than ``DEFAULTS.loo_min_draws`` draws)."""
    sizes = result.idata["posterior"].sizes
    n_draws, n_rows = sizes["chain"] * sizes["draw"], units_of(result).n_rows
    step = max(1, math.ceil(n_draws * n_rows / DEFAULTS.loo_max_values))
    kept = sizes["chain"] * math.ceil(sizes["draw"] / step)
    if step > 1 and kept < DEFAULTS.loo_min_draws:
        most = DEFAULTS.loo_max_values // DEFAULTS.loo_min_draws
        raise ValueError(
            f"Leaving rows out one by one is refused for {n_rows:,} rows: PSIS would need "
            f"{n_draws:,} draws x {n_rows:,} rows = {n_draws * n_rows * 8 / 1e9:.1f} GB of "
            f"log likelihood (at most {most:,} rows, with {DEFAULTS.loo_min_draws:,} draws). "
            "Leave groups out instead (unit='groups')."
        )
    return step


def store_log_likelihood(result: FitResult, *, small_only: bool = False) -> None:
    """Add the ``log_likelihood`` group to the fit's DataTree (in place), if it has none: the
    groups' log likelihood with the effects integrated out where the family can, and the rows'
    where the rows were kept and every draw fits within the values limit.

    ``small_only``: only if the groups' array is within ``DEFAULTS.loo_max_values`` too (what a
    new fit does; past it no groups' array is stored at all, see the module docstring).
    """
    idata = result.idata
    if LOG_LIKELIHOOD in idata.children:
        return
    sizes = idata["posterior"].sizes
    units = units_of(result)
    values = sizes["chain"] * sizes["draw"] * units.n_groups
    if small_only and values > DEFAULTS.loo_max_values:
        return
    variables: dict[str, xr.DataArray] = {}
    family = get_family(result.description.family)
    groups = values <= DEFAULTS.loo_max_values  # past it: computed in blocks when asked for
    if is_outcome_fit(result) or is_curve_fit(result):
        variables[LOG_LIK_GROUPS] = _groups(result, family, integrated=False)
    elif units.formula:
        if len(result.model_data.factors) == 1 and groups:
            variables[LOG_LIK_GROUPS] = _groups(result, family, integrated=True)
    elif getattr(family, "marginal_group_log_likelihood", None) is not None and groups:
        variables[LOG_LIK_GROUPS] = _groups(result, family, integrated=True)
    if ROW in available_units(result):
        try:
            step = row_draw_step(result)
        except ValueError:
            step = 0
        if step == 1:
            variables[LOG_LIK_ROWS] = _rows(result, family, 1)
    if variables:
        idata[LOG_LIKELIHOOD] = xr.Dataset(variables)


def rows_sha256(codes: np.ndarray, values: np.ndarray) -> str:
    """SHA-256 of the rows (group codes and values, in table order): which rows were left out."""
    digest = hashlib.sha256(np.ascontiguousarray(codes, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def stored_log_likelihood(result: FitResult, unit: str) -> xr.DataArray | None:
    """The log likelihood of ``unit`` the fit holds (``None`` when it holds none)."""
    return _stored(result, unit)


def _stored(result: FitResult, unit: str) -> xr.DataArray | None:
    idata = result.idata
    if LOG_LIKELIHOOD not in idata.children:
        return None
    dataset = idata[LOG_LIKELIHOOD].to_dataset()
    name = VARIABLES[unit]
    if name not in dataset:
        return None
    values = dataset[name]
    sizes = idata["posterior"].sizes
    if (values.sizes["chain"], values.sizes["draw"]) != (sizes["chain"], sizes["draw"]):
        raise ValueError(
            f"The stored log likelihood {name!r} has {values.sizes['chain']} x "
            f"{values.sizes['draw']} draws but the posterior {sizes['chain']} x {sizes['draw']}."
        )
    return values


def _check_rows(result: FitResult) -> None:
    data = units_of(result)
    if data.kind == "summaries":
        raise ValueError(
            "Summaries data (se=...) have one estimate per group: leaving one out is leaving its "
            "group out, so use unit='groups'."
        )
    if ROW not in available_units(result) and result.description.likelihood == ROW:
        sizes = result.idata["posterior"].sizes
        n_draws = sizes["chain"] * sizes["draw"]
        raise ValueError(
            f"Leaving rows out needs the rows' log likelihood: this fit was made with "
            f"likelihood='rows', but {n_draws:,} draws x {data.n_rows:,} rows is more than the "
            f"{DEFAULTS.loo_max_values:,} values fit.nc stores, and the rows themselves are not "
            "saved. Use unit='groups', or leave rows out on the fit before it is saved."
        )
    if ROW not in available_units(result):
        raise ValueError(
            "Leaving rows out needs the rows, and this fit kept only their per-group statistics. "
            "Use unit='groups' (leave-one-group-out), or refit with likelihood='rows' "
            "(CLI: --likelihood rows) to keep them."
        )


def _posterior_arrays(result: FitResult, roles: tuple[str, ...], step: int) -> list[Any]:
    """Draws by role as ``(chain, draw[, group])`` arrays, every ``step``-th draw; None where the
    model has no parameter of that role."""
    sizes = result.idata["posterior"].sizes
    shape = (sizes["chain"], sizes["draw"])
    out: list[Any] = []
    for role in roles:
        values = (
            role_draws(result, role) if role == "group_effect" else maybe_role_draws(result, role)
        )
        if values is None:
            out.append(None)
            continue
        out.append(values.reshape(*shape, *values.shape[1:])[:, ::step])
    return out


def _groups(result: FitResult, family: ModuleType, integrated: bool) -> xr.DataArray:
    units = units_of(result)
    if is_outcome_fit(result) or is_curve_fit(result):
        groups = curve_group_block if is_curve_fit(result) else outcome_group_block

        def block(c: int, part: slice) -> np.ndarray:
            return groups(result, c, part)

    elif units.formula:

        def block(c: int, part: slice) -> np.ndarray:
            return formula_group_block(result, c, part)

    elif integrated:
        data = result.grouped
        location, scale, residual = _posterior_arrays(
            result, ("coefficient", "group_sd", "residual_scale"), 1
        )

        def block(c: int, part: slice) -> np.ndarray:
            return family.marginal_group_log_likelihood(
                data,
                location[c, part],
                scale[c, part],
                None if residual is None else residual[c, part],
            )

    else:
        data = result.grouped
        effects, residual = _posterior_arrays(result, ("group_effect", "residual_scale"), 1)

        def block(c: int, part: slice) -> np.ndarray:
            return family.group_log_likelihood(
                data, effects[c, part], None if residual is None else residual[c, part]
            )

    values = _by_blocks(result, 1, units.n_groups, block)
    return _array(result, values, LOG_LIK_GROUPS, units.group, list(units.labels), 1)


def _rows(result: FitResult, family: ModuleType, step: int) -> xr.DataArray:
    units = units_of(result)
    codes, rows = units.codes, units.values
    if codes is None or rows is None:  # pragma: no cover - available_units checked it
        raise ValueError("The fit kept no rows.")
    if is_outcome_fit(result) or is_curve_fit(result):
        rows_of = curve_row_block if is_curve_fit(result) else outcome_row_block

        def block(c: int, part: slice) -> np.ndarray:
            return rows_of(result, c, part, step)

    elif units.formula:

        def block(c: int, part: slice) -> np.ndarray:
            return formula_row_block(result, c, part, step)

    else:
        effects, residual = _posterior_arrays(result, ("group_effect", "residual_scale"), step)

        def block(c: int, part: slice) -> np.ndarray:
            scale = None if residual is None else residual[c, part]
            return family.pointwise_log_likelihood(codes, rows, effects[c, part], scale)

    values = _by_blocks(result, step, len(rows), block)
    array = _array(result, values, LOG_LIK_ROWS, ROWS_DIM, np.arange(len(rows)), step)
    array.attrs["rows_sha256"] = rows_sha256(codes, rows)
    return array


def _by_blocks(result: FitResult, step: int, n_units: int, block: Any) -> np.ndarray:
    sizes = result.idata["posterior"].sizes
    n_chains, n_draws = sizes["chain"], math.ceil(sizes["draw"] / step)
    out = np.empty((n_chains, n_draws, n_units))
    per_block = max(1, _BLOCK_VALUES // max(1, n_units))
    for c in range(n_chains):
        for start in range(0, n_draws, per_block):
            part = slice(start, start + per_block)
            out[c, part] = block(c, part)
    return out


def _array(
    result: FitResult, values: np.ndarray, name: str, dim: str, labels: Any, step: int
) -> xr.DataArray:
    posterior = result.idata["posterior"].to_dataset()
    return xr.DataArray(
        values,
        dims=("chain", "draw", dim),
        coords={
            "chain": posterior["chain"].values,
            "draw": np.asarray(posterior["draw"].values)[::step],
            dim: labels,
        },
        name=name,
    )
