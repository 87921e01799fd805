"""Ctrl-C on a fleet study: it stops within seconds, not after the queue.

It used to wait for every unit already handed to the pool (a study of six units plus the
catalog ran on for 100 s after Ctrl-C) and then exit with a bare 130. Now the units not
started are dropped, the unit on each worker's bench ends ERROR with that bench safe, no
summary is written (part of a fleet is not the study), and the exit status is 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def _runs(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("fleet-*/runs/*/run.json"))]


def test_ctrl_c_stops_the_study_and_each_unit_in_progress_ends_error(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    command = [sys.executable, "-m", "rig.cli", "fleet", "--units", "4", "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job is
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("fleet-*/runs/*/trace.jsonl"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no unit started"
            time.sleep(0.05)
        time.sleep(1.0)  # both units on their benches
        children = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
        stopped = time.monotonic()
        _, err = proc.communicate(timeout=90)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, err
    assert "fleet interrupted" in err
    # Not the queue's worth of units (4 nominal + the catalog + the reference): a few s.
    assert took < 45, f"{took:.1f} s from Ctrl-C to exit"
    runs = _runs(out)
    assert runs and all(r["status"] in ("PASS", "FAIL", "ERROR") for r in runs), runs
    interrupted = [r for r in runs if r["status"] == "ERROR"]
    assert interrupted, "no unit was in progress at the interrupt"
    for r in interrupted:
        assert r["reason"].startswith("interrupted by the operator (Ctrl-C)"), r["reason"]
        counts = r["counts"]
        assert counts["acquired"] == {k: counts["samples"][k] for k in counts["acquired"]}
    assert len(runs) <= 4, "units went on starting after the interrupt"
    assert not list(out.glob("fleet-*/summary.json"))
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != "zombie"], children
