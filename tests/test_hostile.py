"""Hostile data: labels never become file paths, every label in HTML is escaped, and loading a
saved fit never runs code from the file.
"""

from __future__ import annotations

import html
import json
import pickle
import re
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
from hbm.reporting.outputs import write_outputs

# ``hbm.fit`` is the function until something imports the submodule ``hbm.fit`` before the
# attribute was first read (hbm.load and the CLI do): then it is the module. Either way:
fit_table = getattr(hbm.fit, "fit", hbm.fit)

HBM = Path(hbm.__file__).parent
FAST = {"draws": 100, "tune": 100, "chains": 2, "random_seed": 3, "progressbar": False}
FILES = ["diagnostics.json", "fit.nc", "priors.csv", "report.html", "shrinkage.png", "summary.csv"]


def hostile_labels(where: Path) -> list[str]:
    return [
        "../../escaped",
        str(where / f"absolute-{uuid.uuid4().hex}"),
        "<script>alert('label')</script>",
        '"><img src=x onerror=alert(1)>',
        "Tom & Jerry's <b>school</b>",
        r"$\frac{1}{$ unbalanced mathtext",
        "$5 and $6",
        "C:\\temp\\con",
        "two\nlines",
        "日本語の学校",
        "%s %(x)s {0} {label}",
    ]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    cwd = base / "one" / "two"
    cwd.mkdir(parents=True)
    labels = hostile_labels(base)
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "<img src=y onerror=alert(2)> school $x$": np.repeat(labels, 3),
            "<b>score & $y$": rng.normal(size=3 * len(labels)),
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)  # "../../escaped" would land in base if a label became a path
        fit = fit_table(
            table, group="<img src=y onerror=alert(2)> school $x$", value="<b>score & $y$", **FAST
        )
        out = write_outputs(fit, base / "results")
    return base, labels, fit, out


def test_labels_never_become_paths(hostile):
    base, labels, _, _ = hostile
    outside = sorted(str(p.relative_to(base)) for p in base.rglob("*") if "results" not in p.parts)
    assert outside == ["one", "one/two"]
    inside = [p.relative_to(base / "results") for p in (base / "results").rglob("*")]
    assert set(FILES) <= {str(p) for p in inside}
    assert all(len(p.parts) == 1 and re.fullmatch(r"[a-z_]+\.[a-z]+", str(p)) for p in inside)
    assert not Path(labels[1]).exists()


def test_every_label_and_column_name_in_the_report_is_escaped(hostile):
    _, labels, fit, out = hostile
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in [*labels, fit.data.group, fit.data.value]:
        dangerous = any(c in text for c in "<>&\"'")
        if dangerous:
            assert text not in page, f"raw {text!r} in report.html"
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>school" not in page
    assert html.escape("<script>alert('label')</script>", quote=False) in page or (
        html.escape("<script>alert('label')</script>") in page
    )
    # The only tags are the report's own: no <script>, no event handlers from the data.
    assert not re.search(r"<script\b", page, flags=re.IGNORECASE)
    assert not re.search(r"<[^>]*\son\w+\s*=", page, flags=re.IGNORECASE)


def test_the_notebook_view_is_escaped_too(hostile):
    _, _, fit, _ = hostile
    snippet = fit._repr_html_()
    assert "<script>alert" not in snippet and "<img src=x" not in snippet


def test_hostile_labels_survive_a_save_and_load(hostile):
    _, labels, fit, out = hostile
    loaded = hbm.load(out / "fit.nc")
    assert list(loaded.data.labels) == labels
    assert loaded.summary()["param"].tolist() == fit.summary()["param"].tolist()


# --- loading never executes code -----------------------------------------------------------------


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def saved(hostile) -> Path:
    return hostile[3] / "fit.nc"


def _crafted(saved: Path, folder: Path, change) -> Path:
    with xr.open_datatree(saved, engine="h5netcdf") as tree:
        tree = tree.load()
    change(tree)
    path = folder / f"crafted-{uuid.uuid4().hex[:8]}.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    return path


def test_a_pickle_named_fit_nc_is_refused_unopened(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "fit.nc"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match=r"is not a readable netCDF file"):
        hbm.load(path)
    assert not marker.exists()


def _attr(name: str, value):
    def change(tree):
        tree.attrs[name] = value

    return change


def _negative_counts(tree):
    groups = tree["group_data"].to_dataset()
    groups["n"] = -groups["n"]
    tree["group_data"] = groups


CRAFTED = [
    (
        "prior text that is code",
        _attr(
            "hbm_priors",
            json.dumps({"mu": {"text": "__import__('os').system('x')", "source": "u"}}),
        ),
        r"unknown family '__import__'",
    ),
    (
        "spec with a smuggled key",
        _attr("hbm_spec", json.dumps({"group": "g", "value": "y", "__reduce__": "os.system"})),
        r"unknown key\(s\) '__reduce__'",
    ),
    ("spec that is a pickle", "pickle", r"JSON"),
    ("negative group sizes", _negative_counts, r"n must hold whole numbers >= 1"),
]


@pytest.mark.parametrize(("case", "change", "message"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_crafted_fit_files_are_refused_and_run_nothing(tmp_path, saved, case, change, message):
    marker = tmp_path / "pwned"
    if change == "pickle":
        # protocol 0 is ASCII, so it fits in a text attribute where a JSON text belongs
        change = _attr("hbm_spec", pickle.dumps(_Payload(marker), protocol=0).decode("ascii"))
    path = _crafted(saved, tmp_path, change)
    with pytest.raises(ValueError, match=message):
        hbm.load(path)
    assert not marker.exists()


def test_extra_attributes_holding_code_are_inert(tmp_path, saved):
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    path = _crafted(saved, tmp_path, _attr("note", code))
    loaded = hbm.load(path)
    assert loaded.idata.attrs["note"] == code
    assert not marker.exists()


def test_the_package_has_no_unpickling_or_eval():
    """A static check: nothing in hbm/ can turn bytes from a file into running code."""
    forbidden = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|joblib|marshal|shelve)\b"
        r"|\b(eval|exec)\(|read_pickle|allow_pickle\s*=\s*True|yaml\.load\(|pd\.eval\(",
        flags=re.MULTILINE,
    )
    hits = [
        f"{path.name}: {m.group(0).strip()}"
        for path in sorted(HBM.rglob("*.py"))
        for m in forbidden.finditer(path.read_text(encoding="utf-8"))
    ]
    assert hits == []
