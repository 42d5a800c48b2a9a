"""Many groups end to end: ``hbm fit`` on 100,000 and 1,000,000 groups, time split and memory.

    python bench/million.py make --groups 100000 --low 1 --high 9      # bench/data/g100000_1_9.csv
    python bench/million.py run bench/data/g100000_1_9.csv --label after
    python bench/million.py run bench/data/g1000000_1_5.csv --label after -- --keep-group-draws

``make`` writes the seeded table of ``bench/make_data.py`` (``--groups`` schools of ``--low`` to
``--high`` students; mu = 60, tau = 4, sigma = 12). ``run`` runs ``hbm fit TABLE --group school
--value score --seed 1 --quiet --out DIR`` (plus anything after ``--``) in a fresh process under
``/usr/bin/time -v`` and records, in ``bench/results/million.csv`` and as one JSON line:

- ``wall_s``, ``cpu_s`` and ``peak_mb`` (``/usr/bin/time``'s elapsed time, user + system
  seconds, and maximum resident set size; on a shared machine ``cpu_s`` is the steadier figure);
- the time split: seconds spent in each stage, each second counted once (a stage called inside
  another is taken out of the outer one's time; ``other`` is the rest: imports, the CLI, the
  report's text). Stages are found by function (see ``STAGES``); a function this hbm does not
  have is skipped, so the same harness times the code before and after a change;
- ``stage_peak_mb``: the largest resident memory seen (sampled every 20 ms) while each stage ran;
- the size of every file written to ``DIR`` (``fit_nc_mb``, ``out_mb`` for all of them);
- the 1-minute load average at the start (the machine may be shared: say so with the numbers).

The stage timer uses ``sys.monitoring`` events on the listed functions only, so the rest of the
code runs at full speed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "million.csv"

#: stage -> functions ("module:qualname") whose time counts for it.
STAGES: dict[str, tuple[str, ...]] = {
    "read": ("hbm.data.tables:read_table",),
    "reduce": ("hbm.data.grouped:grouped_data", "hbm.workflow.reduce:reduce_source"),
    "sample": ("hbm.inference.sampling:sample",),
    "restore": ("hbm.model.standardize:Standardization.restore",),
    "group_draws": (
        "hbm.workflow.fit:_add_group_means",
        "hbm.model.families.normal_conditional:group_means_from_noise",
    ),
    "group_estimates": ("hbm.results.fit_summary:fit_summary",),
    "summary": ("hbm.results.summary:posterior_summary",),
    "diagnosis": ("hbm.diagnostics.diagnosis:diagnose",),
    "league": (
        "hbm.analysis.shrinkage:_shrinkage_table",
        "hbm.analysis.league:_league",
    ),
    "pooling": ("hbm.analysis.shrinkage:_pooling_comparison",),
    "ppc": ("hbm.analysis.ppc:_posterior_predictive",),
    "log_likelihood": (
        "hbm.analysis.log_likelihood:store_log_likelihood",
        "hbm.analysis.log_likelihood:log_likelihood",
    ),
    "loo": ("hbm.analysis.loo:_loo",),
    "figures": ("hbm.reporting.figures:figure_png", "hbm.reporting.figures:render_figures"),
    "report_text": (
        "hbm.reporting.report:render_report",
        "hbm.reporting.report:render_markdown",
    ),
    "write_fit_nc": ("hbm.results.io:save_result",),
    "write_csv": ("pandas.core.generic:NDFrame.to_csv",),
}
COLUMNS = (
    "label",
    "table",
    "groups",
    "rows",
    "extra_args",
    "status",
    "wall_s",
    "cpu_s",
    "peak_mb",
    "fit_nc_mb",
    "out_mb",
    "load_1min",
    "stages_s",
    "stage_peak_mb",
    "files_mb",
    "commit",
)


def make(groups: int, low: int, high: int, folder: Path) -> Path:
    """Write the seeded table of ``groups`` schools of ``low``..``high`` students (once)."""
    sys.path.insert(0, str(HERE))
    from make_data import write_table

    path = folder / f"g{groups}_{low}_{high}.csv"
    write_table(path, groups, low, high)
    return path


class StageTimer:
    """Exclusive seconds and peak resident memory per stage, by ``sys.monitoring`` events."""

    def __init__(self, stages: dict[str, tuple[str, ...]]) -> None:
        self.stages = stages
        self.seconds: dict[str, float] = {name: 0.0 for name in stages}
        self.peak: dict[str, float] = {name: 0.0 for name in stages}
        self.stack: list[tuple[str, object]] = []
        self.last = time.perf_counter()
        self.codes: dict[object, str] = {}
        self._stop = threading.Event()

    def install(self) -> None:
        import importlib

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "hbm-bench")
        for stage, targets in self.stages.items():
            for target in targets:
                module_name, qualname = target.split(":")
                try:
                    obj: object = importlib.import_module(module_name)
                    for part in qualname.split("."):
                        obj = getattr(obj, part)
                except (ImportError, AttributeError):
                    continue
                code = getattr(obj, "__code__", None)
                if code is None:
                    continue
                self.codes[code] = stage
                mon.set_local_events(tool, code, mon.events.PY_START | mon.events.PY_RETURN)
        mon.register_callback(tool, mon.events.PY_START, self._start)
        mon.register_callback(tool, mon.events.PY_RETURN, self._end)
        mon.register_callback(tool, mon.events.PY_UNWIND, self._unwind)
        mon.set_events(tool, mon.events.PY_UNWIND)  # global only; fires on exceptions alone
        threading.Thread(target=self._watch, daemon=True).start()

    def _charge(self) -> None:
        now = time.perf_counter()
        stage = self.stack[-1][0] if self.stack else "other"
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now

    def _start(self, code: object, offset: int) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._charge()
        self.stack.append((self.codes[code], code))

    def _end(self, code: object, offset: int, *rest: object) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if self.stack and self.stack[-1][1] is code:
            self._charge()
            self.stack.pop()

    def _unwind(self, code: object, offset: int, exception: object) -> None:
        if code in self.codes:
            self._end(code, offset)

    def _watch(self) -> None:
        import psutil

        process = psutil.Process()
        while not self._stop.wait(0.02):
            rss = process.memory_info().rss / 2**20
            for stage, _ in self.stack:
                self.peak[stage] = max(self.peak[stage], rss)

    def finish(self) -> dict[str, dict[str, float]]:
        self._charge()
        self._stop.set()
        seconds = {k: round(v, 2) for k, v in self.seconds.items() if v >= 0.005}
        peak = {k: round(v) for k, v in self.peak.items() if v > 0}
        return {"seconds": seconds, "peak_mb": peak}


def child(argv: list[str], report: Path) -> int:
    """Run ``hbm`` in this process with the stage timer; write the split to ``report``."""
    timer = StageTimer(STAGES)
    timer.install()
    from hbm.cli import main

    status = main(argv)
    split = timer.finish()
    report.write_text(json.dumps(split))
    return status


def run(table: Path, label: str, extra: list[str], keep: Path | None) -> dict[str, object]:
    """``hbm fit`` on ``table`` in a fresh process; the measured row."""
    out = Path(tempfile.mkdtemp(prefix="hbm-million-")) / "out"
    report = out.parent / "stages.json"
    argv = ["fit", str(table), "--group", "school", "--value", "score", "--seed", "1"]
    argv += ["--quiet", "--out", str(out), *extra]
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "_child", str(report), *argv]
    load = os.getloadavg()[0]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    timing = _time_v(done.stderr)
    split = json.loads(report.read_text()) if report.exists() else {"seconds": {}, "peak_mb": {}}
    files = (
        {p.name: round(p.stat().st_size / 1e6, 2) for p in out.glob("*")} if out.is_dir() else {}
    )
    groups, rows = _table_size(table)
    row: dict[str, object] = {
        "label": label,
        "table": table.name,
        "groups": groups,
        "rows": rows,
        "extra_args": " ".join(extra),
        "status": "ok" if done.returncode == 0 else f"exit {done.returncode}",
        "wall_s": timing.get("wall_s"),
        "cpu_s": timing.get("cpu_s"),
        "peak_mb": timing.get("peak_mb"),
        "fit_nc_mb": files.get("fit.nc"),
        "out_mb": round(sum(files.values()), 2),
        "load_1min": round(load, 2),
        "stages_s": json.dumps(split["seconds"]),
        "stage_peak_mb": json.dumps(split["peak_mb"]),
        "files_mb": json.dumps(files),
        "commit": _commit(),
    }
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    if keep is not None and out.is_dir():
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(out, keep)
    shutil.rmtree(out.parent, ignore_errors=True)
    return row


def _time_v(stderr: str) -> dict[str, float]:
    """Wall seconds and peak MB from ``/usr/bin/time -v``'s report."""
    out: dict[str, float] = {}
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if found:
        out["peak_mb"] = round(int(found.group(1)) / 1024)
    cpu = [re.search(rf"{kind} time \(seconds\): ([\d.]+)", stderr) for kind in ("User", "System")]
    if all(cpu):
        out["cpu_s"] = round(sum(float(m.group(1)) for m in cpu if m), 1)
    found = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    if found:
        seconds = 0.0
        for part in found.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        out["wall_s"] = round(seconds, 1)
    return out


def _table_size(table: Path) -> tuple[int, int]:
    found = re.match(r"g(\d+)_(\d+)_(\d+)", table.stem)
    with table.open() as handle:
        rows = sum(1 for _ in handle) - 1
    return (int(found.group(1)) if found else 0), rows


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout.strip()


def _append(row: dict[str, object]) -> None:
    """Add ``row`` to the results (rewritten with the current columns if they changed)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    if RESULTS.exists():
        with RESULTS.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    with RESULTS.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows([*rows, row])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        sys.exit(child(sys.argv[3:], Path(sys.argv[2])))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    maker = commands.add_parser("make", help="write a seeded table")
    maker.add_argument("--groups", type=int, required=True)
    maker.add_argument("--low", type=int, default=1)
    maker.add_argument("--high", type=int, default=5)
    maker.add_argument("--folder", type=Path, default=HERE / "data")
    runner = commands.add_parser("run", help="time hbm fit on a table")
    runner.add_argument("table", type=Path)
    runner.add_argument("--label", default="")
    runner.add_argument("--keep", type=Path, help="copy the result folder here")
    runner.add_argument("--no-record", action="store_true", help="do not append to million.csv")
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = parser.parse_args(argv)
    if args.command == "make":
        print(make(args.groups, args.low, args.high, args.folder))
        return
    row = run(args.table.absolute(), args.label, extra, args.keep)
    if not args.no_record:
        _append(row)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
