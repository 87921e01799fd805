"""The driver base: declarative properties, validators, the protocol adapter, step tracing,
and the mapping of every PyVISA failure to InstrumentError."""

from __future__ import annotations

import pytest
import pyvisa.constants
import pyvisa.errors

from rig.instruments import steps
from rig.instruments.adapters import VisaAdapter
from rig.instruments.base import (
    Instrument,
    ScpiInstrument,
    control,
    in_range,
    measurement,
    on_off,
    one_of,
    setting,
)
from rig.instruments.errors import InstrumentError, RigError
from rig.instruments.interfaces import Identity
from rig.instruments.testing import ProtocolAdapter, expected_protocol


class Toy(ScpiInstrument):
    """A made-up SCPI instrument with one property of each kind."""

    level_v = control(
        "LEV? {ch}", "LEV {value},{ch}", "Level.", validator=in_range(0, 10), units="V"
    )
    mode = control(
        "MODE?", "MODE {value}", "Mode.", validator=one_of("FAST", "SLOW"), get_process=str.strip
    )
    enabled = control(
        "OUT?", "OUT {value}", "Output.", validator=on_off, get_process=lambda r: r == "1"
    )
    reading = measurement("MEAS?", "A reading.", units="V")
    beep = setting("BEEP {value}", "Beeper.", validator=on_off)

    def __init__(self, adapter, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(adapter, role=kwargs.get("role", "toy"), channel=kwargs.get("channel", 3))


class TenToy(Toy):
    BOOL_WORDS = ("1", "0")


OK = ("SYST:ERR?", '+0,"No error"')


def test_control_get_fills_channel_and_parses() -> None:
    with expected_protocol(Toy, [("LEV? (@3)", "+2.50000000E+00")], channel=3) as toy:
        assert toy.level_v == 2.5


def test_control_set_writes_then_checks_the_error_queue() -> None:
    with expected_protocol(Toy, [("LEV 2.5,(@3)", None), OK], channel=3) as toy:
        toy.level_v = 2.5


def test_integers_and_floats_are_written_compactly() -> None:
    with expected_protocol(Toy, [("LEV 10,(@3)", None), OK, ("LEV 0.1,(@3)", None), OK]) as toy:
        toy.level_v = 10
        toy.level_v = 0.1


@pytest.mark.parametrize("bad", [10.01, -0.1, float("nan"), float("inf"), True, "5", None])
def test_range_rejection_writes_nothing_and_names_property_value_and_range(bad: object) -> None:
    with expected_protocol(Toy, []) as toy, pytest.raises(ValueError) as err:
        toy.level_v = bad
    text = str(err.value)
    assert "toy.level_v" in text and repr(bad) in text and "0 to 10" in text and "V" in text


def test_one_of_and_on_off() -> None:
    with expected_protocol(
        Toy, [("MODE FAST", None), OK, ("OUT ON", None), OK, ("OUT OFF", None), OK, ("OUT?", "1")]
    ) as toy:
        toy.mode = "FAST"
        toy.enabled = True
        toy.enabled = False
        assert toy.enabled is True
        with pytest.raises(ValueError, match=r"toy\.mode: 'fast' is not one of .*'FAST', 'SLOW'"):
            toy.mode = "fast"
        with pytest.raises(ValueError, match=r"toy\.enabled: 1 is not allowed: use True or False"):
            toy.enabled = 1


def test_bool_words_are_per_instrument() -> None:
    with expected_protocol(TenToy, [("OUT 1", None), OK, ("BEEP 0", None), OK]) as toy:
        toy.enabled = True
        toy.beep = False


def test_measurement_is_read_only_and_setting_write_only() -> None:
    with expected_protocol(Toy, [("MEAS?", "+1.25E-01")]) as toy:
        assert toy.reading == pytest.approx(0.125)
        with pytest.raises(AttributeError, match="can only be read"):
            toy.reading = 1.0
        with pytest.raises(AttributeError, match="can only be set"):
            _ = toy.beep


def test_set_refused_by_the_instrument_raises_with_the_queue() -> None:
    pairs = [
        ("LEV 5,(@3)", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '-113,"Undefined header"'),
        OK,
    ]
    with expected_protocol(Toy, pairs) as toy, pytest.raises(InstrumentError) as err:
        toy.level_v = 5
    assert (
        "'LEV 5,(@3)'" in str(err.value) and "-222" in str(err.value) and "-113" in str(err.value)
    )
    assert err.value.role == "toy" and isinstance(err.value, RigError)


def test_unparsable_reply_is_an_instrument_error() -> None:
    with (
        expected_protocol(Toy, [("MEAS?", "garbage")]) as toy,
        pytest.raises(InstrumentError) as err,
    ):
        _ = toy.reading
    assert "'MEAS?'" in str(err.value) and "garbage" in str(err.value)


def test_identify_reset_clear_status_and_errors() -> None:
    pairs = [
        ("*IDN?", "Keysight Technologies,DAQ970A,MY58017742,A.03.02-01.00"),
        ("*RST", None),
        ("*OPC?", "1"),
        ("*CLS", None),
        OK,
        ("SYST:ERR?", '-113,"Undefined header"'),
        OK,
    ]
    with expected_protocol(Toy, pairs) as toy:
        assert toy.identify() == Identity(
            "Keysight Technologies", "DAQ970A", "MY58017742", "A.03.02-01.00"
        )
        toy.reset()
        toy.clear_status()
        assert toy.errors() == ['-113,"Undefined header"']


def test_error_queue_that_never_empties_is_reported() -> None:
    pairs = [("SYST:ERR?", '-350,"Queue overflow"')] * ScpiInstrument.ERROR_QUEUE_LIMIT
    with (
        expected_protocol(Toy, pairs) as toy,
        pytest.raises(InstrumentError, match="does not empty"),
    ):
        toy.errors()


def test_bad_idn_is_an_instrument_error() -> None:
    with expected_protocol(Toy, [("*IDN?", "HELLO")]) as toy, pytest.raises(InstrumentError):
        toy.identify()


# --- the protocol adapter itself -----------------------------------------------------------------


def test_protocol_adapter_rejects_a_wrong_command_and_unused_pairs() -> None:
    adapter = ProtocolAdapter([("A", None), ("B?", "1")])
    with pytest.raises(AssertionError, match="wrote 'X', expected 'A'"):
        adapter.write("X")
    adapter.write("A")
    with pytest.raises(AssertionError, match="never happened"):
        adapter.assert_done()
    assert adapter.query("B?") == "1"
    adapter.assert_done()


def test_protocol_adapter_read_without_write() -> None:
    adapter = ProtocolAdapter([(None, "late")])
    assert adapter.read() == "late"
    adapter.assert_done()


def test_expected_protocol_fails_when_the_conversation_is_not_used_up() -> None:
    with pytest.raises(AssertionError, match="never happened"):  # noqa: SIM117
        with expected_protocol(Toy, [("MEAS?", "1")]):
            pass


# --- steps --------------------------------------------------------------------------------------


def test_steps_trace_methods_and_properties_with_nesting() -> None:
    events: list[dict] = []
    remove = steps.subscribe(events.append)
    try:
        with expected_protocol(Toy, [("LEV 1,(@3)", None), OK, ("*IDN?", "A,B,C,D")]) as toy:
            toy.level_v = 1
            toy.identify()
    finally:
        remove()
    names = [(e["phase"], e["step"], e["depth"]) for e in events]
    assert names == [
        ("start", "toy.level_v", 0),
        ("start", "toy.check_no_errors", 1),
        ("start", "toy.errors", 2),
        ("end", "toy.errors", 2),
        ("end", "toy.check_no_errors", 1),
        ("end", "toy.level_v", 0),
        ("start", "toy.identify", 0),
        ("end", "toy.identify", 0),
    ]
    assert events[0]["args"] == {"value": 1}
    assert events[1]["args"] == {"context": "LEV 1,(@3)"}
    end = events[-1]
    assert end["result"].startswith("Identity(") and end["duration_s"] >= 0 and end["t_wall"] > 0


def test_steps_report_errors_and_survive_a_broken_subscriber() -> None:
    events: list[dict] = []

    def broken(event: dict) -> None:
        raise RuntimeError("observer bug")

    steps.subscribe(broken)
    steps.subscribe(events.append)
    try:
        with expected_protocol(Toy, []) as toy, pytest.raises(ValueError):
            toy.level_v = 99
    finally:
        steps.unsubscribe(broken)
        steps.unsubscribe(events.append)
    assert [e["phase"] for e in events] == ["start", "error"]
    assert "ValueError" in events[1]["error"] and "toy.level_v" in events[1]["error"]
    assert not steps.active()


def test_long_results_are_cut() -> None:
    assert len(steps.short("x" * 1000)) == steps.RESULT_CHARS


# --- VisaAdapter: every PyVISA failure becomes InstrumentError --------------------------------


class FakeResource:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.timeout = 5000
        self.closed = False

    def write(self, command: str) -> None:
        if self.fail:
            raise self.fail

    def read(self) -> str:
        if self.fail:
            raise self.fail
        return "ok"

    def query(self, command: str) -> str:
        self.write(command)
        return self.read()

    def close(self) -> None:
        self.closed = True


class FakeRM:
    def __init__(self, resource: FakeResource) -> None:
        self.resource = resource
        self.kwargs: dict = {}

    def open_resource(self, name: str, **kwargs: object) -> FakeResource:
        self.kwargs = kwargs
        return self.resource


@pytest.mark.parametrize(
    "failure",
    [
        pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_timeout),
        pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_connection_lost),
        ConnectionResetError("reset by peer"),
        pyvisa.errors.InvalidSession(),
        UnicodeDecodeError("ascii", b"\xff", 0, 1, "bad byte"),
    ],
)
def test_visa_failures_become_instrument_errors(failure: BaseException) -> None:
    rm = FakeRM(FakeResource(failure))
    adapter = VisaAdapter("TCPIP0::1.2.3.4::5025::SOCKET", role="logger", timeout_s=1.0, rm=rm)  # type: ignore[arg-type]
    assert rm.kwargs == {"read_termination": "\n", "write_termination": "\n", "timeout": 1000}
    with pytest.raises(InstrumentError) as err:
        adapter.query("SYST:ERR?")
    text = str(err.value)
    assert text.startswith("logger (TCPIP0::1.2.3.4::5025::SOCKET): 'SYST:ERR?': ")
    assert err.value.command == "SYST:ERR?" and err.value.resource.startswith("TCPIP0")


def test_visa_adapter_after_close() -> None:
    res = FakeResource()
    adapter = VisaAdapter("X", role="stage", rm=FakeRM(res))  # type: ignore[arg-type]
    assert adapter.query("*IDN?") == "ok"
    adapter.timeout_s = 0.5
    assert res.timeout == 500 and adapter.timeout_s == 0.5
    adapter.close()
    adapter.close()
    assert res.closed
    with pytest.raises(InstrumentError, match="stage \\(X\\): 'A': session is closed"):
        adapter.write("A")


def test_an_interrupted_exchange_reopens_the_session_before_the_next_one() -> None:
    """Ctrl-C between a query's write and its read leaves the reply in the old session;
    the next query (the safe state's, the last fetch) must not read it as its own."""

    class Sessions(FakeRM):
        def __init__(self) -> None:
            self.opened: list[FakeResource] = []
            self.kwargs = {}

        def open_resource(self, name: str, **kwargs: object) -> FakeResource:
            self.opened.append(FakeResource())
            return self.opened[-1]

    rm = Sessions()
    adapter = VisaAdapter("Z", role="logger", rm=rm)  # type: ignore[arg-type]
    rm.opened[0].fail = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        adapter.query("R?")
    assert len(rm.opened) == 1  # nothing done while the interrupt unwinds
    assert adapter.query("SYST:ERR?") == "ok"
    assert len(rm.opened) == 2 and rm.opened[0].closed and not rm.opened[1].closed
    assert adapter.failure is None
    assert adapter.query("SYST:ERR?") == "ok" and len(rm.opened) == 2  # once, not every time


def test_visa_adapter_cannot_open() -> None:
    class Refusing(FakeRM):
        def open_resource(self, name: str, **kwargs: object) -> FakeResource:
            raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_resource_not_found)

    with pytest.raises(InstrumentError, match="supply \\(Y\\): cannot open"):
        VisaAdapter("Y", role="supply", rm=Refusing(FakeResource()))  # type: ignore[arg-type]


def test_plain_instrument_has_no_set_check() -> None:
    class Plain(Instrument):
        x = control("X?", "X {value}", "x")

    with expected_protocol(Plain, [("X 3", None)], role="p") as p:
        p.x = 3
