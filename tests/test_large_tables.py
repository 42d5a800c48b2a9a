"""What keeps a fit of thousands of groups fast and small changes no result.

- ``draw_theta`` works in place, a few draws at a time: the same numbers, bit for bit, as the one
  expression ``mean + sd * z``.
- Group labels read as pandas' ``str`` dtype skip the per-row conversion: same labels, codes and
  statistics as object labels.
- ``diagnose`` reading R-hat / ESS from the fit's summary gives the same diagnosis as computing
  them itself.
- The report lists at most ``MAX_GROUP_ROWS`` groups and the shrinkage figure has a bounded size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
import hbm.model.families.normal_conditional as conditional
from hbm.data.grouped import grouped_data
from hbm.diagnostics.diagnosis import diagnose
from hbm.reporting.report import render_report
from hbm.reporting.sections import MAX_GROUP_ROWS
from hbm.viz import plot_shrinkage
from hbm.viz.style import MAX_HEIGHT
from tests.conftest import simulate_rows


@pytest.mark.parametrize("form", ["rows", "summaries"])
def test_theta_in_place_equals_the_one_expression(monkeypatch, eight_schools, form):
    if form == "rows":
        data = grouped_data(simulate_rows(n_groups=7, seed=4), group="group", value="y")
    else:
        data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    rng = np.random.default_rng(9)
    posterior = xr.Dataset(
        {
            name: (("chain", "draw"), np.abs(rng.normal(loc, 1.0, size=(3, 101))))
            for name, loc in (("mu", 5.0), ("tau", 2.0), ("sigma", 3.0))
        }
    )
    mean, sd = conditional.conditional_moments(
        data, posterior["mu"].values, posterior["tau"].values, posterior["sigma"].values
    )
    stream = np.random.default_rng(np.random.SeedSequence([17, conditional.THETA_STREAM]))
    expected = mean + sd * stream.standard_normal(mean.shape)
    for chunk in (10**6, 5 * data.n_groups, 1):  # one step, several steps, one value per step
        monkeypatch.setattr(conditional, "_CHUNK_VALUES", chunk)
        theta = conditional.draw_group_means(posterior, data, 17)
        assert np.array_equal(theta.values, expected)


def test_str_labels_reduce_like_object_labels():
    table = simulate_rows(n_groups=30, seed=2).sample(frac=1.0, random_state=1)
    as_object = table.assign(group=table["group"].astype(object))
    as_str = table.assign(group=table["group"].astype("str"))
    assert not pd.api.types.is_object_dtype(as_str["group"])
    for order in ("first-seen", "sorted"):
        a = grouped_data(as_object, group="group", value="y", order=order, keep_rows=True)
        b = grouped_data(as_str, group="group", value="y", order=order, keep_rows=True)
        assert a.labels == b.labels and all(isinstance(label, str) for label in b.labels)
        for name in ("n", "mean", "ss", "codes", "values"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
    missing = as_str.copy()
    missing.loc[missing.index[3], "group"] = None
    message = r"1 row\(s\) have missing values \(by column: 'group': 1\)"
    with pytest.raises(ValueError, match=message):
        grouped_data(missing, group="group", value="y")
    assert grouped_data(missing, group="group", value="y", missing="drop").dropped == 1


@pytest.fixture(scope="module")
def many_groups_fit():
    table = simulate_rows(n_groups=MAX_GROUP_ROWS + 70, seed=6)
    return hbm.fit(
        table,
        group="group",
        value="y",
        random_seed=3,
        draws=100,
        tune=150,
        chains=2,
        progressbar=False,
    )


def test_diagnosis_from_the_summary_equals_its_own(many_groups_fit):
    fit = many_groups_fit
    run = {"parametrization": fit.parametrization, "sampler": "nutpie"}
    own = diagnose(fit.idata, **run)
    shared = diagnose(fit.idata, **run, summary=fit.summary())
    assert own.to_dict() == shared.to_dict()
    without_attempts = {k: v for k, v in fit.diagnosis.to_dict().items() if k != "attempts"}
    assert without_attempts == {k: v for k, v in own.to_dict().items() if k != "attempts"}


def test_summary_is_computed_once_and_copied_out(many_groups_fit):
    first = many_groups_fit.summary()
    first.loc[0, "mean"] = -1e9  # a caller's change must not leak into the next call
    assert many_groups_fit.summary().loc[0, "mean"] != -1e9
    assert len(first) == 3 + many_groups_fit.data.n_groups


def test_report_lists_a_bounded_number_of_groups(many_groups_fit):
    html = render_report(many_groups_fit)
    assert html.count('<td class="text">theta[') == MAX_GROUP_ROWS  # the full summary, bounded
    assert f"first {MAX_GROUP_ROWS} of {many_groups_fit.data.n_groups:,} groups" in html
    figure = plot_shrinkage(many_groups_fit)
    assert figure.get_size_inches()[1] <= MAX_HEIGHT
