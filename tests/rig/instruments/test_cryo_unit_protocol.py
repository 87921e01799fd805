"""CryoUnitPort and its service link against service-port.md, on a fake port and clock."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import serial

from rig.instruments.cryo_unit import CryoUnitPort
from rig.instruments.errors import (
    InstrumentError,
    UnitCommandError,
    UnitProtocolError,
    UnitTimeout,
)
from rig.instruments.interfaces import CalRecord, LogRow, UnitEvent, UnitIdentity, UnitState
from rig.instruments.testing import FakeClock, FakeSerial, Later
from rig.shared.service_frame import encode_frame

ID_REPLY = encode_frame("OK INSTANTCRYO,IC-1,IC1-240117-0042,2.3.1")


def corrupt(frame: bytes) -> bytes:
    """Flip one payload character (the CRC no longer matches)."""
    body = bytearray(frame)
    body[3] = ord("X") if body[3] != ord("X") else ord("Y")
    return bytes(body)


def make(replies: list, *, first_seq: int = 0) -> tuple[CryoUnitPort, FakeSerial, FakeClock]:
    clock = FakeClock()
    port = FakeSerial(replies, clock=clock)
    return CryoUnitPort(port, clock=clock, resource="fake", first_seq=first_seq), port, clock


# --- framing and parsing ------------------------------------------------------------------------


def test_identify_sends_a_framed_query_and_parses() -> None:
    unit, port, _clock = make([ID_REPLY])
    ident = unit.identify()
    assert ident == UnitIdentity("INSTANTCRYO", "IC-1", "IC1-240117-0042", "2.3.1", 0.0)
    assert port.written == [b"$ID?*" + f"{_crc(b'ID?'):04X}".encode() + b"\r\n"]
    assert unit.stats == {"frames": 1, "retries": 0, "framing_errors": 0, "timeouts": 0}
    assert port.timeout == 0.02 and port.input_resets == 1


def _crc(data: bytes) -> int:
    from rig.shared.service_frame import crc16_ccitt_false

    return crc16_ccitt_false(data)


def test_response_time_is_measured_on_the_clock() -> None:
    unit, _, clock = make([Later(0.05, ID_REPLY)])
    ident = unit.identify()
    assert ident.response_s == pytest.approx(0.05)
    assert all(s == 0.01 for s in clock.slept)


def test_state_clock_temperatures_cutoff() -> None:
    unit, port, _ = make(
        [
            encode_frame("OK SHOCK 12.34 1 -"),
            encode_frame("OK FAULT nan 0 F01"),
            encode_frame("OK 123456"),
            encode_frame("OK 21.50"),
            encode_frame("OK nan"),
            encode_frame("OK 2.00 8.00"),
        ]
    )
    assert unit.state() == UnitState("SHOCK", 12.34, True, None)
    fault = unit.state()
    assert fault.state == "FAULT" and math.isnan(fault.reading_c) and fault.fault == "F01"
    assert unit.clock_ms() == 123456
    assert unit.temperature_c() == 21.5
    assert math.isnan(unit.raw_c())
    assert unit.cutoff_settings() == (2.0, 8.0)
    assert port.payloads == ["STATE?", "STATE?", "CLOCK?", "TEMP?", "RAW?", "CUTOFF?"]


def test_replies_longer_than_200_bytes_are_accepted() -> None:
    rows = ";".join(f"{1000 + 100 * i},{20 + i / 10:.2f},{i % 2}" for i in range(20))
    reply = f"OK 20;{rows}"
    assert len(reply) > 200
    unit, _, _ = make([encode_frame(reply)])
    log = unit.log(1000)
    assert len(log) == 20 and log[0] == LogRow(1000, 20.0, False) and log[1].valve is True


def test_leading_line_noise_before_the_frame_is_ignored() -> None:
    unit, _, _ = make([b"\x00\xff" + ID_REPLY])
    assert unit.identify().serial == "IC1-240117-0042"


def test_stale_bytes_are_flushed_before_each_frame() -> None:
    unit, port, _ = make([ID_REPLY])
    port.rx.extend(encode_frame("OK STALE") + b"$OK partial")
    assert unit.identify().model == "IC-1"


@pytest.mark.parametrize(
    ("call", "reply"),
    [
        (lambda u: u.identify(), "OK INSTANTCRYO,IC-1,SN"),
        (lambda u: u.state(), "OK IDLE 22.00 0"),
        (lambda u: u.state(), "OK IDLE 22.00 2 -"),
        (lambda u: u.state(), "OK IDLE warm 0 -"),
        (lambda u: u.clock_ms(), "OK soon"),
        (lambda u: u.selftest(), "OK MAYBE"),
        (lambda u: u.calibration(), "OK 1.0 0.0 yesterday FACTORY"),
        (lambda u: u.events(0), "OK 2;0,boot,2.3.1"),
        (lambda u: u.log(0), "OK 1;0,22.00,7"),
        (lambda u: u.stop(), "OK 1"),
        (lambda u: u.identify(), "HELLO"),
    ],
)
def test_replies_that_do_not_parse_name_command_and_reply(call, reply: str) -> None:  # type: ignore[no-untyped-def]
    unit, _, _ = make([encode_frame(reply)])
    with pytest.raises(UnitProtocolError) as err:
        call(unit)
    assert repr(reply.removeprefix("OK ")) in str(err.value) or repr(reply) in str(err.value)
    assert err.value.command is not None and err.value.command in str(err.value)


# --- sequence numbers ---------------------------------------------------------------------------


def test_state_changing_commands_carry_a_sequence_number_queries_do_not() -> None:
    ok = encode_frame("OK")
    unit, port, _ = make([ok] * 12 + [ID_REPLY], first_seq=7)
    unit.shock(4, 30)
    unit.hold(10.5, 120)
    unit.stop()
    unit.ack()
    unit.enter_service()
    unit.service_cool(60)
    unit.override(3.25)
    unit.override(None)
    unit.inject_fault("F02")
    unit.write_calibration(CalRecord(1.012345, -0.4321, dt.date(2024, 5, 6), "CERT-0042"))
    unit.leave_service()
    unit.command("SVC OVERRIDE -1.5")
    unit.identify()
    assert port.payloads == [
        "SHOCK 4 30 #7",
        "HOLD 10.5 120 #8",
        "STOP #9",
        "ACK #10",
        "SERVICE 7391 #11",
        "SVC COOL 60 #12",
        "SVC OVERRIDE 3.25 #13",
        "SVC OVERRIDE OFF #14",
        "SVC FAULT F02 #15",
        "CAL 1.012345 -0.4321 2024-05-06 CERT-0042 #16",
        "SERVICE OFF #17",
        "SVC OVERRIDE -1.5 #18",
        "ID?",
    ]


def test_sequence_numbers_wrap_at_65536() -> None:
    ok = encode_frame("OK")
    unit, port, _ = make([ok, ok, ok], first_seq=65535)
    unit.stop()
    unit.stop()
    unit.stop()
    assert port.payloads == ["STOP #65535", "STOP #0", "STOP #1"]


def test_default_first_sequence_number_is_in_range() -> None:
    clock = FakeClock()
    unit = CryoUnitPort(FakeSerial([encode_frame("OK")]), clock=clock)
    unit.stop()
    n = int(unit.link.port.payloads[0].split("#")[1])  # type: ignore[attr-defined]
    assert 0 <= n <= 65535


# --- retries ------------------------------------------------------------------------------------


def test_corrupted_reply_is_retried_with_the_same_sequence_number() -> None:
    ok = encode_frame("OK")
    unit, port, clock = make([corrupt(ok), ok], first_seq=41)
    unit.shock(4, 30)
    assert port.payloads == ["SHOCK 4 30 #41", "SHOCK 4 30 #41"]
    assert unit.stats == {"frames": 2, "retries": 1, "framing_errors": 1, "timeouts": 0}
    assert clock.now() == 0.0  # a bad frame is retried at once


def test_unit_framing_error_report_is_retried() -> None:
    unit, port, _ = make([encode_frame("ERR E1 framing"), ID_REPLY])
    assert unit.identify().maker == "INSTANTCRYO"
    assert port.payloads == ["ID?", "ID?"]
    assert unit.stats["framing_errors"] == 1 and unit.stats["retries"] == 1


def test_two_failures_then_success() -> None:
    ok = encode_frame("OK")
    unit, port, clock = make([None, corrupt(ok), ok], first_seq=5)
    unit.stop()
    assert port.payloads == ["STOP #5"] * 3
    assert unit.stats == {"frames": 3, "retries": 2, "framing_errors": 1, "timeouts": 1}
    assert clock.now() == pytest.approx(0.25)  # one 250 ms wait for the silent attempt


def test_three_timeouts_raise_unit_timeout_after_750_ms() -> None:
    unit, port, clock = make([None, None, None], first_seq=9)
    with pytest.raises(UnitTimeout) as err:
        unit.stop()
    assert port.payloads == ["STOP #9"] * 3
    assert unit.stats == {"frames": 3, "retries": 2, "framing_errors": 0, "timeouts": 3}
    assert clock.now() == pytest.approx(0.75)
    assert "'STOP #9'" in str(err.value) and "3 attempts" in str(err.value)
    assert isinstance(err.value, InstrumentError)


def test_three_bad_frames_raise_unit_timeout() -> None:
    unit, _port, _ = make([corrupt(ID_REPLY)] * 3)
    with pytest.raises(UnitTimeout, match="bad reply frame"):
        unit.identify()
    assert unit.stats == {"frames": 3, "retries": 2, "framing_errors": 3, "timeouts": 0}


def test_partial_line_at_the_deadline_is_no_answer() -> None:
    unit, _, _ = make([ID_REPLY[:10], ID_REPLY[:10], ID_REPLY])
    assert unit.identify().model == "IC-1"
    assert unit.stats["timeouts"] == 2


def test_refusal_is_raised_without_retry() -> None:
    unit, port, _ = make([encode_frame("ERR E4 not allowed in SHOCK")], first_seq=3)
    with pytest.raises(UnitCommandError) as err:
        unit.enter_service()
    assert (err.value.code, err.value.text, err.value.command) == (
        "E4",
        "not allowed in SHOCK",
        "SERVICE 7391 #3",
    )
    assert port.payloads == ["SERVICE 7391 #3"]
    assert unit.stats == {"frames": 1, "retries": 0, "framing_errors": 0, "timeouts": 0}


def test_busy_is_a_command_error() -> None:
    unit, _, _ = make([encode_frame("ERR E6 busy")])
    with pytest.raises(UnitCommandError, match="E6 busy"):
        unit.temperature_c()


def test_port_failure_is_an_instrument_error() -> None:
    class Broken(FakeSerial):
        def write(self, data: bytes) -> int:
            raise serial.SerialException("device disconnected")

    clock = FakeClock()
    unit = CryoUnitPort(Broken([]), clock=clock, resource="/dev/ttyUSB0")
    with pytest.raises(
        InstrumentError, match=r"unit \(/dev/ttyUSB0\): 'ID\?': device disconnected"
    ):
        unit.identify()


def test_a_port_whose_other_end_went_is_an_instrument_error() -> None:
    """A pty whose other end has gone fails in termios (a flush, a timeout change), whose
    error is not an OSError: it used to escape as a bare ``error: (5, 'Input/output
    error')`` that named neither the unit nor the command."""
    termios = pytest.importorskip("termios")

    class Gone(FakeSerial):
        def reset_input_buffer(self) -> None:
            raise termios.error(5, "Input/output error")

    unit = CryoUnitPort(Gone([]), clock=FakeClock(), resource="/dev/pts/7")
    with pytest.raises(
        InstrumentError,
        match=r"unit \(/dev/pts/7\): 'STATE\?': the port failed: Input/output error \(errno 5\)",
    ):
        unit.state()
    unit.close()  # and closing it does not raise either


# --- timing of slow commands ------------------------------------------------------------------


def test_selftest_waits_for_its_answer_up_to_2_5_s() -> None:
    unit, _, clock = make([Later(1.2, encode_frame("OK PASS"))])
    assert unit.selftest() is None
    assert clock.now() == pytest.approx(1.2)
    assert unit.stats["timeouts"] == 0


def test_selftest_failure_code() -> None:
    unit, _, _ = make([encode_frame("OK FAIL F06")])
    assert unit.selftest() == "F06"


def test_selftest_without_answer_times_out_after_three_long_waits() -> None:
    unit, _, clock = make([None, None, None])
    with pytest.raises(UnitTimeout):
        unit.selftest()
    assert clock.now() == pytest.approx(7.5)


def test_reboot_waits_until_id_answers_again() -> None:
    # REBOOT answered at once; the port is then silent for 1.5 s: probes every 0.5 s.
    unit, port, clock = make(
        [encode_frame("OK"), None, None, None, ID_REPLY, ID_REPLY], first_seq=100
    )
    unit.reboot()
    assert port.payloads == ["REBOOT #100", "ID?", "ID?", "ID?", "ID?"]
    assert clock.now() == pytest.approx(1.5)
    assert unit.stats["timeouts"] == 0  # silence while booting is expected
    assert unit.identify().serial == "IC1-240117-0042"


def test_reboot_that_never_comes_back_times_out_after_3_s() -> None:
    unit, _, clock = make([encode_frame("OK")] + [None] * 6)
    with pytest.raises(UnitTimeout, match="within 3 s after REBOOT"):
        unit.reboot()
    assert clock.now() == pytest.approx(3.0)


def test_reboot_with_garbled_reply_is_not_resent_but_verified() -> None:
    # A resend would reboot the unit again (its sequence cache is lost on reset).
    unit, port, _ = make(
        [corrupt(encode_frame("OK")), None, None, None, ID_REPLY, encode_frame("OK 12")],
        first_seq=1,
    )
    unit.reboot()
    assert port.payloads == ["REBOOT #1", "ID?", "ID?", "ID?", "ID?", "CLOCK?"]


def test_reboot_unconfirmed_and_unit_did_not_restart() -> None:
    unit, _, _ = make([None, ID_REPLY, encode_frame("OK 987654")])
    with pytest.raises(UnitTimeout, match="did not reboot"):
        unit.reboot()


def test_reboot_framing_error_at_the_unit_is_resent() -> None:
    unit, port, _ = make(
        [encode_frame("ERR E1 framing"), encode_frame("OK"), ID_REPLY], first_seq=8
    )
    unit.reboot()
    assert port.payloads == ["REBOOT #8", "REBOOT #8", "ID?"]


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda u: u.shock(25, 30), "shock.target_c"),
        (lambda u: u.shock(4, 61), "shock.max_s"),
        (lambda u: u.shock(float("nan"), 30), "shock.target_c"),
        (lambda u: u.hold(4, 301), "hold.hold_s"),
        (lambda u: u.service_cool(0.5), "service_cool.max_s"),
        (lambda u: u.override(150), "override.reading_c"),
        (lambda u: u.inject_fault("F03"), "F03"),
        (lambda u: u.enter_service("73 91"), "pin"),
        (lambda u: u.write_calibration(CalRecord(1.2, 0, dt.date(2024, 1, 1), "C")), "gain"),
        (lambda u: u.write_calibration(CalRecord(1.0, 3.5, dt.date(2024, 1, 1), "C")), "offset"),
        (lambda u: u.write_calibration(CalRecord(1.0, 0, dt.date(2024, 1, 1), "A B")), "cert_id"),
        (lambda u: u.write_calibration(CalRecord(1.0, 0, dt.date(2024, 1, 1), "")), "cert_id"),
    ],
)
def test_bad_arguments_send_nothing(call, name: str) -> None:  # type: ignore[no-untyped-def]
    unit, port, _ = make([])
    with pytest.raises(ValueError, match=name):
        call(unit)
    assert port.written == []


def test_calibration_read() -> None:
    unit, _, _ = make([encode_frame("OK 1.012345 -0.4321 2024-05-06 CERT-0042")])
    assert unit.calibration() == CalRecord(1.012345, -0.4321, dt.date(2024, 5, 6), "CERT-0042")


# --- event and log pages ------------------------------------------------------------------------


def _events_reply(rows: list[tuple[int, str, str]]) -> bytes:
    return encode_frame(f"OK {len(rows)}" + "".join(f";{m},{n},{d}" for m, n, d in rows))


def test_events_page() -> None:
    unit, port, _ = make(
        [_events_reply([(0, "boot", "2.3.1"), (0, "state", "IDLE")]), encode_frame("OK 0")]
    )
    assert unit.events(0) == [UnitEvent(0, "boot", "2.3.1"), UnitEvent(0, "state", "IDLE")]
    assert unit.events(5) == []
    assert port.payloads == ["EVENTS? 0", "EVENTS? 5"]


def test_all_events_keeps_entries_sharing_the_page_boundary_millisecond() -> None:
    events = [(i * 10, "valve_open", "-") for i in range(19)]
    events += [(500, "valve_close", "-"), (500, "treatment_end", "target"), (500, "state", "IDLE")]
    events += [(900, "ack", "-")]

    def page(since: int) -> bytes:
        return _events_reply([e for e in events if e[0] >= since][:20])

    unit, port, _ = make([lambda w: page(int(w[9 : w.index(b"*")]))] * 3)
    got = unit.all_events(0)
    assert [(e.ms, e.name, e.detail) for e in got] == events
    assert port.payloads == ["EVENTS? 0", "EVENTS? 500"]


def test_all_log_pages_until_a_short_page() -> None:
    rows = [(i * 100, 20.0 + i / 100, i % 2) for i in range(45)]

    def page(written: bytes) -> bytes:
        since = int(written[6 : written.index(b"*")])
        sel = [r for r in rows if r[0] >= since][:20]
        return encode_frame(f"OK {len(sel)}" + "".join(f";{m},{v:.2f},{x}" for m, v, x in sel))

    unit, port, _ = make([page] * 3)
    got = unit.all_log(0)
    assert [(r.ms, r.reading_c, int(r.valve)) for r in got] == [
        (m, round(v, 2), x) for m, v, x in rows
    ]
    # asked from the last row's ms (which is skipped), not last + 1: see all_events
    assert port.payloads == ["LOG? 0", "LOG? 1900", "LOG? 3800"]


def test_full_page_within_one_millisecond_moves_on() -> None:
    same = [(7, "state", f"S{i}") for i in range(20)]
    unit, port, _ = make([_events_reply(same), _events_reply([(8, "ack", "-")])])
    got = unit.all_events(7)
    assert len(got) == 21 and port.payloads == ["EVENTS? 7", "EVENTS? 8"]


# --- opening and closing ------------------------------------------------------------------------


def test_open_uses_pyserial_urls() -> None:
    # loop:// echoes every frame: a valid frame that is neither OK nor ERR.
    unit = CryoUnitPort.open("loop://", clock=FakeClock(), first_seq=0)
    with pytest.raises(UnitProtocolError, match=r"'ID\?': unexpected reply 'ID\?'"):
        unit.identify()
    assert unit.resource == "loop://"
    unit.close()
    with pytest.raises(InstrumentError):
        unit.identify()


def test_open_failure_is_an_instrument_error() -> None:
    with pytest.raises(InstrumentError, match=r"unit \(/nonexistent/tty\): cannot open"):
        CryoUnitPort.open("/nonexistent/tty", clock=FakeClock())


def test_close_closes_the_port() -> None:
    unit, port, _ = make([])
    unit.close()
    assert not port.is_open
