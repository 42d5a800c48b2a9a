"""Prior text: parsing, checks, data-scaled defaults and the seed preset."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hbm.data.grouped import grouped_data
from hbm.model.families.normal import resolve_priors
from hbm.model.priors import Prior, parse_prior, prior_table


@pytest.mark.parametrize(
    ("text", "parameter", "family", "params"),
    [
        ("normal(0, 5)", "mu", "normal", (0.0, 5.0)),
        ("  Normal( -1.5e1 ,.5 ) ", "mu", "normal", (-15.0, 0.5)),
        ("studentt(3, 0, 2.5)", "mu", "studentt", (3.0, 0.0, 2.5)),
        ("halfnormal(5)", "tau", "halfnormal", (5.0,)),
        ("halfcauchy(5)", "tau", "halfcauchy", (5.0,)),
        ("halfstudentt(3, 1)", "sigma", "halfstudentt", (3.0, 1.0)),
        ("exponential(0.1)", "sigma", "exponential", (0.1,)),
        ("60", "mu", "fixed", (60.0,)),
        (1, "tau", "fixed", (1.0,)),
    ],
)
def test_parse(text, parameter, family, params):
    prior = parse_prior(text, parameter)
    assert (prior.family, prior.params) == (family, params)
    assert parse_prior(prior.text(), parameter) == prior  # text round-trips exactly


@pytest.mark.parametrize(
    ("text", "parameter", "message"),
    [
        ("normal(0)", "mu", r"normal takes 2 number\(s\) \(m, s\)"),
        ("normal(0, -1)", "mu", "scale .* must be > 0; got -1"),
        ("beta(2, 1)", "tau", "unknown family .beta..*known families are normal"),
        ("normal 0 5", "mu", "could not be read"),
        ("normal(0, 5)", "tau", "must be positive-valued"),
        ("halfnormal(5)", "mu", "positive-only"),
        ("0", "tau", "fixed at a value > 0"),
        ("halfstudentt(0, 1)", "tau", "degrees of freedom nu .* must be > 0"),
        ("inf", "mu", "could not be read"),
    ],
)
def test_parse_errors(text, parameter, message):
    with pytest.raises(ValueError, match=message):
        parse_prior(text, parameter)


def test_defaults_scale_with_the_data(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    priors = resolve_priors(data)
    sd = small_rows["y"].std(ddof=0)
    assert priors["mu"].family == "normal"
    np.testing.assert_allclose(priors["mu"].params, (small_rows["y"].mean(), 2.5 * sd))
    np.testing.assert_allclose(priors["tau"].params, (sd,))
    np.testing.assert_allclose(priors["sigma"].params, (sd,))
    assert {p.source for p in priors.values()} == {"default"}
    # Scaling the data by 1e6 scales every default by 1e6.
    scaled = grouped_data(small_rows.assign(y=small_rows.y * 1e6), group="group", value="y")
    np.testing.assert_allclose(resolve_priors(scaled)["tau"].params, (sd * 1e6,), rtol=1e-12)


def test_seed_preset_is_the_worked_example(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    priors = resolve_priors(data, "seed")
    assert priors["mu"] == Prior("normal", (60.0, math.sqrt(5.0)), source="seed preset")
    assert priors["mu"].params[1] ** 2 == pytest.approx(5.0)  # variance 5, not sd 5
    assert priors["tau"].is_fixed and priors["tau"].params == (1.0,)
    assert priors["sigma"].source == "default"


def test_user_priors_and_unknown_names(small_rows, eight_schools):
    data = grouped_data(small_rows, group="group", value="y")
    priors = resolve_priors(data, {"tau": "halfcauchy(5)"})
    assert priors["tau"].text() == "halfcauchy(5)" and priors["tau"].source == "user"
    with pytest.raises(ValueError, match="no parameter 'rho'.*'mu', 'tau', 'sigma'"):
        resolve_priors(data, {"rho": "normal(0, 1)"})
    summaries = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    with pytest.raises(ValueError, match="sigma exists only in the rows form"):
        resolve_priors(summaries, {"sigma": "halfnormal(1)"})
    with pytest.raises(ValueError, match="one of 'default', 'seed'; got 'sead'"):
        resolve_priors(data, "sead")


def test_prior_table_lists_every_parameter(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    table = prior_table(resolve_priors(data, "seed"))
    assert isinstance(table, pd.DataFrame)
    assert table["parameter"].tolist() == ["mu", "tau", "sigma"]
    assert table.loc[1, "prior"] == "1" and table.loc[1, "distribution"] == "fixed at 1"
    assert table.loc[0, "distribution"] == "Normal(mean 60, sd 2.236)"
