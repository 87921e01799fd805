"""The rig's own cost on the simulated bench, each figure next to a baseline from the same run.

Run: ``.venv/bin/python benchmarks/bench_rig.py``.

1. Overhead per acquired block: the same stretch of virtual time (a 10 Hz,
   six-channel scan running, the unit powered) advanced in 1 s blocks, once with
   the rig's acquisition fetching, parsing and journaling every block (fsync
   included) and once with the clock steps alone. The difference per block is
   what the rig adds; the ratio says how much of the block time is the rig's.
2. The SHOCK test of the plan, run as the line runs it (``pytest test_plans``):
   virtual seconds per wall second of the test itself (preconditioning of the
   phantom to 33 °C included), against real time. Target: at least 200×.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rig.acquisition import Acquisition, PollRates, ScanPlan  # noqa: E402
from rig.clock import LockstepClock  # noqa: E402
from rig.instruments.connect import open_logger, open_supply  # noqa: E402
from rig.recording import RunMetadata, RunRecorder  # noqa: E402
from rig.simlink import SimBenchProcess  # noqa: E402

SHOCK_TARGET = 200.0
SCAN = ScanPlan((101, 102, 103, 104, 105), (110,), 0.1, 0.2)


def _bench(sim: SimBenchProcess):
    clock = LockstepClock(sim)
    logger = open_logger(sim.resources["logger"], clock=clock, expect_serial=None)
    supply = open_supply(sim.resources["supply"], clock=clock, expect_serial=None)
    supply.current_limit_a = 1.6
    supply.voltage_setpoint_v = 24.0
    supply.output_enabled = True
    return clock, logger, supply


def block_overhead(blocks: int) -> tuple[float, float]:
    """Wall seconds per 1 s block with acquisition and with clock steps alone."""
    with tempfile.TemporaryDirectory() as tmp, SimBenchProcess("--seed", "1") as sim:
        clock, logger, supply = _bench(sim)
        rec = RunRecorder.create(RunMetadata(unit_serial="BENCH"), tmp)
        rates = PollRates(logger_s=1.0, supply_s=1.0, unit_s=1.0)
        acq = Acquisition(clock, rec, logger=logger, supply=supply, slow=rates, fast=rates)
        acq.start(SCAN)
        clock.sleep(5.0)  # warm
        t0 = time.perf_counter()
        clock.sleep(float(blocks), step_s=1.0)
        with_acq = (time.perf_counter() - t0) / blocks
        acq.stop()
        rec.finish("PASS")
        logger.start()  # the same scan keeps running on the bench, nobody fetches it
        t0 = time.perf_counter()
        clock.sleep(float(blocks), step_s=1.0)
        bare = (time.perf_counter() - t0) / blocks
        for inst in (logger, supply):
            inst.close()
    return with_acq, bare


def shock_speed() -> tuple[float, float, float]:
    """(virtual s, wall s, ratio) of test_shock in a real plan run."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "test_plans",
                "-q",
                "-p",
                "no:cacheprovider",
                "--rig",
                "sim",
                "--out",
                tmp,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise SystemExit(f"the plan did not pass:\n{proc.stdout[-3000:]}")
        (run,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        events = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]

    def at(kind: str) -> dict:
        return next(e for e in events if e.get("kind") == kind and "test_shock" in e["test"])

    start, end = at("test_start"), at("test_end")
    virtual = end["t"] - start["t"]
    wall = (_wall(end["wall"]) - _wall(start["wall"])).total_seconds()
    return virtual, wall, virtual / wall


def _wall(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> int:
    with_acq, bare = block_overhead(300)
    print(f"block     with acquisition      : {with_acq * 1e3:8.2f} ms wall per 1 s block")
    print(f"          clock steps alone     : {bare * 1e3:8.2f} ms wall per 1 s block")
    print(
        f"          rig overhead per block: {(with_acq - bare) * 1e3:8.2f} ms "
        f"({with_acq / bare:.2f} x the bare block)"
    )
    virtual, wall, ratio = shock_speed()
    verdict = "meets" if ratio >= SHOCK_TARGET else "MISSES"
    print(f"shock     test_shock            : {virtual:8.1f} s virtual in {wall:.2f} s wall")
    print(
        f"          speed                 : {ratio:8.0f} x real time "
        f"({verdict} the {SHOCK_TARGET:.0f} x target)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
