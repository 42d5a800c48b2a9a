"""Convergence diagnostics of a fit and a plain-language verdict that names the fix.

Thresholds follow Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
improved R-hat": rank-normalized split R-hat <= 1.01, bulk and tail ESS >= 100 per chain, and no
divergent transitions; and Betancourt (2016) for the energy: E-BFMI >= 0.3 in every chain.

Verdict:

- ``ok``: all of the above hold, no chain saturates the tree depth, and there are 5 groups or
  more (or ``tau`` is fixed).
- ``warn``: some divergences (at most 1% of draws), R-hat up to 1.05, ESS below 100 per chain
  but above 20 per chain, E-BFMI below 0.3, more than 1% of a chain's draws at the maximum tree
  depth, or fewer than 5 groups (``tau`` is then barely identified): the numbers are usable
  with care; the advice says what to do.
- ``fail``: more divergences, R-hat above 1.05 or ESS below 20 per chain: do not use the numbers.

Sampler statistics differ in name between nutpie (``depth``, ``maxdepth_reached``) and PyMC's
own NUTS (``tree_depth``, ``reached_max_treedepth``); both are read.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from hbm.core.names import base_names
from hbm.diagnostics import advice
from hbm.diagnostics.advice import EBFMI_OK, ESS_PER_CHAIN_OK, RHAT_OK, Names
from hbm.diagnostics.convergence import summary_frame
from hbm.diagnostics.funnel import funnel_triage
from hbm.model.parameters import ParameterTable
from hbm.model.stored import parameters_of

if TYPE_CHECKING:
    from hbm.data.grouped import GroupedData

__all__ = ["EBFMI_OK", "ESS_PER_CHAIN_OK", "RHAT_OK", "Diagnosis", "diagnose", "varying"]

Verdict = Literal["ok", "warn", "fail"]

#: Sampler statistics: (nutpie name, PyMC name).
_DEPTH = ("depth", "tree_depth")
_SATURATED = ("maxdepth_reached", "reached_max_treedepth")


@dataclass(frozen=True)
class Diagnosis:
    """What the sampler's output says about its own trustworthiness.

    Attributes
    ----------
    verdict : {"ok", "warn", "fail"}
    advice : list of str
        One plain sentence per problem, naming the fix.
    divergences : int
        Divergent transitions after warm-up, all chains.
    divergences_per_chain : list of int
    max_r_hat, min_ess_bulk, min_ess_tail : float
        Over ``mu``, ``tau``, ``sigma`` and every ``theta`` (fixed parameters excluded);
        rank-normalized split R-hat, bulk and tail ESS.
    worst_r_hat, worst_ess_bulk, worst_ess_tail : str
        The parameter with the largest R-hat and with the smallest bulk and tail ESS.
    chains, draws : int
    parametrization, sampler : str
        What actually ran.
    parameters : dict
        ``{"mu": {"r_hat": ..., "ess_bulk": ..., "ess_tail": ...}, "tau": ..., "sigma": ...}`` for
        the sampled hyperparameters.
    e_bfmi_per_chain : list of float
        Energy Bayesian fraction of missing information of each chain (empty if the sampler
        wrote no energy).
    tree_depth_saturation_per_chain : list of float
        Share of each chain's draws whose trajectory stopped at the maximum tree depth.
    max_tree_depth : int or None
        The largest tree depth reached by any draw.
    n_groups : int
        Number of groups.
    funnel : dict
        Where divergent draws lie in ``(log tau, theta)`` (:class:`hbm.funnel.FunnelTriage`);
        empty when there are none.
    attempts : list of dict
        Every sampling run of the fit, first to last: ``settings``, ``divergences``,
        ``max_r_hat``, ``min_ess_bulk``, ``seconds``, ``verdict``, ``refit_because`` (see
        :mod:`hbm.refit`). Filled in by :func:`hbm.fit_grouped`.
    """

    verdict: Verdict
    advice: list[str]
    divergences: int
    divergences_per_chain: list[int]
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    worst_r_hat: str
    worst_ess_bulk: str
    chains: int
    draws: int
    parametrization: str
    sampler: str
    worst_ess_tail: str = ""
    parameters: dict[str, dict[str, float]] = field(default_factory=dict)
    e_bfmi_per_chain: list[float] = field(default_factory=list)
    tree_depth_saturation_per_chain: list[float] = field(default_factory=list)
    max_tree_depth: int | None = None
    n_groups: int = 0
    funnel: dict[str, object] = field(default_factory=dict)
    attempts: list[dict[str, object]] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the content of ``diagnostics.json``)."""
        out = asdict(self)
        extra = out.pop("extra")
        out.update(extra)
        return out

    @property
    def sampling_ok(self) -> bool:
        """No divergences, R-hat and both ESS within their thresholds."""
        ess_ok = ESS_PER_CHAIN_OK * self.chains
        return (
            self.divergences == 0
            and not self.max_r_hat > RHAT_OK
            and not self.min_ess_bulk < ess_ok
            and not self.min_ess_tail < ess_ok
        )


def varying(posterior: xr.Dataset, parameters: ParameterTable) -> list[str]:
    """The reported parameters present in ``posterior`` that vary (fixed ones are constant)."""
    names = [p.name for p in parameters.reported if p.name in posterior]
    # max > min rather than std > 0: no NaN-skipping copy of theta (320 MB at 10,000 groups)
    return [n for n in names if posterior[n].values.max() > posterior[n].values.min()]


def diagnose(
    idata: xr.DataTree,
    *,
    parametrization: str,
    sampler: str,
    summary: pd.DataFrame | None = None,
    parameters: ParameterTable | None = None,
    data: GroupedData | None = None,
    marginal_form: bool = True,
    n_groups: int | None = None,
) -> Diagnosis:
    """Compute divergences, R-hat, ESS, E-BFMI and tree depth; turn them into a verdict.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior`` and ``sample_stats`` groups.
    parametrization, sampler : str
        What ran, recorded in the result.
    summary : pandas.DataFrame, optional
        The fit's :func:`hbm.results.summary.posterior_summary`, when already computed: R-hat
        and ESS are then read from it instead of being computed again.
    parameters : ParameterTable, optional
        The fit's parameter table: every reported parameter that varies is diagnosed. By
        default the one stored in ``idata`` (or the seed model's, read off its posterior).
    data : GroupedData, optional
        The reduced data, for the funnel triage's pooling factors (else read from ``idata``'s
        ``group_data``).
    marginal_form : bool
        Whether the model has a marginal form the advice may suggest (crossed grouping factors
        have none).
    n_groups : int, optional
        The number of groups, where neither the posterior (its group draws not held) nor
        ``data`` says (a formula fit's one factor).

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> fit = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1,
    ...               draws=500, tune=500, chains=2, progressbar=False)
    >>> d = diagnose(fit.idata, parametrization="marginal", sampler="nutpie")
    >>> d.verdict, d.divergences
    ('ok', 0)
    """
    parameters = parameters_of(idata) if parameters is None else parameters
    posterior = idata["posterior"].to_dataset()
    stats = idata["sample_stats"].to_dataset()
    names = varying(posterior, parameters)
    if parametrization == "marginal":
        # The group effects are drawn exactly given the sampled hyperparameters: their quality
        # is the hyperparameters', so only what NUTS sampled is diagnosed.
        exact = set(parameters.names("group_effect"))
        names = [name for name in names if name not in exact]
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    diverging = stats["diverging"].values.astype(bool)
    per_chain = [int(x) for x in diverging.sum(axis=1)]
    divergences = int(sum(per_chain))

    # ArviZ's rank R-hat and bulk/tail ESS, vectorized over the parameters (convergence.py):
    # ArviZ's own loop over parameters takes minutes for 10,000 groups.
    columns = ("r_hat", "ess_bulk", "ess_tail")
    if summary is not None:
        table = summary[base_names(summary["param"]).isin(names)].set_index("param")
    else:
        table = summary_frame(posterior, names, only=columns)
    rhat, ess_bulk, ess_tail = (_finite(table[column]) for column in columns)
    max_r_hat = max(rhat.values(), default=math.nan)
    min_bulk = min(ess_bulk.values(), default=math.nan)
    min_tail = min(ess_tail.values(), default=math.nan)
    worst_rhat = max(rhat, key=rhat.__getitem__, default="")
    worst_bulk = min(ess_bulk, key=ess_bulk.__getitem__, default="")
    worst_tail = min(ess_tail, key=ess_tail.__getitem__, default="")
    hyper: dict[str, dict[str, float]] = {
        p.name: {
            "r_hat": _round(rhat[p.name]),
            "ess_bulk": _round(ess_bulk[p.name]),
            "ess_tail": _round(ess_tail[p.name]),
        }
        for p in parameters.hyperparameters
        if p.name in rhat and p.name in ess_bulk and p.name in ess_tail
    }
    e_bfmi = _e_bfmi(stats)
    saturation, max_depth = _tree_depth(stats)
    sd, effect = parameters.maybe("group_sd"), parameters.maybe("group_effect")
    words = Names(sd.name if sd else "the group sd", effect.name if effect else "the groups")
    counted = _n_groups(posterior, effect.name if effect else None)
    if not counted and data is not None:  # the group draws are not held (many groups)
        counted = data.n_groups
    if not counted and n_groups is not None:
        counted = n_groups
    sd_sampled = sd is not None and sd.name in names
    funnel: dict[str, object] = {}
    if divergences and sd_sampled and effect is not None and effect.name in posterior:
        funnel = funnel_triage(idata, parameters=parameters, data=data).to_dict()

    found = [
        advice.divergences(
            divergences, per_chain, chains * draws, parametrization, funnel, words, marginal_form
        )
        if divergences
        else None,
        advice.r_hat(
            max_r_hat,
            worst_rhat,
            _tune(idata, draws),
            draws,
            marginal_form and parametrization != "marginal",
        ),
        *(
            advice.ess(label, value, worst, chains, draws, divergences > 0 and centered)
            for label, value, worst, centered in (
                ("bulk", min_bulk, worst_bulk, parametrization == "centered"),
                ("tail", min_tail, worst_tail, parametrization == "centered"),
            )
        ),
        advice.e_bfmi(e_bfmi, words),
        advice.tree_depth(saturation, max_depth),
        advice.few_groups(counted, words) if sd_sampled else None,
    ]
    problems = [problem for problem in found if problem is not None]
    levels = {level for level, _ in problems}
    verdict: Verdict = "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"
    clean = (
        not divergences
        and not max_r_hat > RHAT_OK
        and not min(min_bulk, min_tail) < (ESS_PER_CHAIN_OK * chains)
    )
    closing = advice.trusted(problems, clean)
    texts = [text for _, text in problems] + ([closing] if closing else [])
    return Diagnosis(
        verdict=verdict,
        advice=texts,
        divergences=divergences,
        divergences_per_chain=per_chain,
        max_r_hat=_round(max_r_hat),
        min_ess_bulk=_round(min_bulk),
        min_ess_tail=_round(min_tail),
        worst_r_hat=worst_rhat,
        worst_ess_bulk=worst_bulk,
        chains=chains,
        draws=draws,
        parametrization=parametrization,
        sampler=sampler,
        worst_ess_tail=worst_tail,
        parameters=hyper,
        e_bfmi_per_chain=[_round(v) for v in e_bfmi],
        tree_depth_saturation_per_chain=[_round(v) for v in saturation],
        max_tree_depth=max_depth,
        n_groups=counted,
        funnel=funnel,
    )


def _e_bfmi(stats: xr.Dataset) -> list[float]:
    import arviz as az

    if "energy" not in stats:
        return []
    values = np.atleast_1d(np.asarray(az.bfmi(stats["energy"]), dtype=float))
    return [float(v) for v in values]


def _tree_depth(stats: xr.Dataset) -> tuple[list[float], int | None]:
    """Share of each chain's draws at the maximum tree depth, and the largest depth reached."""
    saturated = next((stats[n] for n in _SATURATED if n in stats), None)
    depth = next((stats[n] for n in _DEPTH if n in stats), None)
    shares = (
        [float(x) for x in saturated.values.astype(bool).mean(axis=1)]
        if saturated is not None
        else []
    )
    return shares, int(depth.values.max()) if depth is not None else None


def _n_groups(posterior: xr.Dataset, effect: str | None) -> int:
    if effect is None or effect not in posterior:
        return 0
    dims = [d for d in posterior[effect].dims if d not in ("chain", "draw")]
    return int(posterior[effect].sizes[dims[0]]) if dims else 1


def _tune(idata: xr.DataTree, draws: int) -> int:
    """Tuning steps per chain of the run, as the sampler recorded them (else ``draws``)."""
    attrs = idata["sample_stats"].attrs
    if "tuning_steps" in attrs:
        return int(attrs["tuning_steps"])
    try:
        return int(json.loads(attrs["inference_library_settings"])["settings"]["num_tune"])
    except (KeyError, TypeError, ValueError):
        return draws


def _finite(column: pd.Series) -> dict[str, float]:
    """``{"mu": 1.001, "theta[a]": 1.002, ...}`` from a summary column, finite values only."""
    return {str(k): float(v) for k, v in column.items() if np.isfinite(v)}


def _round(value: float) -> float:
    return float(np.round(value, 4)) if np.isfinite(value) else float("nan")
