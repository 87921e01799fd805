"""The EOL report rendered from real run records: a nominal unit's PASS and a weak
jet's FAIL, made once per module by the plan itself (``pytest test_plans``), plus the
broken records a report must survive (killed mid-run, stopped at bring-up)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports.__main__ import main
from reports.eol import REPORT_NAME, render_eol_report
from rig.recording import load_run

from .printed import past_text_width

ROOT = Path(__file__).resolve().parents[2]
WEAK_JET = ROOT / "rig" / "sim" / "profiles" / "weak-jet.yaml"
IMG = '<img src="data:image/png;base64,'

pytestmark = pytest.mark.timeout(300)


def _plan(out: Path, serial: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "pytest", "test_plans", "-q", "-p", "no:cacheprovider"]
    cmd += ["--rig", "sim", "--serial", serial, "--out", str(out), *extra]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A nominal unit and a weak jet, both plan runs at once (each on its own simulated
    bench): half the wait. The plan grows while the reports are written, so the nominal
    run is only required to have decided (PASS or FAIL); the weak jet must FAIL."""
    base = tmp_path_factory.mktemp("eol-runs")
    procs = {
        "nominal": _plan(base / "nominal", "SIM-0001"),
        "weak": _plan(base / "weak", "SIM-D-0002", "--unit-profile", str(WEAK_JET)),
    }
    allowed_exit = {"nominal": (0, 1), "weak": (1,)}
    for key, proc in procs.items():
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode in allowed_exit[key], output
    return {key: _only_run(base / key) for key in procs}


@pytest.fixture(scope="module")
def rendered(runs: dict[str, Path]) -> dict[str, str]:
    return {v: render_eol_report(d).read_text(encoding="utf-8") for v, d in runs.items()}


def _row_classes(html: str, name: str) -> str:
    """The class attribute of the measurement row of ``name``."""
    match = re.search(rf'<tr class="meas ([^"]*)" data-name="{re.escape(name)}"', html)
    assert match, f"no measurement row for {name}"
    return match.group(1)


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / REPORT_NAME).unlink(missing_ok=True)
    return dst


# --- finished runs ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["nominal", "weak"])
def test_report_carries_the_run(runs: dict[str, Path], rendered: dict[str, str], key: str) -> None:
    run = load_run(runs[key])
    html = rendered[key]
    assert (runs[key] / REPORT_NAME).is_file()
    assert run.meta["unit_serial"] in html
    verdict = run.status
    assert f'<div class="verdict {verdict.lower()}" id="verdict">{verdict}</div>' in html
    assert run.meta["run_id"] in html
    assert run.meta["limits"]["sha256"] in html
    assert run.meta["software"]["git_commit"][:12] in html
    assert run.meta["requirements"]
    for req in run.meta["requirements"]:
        assert f'<td class="mono">{req}</td>' in html
    assert not run.measurements.empty
    for name in run.measurements["name"]:
        assert f'data-name="{name}"' in html
    assert html.count(IMG) >= 2  # at least the SHOCK window and the whole run
    assert "SIM-CAL-LOGGER-2026" in html  # instruments with their certificates


@pytest.mark.parametrize("key", ["nominal", "weak"])
def test_exactly_the_failing_measurements_are_highlighted(
    runs: dict[str, Path], rendered: dict[str, str], key: str
) -> None:
    m = load_run(runs[key]).measurements
    failing = set(m.loc[m["verdict"] == "FAIL", "name"])
    for name in m["name"]:
        assert ("fail" in _row_classes(rendered[key], name).split()) == (name in failing), name


def test_weak_jet_report_shows_why_it_failed(rendered: dict[str, str]) -> None:
    html = rendered["weak"]
    assert '<div class="verdict fail" id="verdict">FAIL</div>' in html
    assert "fail" in _row_classes(html, "shock.time_to_target_band").split()
    assert "∞ s" in html  # never reached the band: inf, recorded as text
    assert "weak-jet.yaml" in html  # the simulated unit's profile
    assert "test_shock: FAIL" in html  # the failure reason, naming what failed:
    assert "test_shock: FAIL (outside limits: REQ-COOL-01 shock.time_to_target_band" in html
    assert f"{IMG}" in html and 'alt="test_shock"' in html  # the SHOCK window


def test_out_puts_the_report_elsewhere(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sub" / "eol.html"
    assert render_eol_report(runs["nominal"], out=out) == out
    assert IMG in out.read_text(encoding="utf-8")


def test_command_line_renders_a_run(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    assert main(["eol", str(runs["weak"]), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert "SIM-D-0002" in out.read_text(encoding="utf-8")


# --- broken runs ---------------------------------------------------------------------------------
def test_incomplete_run_renders_from_the_journals(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = _copy_run(runs["weak"], tmp_path / "killed")
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    meta["status"] = "RUNNING"
    for key in ("finished", "reason", "requirements", "counts"):
        meta.pop(key, None)
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    for parquet in (run_dir / "samples").glob("*.parquet"):
        parquet.unlink()

    html = render_eol_report(run_dir).read_text(encoding="utf-8")
    assert '<div class="verdict incomplete" id="verdict">INCOMPLETE</div>' in html
    assert "run.json still says RUNNING" in html
    assert "Provisional" in html
    assert "REQ-COOL-01" in html
    assert "fail" in _row_classes(html, "shock.time_to_target_band").split()
    assert html.count(IMG) >= 2


def test_run_killed_inside_a_treatment_renders(runs: dict[str, Path], tmp_path: Path) -> None:
    """The trace stops after test_shock started: the window runs to the last record."""
    run_dir = _copy_run(runs["nominal"], tmp_path / "killed-in-shock")
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    meta["status"] = "RUNNING"
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    lines = (run_dir / "trace.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"test_end"' in line and "test_shock" in line)
    (run_dir / "trace.jsonl").write_text("".join(lines[:cut]), encoding="utf-8")
    (run_dir / "measurements.jsonl").write_text("", encoding="utf-8")

    html = render_eol_report(run_dir).read_text(encoding="utf-8")
    assert "INCOMPLETE" in html
    assert "test never ended" in html
    assert "No measurements were recorded" in html


def test_bring_up_error_without_samples_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "20260101T000000Z_SIM-0009_abcdef"
    run_dir.mkdir()
    cal = {"certificate": "CAL-7", "status": "OVERRIDDEN", "override": "QA: cert in the post"}
    meta = {
        "run_id": run_dir.name,
        "status": "ERROR",
        "unit_serial": "SIM-0009",
        "station": "EOL-01",
        "reason": "logger: *IDN? serial MY000 does not match the station file",
        "requirements": {},
        "instruments": {"instruments": {"logger": {"model": "DAQ970A", "calibration": cal}}},
        "deviations": [{"item": "logger", "reason": "QA: cert in the post", "kind": "overdue"}],
    }
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    (run_dir / "measurements.jsonl").write_text("", encoding="utf-8")

    html = render_eol_report(run_dir).read_text(encoding="utf-8")
    assert '<div class="verdict error" id="verdict">ERROR</div>' in html
    assert "SIM-0009" in html
    assert "does not match the station file" in html
    assert "No measurements were recorded" in html
    assert "No samples were recorded" in html
    assert IMG not in html
    assert '<span class="badge fail">OVERRIDDEN</span>' in html
    assert "QA: cert in the post" in html


def test_text_from_the_record_is_escaped(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    meta = {"status": "ERROR", "unit_serial": "<script>alert(1)</script>", "reason": "a & b"}
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    html = render_eol_report(run_dir).read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &amp; b" in html


def test_a_figure_that_cannot_be_drawn_costs_only_that_figure(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports.plots

    def broken(*args: object, **kwargs: object) -> bytes:
        raise ValueError("damaged samples")

    monkeypatch.setattr(reports.plots, "treatment_figure", broken)
    html = render_eol_report(runs["weak"], out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "could not be drawn: ValueError: damaged samples" in html
    assert html.count(IMG) == 1  # the whole-run overview still drawn
    assert 'data-name="shock.time_to_target_band"' in html


@pytest.mark.parametrize("key", ["nominal", "weak"])
def test_printed_on_a4_nothing_runs_past_the_text_width(
    runs: dict[str, Path], key: str, tmp_path: Path
) -> None:
    """An EOL report printed for an evidence pack lost its measurements' limits, their
    uncertainty and verdict past the page's edge (the table was 310 px too wide for A4),
    and the instruments' calibration status."""
    html = render_eol_report(runs[key], out=tmp_path / "report.html")
    over = past_text_width(html)
    assert not over, over[:10]
