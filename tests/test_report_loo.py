"""The report's leave-one-out parts: the LOO summary, pooling judged by ELPD, the LOO-PIT figure,
the limit past which they are skipped, and a fit saved without a log likelihood getting one."""

from __future__ import annotations

import xarray as xr

import hbm
from hbm.cli import main
from hbm.reporting import loo_section
from hbm.reporting.report import render_markdown, render_report

QUICK = dict(draws=500, tune=500, chains=2, random_seed=2, progressbar=False)


def test_report_shows_loo_pooling_by_elpd_and_loo_pit(eight_schools):
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    html = render_report(fit)
    assert "<h2>Predictive accuracy (leave-one-out)</h2>" in html
    assert "PSIS-LOGO: each school&#x27;s whole data left out, its effect integrated out" in html
    assert "By leave-one-group-out ELPD, " in html and "complete pooling" in html
    assert "No pooling is not ranked: no pooling estimates each group" in html
    assert 'alt="leave-one-out calibration plot (LOO-PIT)"' in html
    assert html.count('src="data:image/png;base64,') == 7
    markdown = render_markdown(fit)
    assert "Leave-one-group-out ELPD " in markdown  # the In brief bullet


def test_report_skips_loo_past_its_unit_limit_and_says_so(monkeypatch, eight_schools):
    monkeypatch.setattr(loo_section, "MAX_UNITS", 5)
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    html = render_report(fit)
    assert "Not computed here for 8 groups: the report runs PSIS-LOO up to 5 units" in html
    assert "By leave-one-group-out ELPD" not in html
    assert html.count('src="data:image/png;base64,') == 6


def test_hbm_report_gives_a_fit_saved_without_log_likelihood_one(tmp_path, eight_schools, capsys):
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    full = fit.save(tmp_path / "full.nc")
    stripped = xr.open_datatree(full, engine="h5netcdf").load()
    del stripped["log_likelihood"]
    stripped.to_netcdf(tmp_path / "stripped.nc", engine="h5netcdf")
    assert main(["report", str(tmp_path / "stripped.nc"), "--out", str(tmp_path / "again")]) == 0
    again = xr.open_datatree(tmp_path / "again" / "fit.nc", engine="h5netcdf")
    assert "y_group" in again["log_likelihood"]
    assert main(["compare", str(tmp_path / "again"), str(tmp_path / "full.nc")]) == 0
    assert "groups" in capsys.readouterr().out


def test_hbm_report_of_a_saved_rows_fit_leaves_rows_out_from_its_stored_log_likelihood(tmp_path):
    """A saved fit keeps the rows' log likelihood but not the rows: the report shows LOO by rows
    (stored) and by groups, and draws the pooling ranking and LOO-PIT by groups."""
    from tests.conftest import simulate_rows

    table = simulate_rows(sizes=(6, 9, 12, 15), seed=3)
    fit = hbm.fit(table, group="group", value="y", likelihood="rows", **QUICK)
    saved = fit.save(tmp_path / "fit.nc")
    assert set(xr.open_datatree(saved, engine="h5netcdf")["log_likelihood"].data_vars) == {
        "y_group",
        "y",
    }
    assert main(["report", str(saved), "--out", str(tmp_path / "again")]) == 0
    html = (tmp_path / "again" / "report.html").read_text(encoding="utf-8")
    assert "By rows: PSIS-LOO: each row left out" in html and "By groups: PSIS-LOGO" in html
    assert "By leave-one-group-out ELPD" in html
    assert html.count('src="data:image/png;base64,') == 7
