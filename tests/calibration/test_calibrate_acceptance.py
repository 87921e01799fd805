"""``cryorig calibrate`` end to end on the simulated bench, as a metrologist runs it.

Each case is a separate ``cryorig calibrate`` process (the command the line runs) and is
judged on what it leaves behind: exit status, the JSON summary, the run's
``calibration.json`` and measurements, and the certificate files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from calibration.record import CalibrationRecord

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "rig" / "sim" / "profiles"
POINTS = [2.0, 4.0, 10.0, 20.0, 33.0, 40.0]

pytestmark = pytest.mark.timeout(300)


def calibrate(out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "rig.cli", "calibrate", "--out", str(out), "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert lines, proc.stdout + proc.stderr
    return proc, json.loads(lines[-1])


def record_of(summary: dict) -> CalibrationRecord:
    path = Path(summary["run_dir"]) / "calibration.json"
    return CalibrationRecord.model_validate_json(path.read_text(encoding="utf-8"))


def measurements_of(summary: dict) -> dict[str, dict]:
    path = Path(summary["run_dir"]) / "measurements.jsonl"
    rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln]
    return {r["name"]: r for r in rows}


@pytest.fixture(scope="module")
def nominal(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cal-nominal")
    proc, summary = calibrate(out, "--serial", "SIM-0001")
    return proc, summary


def test_nominal_unit_is_calibrated_and_certified(nominal) -> None:
    proc, summary = nominal
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["serial"] == "SIM-0001"
    assert summary["verdict"] == "PASS"
    assert summary["requirements"]["REQ-SENS-01"] == "PASS"
    assert summary["requirements"]["REQ-CAL-01"] == "PASS"
    cert = summary["certificate"]
    for key in ("pdf", "html", "manifest"):
        assert Path(cert[key]).is_file(), cert
    assert Path(cert["pdf"]).read_bytes().startswith(b"%PDF")


def test_nominal_as_found_adjusted_as_left(nominal) -> None:
    _, summary = nominal
    rec = record_of(summary)
    assert rec.complete
    found, left = rec.phase("as_found"), rec.phase("as_left")
    assert sorted(p.nominal_c for p in found) == POINTS
    assert sorted(p.nominal_c for p in left) == POINTS
    # Adjusted: written in service mode and read back; the fit is what was written.
    assert rec.fit is not None and rec.adjustable
    mem = rec.memory
    assert mem is not None and mem.read_back == mem.written
    assert mem.written.gain == pytest.approx(rec.fit.gain, abs=5e-7)
    assert mem.written.offset_c == pytest.approx(rec.fit.offset_c, abs=5e-5)
    assert mem.written.cert_id == rec.certificate_id
    # As left: within ±0.5 °C at every point, with U (95 %) ≤ 0.25 °C.
    for p in left:
        assert abs(p.error_c) <= 0.5, p
        assert p.budget.expanded_uncertainty_c <= 0.25, p
        # δI_rep is one reading's scatter about the mean error: a nominal sensor's 0.03 °C
        # noise, and the reference's, not the plateau's movement (common to both).
        assert p.window.difference_sd_c is not None and p.window.difference_sd_c < 0.06, p
        assert p.budget.coverage_probability == 0.95
        assert p.decision.result == "PASS"
        # The plateau is where the protocol put it, and the reference measured it.
        assert abs(p.window.reference_c - p.nominal_c) <= 0.5
    # The as-left error is what the unit now reads minus the reference, not the fit.
    for p in left:
        assert p.error_c == pytest.approx(p.window.indicated_c - p.window.reference_c, abs=1e-9)


def test_reference_uncertainty_is_realistic_for_a_type_t_system(nominal) -> None:
    """The budget's reference component comes from a certificate with U ≥ 0.10 °C (k = 2)."""
    _, summary = nominal
    run_dir = Path(summary["run_dir"])
    station = yaml.safe_load((run_dir / "station.yaml").read_text(encoding="utf-8"))
    ref = next(ch for ch in station["channels"].values() if ch.get("role") == "ref_surface")
    assert ref["u_c"] * ref["k"] >= 0.10 and ref["k"] == 2.0
    rec = record_of(summary)
    for p in rec.points:
        rows = {r.symbol: r for r in p.budget.rows}
        cal = [r for r in p.budget.rows if "calibration" in r.name.lower() and r.type == "B"]
        assert cal, [r.name for r in p.budget.rows]
        assert max(r.standard_uncertainty for r in cal) == pytest.approx(ref["u_c"], rel=1e-9)
        assert len(rows) == 8  # calibration/budget.py: the model has eight inputs


def test_cal01_shown_after_power_cycle_and_reboot(nominal) -> None:
    _, summary = nominal
    rec = record_of(summary)
    mem = rec.memory
    assert mem.result == "PASS"
    assert mem.after_power_cycle == mem.written
    assert mem.after_reboot == mem.written
    meas = measurements_of(summary)
    for name in (
        "calmem.readback_identical",
        "calmem.survives_power_cycle",
        "calmem.survives_reboot",
    ):
        assert meas[name]["verdict"] == "PASS"
    # The power cycle really went through the supply: its output was off for a while.
    import pandas as pd

    supply = pd.read_csv(Path(summary["run_dir"]) / "samples" / "supply.csv")
    assert (supply["voltage_v"] < 1.0).any()


def test_as_left_measurements_carry_their_U_and_the_guarded_rule(nominal) -> None:
    _, summary = nominal
    meas = measurements_of(summary)
    for point in POINTS:
        m = meas[f"sens.as_left_error_{round(point):02d}c"]
        assert m["req"] == "REQ-SENS-01"
        assert 0 < m["uncertainty"] <= 0.25
        assert "guard band U" in m["limit_text"]
        assert m["verdict"] == ("PASS" if abs(m["value"]) <= 0.5 - m["uncertainty"] else "FAIL")


def test_out_of_adjustment_unit_fails_sens01_with_the_reason(tmp_path: Path) -> None:
    proc, summary = calibrate(
        tmp_path, "--serial", "SIM-D-0006", "--unit-profile",
        str(CATALOG / "sensor-out-of-adjustment.yaml"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["verdict"] == "FAIL"
    assert summary["requirements"]["REQ-SENS-01"] == "FAIL"
    assert "REQ-SENS-01" in summary["failed"]
    rec = record_of(summary)
    assert not rec.adjustable
    assert "gain" in rec.adjustment_reason and "outside 0.9–1.1" in rec.adjustment_reason
    assert rec.phase("as_left") == []
    gain = measurements_of(summary)["sens.fit_gain"]
    assert gain["verdict"] == "FAIL" and "not adjustable" in gain["notes"]
    # Nothing out of range was written: the memory holds the as-found coefficients.
    assert rec.memory.written.gain == rec.as_found_coefficients.gain
    # A certificate still states the non-conformity.
    assert Path(summary["certificate"]["pdf"]).is_file()


def test_a_noisy_skin_sensor_fails_sens01(tmp_path: Path) -> None:
    """Readings scattering 0.3 °C (ten times nominal): the mean errors are within ±0.2 °C,
    but about one reading in nine is more than 0.5 °C off, and REQ-SENS-01 judges each
    reading. Before the budget took one indication's scatter, this unit PASSed."""
    profile = tmp_path / "noisy.yaml"
    profile.write_text("serial: SIM-Q-0010\nparams: {sensor_noise_c: 0.3}\n", encoding="utf-8")
    proc, summary = calibrate(
        tmp_path / "out", "--serial", "SIM-Q-0010", "--unit-profile", str(profile)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["requirements"]["REQ-SENS-01"] == "FAIL"
    left = record_of(summary).phase("as_left")
    assert len(left) == len(POINTS)
    for p in left:
        assert abs(p.error_c) < 0.25, p
        assert p.window.difference_sd_c is not None and p.window.difference_sd_c > 0.2
        assert p.budget.expanded_uncertainty_c > 0.5
        assert p.decision.result == "FAIL"


def test_a_unit_that_is_not_the_one_named_gets_no_certificate(tmp_path: Path) -> None:
    """The certificate names the unit that answers ID?; the run and the MES line name the
    label. Before, a PASS for label SIM-X-0002 came with a certificate for SIM-X-0001."""
    profile = tmp_path / "unit.yaml"
    profile.write_text("serial: SIM-X-0001\nparams: {}\n")
    out = tmp_path / "runs"
    proc, summary = calibrate(out, "--serial", "SIM-X-0002", "--unit-profile", str(profile))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert summary["verdict"] == "ERROR"
    assert summary["certificate"] is None
    assert summary["requirements"]["REQ-SENS-01"] == "ERROR"
    assert (
        "answers serial 'SIM-X-0001' to ID?, the label scanned is 'SIM-X-0002'"
        in (summary["reason"])
    )
    run_dir = Path(summary["run_dir"])
    assert not (run_dir / "certificate").exists()
    assert not (run_dir / "calibration.json").exists()


def test_failing_memory_fails_cal01(tmp_path: Path) -> None:
    proc, summary = calibrate(
        tmp_path, "--serial", "SIM-D-0011", "--unit-profile",
        str(CATALOG / "failing-calibration-memory.yaml"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["requirements"]["REQ-CAL-01"] == "FAIL"
    assert summary["requirements"]["REQ-SENS-01"] == "PASS"
    rec = record_of(summary)
    assert rec.memory.read_back == rec.memory.written  # from RAM
    assert rec.memory.after_power_cycle != rec.memory.written  # the memory lost it


def _copy_without_certificate(run_dir: Path, dest: Path) -> Path:
    copy = dest / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("certificate"))
    for p in copy.rglob("*"):  # issued files are read-only; the copy must be editable
        p.chmod(0o755 if p.is_dir() else 0o644)
    return copy


@pytest.mark.parametrize("how", ["reference overdue", "QA override of an overdue reference"])
def test_a_reference_out_of_calibration_never_gets_a_certificate(
    nominal, tmp_path: Path, how: str
) -> None:
    """A calibration whose reference was not within its calibration (even run under a QA
    override, a recorded deviation) is never certified: `cryorig certificate` refuses,
    writes nothing, and the line's runner turns such a run into an ERROR."""
    _, summary = nominal
    copy = _copy_without_certificate(Path(summary["run_dir"]), tmp_path)
    path = copy / "calibration.json"
    rec = json.loads(path.read_text(encoding="utf-8"))
    if how == "reference overdue":
        rec["references"][0]["calibrated"] = "2024-01-10"
        rec["references"][0]["due"] = "2025-01-10"
    else:
        rec["deviations"].append(
            "calibration overdue: channels.101: QA override, reference certificate renewal"
        )
    path.write_text(json.dumps(rec), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "rig.cli", "certificate", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "refused" in (proc.stdout + proc.stderr).lower()
    cert_dir = copy / "certificate"
    assert not cert_dir.exists() or not any(cert_dir.iterdir())

    from rig.runner import RunOutcome, issue_certificate

    outcome = RunOutcome("SIM-0001", "PASS", {}, [], str(copy), None)
    issue_certificate(outcome, None)
    assert outcome.certificate is None
    assert outcome.certificate_note and "no certificate issued" in outcome.certificate_note
