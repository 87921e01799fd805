"""Fuzzing: no input line may raise or break an emulator; ``*IDN?`` still answers after.

Lines come from three sources: arbitrary text, arbitrary bytes decoded as
latin-1 (what the server does with the wire), and random sequences of protocol
fragments (so that the parser's deeper paths and the scans/waits get exercised).
Between lines the driver behaves as the server does: when a line returns a Wait
it moves virtual time on until the Wait is done (or gives up after a while).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.sim.instruments.arroyo5305 import Arroyo5305
from rig.sim.instruments.daq970a import Daq970a
from rig.sim.instruments.e36313a import E36313a
from rig.sim.instruments.line import LineInstrument
from rig.sim.noise import NoiseBank
from rig.sim.timebase import Scheduler

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Dense fragment tables read better than one string a line.
# fmt: off
SCPI_FRAGMENTS = [
    "CONF", "CONFigure", ":TEMP", ":TEMPerature", ":VOLT", ":DC", " TC", " TCouple", ",T",
    ",K", ",(@101:103,110)", " (@101)", "(@120:101)", "(@", ")", "(@)", ",", ";", ":", "?",
    "*IDN?", "*RST", "*CLS", "*OPC?", "*OPC", "*WAI", "*ESR?", "*STB?", "*ESE 255", "*SRE 4",
    "INIT", "ABOR", "FETC?", "READ?", "R?", " 5", "DATA:POIN?", "DATA:REM? 1", "ROUT:SCAN",
    "ROUT:SCAN?", "MEAS:TEMP?", "MEAS:VOLT:DC?", "TRIG:SOUR", " TIM", " IMM", " BUS",
    "TRIG:TIM", " 0.001", " 1e-3", "TRIG:COUN", " INF", " MAX", " MIN", " DEF", " 1e999",
    " -0", "FORM:READ:TIME ON", "FORM:READ:CHAN ON", "FORM:READ:UNIT 1", "UNIT:TEMP F",
    "SENS:TEMP:NPLC 0.02", "VOLT:DC:NPLC 200", "SYST:ERR?", "VOLT", "CURR", " 24", " 0.1",
    ",(@1:3)", ",(@2)", "OUTP ON", "OUTP OFF", "OUTP?", "OUTP:PROT:CLE", "CURR:PROT:STAT ON",
    "CURR:PROT:DEL 0", "CURR:PROT:TRIP?", "MEAS:VOLT?", "MEAS:CURR?", "INST:NSEL 2", "INST OUT3",
    '"', "'", '"a;b"', "#15hello", "#", "\x00", "\t", " ", "\r", "\xff", "é", "TEC:T 30",
    "TEC:OUT 1", "TEC:OUT 0", "TEC:T?", "ERRSTR?", "TEC:LIM:ITE 0", "TEC:ITE?",
]

WHOLE_COMMANDS = [
    ":CONF:TEMP TC,T,(@101:103)", ":CONF:VOLT:DC (@110,104)", ":ROUT:SCAN (@101:104,110)",
    ":TRIG:SOUR TIM", ":TRIG:SOUR IMM", ":TRIG:TIM 0.05", ":TRIG:COUN 3", ":TRIG:COUN INF",
    ":INIT", ":FETC?", ":R? 2", ":R?", ":READ?", ":MEAS:TEMP? TC,T,(@101,102)", ":ABOR", "*OPC?",
    "*WAI", "*OPC", ":DATA:REM? 1", ":FORM:READ:TIME ON", ":FORM:READ:CHAN ON", "*RST",
    ":MEAS:VOLT:DC? 1,(@110)", ":UNIT:TEMP K", ":SENS:TEMP:NPLC 10,(@101)",
    ":VOLT 24,(@2)", ":CURR 0.5,(@2)", ":CURR 2,(@1:3)", ":OUTP ON,(@1:3)", ":OUTP OFF,(@2)",
    ":CURR:PROT:STAT ON,(@1:3)", ":CURR:PROT:DEL 0.01,(@2)", ":OUTP:PROT:CLE (@1:3)",
    ":MEAS:CURR? (@1:3)", ":MEAS:VOLT? (@2)", ":VOLT 5,(@1)",
    "TEC:T 30", "TEC:T 5", "TEC:OUT 1", "TEC:OUT 0", "TEC:LIM:ITE 1", "TEC:ITE?", "*IDN?",
]
# fmt: on

lines = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
    st.lists(st.sampled_from(SCPI_FRAGMENTS), max_size=25).map("".join),
    st.lists(st.sampled_from(WHOLE_COMMANDS), min_size=1, max_size=4).map(";".join),
    st.sampled_from(WHOLE_COMMANDS),
)
conversations = st.lists(lines, min_size=1, max_size=6)


class Terminals:
    def tc_junction_c(self, channel: int, t_us: int) -> float | None:
        return 20.0 + channel % 7 if channel < 110 else None

    def dc_volts(self, channel: int, t_us: int) -> float:
        return 2.4 if channel == 110 else 0.0

    def terminal_block_c(self, t_us: int) -> float:
        return 23.0


class Load:
    def current_a(self, volts: float, t_us: int) -> float:
        return volts / 20.0 + (0.09 if volts > 18.0 else 0.0)

    def on_supply_change(self, t_us: int) -> None:
        pass


class Plate:
    def __init__(self) -> None:
        self.temp_c = 22.0

    def plate_sensor_c(self, t_us: int) -> float:
        return self.temp_c

    def set_tec_current(self, t_us: int, amps: float) -> None:
        assert -5.0 <= amps <= 5.0
        self.temp_c = 22.0 + amps


def drive(instrument: LineInstrument, clock: Scheduler, conversation: list[str]) -> None:
    """Feed lines like the server: a Wait holds the connection until time completes it."""
    for line in conversation:
        wait = instrument.execute(line, lambda reply: None)
        for _ in range(20):
            if wait is None or wait.done:
                break
            clock.run_until(clock.now_us + 500_000)
    clock.run_until(clock.now_us + 1_000_000)


def check_scpi(factory: Callable[[Scheduler], Daq970a | E36313a], idn: str, conv: list[str]):
    clock = Scheduler()
    instrument = factory(clock)
    drive(instrument, clock, conv)
    assert instrument.internal_errors == 0
    replies: list[str] = []
    assert instrument.execute("*CLS", replies.append) is None
    assert instrument.execute("*IDN?", replies.append) is None
    assert replies == [idn]


@FUZZ
@given(conversations)
def test_daq970a_survives_anything(conversation: list[str]) -> None:
    check_scpi(
        lambda clock: Daq970a(clock, Terminals(), NoiseBank(1)),
        "Keysight Technologies,DAQ970A,MY58017742,A.03.02-01.00-03.02-00.02-03.03-00.03",
        conversation,
    )


@FUZZ
@given(conversations)
def test_e36313a_survives_anything(conversation: list[str]) -> None:
    def build(clock: Scheduler) -> E36313a:
        psu = E36313a(clock, NoiseBank(1))
        for output in (1, 2, 3):
            psu.attach_load(output, Load())
        return psu

    check_scpi(build, "Keysight Technologies,E36313A,MY59001234,2.1.0-1.0.4-1.12", conversation)


@FUZZ
@given(conversations)
def test_arroyo5305_survives_anything(conversation: list[str]) -> None:
    clock = Scheduler()
    tec = Arroyo5305(clock, Plate(), NoiseBank(1))
    drive(tec, clock, conversation)
    assert tec.internal_errors == 0
    replies: list[str] = []
    assert tec.execute("*IDN?", replies.append) is None
    assert replies == ["Arroyo 5305 534017 v2.08"]


@settings(max_examples=30, deadline=None, database=None)
@given(st.integers(min_value=64 * 1024 - 2, max_value=64 * 1024 + 2), st.sampled_from("1;,(\"'"))
def test_huge_lines(length: int, filler: str) -> None:
    clock = Scheduler()
    daq = Daq970a(clock, Terminals(), NoiseBank(1))
    drive(daq, clock, ["VOLT:DC:NPLC " + filler * length])
    assert daq.internal_errors == 0
    replies: list[str] = []
    daq.execute("SYST:ERR?", replies.append)
    assert replies and replies[0].startswith("-")
