"""How long the reports take to render, part by part.

Run: ``.venv/bin/python benchmarks/bench_reports.py [RUN_DIR ...]``.

Without a run directory, the plan is run once on the simulated bench (a nominal unit,
``pytest test_plans``, into a temporary directory) and its record is used. For each
run: the first render in this process (matplotlib's import and font cache included,
what a station pays once), then the median of warm renders split into reading the
record, drawing the figures and the rest (tables, template, writing). The fleet
report is timed on a synthetic summary of eight capability figures. Target: a warm
EOL report of about eight figures in about 1.5 s.

The numbers are printed, not asserted: wall time depends on the machine and on what
else runs on it, so a bound in a test would fail for reasons that are not bugs.
"""

from __future__ import annotations

import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARM_RUNS = 5
TARGET_S = 1.5


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _plan_run(out: Path) -> Path:
    """A nominal unit's run record, made by the plan as the line makes it."""
    cmd = [sys.executable, "-m", "pytest", "test_plans", "-q", "-p", "no:cacheprovider"]
    cmd += ["--rig", "sim", "--serial", "SIM-0001", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    runs = [p for p in out.iterdir() if p.is_dir()]
    if len(runs) != 1:
        raise SystemExit(f"the plan left no run record (exit {proc.returncode}):\n{proc.stdout}")
    return runs[0]


def _warm_parts(run_dir: Path, out: Path) -> dict[str, float]:
    """One warm render end to end, and its parts timed on their own: reading the
    record, drawing the figures, laying out the template from a ready context."""
    import reports.eol as eol
    from rig.recording import load_run

    total, _ = _seconds(lambda: eol.render_eol_report(run_dir, out=out))
    load, run = _seconds(lambda: load_run(run_dir))
    figures, _ = _seconds(lambda: eol._figures(run))
    context = eol.eol_context(run)
    template = eol._environment().get_template("eol_report.html.j2")
    layout, _ = _seconds(lambda: template.render(**context))
    return {"total": total, "load": load, "figures": figures, "template": layout}


def bench_eol(run_dir: Path, out: Path) -> None:
    """Render into ``out``, not the run directory: a benchmark must not touch evidence."""
    import reports.eol as eol
    from rig.recording import load_run

    first, path = _seconds(lambda: eol.render_eol_report(run_dir, out=out))
    html = path.read_text(encoding="utf-8")
    figures = html.count('<img src="data:image/png;base64,')
    runs = [_warm_parts(run_dir, out) for _ in range(WARM_RUNS)]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rows = load_run(run_dir).samples.get("logger")
    print(f"EOL report  {run_dir.name}")
    print(f"  record      {0 if rows is None else len(rows)} logger rows, {figures} figures")
    print(f"  first       {first:6.3f} s  (first render in this process: font cache, template)")
    print(
        f"  warm        {median['total']:6.3f} s  median of {WARM_RUNS}; parts alone: "
        f"load {median['load']:.3f} s, figures {median['figures']:.3f} s "
        f"({median['figures'] / max(figures, 1):.3f} s each), template {median['template']:.3f} s"
    )
    verdict = "within" if median["total"] <= TARGET_S else "ABOVE"
    print(f"  target      {TARGET_S:.1f} s: {verdict}; file {path.stat().st_size / 1e3:.0f} kB")


def _fleet_summary(n_cpk: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    cpk = []
    for i in range(n_cpk):
        values = rng.normal(20.0 + i, 1.0, 200)
        cpk.append(
            {
                "name": f"m.{i}",
                "req": "REQ-COOL-02",
                "unit": "K",
                "n": 200,
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)),
                "low": 14.0 + i,
                "high": None,
                "cpk": 2.0,
                "values": values.tolist(),
            }
        )
    return {"units": 200, "seed": 0, "cpk": cpk, "confusion": [], "nominal": {}, "cycle": {}}


def bench_fleet(out: Path, n_cpk: int = 8) -> None:
    from reports.eol import render_fleet_report

    summary = _fleet_summary(n_cpk)
    times = [_seconds(lambda: render_fleet_report(summary, out))[0] for _ in range(3)]
    print(f"fleet report  {n_cpk} histograms: {statistics.median(times):.3f} s (median of 3)")


def main(argv: list[str]) -> None:
    imports, _ = _seconds(lambda: importlib.import_module("reports.eol"))
    print(f"import reports.eol (matplotlib, pandas, jinja2, rig): {imports:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        if argv:
            run_dirs = [Path(a) for a in argv]
        else:
            print("running the plan on the simulated bench for a run record …", flush=True)
            run_dirs = [_plan_run(Path(tmp) / "runs")]
        for run_dir in run_dirs:
            bench_eol(run_dir, Path(tmp) / "report.html")
        bench_fleet(Path(tmp) / "fleet.html")


if __name__ == "__main__":
    main(sys.argv[1:])
