"""LOO-PIT: uniform for the model the data came from, far from uniform for a wrong one; and its
plot."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import hbm
from hbm.analysis.loo_pit import loo_pit
from tests.conftest import simulate_rows

QUICK = dict(draws=500, tune=500, chains=2, random_seed=6, progressbar=False)


@pytest.fixture(scope="module")
def table():
    return simulate_rows(sizes=(30,) * 10, mu=20, tau=3, sigma=4, seed=31)


def test_rows_pit_is_uniform_for_the_true_model_and_not_for_a_wrong_sigma(table):
    """300 rows from the model: a Kolmogorov-Smirnov test against the uniform does not reject
    (p > 0.01; the values are not exactly independent, which makes the test conservative here).
    With sigma fixed at half its true value the predictive intervals are too narrow and PIT
    values pile up at 0 and 1: KS rejects (p < 1e-4) and the ECDF leaves its 94% band."""
    good = hbm.fit(table, group="group", value="y", likelihood="rows", **QUICK)
    pit = loo_pit(good)
    assert pit.unit == "rows" and pit.values.shape == (300,) and pit.statistic == "row values"
    assert stats.kstest(pit.values, "uniform").pvalue > 0.01
    curve = pit.ecdf()
    assert np.all((curve["ecdf"] >= curve["lower"]) & (curve["ecdf"] <= curve["upper"]))
    wrong = hbm.fit(table, group="group", value="y", likelihood="rows", priors={"sigma": 2.0},
                    **QUICK)  # fmt: skip
    bad = loo_pit(wrong)
    assert stats.kstest(bad.values, "uniform").pvalue < 1e-4
    assert np.mean((bad.values < 0.05) | (bad.values > 0.95)) > 0.3
    curve = bad.ecdf()
    assert not np.all((curve["ecdf"] >= curve["lower"]) & (curve["ecdf"] <= curve["upper"]))


def test_groups_pit_and_its_plot(eight_schools):
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    pit = loo_pit(fit)
    assert pit.unit == "groups" and pit.statistic == "estimates"
    assert np.all((pit.values > 0) & (pit.values < 1))
    assert loo_pit(fit) is pit  # kept on the fit
    figure = fit.plot_loo_pit()
    assert "leave-one-group-out" in figure.get_suptitle()
    assert len(figure.axes) == 2 and "8 estimates" in figure.axes[0].get_title()
    k = fit.plot_pareto_k()
    assert k.axes[0].get_ylabel() == "Pareto k"
