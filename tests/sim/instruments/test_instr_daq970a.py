"""DAQ970A emulator: SCPI conversation, timed scans in virtual time, measurement model."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from rig.sim.instruments.daq970a import Daq970a
from rig.sim.noise import NoiseBank
from rig.sim.physics.sensors import type_t_emf_uv, type_t_temperature_c
from rig.sim.timebase import Scheduler

IDN = "Keysight Technologies,DAQ970A,MY58017742,A.03.02-01.00-03.02-00.02-03.03-00.03"
CHANNEL_US = 22_000  # NPLC 1 at 50 Hz + 2 ms
NO_ERROR = '+0,"No error"'
ONE = "+1.00000000E+00"


@dataclass
class FakeTerminals:
    """Stand-in wiring: fixed (or time-dependent) junctions, fixed volts, a block."""

    tc: dict[int, float | Callable[[int], float]] = field(default_factory=dict)
    volts: dict[int, float] = field(default_factory=dict)
    block_c: float = 23.0
    samples: list[tuple[int, int]] = field(default_factory=list)

    def tc_junction_c(self, channel: int, t_us: int) -> float | None:
        self.samples.append((channel, t_us))
        value = self.tc.get(channel)
        return value(t_us) if callable(value) else value

    def dc_volts(self, channel: int, t_us: int) -> float:
        return self.volts.get(channel, 0.0)

    def terminal_block_c(self, t_us: int) -> float:
        return self.block_c


def _ramp(t_us: int) -> float:
    return 30.0 + t_us / 1e6


def default_terminals() -> FakeTerminals:
    return FakeTerminals(tc={101: _ramp, 102: 25.0, 103: 31.0, 104: 20.0}, volts={110: 2.4})


@pytest.fixture
def clock() -> Scheduler:
    return Scheduler()


@pytest.fixture
def terminals() -> FakeTerminals:
    return default_terminals()


@pytest.fixture
def daq(clock: Scheduler, terminals: FakeTerminals) -> Daq970a:
    return Daq970a(clock, terminals, NoiseBank(7))


def run(daq: Daq970a, *lines: str) -> None:
    """Send setting lines; each must answer nothing, wait for nothing, and raise no error."""
    for line in lines:
        replies: list[str] = []
        assert daq.execute(line, replies.append) is None, line
        assert replies == [], (line, replies)
    errs: list[str] = []
    daq.execute("SYST:ERR?", errs.append)
    assert errs == [NO_ERROR]


def parse_block(block: str) -> str:
    m = re.fullmatch(r"#(\d)(\d*)(.*)", block, re.DOTALL)
    assert m is not None and len(m.group(2)) == int(m.group(1))
    length = int(m.group(2)) if m.group(2) else 0
    assert len(m.group(3)) == length
    return m.group(3)


def triples(text: str) -> list[tuple[float, str, int]]:
    fields = text.split(",")
    assert len(fields) % 3 == 0
    return [(float(fields[i]), fields[i + 1], int(fields[i + 2])) for i in range(0, len(fields), 3)]


def setup_timed_scan(daq: Daq970a, count: int = 10, timer: str = "0.1") -> None:
    run(
        daq,
        "*RST;*CLS",
        "CONF:TEMP TC,T,(@101:103)",
        "CONF:VOLT:DC (@110)",
        "ROUT:SCAN (@101:103,110)",
        "FORM:READ:TIME ON;CHAN ON",
        f"TRIG:SOUR TIM;TIM {timer};COUN {count}",
    )


# --- conversation --------------------------------------------------------------------


def test_identity_and_reset_defaults(daq: Daq970a, expect) -> None:
    expect(
        daq,
        [
            ("*IDN?", IDN),
            ("TRIG:SOUR TIM;COUN 5;TIM 2;:FORM:READ:TIME ON;:ROUT:SCAN (@101)", None),
            ("*RST", None),
            ("TRIG:SOUR?;COUN?;TIM?", "IMM;+1.00000000E+00;+1.00000000E+00"),
            ("FORM:READ:TIME?;CHAN?;UNIT?;TIME:TYPE?", "0;0;0;REL"),
            ("ROUT:SCAN?", "#13(@)"),
            ("ROUT:SCAN:SIZE?", "+0"),
            ("SENS:TEMP:NPLC? (@101);:VOLT:DC:NPLC? (@110,111)", f"{ONE};{ONE},{ONE}"),
            ("UNIT:TEMP? (@101,102)", "C,C"),
            ("DATA:POIN?", "+0"),
            ("R?", "#10"),
            ("SYST:ERR?", NO_ERROR),
            ("*OPC?", "1"),
            ("SYST:LFR?", "+50"),
        ],
    )


def test_settings_round_trip(daq: Daq970a, expect) -> None:
    expect(
        daq,
        [
            ("TRIGGER:SOURCE TIMER;TIMER 0.25;COUNT 12", None),
            ("TRIG:SOUR?;TIM?;COUN?", "TIM;+2.50000000E-01;+1.20000000E+01"),
            ("TRIG:COUN INF;COUN?", "+9.90000000E+37"),
            ("TRIG:COUN MIN;COUN?;:TRIG:TIM MAX;TIM?", "+1.00000000E+00;+3.59999000E+05"),
            ("FORM:READ:CHAN ON;CHAN?;TIME?", "1;0"),
            ("SENS:TEMP:NPLC 10,(@101);NPLC? (@101,102)", "+1.00000000E+01,+1.00000000E+00"),
            ("TEMP:NPLC 0.5,(@102);NPLC? (@102)", "+1.00000000E+00"),
            ("UNIT:TEMP F,(@103);:UNIT:TEMP? (@102:103)", "C,F"),
            ("UNIT:TEMP K;TEMP?", "K"),
            ("ROUT:SCAN (@110,101:103,102);SCAN?", "#214(@101:103,110)"),
            ("ROUT:SCAN (@);SCAN?;SCAN:SIZE?", "#13(@);+0"),
            ("SYST:ERR?", NO_ERROR),
        ],
    )


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("TRIG:SOUR BUS", '-221,"Settings conflict"'),
        ("FORM:READ:TIME:TYPE ABS", '-221,"Settings conflict"'),
        ("INIT", '-221,"Settings conflict"'),
        ("FETC?", '-230,"Data corrupt or stale"'),
        ("DATA:REM? 1", '-222,"Data out of range"'),
        ("TRIG:TIM 0.0001", '-222,"Data out of range"'),
        ("TRIG:COUN 0", '-222,"Data out of range"'),
        ("SENS:TEMP:NPLC 0.01,(@101)", '-222,"Data out of range"'),
        ("VOLT:DC:NPLC 300", '-222,"Data out of range"'),
        ("CONF:TEMP TC,T,(@121)", '-222,"Data out of range"'),
        ("CONF:TEMP TC,T,(@201)", '-222,"Data out of range"'),
        ("CONF:VOLT:DC 400,(@110)", '-222,"Data out of range"'),
        ("CONF:TEMP TC,K,(@101)", '-224,"Illegal parameter value"'),
        ("CONF:TEMP RTD,85,(@101)", '-224,"Illegal parameter value"'),
        ("CONF:TEMP TC,T", '-109,"Missing parameter"'),
        ("UNIT:TEMP X", '-224,"Illegal parameter value"'),
        ("CONFI:TEMP TC,T,(@101)", '-113,"Undefined header"'),
    ],
)
def test_error_paths(daq: Daq970a, line: str, code: str, send_line) -> None:
    replies, wait = send_line(daq, line)
    assert replies == [] and wait is None
    replies, _ = send_line(daq, "SYST:ERR?;ERR?")
    assert replies == [f"{code};{NO_ERROR}"]


def test_trigger_count_infinity_refuses_read_and_fetch(daq: Daq970a, expect) -> None:
    run(daq, "CONF:VOLT:DC (@110)", "TRIG:COUN INF")
    expect(daq, [("READ?", None), ("SYST:ERR?", '-214,"Trigger deadlock"')])
    run(daq, "INIT")
    expect(daq, [("FETC?", None), ("SYST:ERR?", '-214,"Trigger deadlock"'), ("ABOR", None)])


# --- timed scans ---------------------------------------------------------------------


def test_timed_scan_10_hz(daq: Daq970a, clock: Scheduler, terminals: FakeTerminals, send_line):
    setup_timed_scan(daq, count=10)
    clock.run_until(1_234_567)
    t0 = clock.now_us
    terminals.samples.clear()
    replies, wait = send_line(daq, "INIT;FETC?")
    assert wait is not None and not wait.done and replies == []

    last_us = t0 + 9 * 100_000 + 3 * CHANNEL_US
    clock.run_until(last_us - 1)
    assert not wait.done and replies == []
    clock.run_until(last_us)
    assert wait.done and len(replies) == 1

    channels = [101, 102, 103, 110]
    expected_times = [k * 100_000 + i * CHANNEL_US for k in range(10) for i in range(4)]
    assert terminals.samples == [
        (channels[i], t0 + k * 100_000 + i * CHANNEL_US) for k in range(10) for i in range(4)
    ]
    readings = triples(replies[0])
    assert len(readings) == 40
    assert [r[2] for r in readings] == channels * 10
    assert [r[1] for r in readings] == [f"{t / 1e6:.3f}" for t in expected_times]
    for (value, _, ch), t_rel in zip(readings, expected_times, strict=True):
        t_abs = t0 + t_rel
        truth = {101: 30.0 + t_abs / 1e6, 102: 25.0, 103: 31.0, 110: 2.4}[ch]
        assert value == pytest.approx(truth, abs=0.05 if ch != 110 else 1e-3)

    # memory stays for FETCh?, R? drains it in blocks, then #10
    replies, wait = send_line(daq, "FETC?;DATA:POIN?")
    assert wait is None and replies[0].endswith(";+40")
    replies, _ = send_line(daq, "R? 6")
    assert triples(parse_block(replies[0])) == readings[:6]
    replies, _ = send_line(daq, "R?;:DATA:POIN?")
    block, points = replies[0].rsplit(";", 1)
    assert triples(parse_block(block)) == readings[6:] and points == "+0"
    replies, _ = send_line(daq, "R?")
    assert replies == ["#10"]
    replies, _ = send_line(daq, "FETC?;:SYST:ERR?")
    assert replies == ['-230,"Data corrupt or stale"']


def test_r_block_is_definite_length(daq: Daq970a, clock: Scheduler, send_line) -> None:
    setup_timed_scan(daq, count=3)
    send_line(daq, "INIT")
    clock.run_until(1_000_000)
    replies, _ = send_line(daq, "R? 2")
    assert re.fullmatch(r"#2\d\d.*", replies[0])
    body = parse_block(replies[0])
    value = r"[+-]\d\.\d{8}E[+-]\d\d"
    assert re.fullmatch(rf"{value},0\.000,101,{value},0\.022,102", body)


def test_sweeps_longer_than_the_timer_run_back_to_back(
    daq: Daq970a, clock: Scheduler, terminals: FakeTerminals, send_line
) -> None:
    setup_timed_scan(daq, count=3, timer="0.05")
    terminals.samples.clear()
    send_line(daq, "INIT")
    clock.run_until(10_000_000)
    sweep = 4 * CHANNEL_US  # 88 ms > 50 ms
    assert [t for _, t in terminals.samples] == [
        k * sweep + i * CHANNEL_US for k in range(3) for i in range(4)
    ]


def test_immediate_trigger_and_nplc_set_the_channel_times(
    daq: Daq970a, clock: Scheduler, terminals: FakeTerminals, send_line
) -> None:
    run(
        daq,
        "CONF:TEMP TC,T,(@101,102)",
        "SENS:TEMP:NPLC 10,(@101)",
        "TRIG:COUN 2",
        "FORM:READ:TIME ON",
    )
    replies, wait = send_line(daq, "READ?")
    assert wait is not None
    clock.run_until(1_000_000)
    t1, t2 = 202_000, 22_000  # NPLC 10: 200 ms + 2 ms; NPLC 1: 22 ms
    assert [t for _, t in terminals.samples] == [0, t1, t1 + t2, 2 * t1 + t2]
    times = replies[0].split(",")[1::2]
    assert times == ["0.000", "0.202", "0.224", "0.426"]


def test_line_frequency_60_hz(clock: Scheduler, terminals: FakeTerminals) -> None:
    daq = Daq970a(clock, terminals, NoiseBank(1), line_freq_hz=60.0)
    run(daq, "CONF:VOLT:DC (@110,111)")
    assert daq.channel_time_us(110) == 16_667 + 2_000


def test_memory_overflow_keeps_the_newest(daq: Daq970a, clock: Scheduler, send_line) -> None:
    run(
        daq,
        "CONF:VOLT:DC (@101:120)",
        "VOLT:DC:NPLC 0.02,(@101:120)",
        "TRIG:COUN 5001",
        "FORM:READ:TIME ON;CHAN ON",
        "INIT",
    )
    clock.run_until(300_000_000)
    replies, _ = send_line(daq, "DATA:POIN?")
    assert replies == ["+100000"]
    replies, _ = send_line(daq, "R? 1")
    sweep_us = 20 * 2_400  # NPLC 0.02 at 50 Hz = 0.4 ms, + 2 ms
    _, t, ch = triples(parse_block(replies[0]))[0]
    assert (t, ch) == (f"{sweep_us / 1e6:.3f}", 101)  # sweep 0 was overwritten
    replies, _ = send_line(daq, "DATA:REM? 2;:DATA:POIN?")
    assert replies[0].endswith(";+99997")


def test_configure_resets_format_scan_list_and_memory(
    daq: Daq970a, clock: Scheduler, expect, send_line
) -> None:
    setup_timed_scan(daq, count=1)
    send_line(daq, "INIT")
    clock.run_until(1_000_000)
    run(daq, "FORM:READ:UNIT ON")
    expect(
        daq,
        [
            ("DATA:POIN?", "+4"),
            ("CONF:VOLT:DC (@110)", None),
            ("FORM:READ:TIME?;CHAN?;UNIT?", "0;0;0"),
            ("ROUT:SCAN?", "#16(@110)"),
            ("DATA:POIN?", "+0"),
        ],
    )


def test_measure_waits_for_its_reading(
    daq: Daq970a, clock: Scheduler, terminals: FakeTerminals, send_line, expect
) -> None:
    run(daq, "FORM:READ:TIME ON", "ROUT:SCAN (@101:103)")
    clock.run_until(5_000_000)
    replies, wait = send_line(daq, "MEAS:TEMP? TC,T,(@102)")
    assert wait is not None and not wait.done
    clock.run_until(5_000_000)
    assert wait.done and len(replies) == 1
    assert float(replies[0]) == pytest.approx(25.0, abs=0.05)
    assert "," not in replies[0]  # format fields were turned off
    assert terminals.samples == [(102, 5_000_000)]
    expect(daq, [("ROUT:SCAN?", "#16(@102)"), ("FORM:READ:TIME?", "0")])
    replies, wait = send_line(daq, "MEAS:VOLT:DC? (@110);:SYST:ERR?")
    clock.run_until(clock.now_us)
    value, err = replies[0].split(";")
    assert float(value) == pytest.approx(2.4, abs=1e-3) and err == NO_ERROR


def test_read_opc_abort_and_pending_fetch(
    daq: Daq970a, clock: Scheduler, send_line, expect
) -> None:
    setup_timed_scan(daq, count=100)
    replies, wait = send_line(daq, "INIT;*OPC?")
    assert wait is not None
    expect(daq, [("INIT", None), ("SYST:ERR?", '-213,"Init ignored"')])
    expect(daq, [("CONF:VOLT:DC (@101)", None), ("SYST:ERR?", '-221,"Settings conflict"')])
    fetch_replies, fetch_wait = send_line(daq, "FETC?")
    assert fetch_wait is not None
    clock.run_until(230_000)  # sweeps 0 and 1, and 101 and 102 of sweep 2 (0.2, 0.222 s)
    expect(daq, [("ABOR", None), ("DATA:POIN?", "+10")])
    assert fetch_wait.done and len(triples(fetch_replies[0])) == 10
    assert wait.done and replies == ["1"]
    replies, wait = send_line(daq, "FETC?")
    assert wait is None and len(triples(replies[0])) == 10


def test_rst_answers_a_pending_fetch_and_clears_memory(
    daq: Daq970a, clock: Scheduler, send_line, expect
) -> None:
    setup_timed_scan(daq, count=5)
    replies, wait = send_line(daq, "INIT;FETC?")
    clock.run_until(150_000)
    expect(daq, [("*RST", None), ("DATA:POIN?", "+0")])
    assert wait is not None and wait.done and len(triples(replies[0])) == 7  # 4 + 3 readings


# --- measurement model ---------------------------------------------------------------


def measure(daq: Daq970a, clock: Scheduler, line: str) -> str:
    replies: list[str] = []
    wait = daq.execute(line, replies.append)
    assert wait is not None
    clock.run_until(clock.now_us + 1_000_000)
    assert wait.done and len(replies) == 1
    return replies[0]


def test_type_t_inverse_round_trips() -> None:
    for t in (-260.0, -100.0, -0.5, 0.0, 0.5, 23.0, 100.0, 399.0):
        assert type_t_temperature_c(type_t_emf_uv(t)) == pytest.approx(t, abs=1e-6)
    assert type_t_temperature_c(type_t_emf_uv(400.0) + 10.0) is None
    assert type_t_temperature_c(type_t_emf_uv(-270.0) - 10.0) is None


def test_thermocouple_read_as_dc_volts_gives_its_emf(
    daq: Daq970a, clock: Scheduler, terminals: FakeTerminals
) -> None:
    terminals.tc[104] = 100.0
    value = float(measure(daq, clock, "MEAS:VOLT:DC? (@104)"))
    emf_v = (type_t_emf_uv(100.0) - type_t_emf_uv(23.0)) * 1e-6
    assert value == pytest.approx(emf_v, abs=3e-6)


def test_cjc_offset_shifts_thermocouple_readings(terminals: FakeTerminals) -> None:
    readings = []
    for offset in (0.0, 0.5):
        clock = Scheduler()
        daq = Daq970a(clock, terminals, NoiseBank(3), cjc_offset_c=offset)
        readings.append(float(measure(daq, clock, "MEAS:TEMP? TC,T,(@103)")))
    assert readings[0] == pytest.approx(31.0, abs=0.05)
    assert readings[1] - readings[0] == pytest.approx(0.5, abs=0.01)


def test_cjc_drift_and_channel_offsets(terminals: FakeTerminals) -> None:
    clock = Scheduler()
    daq = Daq970a(
        clock, terminals, NoiseBank(3), cjc_drift_c_per_h=0.2, channel_offsets_c={102: -0.3}
    )
    assert float(measure(daq, clock, "MEAS:TEMP? TC,T,(@102)")) == pytest.approx(24.7, abs=0.05)
    clock.run_until(5 * 3_600_000_000)
    assert float(measure(daq, clock, "MEAS:TEMP? TC,T,(@102)")) == pytest.approx(25.7, abs=0.05)


def test_units_open_thermocouple_and_range_overload(
    daq: Daq970a, clock: Scheduler, send_line
) -> None:
    send_line(daq, "UNIT:TEMP F")
    assert float(measure(daq, clock, "MEAS:TEMP? TC,T,(@102)")) == pytest.approx(77.0, abs=0.1)
    send_line(daq, "UNIT:TEMP K,(@102)")
    assert float(measure(daq, clock, "MEAS:TEMP? TC,T,(@102)")) == pytest.approx(298.15, abs=0.05)
    assert measure(daq, clock, "MEAS:TEMP? TC,T,(@110)") == "+9.90000000E+37"
    assert measure(daq, clock, "MEAS:VOLT:DC? 1,(@110)") == "+9.90000000E+37"
    assert float(measure(daq, clock, "MEAS:VOLT:DC? 10,DEF,(@110)")) == pytest.approx(2.4, abs=1e-3)


def test_unit_field(daq: Daq970a, clock: Scheduler, send_line) -> None:
    run(daq, "CONF:TEMP TC,T,(@102)", "CONF:VOLT:DC (@110)", "ROUT:SCAN (@102,110)")
    run(daq, "FORM:READ:UNIT ON;CHAN ON")
    replies, _ = send_line(daq, "READ?")
    clock.run_until(1_000_000)
    assert re.fullmatch(r"\+2\.\d{8}E\+01 C,102,\+2\.\d{8}E\+00 VDC,110", replies[0])


def test_same_seed_same_readings(terminals: FakeTerminals) -> None:
    texts = []
    for _ in range(2):
        clock = Scheduler()
        daq = Daq970a(clock, terminals, NoiseBank(11))
        setup_timed_scan(daq, count=5)
        replies: list[str] = []
        daq.execute("INIT;FETC?", replies.append)
        clock.run_until(2_000_000)
        texts.append(replies[0])
    assert texts[0] == texts[1]
