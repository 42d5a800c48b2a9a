"""Bundled data: the packaged copies equal data/, and data/schools.csv is reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import hbm

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name", ["schools", "eight_schools", "sleepstudy", "pastes", "penicillin", "epidemics"]
)
def test_packaged_copy_equals_data_folder(name):
    packaged = ROOT / "hbm" / "_data" / f"{name}.csv"
    assert packaged.read_bytes() == (ROOT / "data" / f"{name}.csv").read_bytes()


def test_make_epidemics_reproduces_the_file():
    spec = importlib.util.spec_from_file_location("make_epi", ROOT / "data" / "make_epidemics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table, truth = module.make_epidemics(30)
    assert table.equals(hbm.datasets.load("epidemics"))
    # some countries still before their peak, some past it: the case for pooling
    assert 3 <= int((truth["last"] < truth["xmid"]).sum()) <= 27


def test_make_schools_reproduces_the_file():
    spec = importlib.util.spec_from_file_location("make_schools", ROOT / "data" / "make_schools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.make_schools()
    assert table.equals(pd.read_csv(ROOT / "data" / "schools.csv", dtype={"school": str}))
    sizes = table.groupby("school").size()
    assert 20 <= len(sizes) <= 40 and sizes.min() == 2 and sizes.max() >= 200


def test_load():
    eight = hbm.datasets.load("eight_schools")
    assert eight["effect"].tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    assert eight["stderr"].tolist() == [15, 10, 16, 11, 9, 11, 10, 18]
    assert list(hbm.datasets.load("schools").columns) == ["school", "score"]
    sleep = hbm.datasets.load("sleepstudy")
    assert sleep.shape == (180, 3) and sleep["Subject"].nunique() == 18
    assert sleep["Reaction"].sum() == pytest.approx(53731.4205)  # the source's column total
    pastes = hbm.datasets.load("pastes")
    assert pastes.shape == (60, 4) and pastes.groupby(["batch", "cask"]).size().eq(2).all()
    assert pastes["strength"].mean() == pytest.approx(60.0533, abs=1e-4)  # lme4's Pastes
    penicillin = hbm.datasets.load("penicillin")
    assert penicillin.groupby(["plate", "sample"]).size().eq(1).all() and len(penicillin) == 144
    with pytest.raises(ValueError, match="Unknown dataset 'nope'.*'schools', 'eight_schools'"):
        hbm.datasets.load("nope")
