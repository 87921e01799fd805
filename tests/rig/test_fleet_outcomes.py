"""What the fleet study says became of each defective unit: detected, or why not."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rig.fleet import detection_outcome
from rig.fleet_view import print_summary


def test_each_verdict_has_its_own_outcome() -> None:
    assert detection_outcome("FAIL", ["REQ-ID-01"]) == "detected"
    assert detection_outcome("FAIL", []) == "failed other requirements"
    assert detection_outcome("PASS", []) == "escaped"
    assert detection_outcome("ERROR", []) == "not judged (ERROR)"


def test_the_terminal_names_the_outcome_and_an_error_s_reason() -> None:
    row = {
        "profile": "noisy-link",
        "breaks": ["REQ-ID-01"],
        "verdict": "ERROR",
        "failed": [],
        "caught_by": [],
        "detected": False,
        "outcome": "not judged (ERROR)",
        "reason": "bring-up failed: no CLOCK? answer",
    }
    summary = {
        "confusion": [row],
        "nominal": {"units": 0, "false_rejects": 0, "rate": None, "errors": 0},
        "cpk": [],
        "cycle": {"steps": [], "mean_s": None, "p95_s": None, "fixed_wait_s": None,
                  "ratio": None, "units_per_hour": None},
        "wall_s": 1.0,
        "workers": 2,
        "escapes": 1,
        "outcomes": {"not judged (ERROR)": 1},
    }  # fmt: skip
    buf = io.StringIO()
    print_summary(Console(file=buf, width=200, color_system=None), summary)
    text = buf.getvalue()
    assert "ESCAPED" not in text  # nothing passed: it was not judged
    assert "not judged (ERROR)" in text
    assert "noisy-link not judged: bring-up failed: no CLOCK? answer" in text
    assert "defects not detected: 1 (not judged (ERROR): 1)" in text


def test_the_summary_counts_each_outcome() -> None:
    from rig.fleet import FleetUnit, UnitResult, summarize
    from rig.limits import load_limits
    from rig.station import default_limits_file

    def defect(name: str, breaks: str, verdict: str, failed: list[str], reason=None):
        unit = FleetUnit(f"SIM-D-{name}", 5, f"{name}.yaml", name, (breaks,))
        return UnitResult(unit, verdict, {}, failed, None, 1.0, 4800.0, reason=reason)

    nominal = [
        UnitResult(FleetUnit(f"SIM-N-{i}", i), v, {}, f, None, 1.0, 4800.0 + i)
        for i, (v, f) in enumerate([("PASS", []), ("PASS", []), ("FAIL", ["REQ-PWR-01"])])
    ]
    results = [
        *nominal,
        defect("weak-jet", "REQ-COOL-01", "FAIL", ["REQ-COOL-01"]),
        defect("noisy-link", "REQ-ID-01", "ERROR", [], reason="bring-up failed"),
        defect("slow-valve", "REQ-SAFE-01", "FAIL", ["REQ-HOLD-01"]),
        defect("drifted-cutoff", "REQ-SAFE-01", "PASS", []),
    ]
    s = summarize(results, limits=load_limits(default_limits_file()), seed=5, wall_s=9.0, workers=2)
    rows = {c["profile"]: c for c in s["confusion"]}
    assert rows["weak-jet"]["outcome"] == "detected" and rows["weak-jet"]["detected"]
    assert rows["noisy-link"]["outcome"] == "not judged (ERROR)"
    assert rows["noisy-link"]["reason"] == "bring-up failed"
    assert rows["slow-valve"]["outcome"] == "failed other requirements"
    assert (
        rows["drifted-cutoff"]["outcome"] == "escaped" and rows["drifted-cutoff"]["reason"] is None
    )
    assert s["escapes"] == 3
    assert s["outcomes"] == {
        "detected": 1,
        "not judged (ERROR)": 1,
        "failed other requirements": 1,
        "escaped": 1,
    }
    assert s["nominal"]["units"] == 3 and s["nominal"]["false_rejects"] == 1
    # Cycle times 4800, 4801, 4802 s: mean 4801, 95th percentile 4801.9 (interpolated).
    assert s["cycle"]["mean_s"] == pytest.approx(4801.0)
    assert s["cycle"]["p95_s"] == pytest.approx(4801.9)


def test_a_log_line_per_unit_says_when_the_study_ends() -> None:
    from rig.fleet_view import progress_line

    line = progress_line("SIM-N-0007", "PASS", 104, 416, 520.0)  # 5 s a unit so far
    assert line == "[104/416] SIM-N-0007 PASS  8:40 elapsed, about 26:00 left"
    assert progress_line("SIM-D-0001", "FAIL", 1, 3, 3725.0, "weak-jet") == (
        "[1/3] SIM-D-0001 (weak-jet) FAIL  1:02:05 elapsed, about 2:04:10 left"
    )


def test_the_study_s_exit_status() -> None:
    """0 only when every defect was detected and every unit judged: a study whose nominal
    units errored exited 0, and its --json line did not say so."""
    from rig.fleet import study_exit_status

    def summary(outcomes: dict[str, int], errors: int = 0) -> dict:
        return {"outcomes": outcomes, "nominal": {"errors": errors}}

    assert study_exit_status(summary({"detected": 15})) == 0
    assert study_exit_status(summary({"detected": 14, "escaped": 1})) == 1
    assert study_exit_status(summary({"detected": 14, "failed other requirements": 1})) == 1
    assert study_exit_status(summary({"detected": 14, "escaped": 1}, errors=3)) == 1
    assert study_exit_status(summary({"detected": 14, "not judged (ERROR)": 1})) == 2
    assert study_exit_status(summary({"detected": 15}, errors=1)) == 2
    assert study_exit_status(summary({})) == 0  # no defects asked for, none missed


def test_the_study_reads_u_as_the_record_s_u_over_k(tmp_path) -> None:
    """The resolution rule compares the spread with the standard uncertainty u = U/k."""
    import json

    from rig.fleet import _from_record

    (tmp_path / "trace.jsonl").write_text(
        '{"kind": "test_start", "test": "p.py::test_cutoff", "t": 10.0}\n'
        '{"kind": "test_end", "test": "p.py::test_cutoff", "t": 310.0}\n'
    )
    rows = [
        {"name": "cutoff.close_latency", "value": 0.03, "uncertainty": 0.008,
         "coverage_factor": 2.0},
        {"name": "sens.as_left_error_02c", "value": 0.01, "uncertainty": 0.139,
         "coverage_factor": 1.969},
        {"name": "cutoff.state", "value": "CUTOFF"},
    ]  # fmt: skip
    (tmp_path / "measurements.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    steps, values, us = _from_record(tmp_path)
    assert steps == {"test_cutoff": 300.0}
    assert values == {"cutoff.close_latency": 0.03, "sens.as_left_error_02c": 0.01}
    assert us["cutoff.close_latency"] == pytest.approx(0.004)
    assert us["sens.as_left_error_02c"] == pytest.approx(0.139 / 1.969)
