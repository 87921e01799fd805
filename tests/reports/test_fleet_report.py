"""The fleet study report from a summary dict, whole or partial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.__main__ import main
from reports.eol import render_fleet_report

from .printed import past_text_width

IMG = '<img src="data:image/png;base64,'


def summary() -> dict[str, Any]:
    return {
        "units": 40,
        "seed": 7,
        "workers": 4,
        "wall_s": 312.5,
        "confusion": [
            {
                "profile": "weak-jet",
                "serial": "SIM-D-0002",
                "breaks": ["REQ-COOL-01", "REQ-COOL-02"],
                "verdict": "FAIL",
                "failed": ["REQ-COOL-01", "REQ-COOL-02"],
                "detected": True,
                "caught_by": ["REQ-COOL-01", "REQ-COOL-02"],
            },
            {
                "profile": "slow-cutoff",
                "serial": "SIM-D-0007",
                "breaks": ["REQ-SAFE-01"],
                "verdict": "PASS",
                "failed": [],
                "detected": False,
                "caught_by": [],
            },
            {
                "profile": "noisy-link",
                "serial": "SIM-D-0012",
                "breaks": ["REQ-ID-01"],
                "verdict": "ERROR",
                "failed": [],
                "detected": False,
                "outcome": "not judged (ERROR)",
                "reason": "bring-up failed: UnitTimeout: 'CLOCK?'",
                "caught_by": [],
            },
        ],
        "nominal": {
            "units": 38,
            "false_rejects": 1,
            "rate": 1 / 38,
            "rejected": [{"serial": "SIM-0031", "failed": ["REQ-COOL-02"], "run_dir": "runs/x"}],
        },
        "cpk": [
            {
                "name": "shock.time_to_target_band",
                "req": "REQ-COOL-01",
                "unit": "s",
                "n": 38,
                "mean": 23.4,
                "sd": 0.9,
                "low": None,
                "high": 30.0,
                "cpk": 2.44,
            },
            {
                "name": "shock.rate_30_to_10",
                "req": "REQ-COOL-02",
                "unit": "°C/s",
                "n": 38,
                "mean": 1.2,
                "sd": 0.1,
                "low": 1.0,
                "high": None,
                "cpk": 0.67,
                "values": [1.1, 1.2, 1.3, 1.15, 1.25],
            },
        ],
        "cycle": {
            "mean_s": 830.2,
            "p95_s": 905.0,
            "steps": [{"test": "test_plans/test_eol.py::test_shock", "mean_s": 820.5}],
            "fixed_wait_s": 0.5,
            "ratio": 1.01,
        },
    }


def test_fleet_report_renders_every_section(tmp_path: Path) -> None:
    out = render_fleet_report(summary(), tmp_path / "fleet.html")
    html = out.read_text(encoding="utf-8")
    for text in (
        "weak-jet",
        "SIM-D-0007",
        "2 defect profile(s) not detected",
        "no: missed",  # a summary from before outcomes were recorded
        "no: not judged (ERROR)",
        "bring-up failed: UnitTimeout: &#39;CLOCK?&#39;",
        "2.63 %",
        "SIM-0031",
        "shock.rate_30_to_10",
        "0.67",
        "830.2 s",
        "test_shock",
    ):
        assert text in html, text
    assert html.count(IMG) == 2  # one histogram per Cpk measurement
    assert '<tr class="fail">' in html  # the undetected defect and the incapable Cpk


def test_fleet_report_tolerates_missing_keys(tmp_path: Path) -> None:
    html = render_fleet_report({}, tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "No defect profiles in this study" in html
    partial = {
        "units": 3,
        "cpk": [{"name": "x"}],
        "nominal": {"units": 3},
        "cycle": {"steps": [{}]},
    }
    html = render_fleet_report(partial, tmp_path / "partial.html").read_text(encoding="utf-8")
    assert html.count(IMG) == 1


def test_fleet_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary()), encoding="utf-8")
    out = tmp_path / "fleet.html"
    assert main(["fleet", str(path), "--out", str(out)]) == 0
    assert "weak-jet" in out.read_text(encoding="utf-8")


def test_the_printed_fleet_report_fits_a4(tmp_path: Path) -> None:
    over = past_text_width(render_fleet_report(summary(), tmp_path / "fleet.html"))
    assert not over, over[:10]
