"""E36313A emulator: SCPI conversation, CV/CC regulation, OCP, output lag, read-back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from rig.sim.instruments.e36313a import E36313a
from rig.sim.noise import NoiseBank
from rig.sim.timebase import Scheduler

IDN = "Keysight Technologies,E36313A,MY59001234,2.1.0-1.0.4-1.12"
NO_ERROR = '+0,"No error"'
TAU_US = 2_000


@dataclass
class Load:
    """A resistor plus electronics drawing a constant current above ``v_on``."""

    r_ohm: float
    i_const_a: float = 0.0
    v_on: float = 0.0
    changes: list[int] = field(default_factory=list)

    def current_a(self, volts: float, t_us: int) -> float:
        return max(volts, 0.0) / self.r_ohm + (self.i_const_a if volts > self.v_on else 0.0)

    def on_supply_change(self, t_us: int) -> None:
        self.changes.append(t_us)


@dataclass
class ConstantSink:
    """Draws the same current at any voltage (a load that cannot be current-limited to V>0)."""

    amps: float

    def current_a(self, volts: float, t_us: int) -> float:
        return self.amps

    def on_supply_change(self, t_us: int) -> None:
        pass


@pytest.fixture
def clock() -> Scheduler:
    return Scheduler()


@pytest.fixture
def psu(clock: Scheduler) -> E36313a:
    return E36313a(clock, NoiseBank(5))


def errors(psu: E36313a) -> list[str]:
    out: list[str] = []
    for _ in range(30):  # bounded: a broken engine must fail the test, not hang it
        replies: list[str] = []
        psu.execute("SYST:ERR?", replies.append)
        if replies == [NO_ERROR]:
            return out
        out += replies
    raise AssertionError(f"error queue never emptied: {out}")


def test_identity_and_reset_state(psu: E36313a, expect) -> None:
    expect(
        psu,
        [
            ("*IDN?", IDN),
            ("VOLT 5,(@1:3);:OUTP ON,(@1:3);:CURR:PROT:STAT ON,(@2)", None),
            ("*RST", None),
            ("VOLT? (@1:3)", ",".join(["+0.00000000E+00"] * 3)),
            ("CURR? (@1:3)", "+1.03000000E+01,+2.06000000E+00,+2.06000000E+00"),
            ("OUTP? (@1:3)", "0,0,0"),
            ("CURR:PROT:STAT? (@1:3);DEL? (@2)", "0,0,0;+5.00000000E-02"),
            ("CURR:PROT:TRIP? (@2)", "0"),
            ("INST:NSEL?;:INST?", "+1;CH1"),
            ("*OPC?", "1"),
            ("SYST:ERR?", NO_ERROR),
        ],
    )


def test_channel_lists_and_selection(psu: E36313a, expect) -> None:
    expect(
        psu,
        [
            ("VOLT 24,(@2);CURR 1.5,(@2)", None),
            ("VOLT? (@2);CURR? (@2)", "+2.40000000E+01;+1.50000000E+00"),
            ("SOURce:VOLTage:LEVel:IMMediate:AMPLitude 3.3,(@1)", None),
            ("VOLT? (@3,1,2)", "+0.00000000E+00,+3.30000000E+00,+2.40000000E+01"),
            ("INST:NSEL 3;:VOLT 12;VOLT?", "+1.20000000E+01"),
            ("INST OUT2;:VOLT?;:INST?", "+2.40000000E+01;CH2"),
            ("INST CH1;:VOLT?", "+3.30000000E+00"),
            ("VOLT MAX,(@2);VOLT? (@2)", "+2.57500000E+01"),
            ("CURR MIN,(@1);CURR? (@1)", "+2.00000000E-03"),
            ("CURR DEF,(@1);CURR? (@1)", "+1.03000000E+01"),
            ("VOLT 6.5,(@2);:VOLT 500 mV,(@3);VOLT? (@2:3)", "+6.50000000E+00,+5.00000000E-01"),
            ("SYST:ERR?", NO_ERROR),
        ],
    )


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("VOLT 6.5,(@1)", '-222,"Data out of range"'),
        ("VOLT 26,(@2)", '-222,"Data out of range"'),
        ("VOLT 24,(@1:3)", '-222,"Data out of range"'),  # output 1 refuses: none is set
        ("VOLT -1,(@2)", '-222,"Data out of range"'),
        ("CURR 3,(@2)", '-222,"Data out of range"'),
        ("CURR 0.001,(@2)", '-222,"Data out of range"'),
        ("VOLT 5,(@4)", '-222,"Data out of range"'),
        ("CURR:PROT:DEL 1,(@2)", '-222,"Data out of range"'),
        ("INST:NSEL 4", '-222,"Data out of range"'),
        ("INST OUT4", '-224,"Illegal parameter value"'),
        ("OUTP MAYBE,(@2)", '-224,"Illegal parameter value"'),
        ("VOLT 5,(@2),(@3)", '-108,"Parameter not allowed"'),
        ("OUTP:PROT:CLE 2", '-104,"Data type error"'),
        ("VOLT", '-109,"Missing parameter"'),
        ("VOLTS 5", '-113,"Undefined header"'),
    ],
)
def test_error_paths(psu: E36313a, line: str, code: str, send_line) -> None:
    replies, wait = send_line(psu, line)
    assert replies == [] and wait is None
    assert errors(psu) == [code]
    replies, _ = send_line(psu, "VOLT? (@1:3)")
    assert replies == [",".join(["+0.00000000E+00"] * 3)]


def switch_on(psu: E36313a, load: object, volts: float, amps: float) -> None:
    psu.attach_load(2, load)  # type: ignore[arg-type]
    psu.execute(f"VOLT {volts},(@2);CURR {amps},(@2);:OUTP ON,(@2)", lambda _r: None)
    assert errors(psu) == []


def measured(psu: E36313a, what: str) -> float:
    replies: list[str] = []
    psu.execute(f"MEAS:{what}? (@2)", replies.append)
    return float(replies[0])


def test_constant_voltage_with_a_load(psu: E36313a, clock: Scheduler) -> None:
    load = Load(r_ohm=100.0, i_const_a=0.09, v_on=18.0)
    clock.run_until(1_000_000)
    switch_on(psu, load, 24.0, 2.0)
    assert load.changes == [1_000_000]
    clock.run_until(1_050_000)
    assert psu.is_on(2) and not psu.is_cc(2)
    assert psu.output_voltage(2, clock.now_us) == pytest.approx(24.0, abs=1e-6)
    assert psu.output_current(2, clock.now_us) == pytest.approx(0.33, abs=1e-6)
    assert measured(psu, "VOLT") == pytest.approx(24.0, abs=0.003)
    assert measured(psu, "CURR") == pytest.approx(0.33, abs=0.001)
    assert psu.output_current(1, clock.now_us) == 0.0  # nothing attached


def test_constant_current_operating_point(psu: E36313a, clock: Scheduler) -> None:
    load = Load(r_ohm=20.0)
    switch_on(psu, load, 24.0, 0.5)
    clock.run_until(50_000)
    assert psu.is_cc(2)
    assert psu.output_voltage(2, clock.now_us) == pytest.approx(10.0, abs=1e-6)
    assert measured(psu, "CURR") == pytest.approx(0.5, abs=0.001)
    psu.execute("CURR 2,(@2)", lambda _r: None)  # 1.2 A < 2 A: back to CV
    clock.run_until(100_000)
    assert not psu.is_cc(2)
    assert measured(psu, "VOLT") == pytest.approx(24.0, abs=0.003)


def test_constant_current_with_a_non_resistive_load(psu: E36313a, clock: Scheduler) -> None:
    step_load = Load(r_ohm=100.0, i_const_a=0.09, v_on=18.0)  # 0.27 A just above 18 V
    switch_on(psu, step_load, 24.0, 0.2)
    assert psu.is_cc(2)
    clock.run_until(50_000)
    assert psu.output_voltage(2, clock.now_us) == pytest.approx(18.0, abs=1e-6)
    psu.attach_load(2, ConstantSink(2.5))  # more than the limit even at 0 V
    clock.run_until(100_000)
    assert psu.is_cc(2) and psu.output_voltage(2, clock.now_us) == pytest.approx(0.0, abs=1e-6)


def test_load_change_switches_cv_to_cc(psu: E36313a, clock: Scheduler) -> None:
    load = Load(r_ohm=100.0)
    switch_on(psu, load, 24.0, 0.5)
    clock.run_until(10_000)
    assert not psu.is_cc(2)
    load.r_ohm = 10.0
    psu.load_changed(2, 10_000)
    assert psu.is_cc(2) and load.changes[-1] == 10_000
    clock.run_until(40_000)
    assert psu.output_voltage(2, clock.now_us) == pytest.approx(5.0, abs=1e-5)


def test_ocp_trips_after_the_delay_and_clears(psu: E36313a, clock: Scheduler, expect) -> None:
    load = Load(r_ohm=20.0)
    clock.run_until(1_000_000)
    psu.execute("CURR:PROT:STAT ON,(@2)", lambda _r: None)
    switch_on(psu, load, 24.0, 0.5)
    trip_us = 1_000_000 + 50_000
    clock.run_until(trip_us - 1)
    expect(psu, [("CURR:PROT:TRIP? (@2);:OUTP? (@2)", "0;1")])
    clock.run_until(trip_us)
    expect(psu, [("CURR:PROT:TRIP? (@2);:OUTP? (@2)", "1;0")])
    assert not psu.is_on(2) and load.changes[-1] == trip_us
    decayed = psu.output_voltage(2, trip_us + 5 * TAU_US)
    assert decayed == pytest.approx(10.0 * math.exp(-5), rel=1e-9)
    assert psu.output_current(2, trip_us + 1) == 0.0
    load.r_ohm = 100.0
    psu.load_changed(2, trip_us + 10_000)
    assert not psu.is_on(2)  # latched until cleared
    clock.run_until(trip_us + 20_000)
    expect(psu, [("OUTP:PROT:CLE (@2);:CURR:PROT:TRIP? (@2);:OUTP? (@2)", "0;1")])
    clock.run_until(trip_us + 200_000)
    assert psu.is_on(2) and not psu.is_cc(2)
    assert measured(psu, "VOLT") == pytest.approx(24.0, abs=0.003)


def test_short_cc_episode_does_not_trip(psu: E36313a, clock: Scheduler, expect) -> None:
    load = Load(r_ohm=20.0)
    psu.execute("CURR:PROT:STAT ON,(@2);DEL 0.1,(@2)", lambda _r: None)
    switch_on(psu, load, 24.0, 0.5)
    clock.run_until(90_000)
    load.r_ohm = 100.0
    psu.load_changed(2, 90_000)
    clock.run_until(1_000_000)
    expect(psu, [("CURR:PROT:TRIP? (@2)", "0"), ("OUTP? (@2)", "1")])


def test_ocp_delay_setting_and_off_state(psu: E36313a, clock: Scheduler, expect) -> None:
    load = Load(r_ohm=20.0)
    psu.execute("CURR:PROT:STAT ON,(@2);DEL 0.2,(@2)", lambda _r: None)
    switch_on(psu, load, 24.0, 0.5)
    clock.run_until(199_999)
    expect(psu, [("CURR:PROT:TRIP? (@2)", "0")])
    clock.run_until(200_000)
    expect(psu, [("CURR:PROT:TRIP? (@2)", "1")])
    psu.execute("OUTP OFF,(@2);:OUTP:PROT:CLE (@2)", lambda _r: None)
    clock.run_until(1_000_000)
    expect(psu, [("OUTP? (@2);:CURR:PROT:TRIP? (@2)", "0;0")])


def test_ocp_disabled_never_trips(psu: E36313a, clock: Scheduler, expect) -> None:
    switch_on(psu, Load(r_ohm=20.0), 24.0, 0.5)
    clock.run_until(10_000_000)
    expect(psu, [("CURR:PROT:TRIP? (@2);:OUTP? (@2)", "0;1")])


def test_output_voltage_first_order_lag(psu: E36313a, clock: Scheduler) -> None:
    clock.run_until(500_000)
    psu.execute("VOLT 10,(@2);:OUTP ON,(@2)", lambda _r: None)
    t0 = 500_000
    assert psu.output_voltage(2, t0) == 0.0
    assert psu.output_voltage(2, t0 + TAU_US) == pytest.approx(10 * (1 - math.exp(-1)), rel=1e-12)
    clock.run_until(t0 + TAU_US)
    v1 = psu.output_voltage(2, clock.now_us)
    psu.execute("VOLT 5,(@2)", lambda _r: None)  # re-anchored where the output is now
    t1 = clock.now_us
    assert psu.output_voltage(2, t1) == pytest.approx(v1, rel=1e-12)
    assert psu.output_voltage(2, t1 + TAU_US) == pytest.approx(5 + (v1 - 5) * math.exp(-1))
    clock.run_until(t1 + 50_000)
    psu.execute("OUTP OFF,(@2)", lambda _r: None)
    t2 = clock.now_us
    assert psu.output_voltage(2, t2 + 3 * TAU_US) == pytest.approx(5 * math.exp(-3), rel=1e-6)
    assert not psu.is_on(2)


def test_load_calling_back_from_on_supply_change(psu: E36313a, clock: Scheduler) -> None:
    @dataclass
    class Reentrant:
        supply: E36313a
        calls: int = 0

        def current_a(self, volts: float, t_us: int) -> float:
            return volts / 50.0

        def on_supply_change(self, t_us: int) -> None:
            self.calls += 1
            self.supply.load_changed(2, t_us)

    load = Reentrant(psu)
    switch_on(psu, load, 24.0, 1.0)
    assert load.calls >= 1 and psu.is_on(2) and not psu.is_cc(2)


def test_measurements_are_reproducible() -> None:
    texts = []
    for _ in range(2):
        clock = Scheduler()
        psu = E36313a(clock, NoiseBank(9))
        psu.attach_load(2, Load(r_ohm=48.0))
        replies: list[str] = []
        psu.execute("VOLT 24,(@2);:OUTP ON,(@2)", replies.append)
        clock.run_until(100_000)
        psu.execute("MEAS:VOLT? (@2);:MEAS:CURR? (@2,1)", replies.append)
        texts.append(replies[0])
    assert texts[0] == texts[1]
    volts, amps, idle = (float(x) for x in texts[0].replace(";", ",").split(","))
    assert volts == pytest.approx(24.0, abs=0.003) and amps == pytest.approx(0.5, abs=0.001)
    assert idle == pytest.approx(0.0, abs=0.001)
