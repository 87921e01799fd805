"""Arroyo 5305 emulator: line protocol, error queue, and the PID on a first-order plate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from rig.sim.instruments.arroyo5305 import Arroyo5305
from rig.sim.instruments.line import LineSplitter
from rig.sim.noise import NoiseBank
from rig.sim.timebase import Scheduler

IDN = "Arroyo 5305 534017 v2.08"


@dataclass
class Plate:
    """First-order plate: dT/dt = gain·I − (T − ambient)/tau, exact between current changes."""

    temp_c: float = 22.0
    ambient_c: float = 22.0
    gain_k_per_as: float = 0.1
    tau_s: float = 100.0
    current_a: float = 0.0
    t_us: int = 0
    drives: list[tuple[int, float]] = field(default_factory=list)

    def _advance(self, t_us: int) -> None:
        dt_s = (t_us - self.t_us) / 1e6
        if dt_s > 0:
            equilibrium = self.ambient_c + self.gain_k_per_as * self.current_a * self.tau_s
            self.temp_c = equilibrium + (self.temp_c - equilibrium) * math.exp(-dt_s / self.tau_s)
            self.t_us = t_us

    def plate_sensor_c(self, t_us: int) -> float:
        self._advance(t_us)
        return self.temp_c

    def set_tec_current(self, t_us: int, amps: float) -> None:
        self._advance(t_us)
        self.current_a = amps
        self.drives.append((t_us, amps))


@pytest.fixture
def clock() -> Scheduler:
    return Scheduler()


@pytest.fixture
def plate() -> Plate:
    return Plate()


@pytest.fixture
def tec(clock: Scheduler, plate: Plate) -> Arroyo5305:
    return Arroyo5305(clock, plate, NoiseBank(2))


def test_protocol(tec: Arroyo5305, expect) -> None:
    assert tec.input_terminators == b"\r\n" and tec.output_terminator == b"\r\n"
    expect(
        tec,
        [
            ("*IDN?", IDN),
            ("TEC:MODE:T", None),
            ("TEC:MODE?", "T"),
            ("TEC:SET:T?", "25.000"),
            ("TEC:T 35.5", None),
            ("tec:set:t?", "35.500"),
            ("Tec:T 4", None),
            ("TEC:SET:T?", "4.000"),
            ("TEC:OUT?", "0"),
            ("TEC:ITE?", "0.000"),
            ("TEC:LIM:ITE?", "5.000"),
            ("TEC:LIM:ITE 2.5", None),
            ("TEC:LIM:ITE?", "2.500"),
            ("*OPC?", "1"),
            ("ERRSTR?", "0"),
            ("", None),
            ("TEC:SET:T?\r", "4.000"),
            ("  TEC:SET:T?  ", "4.000"),
        ],
    )


def test_errors_and_errstr(tec: Arroyo5305, expect) -> None:
    expect(
        tec,
        [
            ("TEC:T 60.1", None),
            ("TEC:T -20.1", None),
            ("TEC:SET:T?", "25.000"),
            ("TEC:T abc", None),
            ("TEC:T nan", None),
            ("TEC:T", None),
            ("TEC:T 1 2", None),
            ("TEC:OUT 2", None),
            ("TEC:FOO", None),
            ("TEC:OUT? 1", None),
            ("TEC:LIM:ITE 6", None),
            ("ERRSTR?", "201,Parameter out of range"),
            ("ERRSTR?", "201,Parameter out of range"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "123,Command not found"),
            ("ERRSTR?", "202,Invalid parameter"),
            ("ERRSTR?", "201,Parameter out of range"),
            ("ERRSTR?", "0"),
            ("BOGUS", None),
            ("*CLS", None),
            ("ERRSTR?", "0"),
            ("TEC:SET:T?", "25.000"),
        ],
    )


def test_error_queue_keeps_ten(tec: Arroyo5305, expect) -> None:
    for _ in range(12):
        tec.execute("NOPE", lambda _r: None)
    expect(tec, [("ERRSTR?", "123,Command not found")] * 10 + [("ERRSTR?", "0")])


def test_output_switching_and_reset(tec: Arroyo5305, clock: Scheduler, plate: Plate, expect):
    expect(tec, [("TEC:T 30", None), ("TEC:OUT 1", None), ("TEC:OUT?", "1")])
    clock.run_until(0)
    assert plate.drives == [(0, 5.0)]  # 3 A/K x 8 K, limited to 5 A
    expect(tec, [("TEC:ITE?", "5.000")])
    clock.run_until(1_000_000)
    assert [t for t, _ in plate.drives] == [k * 100_000 for k in range(11)]
    expect(tec, [("TEC:OUT OFF", None), ("TEC:OUT?", "0"), ("TEC:ITE?", "0.000")])
    assert plate.drives[-1] == (1_000_000, 0.0)
    clock.run_until(5_000_000)
    assert len(plate.drives) == 12  # no ticks while off
    expect(tec, [("TEC:OUT ON", None), ("*RST", None), ("TEC:OUT?;", None), ("TEC:OUT?", "0")])
    expect(tec, [("TEC:SET:T?", "25.000"), ("ERRSTR?", "123,Command not found")])


def test_temperature_reading_has_small_noise(tec: Arroyo5305, clock: Scheduler, plate: Plate):
    readings = []
    for k in range(50):
        clock.run_until(k * 10_000)
        replies: list[str] = []
        tec.execute("TEC:T?", replies.append)
        readings.append(float(replies[0]))
    assert all(abs(r - 22.0) < 0.015 for r in readings)
    assert len(set(readings)) > 5


def settle(tec: Arroyo5305, clock: Scheduler, plate: Plate, seconds: float) -> list[float]:
    """Run the loop, returning the plate temperature at every tick."""
    temps = []
    end = clock.now_us + round(seconds * 1e6)
    while clock.now_us < end:
        clock.run_until(clock.now_us + 100_000)
        temps.append(plate.plate_sensor_c(clock.now_us))
    return temps


@pytest.mark.parametrize("setpoint", [35.0, 10.0])
def test_pid_brings_the_plate_to_setpoint_and_holds_it(
    tec: Arroyo5305, clock: Scheduler, plate: Plate, setpoint: float
) -> None:
    tec.execute(f"TEC:T {setpoint}", lambda _r: None)
    tec.execute("TEC:OUT 1", lambda _r: None)
    temps = settle(tec, clock, plate, 600.0)
    assert abs(temps[-1] - setpoint) < 0.02
    assert all(abs(t - setpoint) < 0.05 for t in temps[-1000:])  # the last 100 s
    sign = 1.0 if setpoint > plate.ambient_c else -1.0
    assert max(sign * (t - setpoint) for t in temps) < 0.5  # overshoot
    assert all(abs(amps) <= 5.0 for _, amps in plate.drives)
    replies: list[str] = []
    tec.execute("TEC:T?", replies.append)
    tec.execute("TEC:ITE?", replies.append)
    assert float(replies[0]) == pytest.approx(setpoint, abs=0.03)
    needed = (setpoint - plate.ambient_c) / (plate.gain_k_per_as * plate.tau_s)
    assert float(replies[1]) == pytest.approx(needed, abs=0.01)


def test_integrator_does_not_wind_up_while_saturated(
    tec: Arroyo5305, clock: Scheduler, plate: Plate
) -> None:
    plate.gain_k_per_as = 0.01  # at 5 A the plate can only reach 27 °C
    tec.execute("TEC:T 35", lambda _r: None)
    tec.execute("TEC:OUT 1", lambda _r: None)
    temps = settle(tec, clock, plate, 900.0)
    assert temps[-1] == pytest.approx(27.0, abs=0.1)
    assert tec.pid.integral == 0.0  # frozen all along: the error only pushed further
    tec.execute("TEC:T 25", lambda _r: None)
    n_before = len(plate.drives)
    temps = settle(tec, clock, plate, 1200.0)
    # a wound-up integral (8 K x 900 s) would hold +5 A for many minutes; ours cools at once
    assert plate.drives[n_before][1] == -5.0
    assert min(temps[:600]) < 25.0  # reached the new setpoint within the first minute
    assert abs(temps[-1] - 25.0) < 0.05


def test_line_splitter_cr_lf_crlf() -> None:
    tec_lines = LineSplitter(b"\r\n")
    assert tec_lines.feed(b"A\r\nB\rC\nD") == ["A", "B", "C"]
    assert tec_lines.pending == 1
    assert tec_lines.feed(b"E\r") == ["DE"]
    assert tec_lines.feed(b"\nF\n\n") == ["F", ""]  # the split CR LF ends one line only
    assert tec_lines.feed(b"\r\r\n") == ["", ""]
    keysight_lines = LineSplitter(b"\n")
    assert keysight_lines.feed(b"*IDN?\r\nX\xff\n") == ["*IDN?\r", "X\xff"]


def test_crlf_cr_lf_input_end_to_end(tec: Arroyo5305) -> None:
    splitter = LineSplitter(tec.input_terminators)
    replies: list[str] = []
    for line in splitter.feed(b"TEC:T 30\r\nTEC:SET:T?\rTEC:T 31\nTEC:SET:T?\r\n*IDN?\r"):
        tec.execute(line, replies.append)
    assert replies == ["30.000", "31.000", IDN]
