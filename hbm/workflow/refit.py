"""``auto``'s one second chance: refit once with safer settings, and record every attempt.

With ``parametrization="auto"``, :func:`hbm.workflow.fit.fit_grouped` looks at the diagnosis of
its first run. If it still shows divergences, R-hat above 1.01 or an ESS below 100 per chain, it
samples once more with :func:`safer_config`:

- divergences or R-hat: ``target_accept`` raised to 0.99 (smaller steps follow sharp curvature);
- always: twice the tuning (at least 1000 steps), so step size and mass matrix settle;
- low ESS or R-hat: more draws, in proportion to the ESS that was missing (at most 4 times).

Both runs use the same seed. The second run's result is kept whatever it shows, and its
diagnosis lists both runs in ``attempts`` (so ``diagnostics.json["attempts"]`` tells the story).
"""

from __future__ import annotations

import math
from dataclasses import replace

from hbm.diagnostics.diagnosis import ESS_PER_CHAIN_OK, RHAT_OK, Diagnosis
from hbm.inference.config import SampleConfig

__all__ = ["MAX_ATTEMPTS", "attempt_record", "refit_reason", "safer_config"]

MAX_ATTEMPTS = 2
SAFE_TARGET_ACCEPT = 0.99
MIN_SAFE_TUNE = 1000
MAX_DRAWS_FACTOR = 4


def refit_reason(diagnosis: Diagnosis) -> str | None:
    """Why a run needs another try (divergences, R-hat, ESS), or ``None`` if it does not.

    Examples
    --------
    >>> from hbm.diagnostics.diagnosis import Diagnosis
    >>> d = Diagnosis("warn", [], 3, [3, 0], 1.0, 900.0, 800.0, "mu", "tau", 2, 1000,
    ...               "marginal", "nutpie")
    >>> refit_reason(d)
    '3 divergent transitions'
    """
    needed = ESS_PER_CHAIN_OK * diagnosis.chains
    reasons = []
    if diagnosis.divergences:
        reasons.append(f"{diagnosis.divergences} divergent transitions")
    if diagnosis.max_r_hat > RHAT_OK:
        reasons.append(f"R-hat {diagnosis.max_r_hat:.3f} > {RHAT_OK}")
    for label, value in (("bulk", diagnosis.min_ess_bulk), ("tail", diagnosis.min_ess_tail)):
        if value < needed:
            reasons.append(f"{label} ESS {value:.0f} < {needed}")
    return "; ".join(reasons) or None


def safer_config(config: SampleConfig, diagnosis: Diagnosis) -> SampleConfig:
    """The settings of the second run, from the first run's settings and diagnosis.

    Examples
    --------
    >>> from hbm.diagnostics.diagnosis import Diagnosis
    >>> d = Diagnosis("warn", [], 3, [3, 0], 1.0, 900.0, 800.0, "mu", "tau", 2, 1000,
    ...               "marginal", "nutpie")
    >>> c = safer_config(SampleConfig(draws=1000, tune=1000, chains=2, random_seed=1), d)
    >>> c.target_accept, c.tune, c.draws
    (0.99, 2000, 1000)
    """
    needed = ESS_PER_CHAIN_OK * diagnosis.chains
    rough = diagnosis.divergences > 0 or diagnosis.max_r_hat > RHAT_OK
    target = max(float(config.target_accept), SAFE_TARGET_ACCEPT) if rough else config.target_accept
    ess = min(diagnosis.min_ess_bulk, diagnosis.min_ess_tail)
    factor = 1.0
    if ess < needed:
        factor = 1.25 * needed / max(ess, 1.0)
    if diagnosis.max_r_hat > RHAT_OK:
        factor = max(factor, 2.0)
    factor = min(factor, float(MAX_DRAWS_FACTOR))
    draws = int(math.ceil(config.draws * factor / 100.0) * 100) if factor > 1 else config.draws
    return replace(
        config,
        target_accept=target,
        tune=max(2 * config.tune, MIN_SAFE_TUNE),
        draws=max(draws, config.draws),
    )


def attempt_record(
    config: SampleConfig,
    diagnosis: Diagnosis,
    *,
    parametrization: str,
    seconds: float,
    refit_because: str | None,
) -> dict[str, object]:
    """One entry of ``diagnostics.json["attempts"]``: the settings that ran and what came out."""
    return {
        "settings": {
            "parametrization": parametrization,
            "sampler": config.sampler,
            "draws": config.draws,
            "tune": config.tune,
            "chains": config.chains,
            "target_accept": float(config.target_accept),
            "random_seed": config.random_seed,
        },
        "divergences": diagnosis.divergences,
        "max_r_hat": diagnosis.max_r_hat,
        "min_ess_bulk": diagnosis.min_ess_bulk,
        "min_ess_tail": diagnosis.min_ess_tail,
        "verdict": diagnosis.verdict,
        "seconds": round(float(seconds), 3),
        "refit_because": refit_because,
    }
