"""Performance of the simulated bench, each figure next to a baseline from the same run.

Run: ``.venv/bin/python benchmarks/bench_sim.py`` (``--quick`` for a short run).

1. Physics: implicit-Euler steps per second of the phantom network, modal form
   (what the bench uses) against a banded tridiagonal solve per step (the
   textbook implementation) on the same network and step.
2. SCPI: query round trips per second through pyvisa (pyvisa-py) to the
   simulated logger on loopback, against a bare-socket round trip to the same
   server in the same run.
3. Soak: simulated seconds per wall second for a 30-minute virtual soak with a
   10 Hz, 6-channel logger scan fetched in blocks (``R?``), the stage on and
   the unit powered and idle. Target: at least 500 × real time.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pyvisa
from scipy.linalg import solve_banded

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.sim.physics.thermal import Column, ThermalModel
from tests.sim.simproc import SimProcess

SOAK_TARGET = 500.0


def bench_physics(steps: int) -> tuple[float, float]:
    model = ThermalModel(initial_c=30.0, jet_htc_w_m2k=82.0)
    model.set_jet(0, True)
    t = 0
    start = time.perf_counter()
    for _ in range(steps):
        t += 5_000
        model.commit(t)
        model.version  # noqa: B018 - same attribute access as the bench's cache check
    modal = steps / (time.perf_counter() - start)

    # Baseline: one column of the same phantom as a banded system, solved every step.
    col = ThermalModel(
        columns=(Column("only", 0.0, 5e-3, 1.0),), lateral=False, initial_c=30.0, jet_htc_w_m2k=82.0
    )
    col.set_jet(0, True)
    n = len(col.capacity)
    dt = 0.005
    a = np.diag(col.capacity / dt) + col._laplacian + np.diag(col._b_amb + col._b_gas_on)
    ab = np.zeros((3, n))
    for i in range(n):
        for j in range(max(0, i - 1), min(n, i + 2)):
            if a[i, j] != 0.0:
                ab[1 + i - j, j] = a[i, j]
    rhs_f = col._b_amb * col.ambient_c + col._b_gas_on * col.jet_temp_c
    temps = col.temperatures()
    cap_dt = col.capacity / dt
    columns = len(model.columns)
    reps = max(1, steps // 4)
    start = time.perf_counter()
    for _ in range(reps):
        for _c in range(columns):  # the bench network has this many columns
            temps = solve_banded((1, 1), ab, cap_dt * temps + rhs_f)
    banded = reps / (time.perf_counter() - start)
    return modal, banded


def bench_scpi(sim: SimProcess, n: int) -> tuple[float, float]:
    res = sim.resources["logger"]
    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(res, read_termination="\n", write_termination="\n")
    inst.timeout = 5000
    inst.query("*IDN?")
    start = time.perf_counter()
    for _ in range(n):
        inst.query("*IDN?")
    visa = n / (time.perf_counter() - start)
    inst.close()
    rm.close()

    _, host, port, _ = res.split("::")
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    start = time.perf_counter()
    for _ in range(n):
        s.sendall(b"*IDN?\n")
        f.readline()
    bare = n / (time.perf_counter() - start)
    s.close()
    return visa, bare


def bench_soak(sim: SimProcess, virtual_s: float) -> tuple[float, int]:
    rm = pyvisa.ResourceManager("@py")
    res = sim.resources

    def inst(name: str, term: str):
        r = rm.open_resource(res[name], read_termination=term, write_termination=term)
        r.timeout = 20000
        return r

    logger, supply, stage = inst("logger", "\n"), inst("supply", "\n"), inst("stage", "\r\n")
    supply.write("VOLT 24,(@2)")
    supply.write("CURR 1.5,(@2)")
    supply.write("OUTP ON,(@2)")
    stage.write("TEC:MODE:T")
    stage.write("TEC:T 35.3")
    stage.write("TEC:OUT 1")
    stage.query("ERRSTR?")
    for cmd in (
        "CONF:TEMP TC,T,(@101:105)",
        "CONF:VOLT:DC (@110)",
        "TEMP:NPLC 0.2,(@101:105)",
        "VOLT:DC:NPLC 0.2,(@110)",
        "ROUT:SCAN (@101:105,110)",
        "FORM:READ:TIME ON",
        "FORM:READ:CHAN ON",
        "TRIG:SOUR TIM",
        "TRIG:TIM 0.1",
        f"TRIG:COUN {int(virtual_s * 10) + 10}",
        "INIT",
    ):
        logger.write(cmd)
    assert logger.query("SYST:ERR?").startswith("+0")
    readings = 0
    block_s = 10.0
    start = time.perf_counter()
    done = 0.0
    while done < virtual_s:
        sim.advance(block_s)
        done += block_s
        data = logger.query("R?")
        n = int(data[1])
        length = int(data[2 : 2 + n]) if n else 0
        body = data[2 + n : 2 + n + length]
        readings += (body.count(",") + 1) // 3 if body else 0  # value,time,channel
    wall = time.perf_counter() - start
    for r in (logger, supply, stage):
        r.close()
    rm.close()
    return virtual_s / wall, readings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs (CI smoke)")
    args = ap.parse_args()
    steps = 20_000 if args.quick else 200_000
    queries = 300 if args.quick else 3000
    soak_s = 300.0 if args.quick else 1800.0

    modal, banded = bench_physics(steps)
    print(f"physics   modal implicit Euler : {modal:12,.0f} network steps/s")
    print(f"          banded solve baseline: {banded:12,.0f} network steps/s")
    print(f"          ratio                : {modal / banded:12.2f} x")
    with SimProcess("--seed", "1") as sim:
        visa, bare = bench_scpi(sim, queries)
    print(f"scpi      pyvisa round trips   : {visa:12,.0f} /s")
    print(f"          bare socket baseline : {bare:12,.0f} /s")
    print(f"          ratio                : {visa / bare:12.2f} x")
    with SimProcess("--seed", "1") as sim:
        speed, readings = bench_soak(sim, soak_s)
    verdict = "meets" if speed >= SOAK_TARGET else "MISSES"
    print(f"soak      {soak_s / 60:.0f} min virtual, {readings} readings fetched")
    print(
        f"          simulated s per wall s: {speed:12,.0f} x real time "
        f"({verdict} the {SOAK_TARGET:.0f} x target)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
