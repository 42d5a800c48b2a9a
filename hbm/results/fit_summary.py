"""A fit's summary table: sampled parameters from their draws, exact group effects averaged.

Parameters NUTS sampled are summarised from their draws (:func:`hbm.results.summary.
posterior_summary`: ArviZ's mean, sd, interval, R-hat, ESS and MCSE). Group effects drawn from
their exact conditional (the marginal form) are summarised from that conditional instead:

- ``mean`` and ``sd``: the Rao-Blackwellized posterior mean and sd, the average of the
  conditional means and the average conditional variance plus the variance of the conditional
  means (:mod:`hbm.model.families.normal_rao_blackwell`; for a formula model's effects
  :mod:`hbm.model.families.normal_cells_draws`);
- ``mcse_mean`` and ``mcse_sd``: their Monte Carlo errors, from the spread of the conditional
  moments over the draws and the smallest ESS of the sampled hyperparameters (a group's
  conditional moments are functions of them);
- the ``eti`` interval: quantiles of the group's exact draws (every posterior draw, made a block
  of groups at a time when the fit does not hold them);
- ``ess_bulk``, ``ess_tail``, ``r_hat``: empty. The group effects are exact given the
  hyperparameters, so their quality is the hyperparameters': the diagnosis reads those.

The column ``method`` says which rows are which: ``draws`` or ``rao-blackwellized``.

Nested factors' effects (exact, drawn top down) are summarised from their draws, as ArviZ would
(``method`` ``draws``, with ESS and R-hat); a level the fit does not hold is summarised a block of
groups at a time from its draws made again (:mod:`hbm.model.families.normal_nested_draws`), the
same rows as if it were held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hbm.core.names import base_names
from hbm.data.grouped import GroupedData
from hbm.data.model_data import ModelData
from hbm.diagnostics.convergence import STATISTICS, summary_frame
from hbm.model.families.normal_rao_blackwell import GroupMoments, rao_blackwell_moments
from hbm.model.parameters import ParameterTable
from hbm.results.group_draws import GROUP_DRAWS_ATTR, GroupDraws, group_draws, role_values
from hbm.results.summary import CI_PROB, posterior_summary

if TYPE_CHECKING:
    import xarray as xr

    from hbm.data.curve_data import CurveData

__all__ = ["DRAWS", "METHOD", "RAO_BLACKWELL", "fit_summary", "group_moments", "hyper_ess"]

#: The summary's column naming how each row was computed, and its two values.
METHOD = "method"
DRAWS, RAO_BLACKWELL = "draws", "rao-blackwellized"


def fit_summary(
    idata: xr.DataTree,
    data: GroupedData | ModelData | CurveData,
    parameters: ParameterTable,
    *,
    ci_prob: float = CI_PROB,
) -> pd.DataFrame:
    """The summary table of a fit (see the module docstring), in its parameter table's order.

    Returns
    -------
    pandas.DataFrame
        ``param``, the columns of :func:`hbm.results.summary.posterior_summary` and ``method``.
    """
    exact = GROUP_DRAWS_ATTR in idata.attrs
    if exact and isinstance(data, ModelData) and len(data.factors) > 1:
        return _nested_summary(idata, data, parameters, ci_prob)  # type: ignore[arg-type]
    effects = [p for p in parameters.by_role("group_effect")] if exact else []
    sampled = ParameterTable(tuple(p for p in parameters if p not in effects))
    table = posterior_summary(idata, ci_prob=ci_prob, parameters=sampled)
    table[METHOD] = DRAWS
    from hbm.data.curve_data import CurveData

    if not effects or isinstance(data, CurveData):  # a curve fit's effects: from their draws
        return table
    draws = group_draws(idata, data, parameters)
    moments = group_moments(idata, data, parameters)
    rows = _group_rows(draws, moments, hyper_ess(table, parameters), ci_prob, table.columns)
    order = {p.name: i for i, p in enumerate(parameters.reported)}
    hyper = base_names(table["param"]).map(order)
    before = table[hyper < order[draws.name]]
    after = table[hyper > order[draws.name]]
    return pd.concat([before, rows, after], ignore_index=True)


def group_moments(
    idata: xr.DataTree, data: GroupedData | ModelData, parameters: ParameterTable
) -> GroupMoments:
    """The exact group effects' Rao-Blackwellized moments, arrays of shape ``(J,)`` (seed model)
    or ``(J, q)`` (a formula model's terms)."""
    posterior = idata["posterior"].to_dataset()
    if isinstance(data, GroupedData):
        mu = role_values(posterior, parameters, "coefficient")
        tau = role_values(posterior, parameters, "group_sd")
        sigma = role_values(posterior, parameters, "residual_scale")
        return rao_blackwell_moments(data, mu, tau, sigma)  # type: ignore[arg-type]
    from hbm.model.families.normal_cells_draws import rao_blackwell_effects

    return rao_blackwell_effects(posterior, data)


def hyper_ess(table: pd.DataFrame, parameters: ParameterTable) -> float:
    """The smallest ESS of the mean (``(sd / mcse_mean)^2``, ArviZ's "mean" ESS) over the sampled
    hyperparameters in a summary ``table``; the number of draws behind nothing varying."""
    names = {p.name for p in parameters.hyperparameters}
    rows = table[base_names(table["param"]).isin(names)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = (rows["sd"] / rows["mcse_mean"]) ** 2
    ess = ess[np.isfinite(ess) & (ess > 0)]
    return float(ess.min()) if len(ess) else float("nan")


def _group_rows(
    draws: GroupDraws,
    moments: GroupMoments,
    ess: float,
    ci_prob: float,
    columns: pd.Index,
) -> pd.DataFrame:
    tail = (1.0 - ci_prob) / 2.0
    probs = [tail, 1.0 - tail]
    n_groups, q = draws.n_groups, draws.n_terms
    interval = np.empty((2, n_groups, q))
    for part, values in draws.blocks():
        flat = values.reshape(values.shape[0], -1)
        interval[:, part] = np.quantile(flat, probs, axis=0).reshape(2, -1, q)
    if not np.isfinite(ess):
        ess = float(draws.n_draws)
    stats = {
        "mean": moments.mean,
        "sd": moments.sd,
        "eti_lb": interval[0],
        "eti_ub": interval[1],
        "mcse_mean": moments.mcse_mean(ess),
        "mcse_sd": moments.mcse_sd(ess),
    }
    percent = int(ci_prob * 100)
    renamed = {"eti_lb": f"eti{percent}_lb", "eti_ub": f"eti{percent}_ub"}
    frame = pd.DataFrame(
        {
            renamed.get(key, key): np.asarray(stats[key], dtype=float).reshape(-1)
            if key in stats
            else np.full(n_groups * q, np.nan)
            for key in STATISTICS
        }
    )
    frame.insert(0, "param", _labels(draws))
    frame[METHOD] = RAO_BLACKWELL
    return frame[list(columns)]


def _labels(draws: GroupDraws) -> list[str]:
    if draws.terms is None:
        return [f"{draws.name}[{label}]" for label in draws.labels]
    return [f"{draws.name}[{label}, {term}]" for label in draws.labels for term in draws.terms]


def _nested_summary(
    idata: xr.DataTree, data: ModelData, parameters: ParameterTable, ci_prob: float
) -> pd.DataFrame:
    """Every parameter from its draws; the levels not held, one block of groups at a time."""
    import xarray as xr

    posterior = idata["posterior"]
    missing = [p for p in parameters.by_role("group_effect") if p.name not in posterior]
    table = posterior_summary(idata, ci_prob=ci_prob, parameters=parameters)
    table[METHOD] = DRAWS
    if not missing:
        return table
    pieces = [table]
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    for parameter in missing:
        draws = group_draws(idata, data, parameters, parameter.dims[0])
        one = ParameterTable((parameter,))
        for part, values in draws.blocks():
            block = xr.DataArray(
                values.reshape(*shape, *values.shape[1:]),
                dims=("chain", "draw", *parameter.dims),
                coords={
                    **coords,
                    parameter.dims[0]: list(draws.labels[part]),
                    parameter.dims[1]: list(draws.terms or ()),
                },
            )
            dataset = xr.Dataset({parameter.name: block})
            if float(block.max()) > float(block.min()):  # no DataTree per block (a cycle each)
                rows = summary_frame(dataset, [parameter.name], ci_prob=ci_prob)
                rows = rows.rename_axis("param").reset_index()
            else:
                tree = xr.DataTree.from_dict({"posterior": dataset})
                rows = posterior_summary(tree, ci_prob=ci_prob, parameters=one)
            rows[METHOD] = DRAWS
            pieces.append(rows)
    order = {p.name: i for i, p in enumerate(parameters.reported)}
    merged = pd.concat(pieces, ignore_index=True)
    rank = base_names(merged["param"]).map(order)
    return merged.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
