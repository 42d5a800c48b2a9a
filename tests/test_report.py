"""report.html / report.md: content in the reader's order, labels escaped, self-contained, and
rendered by a real browser (headless Chromium) into a picture that is not blank."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.cli import main
from hbm.reporting.report import render_markdown, render_report

BOLD, QUOTED = "<b>North</b>", 'O\'Brien & "Sons"'
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECTIONS = [
    "In brief",
    "Data",
    "Model and priors",
    "Posterior summary",
    "Shrinkage",
    "League table",
    "Complete, no and partial pooling",
    "Posterior predictive check",
    "Predictive accuracy (leave-one-out)",
    "Trace and rank plots",
    "Diagnostics",
    "What ran",
]


def _rows_table() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    sizes = {BOLD: 12, QUOTED: 5, "$x$": 3, "Plain": 20, "Solo": 1, "Big": 40}
    labels = np.repeat(list(sizes), list(sizes.values()))
    centre = dict(zip(sizes, [62.0, 55.0, 60.0, 58.0, 66.0, 61.0], strict=True))
    return pd.DataFrame({"school": labels, "score": [rng.normal(centre[s], 10.0) for s in labels]})


@pytest.fixture(scope="module")
def rows_fit():
    return hbm.fit(
        _rows_table(),
        group="school",
        value="score",
        random_seed=2,
        draws=300,
        tune=300,
        chains=2,
        progressbar=False,
    )


@pytest.fixture(scope="module")
def summaries_fit():
    table = hbm.datasets.load("eight_schools")
    table["school"] = [BOLD, QUOTED, *table["school"][2:]]
    return hbm.fit(
        table,
        group="school",
        value="effect",
        se="stderr",
        random_seed=2,
        draws=300,
        tune=300,
        chains=2,
        progressbar=False,
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parsed(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def test_html_report_is_ordered_escaped_and_self_contained(rows_fit):
    html = render_report(rows_fit)
    parsed = _parsed(html)
    text = "".join(parsed.text)
    assert BOLD in text and QUOTED in text and "$x$" in text  # shown as text ...
    assert "b" not in parsed.tags  # ... never as markup
    assert "&lt;b&gt;North&lt;/b&gt;" in html and "O&#x27;Brien &amp; &quot;Sons&quot;" in html
    # Verdict and advice first, then the sections in the reader's order.
    assert re.findall(r"<h2>(.*?)</h2>", html) == SECTIONS
    assert html.index("Verdict: ") < html.index("<h2>In brief</h2>")
    # Self-contained: seven inline PNGs, no address to load anything from, a CSP that forbids it.
    assert html.count('src="data:image/png;base64,') == 7
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", html)
    assert "http://" not in html and "https://" not in html and "@import" not in html
    assert "default-src 'none'" in html
    assert "icc" in text and "P(best)" in text and "nutpie" in text


def test_markdown_report_escapes_labels_and_links_the_shrinkage_png(rows_fit, tmp_path):
    path = rows_fit.report(tmp_path / "report.md")
    text = path.read_text(encoding="utf-8")
    assert "&lt;b&gt;North&lt;/b&gt;" in text and BOLD not in text
    assert 'O\'Brien &amp; "Sons"' in text and "\\$x\\$" not in text  # $ needs no escape in md
    assert text.startswith("# hbm report: score by school\n\n> **Verdict: ")
    assert "![shrinkage plot](shrinkage.png)" in text
    assert (tmp_path / "shrinkage.png").read_bytes().startswith(b"\x89PNG")
    assert "| school | n | raw mean |" in text
    assert render_markdown(rows_fit) == text  # same content on every call


def test_summaries_report_says_why_there_is_no_icc(summaries_fit):
    text = "".join(_parsed(render_report(summaries_fit)).text)
    assert "summaries form does not estimate" in text
    assert BOLD in text


def test_fixed_tau_report_has_no_warnings_and_no_tau_trace():
    table = _rows_table()
    fixed = hbm.fit(
        table,
        group="school",
        value="score",
        priors={"tau": "3"},
        random_seed=1,
        draws=200,
        tune=200,
        chains=2,
        progressbar=False,
    )
    html = render_report(fixed)  # pytest turns any warning into an error
    assert "fixed at 3" in html


def test_fit_methods_and_notebook_view(rows_fit):
    table = rows_fit.shrinkage()
    assert table.index.name == "school" and BOLD in table.index
    assert 0 < rows_fit.icc()["mean"] < 1
    for method in ("plot_league", "plot_pooling", "plot_ppc", "plot_trace"):
        assert getattr(rows_fit, method)().axes
    snippet = rows_fit._repr_html_()
    assert snippet.startswith('<div class="hbm">') and "Verdict: " in snippet
    assert snippet.count("data:image/png;base64,") == 1 and "&lt;b&gt;North" in snippet
    assert "b" not in _parsed(snippet).tags


def test_cli_writes_report_md_beside_report_html(tmp_path):
    out = tmp_path / "eight"
    data = tmp_path / "eight.parquet"
    hbm.datasets.load("eight_schools").to_parquet(data)
    status = main(
        [
            "fit",
            str(data),
            "--group",
            "school",
            "--value",
            "effect",
            "--se",
            "stderr",
            "--draws",
            "200",
            "--tune",
            "200",
            "--chains",
            "2",
            "--seed",
            "3",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    for name in ("report.html", "report.md", "shrinkage.png", "summary.csv", "fit.nc"):
        assert (out / name).is_file(), name
    assert "![shrinkage plot](shrinkage.png)" in (out / "report.md").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".eight*"))  # no staging folder left behind


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "headless Chromium is not installed and this environment could not install it "
            "(Debian package 'chromium'; .ci/run installs it when apt-get can run as root)"
        )
    return found


@pytest.mark.slow
@pytest.mark.parametrize("which", ["rows_fit", "summaries_fit"])
def test_chromium_renders_the_report(which, request, tmp_path):
    """Render report.html in headless Chromium: the screenshot is not blank and the DOM holds
    the nasty labels as text, not as elements."""
    from PIL import Image

    chromium = _chromium()
    page = request.getfixturevalue(which).report(tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run(
        [
            *base,
            "--hide-scrollbars",
            "--window-size=1000,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert pixels.shape[:2] == (1600, 1000)
    not_white = (pixels < 240).any(axis=2).mean()
    assert not_white > 0.03, f"only {not_white:.1%} of the screenshot is not white"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # text, tables and plot colours
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    assert "&lt;b&gt;North&lt;/b&gt;" in dom and "<b>North</b>" not in dom
    assert 'O\'Brien &amp; "Sons"' in dom
