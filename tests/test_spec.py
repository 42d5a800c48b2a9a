"""Model specs (TOML): the shipped files, relative paths, and every kind of bad spec named."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hbm.workflow.specs import ModelSpec, read_spec

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_specs_read_and_point_at_existing_data(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # paths are relative to the spec file, not the working folder
    specs = {p.stem: read_spec(p) for p in sorted(MODELS.glob("*.toml"))}
    assert set(specs) >= {"schools", "eight_schools", "seed_example"}
    for spec in specs.values():
        assert spec.data.is_file(), spec.data
    assert specs["eight_schools"].se == "stderr"
    assert specs["eight_schools"].priors == {"mu": "normal(0, 5)", "tau": "halfcauchy(5)"}
    assert specs["schools"].se is None and specs["schools"].priors is None


def test_seed_example_is_the_worked_example():
    spec = read_spec(MODELS / "seed_example.toml")
    assert spec.priors == {"mu": "normal(60, 2.2360679774997896)", "tau": "1"}
    # sd sqrt(5), i.e. the variance 5 of the worked example, to the last bit
    assert float(spec.priors["mu"].split(",")[1].strip(" )")) == math.sqrt(5.0)
    assert (spec.group, spec.value) == ("school", "score")


def test_relative_data_path_is_relative_to_the_spec_file(tmp_path, monkeypatch):
    write(tmp_path / "data" / "t.csv", "g,y\na,1\n")
    spec_path = write(
        tmp_path / "models" / "deep" / "t.toml",
        'data = "../../data/t.csv"\ngroup = "g"\nvalue = "y"\n',
    )
    monkeypatch.chdir(tmp_path / "data")
    spec = read_spec(spec_path)
    assert spec.data.resolve() == (tmp_path / "data" / "t.csv").resolve()
    assert spec.name == "t"


def test_full_spec_fields(tmp_path):
    path = write(
        tmp_path / "full.toml",
        """
data = "/abs/data.parquet"
group = "school"
value = "effect"
se = "stderr"
parametrization = "noncentered"
likelihood = "sufficient"
order = "sorted"
missing = "drop"
[priors]
mu = "normal(0, 5)"
tau = 2.5
[sampling]
draws = 300
tune = 200
chains = 2
seed = 7
target_accept = 0.95
sampler = "pymc"
""",
    )
    spec = read_spec(path)
    assert spec == ModelSpec(
        path=path,
        data=Path("/abs/data.parquet"),
        group="school",
        value="effect",
        se="stderr",
        parametrization="noncentered",
        likelihood="sufficient",
        order="sorted",
        missing="drop",
        priors={"mu": "normal(0, 5)", "tau": 2.5},
        draws=300,
        tune=200,
        chains=2,
        target_accept=0.95,
        seed=7,
        sampler="pymc",
    )


def test_settings_do_not_depend_on_where_the_files_are(tmp_path):
    text = 'data = "d.csv"\ngroup = "g"\nvalue = "y"\n[sampling]\nseed = 3\n'
    a = read_spec(write(tmp_path / "a" / "x.toml", text))
    b = read_spec(write(tmp_path / "b" / "y.toml", "# a comment\n" + text))
    assert a.settings() == b.settings()
    assert "path" not in a.settings() and "data" not in a.settings()


BASE = 'data = "d.csv"\ngroup = "g"\nvalue = "y"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + 'vaule = "y"\n', r"unknown key\(s\) 'vaule' at the top level"),
        (
            BASE + "[sampling]\ndrawz = 10\nseeed = 1\n",
            r"unknown key\(s\) 'drawz', 'seeed' in \[sampling\]",
        ),
        ('group = "g"\n', r"required key\(s\) 'data', 'value' are missing"),
        (
            BASE + "[sampling]\ndraws = 'many'\n",
            r"'draws' option must be a positive integer; got 'many'",
        ),
        (
            BASE + "[sampling]\ndraws = 10.0\n",
            r"'draws' option must be a positive integer; got 10.0",
        ),
        (BASE + "[sampling]\nseed = -1\n", r"\[sampling\] seed must be an integer >= 0; got -1"),
        (
            BASE + "[sampling]\nseed = true\n",
            r"\[sampling\] seed must be an integer >= 0; got True",
        ),
        (BASE + "[sampling]\nsampler = 'stan'\n", r"'sampler' option must be one of"),
        (
            BASE + 'parametrization = "centred"\n',
            r"'parametrization' option must be one of .*got 'centred'",
        ),
        (BASE + "[priors]\ntau = true\n", r"\[priors\] tau must be prior text"),
        (
            BASE + 'priors = "flat"\n',
            r"'priors' must be a \[priors\] table or one of 'default', 'seed'",
        ),
        (BASE + "sampling = 3\n", r"'sampling' must be a \[sampling\] table"),
        ('data = "d.csv"\ngroup = 5\nvalue = "y"\n', r"'group' must be a non-empty text; got 5"),
        (BASE + "[priors\n", r"not valid TOML"),
    ],
)
def test_bad_specs_are_named(tmp_path, text, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ValueError, match=message) as error:
        read_spec(path)
    assert str(error.value).startswith(str(path))


def test_missing_spec_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_spec(tmp_path / "nope.toml")


def test_non_utf8_spec(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00data")
    with pytest.raises(ValueError, match="not a TOML text file"):
        read_spec(path)


def test_preset_name_may_stand_for_the_priors_table(tmp_path):
    spec = read_spec(write(tmp_path / "p.toml", BASE + 'priors = "seed"\n'))
    assert spec.priors == "seed"
