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
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["Diagnosis", "diagnose", "hyperparameter_names"]

Verdict = Literal["ok", "warn", "fail"]
RHAT_OK, RHAT_FAIL = 1.01, 1.05
ESS_PER_CHAIN_OK, ESS_PER_CHAIN_FAIL = 100, 20
DIVERGENCE_FRACTION_FAIL = 0.01
EBFMI_OK = 0.3
TREE_DEPTH_SATURATION_WARN = 0.01
FEW_GROUPS = 5

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
    """Compute divergences, R-hat, ESS, E-BFMI and tree depth; turn them into a verdict.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior`` and ``sample_stats`` groups.
    parametrization, sampler : str
        What ran, recorded in the result.
    summary : pandas.DataFrame, optional
        The fit's :func:`hbm.summary.posterior_summary`, when already computed: R-hat and ESS
        are then read from it instead of being computed again.

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
    from hbm.convergence import summary_frame

    posterior = idata["posterior"].to_dataset()
    stats = idata["sample_stats"].to_dataset()
    names = hyperparameter_names(posterior)
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    diverging = stats["diverging"].values.astype(bool)
    per_chain = [int(x) for x in diverging.sum(axis=1)]
    divergences = int(sum(per_chain))

    # ArviZ's rank R-hat and bulk/tail ESS, vectorized over the parameters (hbm/convergence.py):
    # ArviZ's own loop over parameters takes minutes for 10,000 groups.
    columns = ("r_hat", "ess_bulk", "ess_tail")
    if summary is not None:
        table = summary[summary["param"].str.split("[").str[0].isin(names)].set_index("param")
    else:
        table = summary_frame(posterior, names, only=columns)
    rhat, ess_bulk, ess_tail = (_finite(table[column]) for column in columns)
    max_r_hat = max(rhat.values(), default=math.nan)
    min_bulk = min(ess_bulk.values(), default=math.nan)
    min_tail = min(ess_tail.values(), default=math.nan)
    worst_rhat = max(rhat, key=rhat.__getitem__, default="")
    worst_bulk = min(ess_bulk, key=ess_bulk.__getitem__, default="")
    worst_tail = min(ess_tail, key=ess_tail.__getitem__, default="")
    parameters: dict[str, dict[str, float]] = {
        name: {
            "r_hat": _round(rhat[name]),
            "ess_bulk": _round(ess_bulk[name]),
            "ess_tail": _round(ess_tail[name]),
        }
        for name in ("mu", "tau", "sigma")
        if name in rhat and name in ess_bulk and name in ess_tail
    }
    e_bfmi = _e_bfmi(stats)
    saturation, max_depth = _tree_depth(stats)
    n_groups = _n_groups(posterior)
    tau_sampled = "tau" in names
    funnel: dict[str, object] = {}
    if divergences and tau_sampled and "theta" in posterior:
        from hbm.funnel import funnel_triage

        funnel = funnel_triage(idata).to_dict()

    problems: list[tuple[Verdict, str]] = []
    if divergences:
        fraction = divergences / (chains * draws)
        level: Verdict = "fail" if fraction > DIVERGENCE_FRACTION_FAIL else "warn"
        problems.append(
            (level, _divergence_advice(divergences, fraction, per_chain, parametrization, funnel))
        )
    if max_r_hat > RHAT_OK:
        problems.append(
            (
                "fail" if max_r_hat > RHAT_FAIL else "warn",
                f"R-hat of {worst_rhat} is {max_r_hat:.3f} (should be <= {RHAT_OK}): the chains "
                f"disagree; run more tuning and draws (e.g. tune={2 * _tune(idata, draws)}, "
                f"draws={2 * draws}), or use parametrization='marginal'.",
            )
        )
    # A centered fit that diverges is stuck in its funnel: more draws would not help.
    funnel_first = divergences > 0 and parametrization == "centered"
    for label, value, worst in (("bulk", min_bulk, worst_bulk), ("tail", min_tail, worst_tail)):
        needed = ESS_PER_CHAIN_OK * chains
        if value < needed:
            more = int(math.ceil(draws * 1.2 * needed / max(value, 1.0) / 100.0) * 100)
            fix = (
                "the funnel is the cause, so change the parametrization rather than add draws"
                if funnel_first
                else f"increase draws (e.g. draws={more})"
            )
            problems.append(
                (
                    "fail" if value < ESS_PER_CHAIN_FAIL * chains else "warn",
                    f"{label} ESS of {worst} is {value:.0f} (should be >= {needed}, "
                    f"{ESS_PER_CHAIN_OK} per chain): {fix}.",
                )
            )
    low = [(c, v) for c, v in enumerate(e_bfmi) if v < EBFMI_OK]
    if low:
        which = ", ".join(f"chain {c} {v:.2f}" for c, v in low)
        problems.append(
            (
                "warn",
                f"E-BFMI is low ({which}; should be >= {EBFMI_OK}): the sampler explores the "
                "posterior's energy poorly, typically a funnel or a heavy tail in tau; use "
                "parametrization='marginal' or 'noncentered', or a more informative prior on tau.",
            )
        )
    saturated = [(c, v) for c, v in enumerate(saturation) if v > TREE_DEPTH_SATURATION_WARN]
    if saturated:
        which = ", ".join(f"chain {c} {v:.0%}" for c, v in saturated)
        problems.append(
            (
                "warn",
                f"Draws hit the maximum tree depth ({which} of draws, depth {max_depth}): "
                "trajectories are cut short in a strongly correlated or badly scaled posterior, so "
                "sampling is slow and may not explore it all; use parametrization='marginal'.",
            )
        )
    if tau_sampled and 0 < n_groups < FEW_GROUPS:
        problems.append(
            (
                "warn",
                f"Only {n_groups} groups: tau (the between-group sd) is barely identified by "
                f"{n_groups} group means, so its posterior, and how much the groups are pooled, "
                "leans on tau's prior; check fit.prior_summary(), refit with another prior on tau "
                "to see how much the results move, and report tau with that caveat.",
            )
        )

    levels = {level for level, _ in problems}
    verdict: Verdict = "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"
    advice = [text for _, text in problems]
    if (
        not divergences
        and not max_r_hat > RHAT_OK
        and not min(min_bulk, min_tail) < (ESS_PER_CHAIN_OK * chains)
    ):
        advice.append(
            f"No divergences, R-hat <= {RHAT_OK} and ESS >= {ESS_PER_CHAIN_OK} per chain for "
            "every parameter: the draws can be trusted"
            + (" (see the note above)." if problems else ".")
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
        worst_ess_bulk=worst_bulk,
        chains=chains,
        draws=draws,
        parametrization=parametrization,
        sampler=sampler,
        worst_ess_tail=worst_tail,
        parameters=parameters,
        e_bfmi_per_chain=[_round(v) for v in e_bfmi],
        tree_depth_saturation_per_chain=[_round(v) for v in saturation],
        max_tree_depth=max_depth,
        n_groups=n_groups,
        funnel=funnel,
    )


def _divergence_advice(
    divergences: int,
    fraction: float,
    per_chain: list[int],
    parametrization: str,
    funnel: dict[str, object],
) -> str:
    head = (
        f"{divergences} divergent transitions ({fraction:.1%} of draws; per chain "
        f"{', '.join(map(str, per_chain))}): the sampler could not follow the posterior's shape "
        "there, and the estimates may be biased."
    )
    where = funnel.get("where", "none")
    below = funnel.get("below_median_tau", 0)
    located = (
        f" {below} of {divergences} divergent draws lie below the median of tau." if funnel else ""
    )
    if parametrization == "centered":
        cause = (
            " Divergences concentrate at small tau: the funnel between tau and theta."
            if where == "small tau"
            else " In the centered form they come from the funnel between tau and theta."
        )
        fix = " Use parametrization='marginal' (exact for this model) or 'noncentered'."
    elif parametrization == "noncentered":
        cause = (
            " In the non-centered form this usually means groups with strong data, whose theta "
            "is pinned while tau moves (an inverted funnel)."
        )
        fix = " Use parametrization='marginal', or raise target_accept (e.g. 0.99)."
    else:
        cause = (
            f" They sit at {where}, in a tail of tau where the log density bends sharply."
            if where in ("small tau", "large tau")
            else ""
        )
        fix = (
            " Raise target_accept (e.g. 0.99) and tune (e.g. 2000); parametrization='auto' "
            "does this once by itself."
        )
    return head + located + cause + fix


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


def _n_groups(posterior: xr.Dataset) -> int:
    if "theta" not in posterior:
        return 0
    dims = [d for d in posterior["theta"].dims if d not in ("chain", "draw")]
    return int(posterior["theta"].sizes[dims[0]]) if dims else 1


def _tune(idata: xr.DataTree, draws: int) -> int:
    """Tuning steps per chain of the run, as the sampler recorded them (else ``draws``)."""
    attrs = idata["sample_stats"].attrs
    if "tuning_steps" in attrs:
        return int(attrs["tuning_steps"])
    try:
        return int(json.loads(attrs["inference_library_settings"])["settings"]["num_tune"])
    except (KeyError, TypeError, ValueError):
        return draws


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
