"""Convergence diagnostics of a fit and a plain-language verdict.

Thresholds follow Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
improved R-hat": rank-normalized split R-hat <= 1.01, bulk and tail ESS >= 100 per chain, and no
divergent transitions.

Verdict:

- ``ok``: all of the above hold.
- ``warn``: some divergences (at most 1% of draws), R-hat up to 1.05, or ESS below 100 per chain
  but above 20 per chain: the numbers are usable with care; the advice says what to do.
- ``fail``: more divergences, R-hat above 1.05 or ESS below 20 per chain: do not use the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["Diagnosis", "diagnose", "hyperparameter_names"]

Verdict = Literal["ok", "warn", "fail"]
RHAT_OK, RHAT_FAIL = 1.01, 1.05
ESS_PER_CHAIN_OK, ESS_PER_CHAIN_FAIL = 100, 20
DIVERGENCE_FRACTION_FAIL = 0.01


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
        Over ``mu``, ``tau``, ``sigma`` and every ``theta`` (fixed parameters excluded).
    worst_r_hat, worst_ess_bulk : str
        The parameter with the largest R-hat and with the smallest bulk ESS.
    chains, draws : int
    parametrization, sampler : str
        What actually ran.
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
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the content of ``diagnostics.json``)."""
        out = asdict(self)
        extra = out.pop("extra")
        out.update(extra)
        return out


def hyperparameter_names(posterior: xr.Dataset) -> list[str]:
    """The model's parameters present in ``posterior`` that vary (fixed ones are constant)."""
    names = [n for n in ("mu", "tau", "sigma", "theta") if n in posterior]
    # max > min rather than std > 0: no NaN-skipping copy of theta (320 MB at 10,000 groups)
    return [n for n in names if posterior[n].values.max() > posterior[n].values.min()]


def diagnose(
    idata: xr.DataTree,
    *,
    parametrization: str,
    sampler: str,
    summary: pd.DataFrame | None = None,
) -> Diagnosis:
    """Compute divergences, R-hat and ESS and turn them into a verdict with advice.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior`` and ``sample_stats`` groups.
    parametrization, sampler : str
        What ran, recorded in the result.
    summary : pandas.DataFrame, optional
        The fit's :func:`hbm.summary.posterior_summary`, when already computed: R-hat and ESS
        are then read from it instead of being computed again.
    """
    from hbm.convergence import summary_frame

    posterior = idata["posterior"].to_dataset()
    names = hyperparameter_names(posterior)
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    diverging = idata["sample_stats"]["diverging"].values.astype(bool)
    per_chain = [int(x) for x in diverging.sum(axis=1)]
    divergences = int(sum(per_chain))

    # ArviZ's rhat / ess(bulk, tail) numbers, vectorized over parameters (hbm/convergence.py)
    columns = ("r_hat", "ess_bulk", "ess_tail")
    if summary is not None:
        table = summary[summary["param"].str.split("[").str[0].isin(names)].set_index("param")
    else:
        table = summary_frame(posterior, names, only=columns)
    rhat, ess_bulk, ess_tail = (_finite(table[column]) for column in columns)
    max_r_hat = max(rhat.values()) if rhat else float("nan")
    min_bulk = min(ess_bulk.values()) if ess_bulk else float("nan")
    min_tail = min(ess_tail.values()) if ess_tail else float("nan")
    worst_rhat = max(rhat, key=rhat.__getitem__) if rhat else ""
    worst_ess = min(ess_bulk, key=ess_bulk.__getitem__) if ess_bulk else ""

    advice: list[str] = []
    levels: list[Verdict] = ["ok"]
    if divergences:
        fraction = divergences / (chains * draws)
        levels.append("fail" if fraction > DIVERGENCE_FRACTION_FAIL else "warn")
        fix = (
            "use parametrization='marginal' or 'noncentered'"
            if parametrization == "centered"
            else "raise target_accept (e.g. 0.99)"
        )
        advice.append(
            f"{divergences} divergent transitions ({fraction:.1%} of draws): the sampler could not "
            f"follow the posterior's geometry (in hierarchical models, the funnel at small tau); {fix}."
        )
    if max_r_hat > RHAT_OK:
        levels.append("fail" if max_r_hat > RHAT_FAIL else "warn")
        advice.append(
            f"R-hat of {worst_rhat} is {max_r_hat:.3f} (should be <= {RHAT_OK}): the chains disagree; "
            "run longer (more tune and draws) or use a better parametrization."
        )
    for label, value, worst in (("bulk", min_bulk, worst_ess), ("tail", min_tail, None)):
        if value < ESS_PER_CHAIN_OK * chains:
            levels.append("fail" if value < ESS_PER_CHAIN_FAIL * chains else "warn")
            who = f" of {worst}" if worst else ""
            advice.append(
                f"{label} ESS{who} is {value:.0f} (should be >= {ESS_PER_CHAIN_OK * chains}, "
                f"{ESS_PER_CHAIN_OK} per chain): increase draws."
            )
    verdict: Verdict = "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"
    if verdict == "ok":
        advice.append(
            f"No divergences, R-hat <= {RHAT_OK} and ESS >= {ESS_PER_CHAIN_OK} per chain for "
            "every parameter: the draws can be trusted."
        )
    return Diagnosis(
        verdict=verdict,
        advice=advice,
        divergences=divergences,
        divergences_per_chain=per_chain,
        max_r_hat=_round(max_r_hat),
        min_ess_bulk=_round(min_bulk),
        min_ess_tail=_round(min_tail),
        worst_r_hat=worst_rhat,
        worst_ess_bulk=worst_ess,
        chains=int(chains),
        draws=int(draws),
        parametrization=parametrization,
        sampler=sampler,
    )


def _flatten(dataset: xr.Dataset) -> dict[str, float]:
    """``{"mu": 1.001, "theta[a]": 1.002, ...}`` from a per-variable diagnostic."""
    out: dict[str, float] = {}
    for name, array in dataset.data_vars.items():
        if array.ndim == 0:
            out[str(name)] = float(array)
            continue
        dim = array.dims[0]
        for label, value in zip(array[dim].values, array.values, strict=True):
            out[f"{name}[{label}]"] = float(value)
    return {k: v for k, v in out.items() if np.isfinite(v)}


def _finite(column: pd.Series) -> dict[str, float]:
    """``{"mu": 1.001, "theta[a]": 1.002, ...}`` from a summary column, finite values only."""
    return {str(k): float(v) for k, v in column.items() if np.isfinite(v)}


def _round(value: float) -> float:
    return float(np.round(value, 4)) if np.isfinite(value) else float("nan")
