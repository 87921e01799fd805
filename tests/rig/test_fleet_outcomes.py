"""What the fleet study says became of each defective unit: detected, or why not."""

from __future__ import annotations

import io

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
