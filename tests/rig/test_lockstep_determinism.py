"""A lockstep run is the same run however loaded the machine is.

Simulated time moves only when the rig advances it, so nothing the rig decides may
depend on how quickly the bench process happens to be scheduled: the unit's replies
(``SELFTEST``, the silence while it boots) and the instruments' must be found at the
same virtual instant every time. The plan's unit checks (power-up and boot, identity,
idle current, self test) run twice on the same seed, the second time with busy
processes competing for both cores; the records must agree to the sample: the
trace's step times, every sample acquired and every measurement.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rig.recording import load_run
from tests.plan_subprocess import FAST

ROOT = Path(__file__).resolve().parents[2]
HOGS = 4

pytestmark = pytest.mark.timeout(300)


def _run(out: Path) -> Path:
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_plans/test_01_unit.py", *FAST,
            "--rig", "sim", "--serial", "SIM-0001", "--seed", "7", "--out", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _timeline(run: Path) -> list[tuple[str, float]]:
    return [(e["kind"], e["t"]) for e in load_run(run).trace if "t" in e]


def test_unit_checks_identical_on_a_loaded_machine(tmp_path: Path) -> None:
    quiet = _run(tmp_path / "quiet")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
    try:
        loaded = _run(tmp_path / "loaded")
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert _timeline(loaded) == _timeline(quiet)
    a, b = load_run(quiet), load_run(loaded)
    for stream, frame in a.samples.items():
        assert frame.equals(b.samples[stream]), f"{stream} samples differ"
    cols = ["name", "value", "verdict"]
    assert a.measurements[cols].equals(b.measurements[cols])
