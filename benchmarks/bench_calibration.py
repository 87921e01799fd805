"""The calibration's virtual duration, settling detected from the data against fixed waits.

Run: ``.venv/bin/python benchmarks/bench_calibration.py [--seed N]``.

Runs the skin-sensor calibration (``cryorig calibrate``'s plan, ``test_plans/
test_02_calibration.py``) on the simulated bench twice for the same unit: once as the
suite runs it (each plateau ends when the reference and the unit's raw reading are
stable, judged from the data), once with the protocol's fixed conservative wait per
plateau (``fixed_settle_s``, the baseline). Prints each run's bench time and wall time,
and the ratio of bench times; the target is a calibration no longer than 0.6 × the
fixed-wait one. Both runs must end PASS for the figures to count. (The certificate's
rendering time is in ``benchmarks/bench_certificate.py``.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.6


def run(seed: int, out: Path, *extra: str) -> tuple[float, float, str, dict]:
    """(bench seconds of the calibration, wall seconds, verdict, calibration record)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "test_plans/test_02_calibration.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--assert=plain",
        "--rig",
        "sim",
        "--serial",
        f"SIM-{seed:04d}",
        "--seed",
        str(seed),
        "--out",
        str(out),
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    wall = time.perf_counter() - t0
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    if not runs:
        raise SystemExit(f"no run recorded:\n{proc.stdout}\n{proc.stderr}")
    run_dir = runs[-1]
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    record = json.loads((run_dir / "calibration.json").read_text(encoding="utf-8"))
    return float(record["virtual_duration_s"]), wall, meta.get("status", "?"), record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        det_s, det_wall, det_status, rec = run(args.seed, base / "detected")
        fix_s, fix_wall, fix_status, _ = run(args.seed, base / "fixed", "--fixed-settle", "900")
    ratio = det_s / fix_s
    print("calibration of the skin sensor (12 plateaus: 6 as found, 6 as left)")
    print(
        f"  settling detected from the data: {det_s:8.0f} s of bench time, "
        f"{det_wall:5.1f} s wall, {det_status}"
    )
    print(
        f"  fixed waits (baseline):          {fix_s:8.0f} s of bench time, "
        f"{fix_wall:5.1f} s wall, {fix_status}"
    )
    print(
        f"  ratio detected / fixed: {ratio:.2f}  (target ≤ {TARGET_RATIO})"
        f"  {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}"
    )
    settles = [round(p["window"]["settle_s"]) for p in rec["points"]]
    print(f"  settling per plateau (s, in order): {settles}")
    if det_status != "PASS" or fix_status != "PASS":
        raise SystemExit("a run did not pass: the figures do not count")


if __name__ == "__main__":
    main()
