"""The SCPI engine on a toy instrument: headers, program messages, parameters, errors."""

from __future__ import annotations

import math

import pytest

from rig.sim.instruments.line import Wait
from rig.sim.instruments.scpi import (
    Bool,
    Chans,
    Choice,
    Command,
    ErrorQueue,
    Mnemonic,
    Num,
    ScpiInstrument,
    Text,
    format_block,
)
from rig.sim.timebase import Scheduler

IDN = "ACME,TOY,0001,0.1"


class Toy(ScpiInstrument):
    """A minimal instrument exercising every parameter type of the engine."""

    def __init__(self, clock: Scheduler) -> None:
        self.clock = clock
        self.log: list[tuple[object, ...]] = []
        self.output = False
        self.level = 0.0
        self.source = "IMMEDIATE"
        self.count: float = 1
        self.text = ""
        self.busy: Wait | None = None
        super().__init__(IDN)

    def commands(self) -> list[Command]:
        volt = "[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]"
        chans, opt_chans = Chans(101, 120), Chans(101, 120, optional=True)
        return [
            Command("CONFigure:TEMPerature", self._conf, Choice("TCouple"), Choice("T"), chans),
            Command("[SENSe:]TEMPerature:NPLC", self._nplc, Num(0.02, 200, 1), opt_chans),
            Command("OUTPut[:STATe]", self._set_output, Bool()),
            Command("OUTPut[:STATe]?", lambda: "1" if self.output else "0"),
            Command(volt, self._set_level, Num(0.0, 10.0, default=0.0, unit="V")),
            Command(volt + "?", lambda: f"{self.level:+.8E}"),
            Command("TRIGger:SOURce", self._set_source, Choice("TIMer", "IMMediate")),
            Command("TRIGger:SOURce?", lambda: self.source[:3]),
            Command("TRIGger:COUNt", self._set_count, Num(1, 1e6, 1, inf=True, integer=True)),
            Command("TRIGger:COUNt?", lambda: f"{self.count:+.8E}"),
            Command("DISPlay:TEXT", self._set_text, Text()),
            Command("DISPlay:TEXT?", lambda: f'"{self.text}"'),
            Command("LIST?", lambda ch: ",".join(map(str, ch)), Chans(1, 999, allow_empty=True)),
            Command("SLOW?", self._slow),
            Command("BUSY", self._busy),
        ]

    def operation_pending(self) -> Wait | None:
        return self.busy if self.busy is not None and not self.busy.done else None

    def _conf(self, probe: str, tc_type: str, channels: list[int]) -> None:
        self.log.append(("conf", probe, tc_type, channels))

    def _nplc(self, nplc: float, channels: list[int] | None) -> None:
        self.log.append(("nplc", nplc, channels))

    def _set_output(self, on: bool) -> None:
        self.output = on
        self.log.append(("output", on, self.clock.now_us))

    def _set_level(self, volts: float) -> None:
        self.level = volts

    def _set_source(self, source: str) -> None:
        self.source = source

    def _set_count(self, count: float) -> None:
        self.count = count

    def _set_text(self, text: str) -> None:
        self.text = text

    def _slow(self) -> Wait:
        """A query answered one virtual second later."""
        wait = Wait()
        self.clock.after(1_000_000, lambda t: wait.finish(f"slow@{t}"))
        return wait

    def _busy(self) -> None:
        """An overlapped operation lasting 0.5 s (for *OPC, *OPC? and *WAI)."""
        wait = Wait()
        self.busy = wait
        self.clock.after(500_000, lambda _t: wait.finish())


@pytest.fixture
def clock() -> Scheduler:
    return Scheduler()


@pytest.fixture
def toy(clock: Scheduler) -> Toy:
    return Toy(clock)


def errors(instrument: ScpiInstrument) -> list[str]:
    """Drain the error queue as SYST:ERR? answers (without the final +0)."""
    out: list[str] = []
    for _ in range(30):  # bounded: a broken engine must fail the test, not hang it
        replies: list[str] = []
        instrument.execute("SYST:ERR?", replies.append)
        if replies == ['+0,"No error"']:
            return out
        out.extend(replies)
    raise AssertionError(f"error queue never emptied: {out}")


# --- header matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "OUTP ON",
        "OUTPUT ON",
        "outp on",
        "Output:State ON",
        "OUTP:STAT ON",
        ":OUTP ON",
        "SOUR:VOLT:LEV:IMM:AMPL 1;:OUTP ON",
        "volt:ampl 1;:outp:state 1",
        "OUTP1 ON",
    ],
)
def test_header_forms_accepted(toy: Toy, line: str) -> None:
    replies: list[str] = []
    toy.execute(line, replies.append)
    assert toy.output is True
    assert errors(toy) == []


@pytest.mark.parametrize(
    "line", ["OUTPU ON", "OUT ON", "OUTP:STATE:ON ON", "CONFI:TEMP TC,T,(@101)", "STAT ON"]
)
def test_partial_or_unknown_headers_are_undefined(toy: Toy, line: str) -> None:
    toy.execute(line, lambda _r: None)
    assert toy.output is False and toy.log == []
    assert errors(toy) == ['-113,"Undefined header"']


def test_optional_leading_node(toy: Toy, expect) -> None:
    toy.execute("SENS:TEMP:NPLC 10,(@101);:TEMP:NPLC 0.2", lambda _r: None)
    assert toy.log == [("nplc", 10.0, [101]), ("nplc", 0.2, None)]
    expect(toy, [("VOLT 2.5;VOLT?", "+2.50000000E+00"), ("SOURCE:VOLTAGE?", "+2.50000000E+00")])


def test_set_form_and_query_form_are_distinct(toy: Toy) -> None:
    replies: list[str] = []
    toy.execute("DISP:TEXT", replies.append)
    toy.execute("SLOW", replies.append)
    toy.execute("LIST (@1)", replies.append)
    assert replies == []
    assert errors(toy) == ['-109,"Missing parameter"'] + ['-113,"Undefined header"'] * 2


def test_header_suffix(toy: Toy) -> None:
    toy.execute("TRIG1:SOUR TIM", lambda _r: None)
    assert toy.source == "TIMER"
    toy.execute("TRIG2:SOUR IMM", lambda _r: None)
    assert toy.source == "TIMER"
    assert errors(toy) == ['-114,"Header suffix out of range"']


# --- program messages and the path rule ----------------------------------------------


def test_compound_path_rule(toy: Toy, expect) -> None:
    expect(
        toy,
        [
            ("TRIG:SOUR TIM;COUN 5;SOUR?", "TIM"),
            ("TRIG:COUN?", "+5.00000000E+00"),
            ("TRIG:SOUR IMM;*IDN?;COUN 7;:TRIG:COUN?", f"{IDN};+7.00000000E+00"),
            ("TRIG:SOUR TIM;:OUTP ON;OUTP?", "1"),
            ("SYST:ERR?", '+0,"No error"'),
        ],
    )


def test_relative_header_after_semicolon_is_not_absolute(toy: Toy) -> None:
    replies: list[str] = []
    toy.execute("TRIG:SOUR TIM;OUTP ON", replies.append)
    assert toy.source == "TIMER" and toy.output is False
    assert errors(toy) == ['-113,"Undefined header"']


def test_path_resets_at_each_new_line(toy: Toy, expect) -> None:
    expect(toy, [("TRIG:SOUR TIM", None), ("OUTP?", "0")])


def test_several_queries_answer_in_one_line(toy: Toy, expect) -> None:
    expect(toy, [("*IDN?;OUTP?;:TRIG:SOUR?;*OPC?", f"{IDN};0;IMM;1")])


def test_unknown_query_gives_no_reply_but_the_others_answer(toy: Toy, send_line) -> None:
    replies, wait = send_line(toy, "*IDN?;BOGUS?;OUTP?")
    assert wait is None and replies == [f"{IDN};0"]
    replies, _ = send_line(toy, "BOGUS?")
    assert replies == []
    assert errors(toy) == ['-113,"Undefined header"'] * 2


def test_error_does_not_stop_the_rest_of_the_line(toy: Toy) -> None:
    toy.execute("VOLT 99;VOLT 3;:OUTP MAYBE;OUTP ON", lambda _r: None)
    assert toy.level == 3.0 and toy.output is True
    assert errors(toy) == ['-222,"Data out of range"', '-224,"Illegal parameter value"']


@pytest.mark.parametrize("line", ["", "   ", ";", ";;", "OUTP ON;", ";OUTP ON", "\x00\x00"])
def test_empty_units_are_ignored(toy: Toy, line: str) -> None:
    replies: list[str] = []
    assert toy.execute(line, replies.append) is None
    assert replies == [] and errors(toy) == []


# --- parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "volts"),
    [
        ("5", 5.0),
        ("+5", 5.0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("2.5E0", 2.5),
        ("25e-1", 2.5),
        ("+2.50000000E+00", 2.5),
        ("MIN", 0.0),
        ("max", 10.0),
        ("DEF", 0.0),
        ("500 mV", 0.5),
        ("2V", 2.0),
    ],
)
def test_numeric_forms(toy: Toy, text: str, volts: float) -> None:
    toy.level = 7.0
    toy.execute(f"VOLT {text}", lambda _r: None)
    assert toy.level == pytest.approx(volts)
    assert errors(toy) == []


def test_infinity_where_allowed_and_integer_rounding(toy: Toy) -> None:
    toy.execute("TRIG:COUN INF", lambda _r: None)
    assert math.isinf(toy.count)
    toy.execute("TRIG:COUN 2.6", lambda _r: None)
    assert toy.count == 3
    toy.execute("VOLT INF", lambda _r: None)
    assert errors(toy) == ['-224,"Illegal parameter value"']


@pytest.mark.parametrize(
    ("value", "state"), [("ON", True), ("on", True), ("1", True), ("OFF", False), ("0", False)]
)
def test_booleans(toy: Toy, value: str, state: bool) -> None:
    toy.output = not state
    toy.execute(f"OUTP {value}", lambda _r: None)
    assert toy.output is state


def test_character_data_short_and_long(toy: Toy) -> None:
    toy.execute("CONF:TEMP TC,T,(@101);:CONF:TEMP tcouple,t,(@102)", lambda _r: None)
    assert [entry[1:3] for entry in toy.log] == [("TCOUPLE", "T")] * 2


@pytest.mark.parametrize(
    ("channels", "expanded"),
    [
        ("(@101:105,110)", [101, 102, 103, 104, 105, 110]),
        ("(@110,101)", [110, 101]),
        ("(@103:101)", [103, 102, 101]),
        ("(@ 101 : 102 , 120 )", [101, 102, 120]),
        ("(@101)", [101]),
    ],
)
def test_channel_lists_expand_in_order(toy: Toy, channels: str, expanded: list[int]) -> None:
    toy.execute(f"CONF:TEMP TC,T,{channels}", lambda _r: None)
    assert toy.log == [("conf", "TCOUPLE", "T", expanded)]


def test_channel_list_with_other_parameters_and_empty_list(toy: Toy, expect) -> None:
    expect(toy, [("LIST? (@1:3,7,10:8)", "1,2,3,7,10,9,8"), ("LIST? (@)", "")])


def test_quoted_strings_keep_separators(toy: Toy, expect) -> None:
    expect(
        toy,
        [
            ('DISP:TEXT "a;b,(c)";:DISP:TEXT?', '"a;b,(c)"'),
            ("DISP:TEXT 'it''s';TEXT?", '"it\'s"'),
            ('DISP:TEXT "say ""hi"""', None),
            ("DISP:TEXT?", '"say "hi""'),
        ],
    )


# --- every error path ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("OUTP\u00e9 ON", '-101,"Invalid character"'),
        ("OUTP ON!", '-101,"Invalid character"'),
        ("VOLT @5", '-101,"Invalid character"'),
        ("OUTP::STAT ON", '-102,"Syntax error"'),
        ("OUTP? ?", '-101,"Invalid character"'),
        ("SYST?:ERR", '-102,"Syntax error"'),
        ("VOLT 1.2.3", '-102,"Syntax error"'),
        ("VOLT 1,,", '-102,"Syntax error"'),
        ('DISP:TEXT "unterminated', '-102,"Syntax error"'),
        ("CONF:TEMP TC,T,(@101", '-102,"Syntax error"'),
        ("CONF:TEMP TC,T,(101)", '-102,"Syntax error"'),
        ("CONF:TEMP TC,T,(@10x)", '-102,"Syntax error"'),
        ('VOLT "5"', '-104,"Data type error"'),
        ("VOLT (@1)", '-104,"Data type error"'),
        ("VOLT #15hello", '-104,"Data type error"'),
        ("TRIG:SOUR 5", '-104,"Data type error"'),
        ("CONF:TEMP TC,T,5", '-104,"Data type error"'),
        ("VOLT 1,2", '-108,"Parameter not allowed"'),
        ("OUTP ON,OFF", '-108,"Parameter not allowed"'),
        ("*IDN? 1", '-108,"Parameter not allowed"'),
        ("VOLT", '-109,"Missing parameter"'),
        ("CONF:TEMP TC,(@101)", '-109,"Missing parameter"'),
        ("*ESE", '-109,"Missing parameter"'),
        ("BOGUS", '-113,"Undefined header"'),
        ("*BOGUS", '-113,"Undefined header"'),
        ("VOLT? 1", '-108,"Parameter not allowed"'),
        ("TRIG3:SOUR TIM", '-114,"Header suffix out of range"'),
        ("VOLT 5 A", '-131,"Invalid suffix"'),
        ("TRIG:COUN 5 V", '-131,"Invalid suffix"'),
        ("VOLT 10.5", '-222,"Data out of range"'),
        ("VOLT -1", '-222,"Data out of range"'),
        ("VOLT 1E999", '-222,"Data out of range"'),
        ("CONF:TEMP TC,T,(@121)", '-222,"Data out of range"'),
        ("CONF:TEMP TC,T,(@1" + "0" * 40 + ")", '-102,"Syntax error"'),
        ("*ESE 256", '-222,"Data out of range"'),
        ("TRIG:SOUR BUS", '-224,"Illegal parameter value"'),
        ("OUTP MAYBE", '-224,"Illegal parameter value"'),
        ("VOLT FOO", '-224,"Illegal parameter value"'),
        ("CONF:TEMP TC,K,(@101)", '-224,"Illegal parameter value"'),
        ("CONF:TEMP TC,T,(@)", '-224,"Illegal parameter value"'),
        ("VOLT " + "1" * (64 * 1024), '-223,"Too much data"'),
    ],
)
def test_error_codes(toy: Toy, line: str, code: str) -> None:
    replies: list[str] = []
    assert toy.execute(line, replies.append) is None
    assert replies == []
    assert errors(toy) == [code]
    assert toy.log == [] and toy.level == 0.0 and toy.output is False


def test_error_queue_overflow_keeps_the_oldest(toy: Toy) -> None:
    for _ in range(10):
        toy.execute("BOGUS", lambda _r: None)
    for _ in range(15):
        toy.execute("VOLT 99", lambda _r: None)
    drained = errors(toy)
    assert len(drained) == ErrorQueue.CAPACITY
    assert drained[:10] == ['-113,"Undefined header"'] * 10
    assert drained[10:19] == ['-222,"Data out of range"'] * 9
    assert drained[19] == '-350,"Queue overflow"'


def test_cls_clears_queue_and_esr(toy: Toy, expect) -> None:
    toy.execute("BOGUS;VOLT 99", lambda _r: None)
    expect(
        toy,
        [
            ("SYST:ERR:COUN?", "+2"),
            ("*ESR?", "+48"),
            ("*ESR?", "+0"),
            ("BOGUS", None),
            ("*CLS", None),
            ("SYST:ERR?", '+0,"No error"'),
            ("*ESR?", "+0"),
        ],
    )


def test_status_registers(toy: Toy, expect) -> None:
    expect(
        toy,
        [
            ("*ESE 32;*SRE 36", None),
            ("*ESE?;*SRE?", "+32;+36"),
            ("*STB?", "+0"),
            ("BOGUS", None),
            ("*STB?", "+100"),  # error queue (4) + ESB (32) + MSS (64)
            ("*CLS;*STB?", "+0"),
            ("VOLT 99;*ESR?", "+16"),
            ("DISP:TEXT?;*TST?", '"";+0'),
        ],
    )


# --- waits: replies that fall due later ---------------------------------------------


def test_waiting_query_defers_the_whole_line(toy: Toy, clock: Scheduler, send_line) -> None:
    replies, wait = send_line(toy, "*IDN?;SLOW?;:OUTP ON;OUTP?")
    assert isinstance(wait, Wait) and not wait.done
    assert replies == [] and toy.output is False
    clock.run_until(999_999)
    assert not wait.done and replies == []
    done_calls: list[bool] = []
    wait.add_done_callback(lambda: done_calls.append(True))
    clock.run_until(1_000_000)
    assert wait.done and done_calls == [True]
    assert replies == [f"{IDN};slow@1000000;1"]
    assert toy.log == [("output", True, 1_000_000)]


def test_two_waits_in_one_line(toy: Toy, clock: Scheduler, send_line) -> None:
    replies, wait = send_line(toy, "SLOW?;SLOW?")
    assert wait is not None
    clock.run_until(1_000_000)
    assert not wait.done
    clock.run_until(2_000_000)
    assert wait.done and replies == ["slow@1000000;slow@2000000"]


def test_opc_query_and_wai_wait_for_pending_operations(
    toy: Toy, clock: Scheduler, send_line, expect
) -> None:
    expect(toy, [("*OPC?", "1"), ("*OPC;*ESR?", "+1")])
    replies, wait = send_line(toy, "BUSY;*OPC?")
    assert wait is not None and replies == []
    clock.run_until(500_000)
    assert wait.done and replies == ["1"]
    replies, wait = send_line(toy, "BUSY;*WAI;:OUTP ON")
    assert wait is not None and toy.output is False
    clock.run_until(1_000_000)
    assert wait.done and replies == [] and toy.output is True
    toy.execute("BUSY;*OPC", lambda _r: None)
    expect(toy, [("*ESR?", "+0")])
    clock.run_until(1_500_000)
    expect(toy, [("*ESR?", "+1")])


# --- building blocks -----------------------------------------------------------------


def test_mnemonic_forms() -> None:
    m = Mnemonic.parse("CONFigure")
    assert (m.short, m.long) == ("CONF", "CONFIGURE")
    assert m.matches("CONF") and m.matches("CONFIGURE") and not m.matches("CONFI")
    assert Mnemonic.parse("TCouple").short == "TC"
    assert Mnemonic.parse("ALARm1").short == "ALAR1"


def test_definite_length_block() -> None:
    assert format_block("") == "#10"
    assert format_block("(@101)") == "#16(@101)"
    assert format_block("x" * 12) == "#212" + "x" * 12
    assert format_block("y" * 123456) == "#6123456" + "y" * 123456
