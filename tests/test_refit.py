"""``auto``: the choice of parametrization, the one refit, and the record of every attempt."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.data.grouped import grouped_data
from hbm.diagnostics.diagnosis import Diagnosis
from hbm.inference.config import SampleConfig
from hbm.model.families.normal import resolve_priors
from hbm.model.parametrizations import choose_parametrization
from hbm.workflow.refit import refit_reason, safer_config


def diagnosis(divergences=0, r_hat=1.001, bulk=2000.0, tail=2000.0, chains=4) -> Diagnosis:
    return Diagnosis(
        "ok",
        [],
        divergences,
        [divergences] + [0] * (chains - 1),
        r_hat,
        bulk,
        tail,
        "tau",
        "tau",
        chains,
        1000,
        "marginal",
        "nutpie",
    )


def test_refit_reason_lists_what_is_wrong_and_nothing_when_all_is_well():
    assert refit_reason(diagnosis()) is None
    assert refit_reason(diagnosis(divergences=2)) == "2 divergent transitions"
    assert refit_reason(diagnosis(r_hat=1.02, bulk=300)) == "R-hat 1.020 > 1.01; bulk ESS 300 < 400"


def test_safer_config_raises_target_accept_for_divergences_and_draws_for_low_ess():
    config = SampleConfig(draws=1000, tune=1000, chains=4, random_seed=5)
    diverged = safer_config(config, diagnosis(divergences=1))
    assert (diverged.target_accept, diverged.tune, diverged.draws) == (0.99, 2000, 1000)
    assert diverged.random_seed == 5
    slow = safer_config(config, diagnosis(bulk=250))  # 1.25 * 400 / 250 = 2x the draws
    assert (slow.target_accept, slow.tune, slow.draws) == (0.95, 2000, 2000)
    capped = safer_config(config, diagnosis(tail=10))
    assert capped.draws == 4000  # at most 4 times the draws
    keeps = safer_config(
        SampleConfig(target_accept=0.995, tune=100, random_seed=1), diagnosis(divergences=3)
    )
    assert (keeps.target_accept, keeps.tune) == (0.995, 1000)


def schools(**kwargs):
    df = hbm.datasets.load("eight_schools")
    return hbm.fit(df, group="school", value="effect", se="stderr", progressbar=False, **kwargs)


def test_auto_refits_once_and_records_both_attempts(tmp_path):
    # 2 chains x 20 draws cannot reach ESS 200: the first attempt must be refitted.
    fit = schools(draws=20, tune=100, chains=2, random_seed=4)
    attempts = fit.diagnosis.attempts
    assert len(attempts) == 2
    first, second = attempts
    assert first["settings"]["draws"] == 20 and "ESS" in first["refit_because"]
    assert second["refit_because"] is None
    assert second["settings"]["tune"] == 1000 and second["settings"]["draws"] > 20
    assert second["settings"]["random_seed"] == first["settings"]["random_seed"] == 4
    for attempt in attempts:
        assert set(attempt) >= {"settings", "divergences", "max_r_hat", "min_ess_bulk", "seconds"}
        assert attempt["seconds"] > 0
    # The result is the second run's, and the spec still says what was asked.
    assert fit.diagnosis.draws == second["settings"]["draws"]
    assert fit.idata["posterior"].sizes["draw"] == second["settings"]["draws"]
    assert fit.spec.draws == 20 and fit.run_info["attempts"] == 2
    # diagnostics.json and a saved fit carry the attempts.
    from hbm.reporting.outputs import write_outputs

    write_outputs(fit, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "diagnostics.json").read_text())
    assert written["attempts"] == json.loads(json.dumps(attempts))
    assert hbm.load(tmp_path / "out" / "fit.nc").diagnosis.attempts == written["attempts"]


def test_same_seed_gives_the_same_attempts():
    a = schools(draws=20, tune=100, chains=2, random_seed=4)
    b = schools(draws=20, tune=100, chains=2, random_seed=4)
    strip = [{k: v for k, v in x.items() if k != "seconds"} for x in a.diagnosis.attempts]
    assert strip == [{k: v for k, v in x.items() if k != "seconds"} for x in b.diagnosis.attempts]
    np.testing.assert_array_equal(a.idata["posterior"]["tau"], b.idata["posterior"]["tau"])


def test_an_explicit_parametrization_is_never_refitted():
    fit = schools(draws=20, tune=100, chains=2, random_seed=4, parametrization="marginal")
    assert len(fit.diagnosis.attempts) == 1
    assert fit.diagnosis.attempts[0]["refit_because"] is None
    assert fit.diagnosis.verdict != "ok"


def rows_table(tau: float, sizes: list[int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, tau, len(sizes)) if tau else np.zeros(len(sizes))
    group = np.repeat([f"g{j}" for j in range(len(sizes))], sizes)
    return pd.DataFrame({"g": group, "y": np.repeat(theta, sizes) + rng.normal(size=sum(sizes))})


def test_auto_chooses_marginal_and_quotes_the_data():
    data = grouped_data(
        hbm.datasets.load("eight_schools"), group="school", value="effect", se="stderr"
    )
    name, reason = choose_parametrization(data, resolve_priors(data, None))
    assert name == "marginal"
    assert reason.startswith(
        "The 8 group means are measured with sd 9 to 18, against a between-group sd tau of about 0"
    )
    assert "8 of 8 groups are pooled more than halfway" in reason


@pytest.mark.parametrize(
    ("tau", "sizes", "expected"),
    [(10.0, [50] * 6, "centered"), (0.0, [3] * 6, "noncentered"), (1.0, [2] * 6, "noncentered")],
)
def test_rows_likelihood_chooses_centered_only_when_the_data_dominate(tau, sizes, expected):
    data = grouped_data(rows_table(tau, sizes), group="g", value="y", keep_rows=True)
    name, reason = choose_parametrization(data, resolve_priors(data, None), likelihood="rows")
    assert name == expected, reason
    assert reason.startswith("likelihood='rows' was asked for")


def test_fixed_tau_or_fixed_everything():
    data = grouped_data(rows_table(1.0, [5] * 6), group="g", value="y")
    assert choose_parametrization(data, resolve_priors(data, {"tau": 1}))[0] == "marginal"
    assert (
        choose_parametrization(data, resolve_priors(data, {"tau": 1}), likelihood="rows")[0]
        == "centered"
    )
    assert choose_parametrization(data, resolve_priors(data, {"tau": 1, "mu": 0}))[0] == "centered"
