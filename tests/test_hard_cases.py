"""The hard cases of the issue, fitted with hbm's default settings (``data/make_hard_cases.py``).

Defaults: ``parametrization="auto"``, 4 chains x 1000 draws after 1000 tuning steps,
``target_accept=0.95``. Each must end with no divergences, R-hat <= 1.01 and ESS >= 100 per
chain. ``bench/hard_cases.py`` repeats this over many seeds (numbers in the notes); here one
seed per case and sampler keeps the suite quick.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hbm
from hbm.data.grouped import grouped_data
from hbm.inference.config import SampleConfig

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = ["hard_tau_zero", "hard_three_groups", "hard_unbalanced"]


def fit_case(case: str, sampler: str, seed: int = 1) -> hbm.Fit:
    data = grouped_data(pd.read_csv(DATA / f"{case}.csv"), group="group", value="value")
    return hbm.fit_grouped(
        data, config=SampleConfig(random_seed=seed, sampler=sampler, progressbar=False)
    )


def check(fit: hbm.Fit, case: str) -> None:
    d = fit.diagnosis
    assert fit.parametrization == "marginal"
    assert d.divergences == 0, d.attempts
    assert d.max_r_hat <= 1.01 and min(d.min_ess_bulk, d.min_ess_tail) >= 400, d.advice
    if case == "hard_three_groups":
        assert d.verdict == "warn" and len(d.advice) == 2
        assert d.advice[0].startswith("Only 3 groups: tau")
    else:
        assert d.verdict == "ok", d.advice


def test_the_data_are_as_described():
    zero = grouped_data(pd.read_csv(DATA / "hard_tau_zero.csv"), group="group", value="value")
    sigma2 = zero.ss_within / (zero.n_rows - zero.n_groups)
    assert zero.n.tolist() == [5] * 6
    assert zero.mean.var(ddof=1) < sigma2 / 5 / 4  # means spread far less than noise predicts
    unbalanced = pd.read_csv(DATA / "hard_unbalanced.csv")["group"].value_counts()
    assert sorted(unbalanced.tolist()) == [2] * 20 + [400]
    assert pd.read_csv(DATA / "hard_three_groups.csv")["group"].nunique() == 3


@pytest.mark.parametrize("case", CASES)
def test_defaults_fit_the_hard_case_cleanly(case):
    check(fit_case(case, "nutpie"), case)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_defaults_fit_the_hard_case_cleanly_with_pymcs_sampler(case):
    check(fit_case(case, "pymc"), case)
