"""Posterior predictions: existing vs new groups, the summaries form's se, seeds, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm.data.datasets
from hbm.analysis.predict import prediction_summary
from hbm.api import fit
from hbm.cli import main

# An explicit parametrization: auto could refit with more draws, and these tests count draws.
SMALL = {
    "draws": 250,
    "tune": 200,
    "chains": 2,
    "progressbar": False,
    "parametrization": "marginal",
}


@pytest.fixture(scope="module")
def rows_fit():
    return fit(hbm.datasets.load("schools"), group="school", value="score", random_seed=5, **SMALL)


@pytest.fixture(scope="module")
def summaries_fit():
    table = hbm.datasets.load("eight_schools")
    return fit(table, group="school", value="effect", se="stderr", random_seed=5, **SMALL)


def posterior(fit_, name):
    return fit_.idata["posterior"][name].values


def test_existing_groups_use_their_own_theta(rows_fit):
    tree = rows_fit.predict(["Ashford", "Zion Park"], rows=3, random_seed=1)
    pred = tree["predictions"]
    assert pred["y"].dims == ("chain", "draw", "school", "row")
    assert pred["y"].shape == (2, 250, 2, 3)
    assert not pred["new_group"].values.any()
    theta = rows_fit.idata["posterior"]["theta"].sel(school=["Ashford", "Zion Park"])
    np.testing.assert_array_equal(pred["theta"].values, theta.transpose("chain", "draw", "school"))
    # y - theta_j is Normal(0, sigma) given each draw: standardized residuals are iid N(0, 1).
    z = (pred["y"].values - pred["theta"].values[..., None]) / posterior(rows_fit, "sigma")[
        ..., None, None
    ]
    n = z.size  # 3000; tolerance 4 standard errors of the mean and of the variance
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)


def test_new_groups_draw_theta_from_the_population(rows_fit):
    tree = rows_fit.predict(new_groups=["new 1", "new 2"], rows=2, random_seed=2)
    pred = tree["predictions"]
    assert list(pred["school"].values) == ["new 1", "new 2"]
    assert pred["new_group"].values.all()
    mu, tau, sigma = (posterior(rows_fit, n)[..., None] for n in ("mu", "tau", "sigma"))
    z_theta = (pred["theta"].values - mu) / tau
    z_y = (pred["y"].values - pred["theta"].values[..., None]) / sigma[..., None]
    for z in (z_theta, z_y):  # iid N(0, 1) given the draws; 4 standard errors
        assert abs(z.mean()) < 4 / np.sqrt(z.size)
        assert abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    # the two new groups get independent theta draws
    assert not np.array_equal(pred["theta"].values[..., 0], pred["theta"].values[..., 1])


def test_both_kinds_together_and_default_all_existing(rows_fit):
    both = rows_fit.predict(["Ashford"], new_groups="brand new", random_seed=3)["predictions"]
    assert list(both["new_group"].values) == [False, True]
    every = rows_fit.predict(random_seed=3)["predictions"]
    assert list(every["school"].values) == list(rows_fit.data.labels)
    only_new = rows_fit.predict(new_groups=["x"], random_seed=3)["predictions"]
    assert list(only_new["school"].values) == ["x"]


def test_same_seed_same_draws_other_seed_other_draws(rows_fit):
    a = rows_fit.predict(["Ashford"], new_groups=["n"], random_seed=9)["predictions"]
    b = rows_fit.predict(["Ashford"], new_groups=["n"], random_seed=9)["predictions"]
    c = rows_fit.predict(["Ashford"], new_groups=["n"], random_seed=10)["predictions"]
    np.testing.assert_array_equal(a["y"].values, b["y"].values)
    assert not np.array_equal(a["y"].values, c["y"].values)
    assert a.attrs["random_seed"] == 9


def test_unseeded_prediction_records_its_seed(rows_fit):
    first = rows_fit.predict(["Ashford"])["predictions"]
    again = rows_fit.predict(["Ashford"], random_seed=first.attrs["random_seed"])["predictions"]
    np.testing.assert_array_equal(first["y"].values, again["y"].values)


def test_subsampled_draws_and_dataframe(rows_fit):
    frame = rows_fit.predict(["Ashford"], draws=40, rows=2, random_seed=4, kind="dataframe")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "chain",
        "draw",
        "school",
        "row",
        "new_group",
        "theta",
        "y",
        "source_chain",
        "source_draw",
    ]
    assert len(frame) == 40 * 2
    assert frame["chain"].eq(0).all()
    # each prediction's theta is the posterior theta at the draw it names
    theta = rows_fit.idata["posterior"]["theta"].sel(school="Ashford").values
    np.testing.assert_array_equal(
        frame["theta"].to_numpy(), theta[frame["source_chain"], frame["source_draw"]]
    )
    assert frame.drop_duplicates(["source_chain", "source_draw"]).shape[0] == 40


def test_summaries_form_needs_an_se(summaries_fit):
    with pytest.raises(ValueError, match=r"summaries form .* has no sigma.*Pass se="):
        summaries_fit.predict(["A"], random_seed=1)
    tree = summaries_fit.predict(["A"], new_groups=["J"], se=0, random_seed=1)["predictions"]
    # se = 0 predicts the true mean itself
    np.testing.assert_array_equal(tree["y"].values[..., 0], tree["theta"].values)
    wide = summaries_fit.predict(["A"], se=15.0, random_seed=1)["predictions"]
    z = (wide["y"].values[..., 0, 0] - wide["theta"].values[..., 0]) / 15.0
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"groups": ["Nowhere"]}, ValueError, r"no school 'Nowhere'.*new_groups=.*--new"),
        ({"new_groups": ["Ashford"]}, ValueError, r"'Ashford' is an existing school"),
        ({"groups": ["Ashford"], "new_groups": ["Ashford"]}, ValueError, "existing school"),
        ({"groups": ["Ashford", "Ashford"]}, ValueError, "names 'Ashford' twice"),
        ({"groups": []}, ValueError, "Nothing to predict"),
        ({"groups": ["Ashford"], "se": 2.0}, ValueError, "'se' option applies only"),
        ({"groups": ["Ashford"], "rows": 0}, ValueError, "'rows' option must be a positive"),
        ({"groups": ["Ashford"], "draws": 10_000}, ValueError, "at most the fit's 500"),
        ({"groups": ["Ashford"], "kind": "table"}, ValueError, "'kind' option must be"),
        ({"groups": ["Ashford"], "random_seed": -1}, ValueError, "'random_seed' option"),
        ({"groups": [1.5]}, TypeError, "group labels"),
    ],
)
def test_bad_requests(rows_fit, kwargs, error, message):
    with pytest.raises(error, match=message):
        rows_fit.predict(**kwargs)


def test_summaries_se_must_be_non_negative(summaries_fit):
    with pytest.raises(ValueError, match="finite number >= 0; got -1"):
        summaries_fit.predict(["A"], se=-1)


def test_cli_predict(rows_fit, tmp_path, capsys):
    path = str(rows_fit.save(tmp_path / "fit.nc"))
    assert main(["predict", path, "--group", "Ashford", "--group", "Upton", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Ashford" in out and "Upton" in out and "seed 3" in out

    csv = tmp_path / "p.csv"
    args = ["predict", path, "--group", "Elsewhere", "--new", "--draws", "50", "--rows", "2"]
    assert main([*args, "--seed", "1", "--out", str(csv)]) == 0
    frame = pd.read_csv(csv)
    assert len(frame) == 100 and frame["new_group"].all()

    nc = tmp_path / "p.nc"
    assert main(["predict", path, "--group", "Ashford", "--seed", "1", "--out", str(nc)]) == 0
    tree = xr.open_datatree(nc)
    expected = rows_fit.predict(["Ashford"], random_seed=1)["predictions"]["y"].values
    np.testing.assert_array_equal(tree["predictions"]["y"].values, expected)
    tree.close()
    capsys.readouterr()

    assert main(["predict", path, "--group", "Ashford", "--new"]) == 2
    assert "is an existing school" in capsys.readouterr().err
    assert main(["predict", path, "--group", "Nowhere"]) == 2
    assert "--new" in capsys.readouterr().err
    assert main(["predict", path, "--group", "Ashford", "--out", str(tmp_path / "p.txt")]) == 2
    assert not (tmp_path / "p.txt").exists()


def test_prediction_summary(rows_fit):
    table = prediction_summary(rows_fit.predict(["Ashford"], new_groups=["n"], random_seed=1))
    assert list(table.index) == ["Ashford", "n"]
    assert list(table["new_group"]) == [False, True]
    assert (table["q3%"] < table["median"]).all() and (table["median"] < table["q97%"]).all()
