"""The simulated bench, driven the way an outside client would drive a real one.

These tests use only pyvisa (pyvisa-py), pyserial and the standard library,
none of the rig's own drivers or codecs: they check the bench against the
contract in ``shared/specs/bench.md`` and ``service-port.md`` as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import pyvisa
import serial

from rig.sim.profile import CATALOG_DIR
from tests.sim.outside import crc16
from tests.sim.simproc import SimProcess

pytestmark = pytest.mark.timeout(240)


class ServicePort:
    """A minimal independent client of the unit's service port."""

    def __init__(self, sim: SimProcess, url: str) -> None:
        self.sim = sim
        self.port = serial.serial_for_url(url, baudrate=115200, timeout=2.0)
        self.port.reset_input_buffer()
        self.seq = 0

    def query(self, payload: str, *, sequenced: bool = False) -> str:
        if sequenced:
            self.seq += 1
            payload = f"{payload} #{self.seq}"
        raw = payload.encode()
        self.port.write(b"$" + raw + b"*" + f"{crc16(raw):04X}".encode() + b"\r\n")
        line = self.port.readline()
        assert line.endswith(b"\r\n"), f"no reply to {payload!r}: {line!r}"
        body, crc = line[1:-2].rsplit(b"*", 1)
        assert line[:1] == b"$" and int(crc, 16) == crc16(body), line
        return body.decode()

    def close(self) -> None:
        self.port.close()


@dataclass
class Bench:
    sim: SimProcess
    rm: pyvisa.ResourceManager
    logger: pyvisa.resources.MessageBasedResource
    supply: pyvisa.resources.MessageBasedResource
    stage: pyvisa.resources.MessageBasedResource
    unit: ServicePort
    notes: dict = field(default_factory=dict)

    def logger_error_free(self) -> None:
        assert self.logger.query("SYST:ERR?").startswith("+0,"), "logger error queue not empty"

    def measure_surface(self) -> float:
        """One reading of channel 101 in lockstep.

        The reading takes virtual time, so: configure and INITiate, confirm with a
        query on the same connection that the logger has them (ADVANCE does not
        wait for writes in flight elsewhere), advance, then FETCh?.
        """
        self.logger.write("CONF:TEMP TC,T,(@101);:TRIG:SOUR IMM;COUN 1;:INIT")
        self.logger_error_free()
        self.sim.advance(0.1)
        return float(self.logger.query("FETC?"))


def open_bench(*args: str) -> Bench:
    sim = SimProcess(*args)
    res = sim.resources
    rm = pyvisa.ResourceManager("@py")

    def inst(name: str, term: str) -> pyvisa.resources.MessageBasedResource:
        r = rm.open_resource(res[name], read_termination=term, write_termination=term)
        r.timeout = 5000
        return r

    bench = Bench(
        sim,
        rm,
        inst("logger", "\n"),
        inst("supply", "\n"),
        inst("stage", "\r\n"),
        ServicePort(sim, res["device"]),
    )
    return bench


def close_bench(b: Bench) -> None:
    for r in (b.logger, b.supply, b.stage):
        r.close()
    b.rm.close()
    b.unit.close()
    assert b.sim.close() == 0


def power_and_condition(b: Bench, surface_target: float = 33.0) -> float:
    """Power the unit and bring the phantom surface to the target through the stage."""
    assert b.logger.query("*IDN?").startswith("Keysight Technologies,DAQ970A,")
    assert b.supply.query("*IDN?").startswith("Keysight Technologies,E36313A,")
    assert b.stage.query("*IDN?").startswith("Arroyo 5305 ")
    b.supply.write("VOLT 24,(@2)")
    b.supply.write("CURR 1.5,(@2)")
    b.supply.write("OUTP ON,(@2)")
    assert b.supply.query("SYST:ERR?").startswith("+0,")
    setpoint = surface_target + 2.3  # the surface sits ~15 % of the way from plate to room
    b.stage.write("TEC:MODE:T")
    b.stage.write(f"TEC:T {setpoint:.2f}")
    b.stage.write("TEC:OUT 1")
    assert b.stage.query("ERRSTR?") == "0"
    previous = b.measure_surface()
    for _ in range(60):  # wait for the phantom to settle, then trim the setpoint
        b.sim.advance(60.0)
        surface = b.measure_surface()
        if abs(surface - previous) < 0.03:
            if abs(surface - surface_target) < 0.15:
                return surface
            setpoint += (surface_target - surface) / 0.85
            b.stage.write(f"TEC:T {setpoint:.2f}")
            assert b.stage.query("ERRSTR?") == "0"
        previous = surface
    raise AssertionError(f"phantom surface did not settle: {surface:.2f} °C")


def start_scan(b: Bench, interval_s: float, count: int) -> None:
    for cmd in (
        "*CLS",
        "CONF:TEMP TC,T,(@101)",
        "CONF:VOLT:DC (@110)",
        "TEMP:NPLC 0.2,(@101)",
        "VOLT:DC:NPLC 0.2,(@110)",
        "ROUT:SCAN (@101,110)",
        "FORM:READ:TIME ON",
        "FORM:READ:CHAN ON",
        "TRIG:SOUR TIM",
        f"TRIG:TIM {interval_s}",
        f"TRIG:COUN {count}",
        "INIT",
    ):
        b.logger.write(cmd)
    b.logger_error_free()


def read_block(b: Bench) -> list[tuple[float, float, int]]:
    text = b.logger.query("R?")
    assert text.startswith("#")
    n = int(text[1])
    length = int(text[2 : 2 + n]) if n else 0
    data = text[2 + n : 2 + n + length]
    if not data:
        return []
    fields = data.split(",")
    return [
        (float(fields[i]), float(fields[i + 1]), int(float(fields[i + 2])))
        for i in range(0, len(fields), 3)
    ]


def channel(rows: list[tuple[float, float, int]], ch: int) -> tuple[np.ndarray, np.ndarray]:
    sel = [(t, v) for v, t, c in rows if c == ch]
    arr = np.array(sel)
    return arr[:, 0], arr[:, 1]


def test_shock_on_a_nominal_unit_in_lockstep() -> None:
    b = open_bench("--seed", "7")
    try:
        surface = power_and_condition(b)
        assert abs(surface - 33.0) <= 0.3
        assert b.unit.query("ID?") == "OK INSTANTCRYO,IC-1,SIM-0001,2.3.1"
        assert b.unit.query("STATE?").split()[1] == "IDLE"
        assert b.unit.query("CLOCK?").startswith("OK ")

        start_scan(b, 0.02, 3000)
        b.sim.advance(1.0)
        assert b.unit.query("SHOCK 4 30", sequenced=True) == "OK"
        rows: list[tuple[float, float, int]] = []
        currents: list[tuple[float, float]] = []
        scan_t0 = b.sim.time() - 1.0
        idle_steps = 0
        for _ in range(600):  # 0.1 s steps, up to 60 s, and 3 s once back in IDLE
            b.sim.advance(0.1)
            currents.append((b.sim.time() - scan_t0, float(b.supply.query("MEAS:CURR? (@2)"))))
            rows.extend(read_block(b))
            if b.unit.query("STATE?").split()[1] == "IDLE":
                idle_steps += 1
                if idle_steps == 30:
                    break
        log = []
        since = 0
        while True:
            page = b.unit.query(f"LOG? {since}").split(";")
            entries = [tuple(e.split(",")) for e in page[1:]]
            log.extend((int(ms), float(r), int(v)) for ms, r, v in entries)
            if len(entries) < 20:
                break
            since = int(entries[-1][0]) + 1
        events = b.unit.query("EVENTS? 0")
    finally:
        close_bench(b)

    t_ref, ref = channel(rows, 101)
    t_vs, vs = channel(rows, 110)
    opened = np.flatnonzero(vs > 1.2)
    assert opened.size, "valve-sense never showed the valve open"
    t_open = t_vs[opened[0]]
    t_close = t_vs[opened[-1] + 1]
    assert np.all(vs[opened[0] : opened[-1] + 1] > 1.2), "valve-sense must be one open pulse"

    before = ref[t_ref <= t_open]
    assert abs(before[-1] - 33.0) <= 0.35  # surface at 33 °C when the valve opens
    reached = np.flatnonzero((t_ref > t_open) & (ref <= 5.0))
    assert reached.size, "reference surface never reached 5.0 °C"
    t_cool = t_ref[reached[0]] - t_open
    print(
        f"\nSHOCK: 33 -> 5.0 °C in {t_cool:.2f} s after the valve opened; "
        f"valve open {t_close - t_open:.2f} s; min ref {ref.min():.2f} °C"
    )
    assert 16.0 <= t_cool <= 26.0, f"33 → 5 °C took {t_cool:.2f} s"

    # The unit closes the valve when its own reading reaches the 4 °C target.
    assert "treatment_end,target" in events
    log_t = np.array([e[0] for e in log]) / 1000.0
    log_r = np.array([e[1] for e in log])
    log_v = np.array([e[2] for e in log])
    open_rows = np.flatnonzero(log_v == 1)
    last_open, first_closed = open_rows[-1], open_rows[-1] + 1
    assert log_r[last_open] > 4.0 and log_r[first_closed] <= 4.05
    assert np.all(log_r[open_rows] > 4.0)
    # ...and the valve-sense channel agrees with the unit's log on the open duration.
    unit_open = log_t[first_closed] - log_t[open_rows[0]]
    assert abs((t_close - t_open) - unit_open) < 0.25

    # The supply current follows the valve: coil current while open, idle while closed.
    cur_t = np.array([c[0] for c in currents])
    cur = np.array([c[1] for c in currents])
    during = (cur_t > t_open + 0.05) & (cur_t < t_close - 0.05)
    after = cur_t > t_close + 0.05
    assert during.sum() > 100 and after.sum() > 5
    assert np.all((cur[during] >= 0.55) & (cur[during] <= 1.00))
    assert np.all(cur[after] <= 0.15)


def cool_until_cutoff(profile: Path | None, seed: int) -> tuple[float, float, float]:
    """Service-mode continuous cooling; returns (min surface before cutoff, min overall,
    unit reading at cutoff) from the simulation's true state."""
    args = ["--seed", str(seed)] + (["--unit-profile", str(profile)] if profile else [])
    b = open_bench(*args)
    try:
        power_and_condition(b)
        assert b.unit.query("SERVICE 7391", sequenced=True) == "OK"
        assert b.unit.query("SVC COOL 60", sequenced=True) == "OK"
        before_cutoff = []
        overall = []
        state = "SERVICE"
        for _ in range(4000):  # 20 ms steps
            b.sim.advance(0.02)
            s = b.sim.true_f("surface_c")
            overall.append(s)
            state = b.sim.true("device_state")
            if state == "CUTOFF":
                break
            before_cutoff.append(s)
        assert state == "CUTOFF", "the unit never cut off"
        reading = float(b.unit.query("TEMP?").split()[1])
        for _ in range(250):  # 5 s more: the surface turns and recovers
            b.sim.advance(0.02)
            overall.append(b.sim.true_f("surface_c"))
        assert b.unit.query("STATE?").split()[1] == "CUTOFF"
    finally:
        close_bench(b)
    return min(before_cutoff), min(overall), reading


def test_sluggish_sensor_lets_the_surface_over_cool_a_nominal_one_does_not() -> None:
    sluggish = CATALOG_DIR / "sluggish-sensor.yaml"
    min_before, min_all, _ = cool_until_cutoff(sluggish, seed=3)
    _, nom_all, _ = cool_until_cutoff(None, seed=3)
    print(
        f"\nsluggish: min surface before cutoff {min_before:.2f} °C (overall {min_all:.2f}); "
        f"nominal: min surface {nom_all:.2f} °C"
    )
    assert min_before < 0.0, f"sluggish sensor: surface only reached {min_before:.2f} °C"
    assert nom_all > 1.0, f"nominal unit: surface fell to {nom_all:.2f} °C"
