"""Every service-port command and error path of the simulated unit's firmware.

The unit runs on a stand-in bench (fixed spot temperature and supply voltage) so
that each path is exercised exactly; the same firmware on the physical bench is
covered by the acceptance tests that go through pyserial.
"""

from __future__ import annotations

import itertools

import pytest

from rig.shared.service_frame import FrameError, crc16_ccitt_false, decode_frame, encode_frame
from tests.sim.harness import UnitHarness


@pytest.fixture
def u() -> UnitHarness:
    return UnitHarness()


def state(u: UnitHarness) -> tuple[str, str, str]:
    """(state, valve, fault) from STATE?."""
    fields = u.cmd("STATE?").split(" ")
    assert fields[0] == "OK" and len(fields) == 5
    return fields[1], fields[3], fields[4]


def events(u: UnitHarness) -> list[tuple[str, str]]:
    reply = u.cmd("EVENTS? 0")
    return [tuple(e.split(",")[1:]) for e in reply.split(";")[1:]]


# --- framing -------------------------------------------------------------------------------
def test_crc_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_frame_round_trip_and_rejections() -> None:
    frame = encode_frame("ID?")
    assert decode_frame(frame).payload == "ID?"
    for bad in (b"ID?*4914\r\n", b"$ID?4914\r\n", b"$ID?*4915\r\n", b"$ID?*49g4\r\n"):
        with pytest.raises(FrameError):
            decode_frame(bad)


@pytest.mark.parametrize(
    "data",
    [
        b"$ID?*0000\r\n",  # bad CRC
        b"$ID?\r\n",  # no CRC separator
        b"ID?*4914\r\n",  # no start marker
        b"$ID?*4914\n",  # LF without CR
        b"$ID?*49\r\n",  # short CRC
        b"$ID\x01?*0000\r\n",  # control byte in payload
        b"garbage\r\n",
    ],
)
def test_bad_frames_get_e1(u: UnitHarness, data: bytes) -> None:
    replies = u.raw(data)
    assert [decode_frame(r).payload for r in replies] == ["ERR E1 framing"]


def test_lowercase_crc_is_a_framing_error(u: UnitHarness) -> None:
    payload = next(
        p
        for p in (b"ID?", b"STATE?", b"TEMP?", b"RAW?")
        if not f"{crc16_ccitt_false(p):04X}".isdigit()
    )
    crc = f"{crc16_ccitt_false(payload):04x}".encode()
    replies = u.raw(b"$" + payload + b"*" + crc + b"\r\n")
    assert [decode_frame(r).payload for r in replies] == ["ERR E1 framing"]


def test_overlong_payload_is_e1_and_200_bytes_is_accepted(u: UnitHarness) -> None:
    assert u.cmd("X" * 200) == "ERR E2 unknown command"
    long = b"$" + b"X" * 201 + b"*" + f"{crc16_ccitt_false(b'X' * 201):04X}".encode() + b"\r\n"
    assert [decode_frame(r).payload for r in u.raw(long)] == ["ERR E1 framing"]
    very_long = b"$" + b"Y" * 5000 + b"*0000\r\n"
    assert [decode_frame(r).payload for r in u.raw(very_long)] == ["ERR E1 framing"]
    assert u.cmd("ID?").startswith("OK ")


def test_dollar_resynchronises_and_empty_lines_are_ignored(u: UnitHarness) -> None:
    assert u.raw(b"\r\n") == []
    assert u.raw(b"noise without end") == []
    replies = u.raw(b"$junk" + encode_frame("ID?"))
    assert [decode_frame(r).payload for r in replies] == ["OK INSTANTCRYO,IC-1,SIM-0001,2.3.1"]


def test_partial_input_is_discarded_after_500_ms_of_silence(u: UnitHarness) -> None:
    frame = encode_frame("ID?")
    assert u.raw(frame[:4]) == []
    u.advance(0.4)
    assert next(decode_frame(r).payload for r in u.raw(frame[4:])).startswith("OK INSTANTCRYO")
    assert u.raw(frame[:4]) == []
    u.advance(0.6)
    assert [decode_frame(r).payload for r in u.raw(frame[4:])] == ["ERR E1 framing"]


def test_split_frames_and_several_frames_in_one_write(u: UnitHarness) -> None:
    frame = encode_frame("CUTOFF?")
    for b in frame[:-1]:
        assert u.raw(bytes([b])) == []
    assert [decode_frame(r).payload for r in u.raw(frame[-1:])] == ["OK 2.00 8.00"]
    u.raw(encode_frame("ID?") + encode_frame("CUTOFF?"))
    assert [r.split(" ")[0] for r in u.replies()] == ["OK", "OK"]


# --- queries ---------------------------------------------------------------------------------
def test_identity(u: UnitHarness) -> None:
    assert u.cmd("ID?") == "OK INSTANTCRYO,IC-1,SIM-0001,2.3.1"
    assert u.cmd("ID? x") == "ERR E3 expected 0 arguments"


def test_unknown_and_lowercase_commands(u: UnitHarness) -> None:
    assert u.cmd("FOO") == "ERR E2 unknown command"
    assert u.cmd("id?") == "ERR E2 unknown command"
    assert u.cmd("") == "ERR E2 unknown command"


def test_state_temp_raw_and_clock(u: UnitHarness) -> None:
    st, reading, valve, fault = u.cmd("STATE?").split(" ")[1:]
    assert (st, valve, fault) == ("IDLE", "0", "-")
    assert reading == u.cmd("TEMP?").split(" ")[1]
    raw = float(u.cmd("RAW?").split(" ")[1])
    p = u.profile.params
    assert raw == pytest.approx(p.sensor_gain * 33.0 + p.sensor_offset_c, abs=0.2)
    t1 = int(u.cmd("CLOCK?").split(" ")[1])
    u.advance(2.5)
    t2 = int(u.cmd("CLOCK?").split(" ")[1])
    assert t2 - t1 == 2500
    assert t1 == 1600  # milliseconds since power-up, boot included


def test_cutoff_query(u: UnitHarness) -> None:
    assert u.cmd("CUTOFF?") == "OK 2.00 8.00"
    v = UnitHarness(cutoff_threshold_c=0.5, cutoff_rearm_c=9.25)
    assert v.cmd("CUTOFF?") == "OK 0.50 9.25"


def test_selftest_pass_busy_and_fail(u: UnitHarness) -> None:
    assert u.raw(encode_frame("SELFTEST")) == []
    u.advance(0.5)
    assert u.cmd("ID?") == "ERR E6 busy"
    u.out.clear()
    u.advance(0.8)
    assert u.replies() == ["OK PASS"]
    bad = UnitHarness(selftest_fault="F06")
    bad.raw(encode_frame("SELFTEST"))
    bad.advance(1.3)
    assert bad.replies() == ["OK FAIL F06"]


def test_selftest_not_while_cooling(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 30 #1") == "OK"
    assert u.cmd("SELFTEST") == "ERR E4 not allowed in SHOCK"


def test_selftest_reports_undervoltage(u: UnitHarness) -> None:
    u.bench.supply_v = 18.0
    u.advance(0.1)
    u.raw(encode_frame("SELFTEST"))
    u.advance(1.3)
    assert u.replies() == ["OK FAIL F03"]


# --- sequence numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cmd", ["SHOCK 4 30", "HOLD 4 60", "STOP", "ACK", "SERVICE 7391", "REBOOT"]
)
def test_state_changing_commands_need_a_sequence_number(u: UnitHarness, cmd: str) -> None:
    assert u.cmd(cmd) == "ERR E3 missing sequence number"


@pytest.mark.parametrize("seq", ["#70000", "#-1", "#x", "#"])
def test_bad_sequence_numbers(u: UnitHarness, seq: str) -> None:
    assert u.cmd(f"STOP {seq}").startswith("ERR E3 sequence number")


def test_repeated_sequence_number_gets_the_cached_reply_and_is_not_executed(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 30 #5") == "OK"
    assert u.cmd("SHOCK 4 30 #5") == "OK"  # a retry: cached, not a second SHOCK (would be E4)
    assert [e for e in events(u) if e[0] == "valve_open"] == [("valve_open", "-")]
    assert u.cmd("SHOCK 4 30 #6") == "ERR E4 not allowed in SHOCK"
    assert u.cmd("SHOCK 4 30 #6") == "ERR E4 not allowed in SHOCK"  # errors are cached too
    assert u.cmd("STOP #7") == "OK"


# --- treatments ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cmd,reply",
    [
        ("SHOCK 25 30 #1", "ERR E3 target out of range 0..20"),
        ("SHOCK 4 0.5 #1", "ERR E3 max_s out of range 1..60"),
        ("SHOCK 4 61 #1", "ERR E3 max_s out of range 1..60"),
        ("SHOCK four 30 #1", "ERR E3 target not a number"),
        ("SHOCK nan 30 #1", "ERR E3 target out of range 0..20"),
        ("SHOCK 4 #1", "ERR E3 expected 2 arguments"),
        ("HOLD 4 0 #1", "ERR E3 hold_s out of range 1..300"),
        ("HOLD 21 60 #1", "ERR E3 target out of range 0..20"),
    ],
)
def test_treatment_arguments(u: UnitHarness, cmd: str, reply: str) -> None:
    assert u.cmd(cmd) == reply
    assert state(u)[0] == "IDLE"


def test_shock_ends_at_target_and_the_valve_follows(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 30 #1") == "OK"
    assert u.unit.drive_on
    u.advance(0.1)
    assert u.bench.jet_log[-1][1] is True
    open_delay = u.bench.jet_log[-1][0] - u.fw.valve_opened_us
    assert open_delay == round(u.profile.params.valve_open_delay_ms * 1000)
    u.bench.spot_c = 3.0  # the spot is cold now
    u.advance(1.0)
    assert state(u)[0] == "IDLE"
    assert not u.unit.drive_on
    assert ("treatment_end", "target") in events(u)


def test_shock_times_out(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 2 #1") == "OK"
    u.advance(2.1)
    assert state(u)[:2] == ("IDLE", "0")
    assert ("treatment_end", "timeout") in events(u)


def test_shock_only_from_idle(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SHOCK 4 30 #2") == "ERR E4 not allowed in SERVICE"


def test_hold_regulates_then_ends(u: UnitHarness) -> None:
    assert u.cmd("HOLD 10 2 #1") == "OK"
    assert u.unit.drive_on  # full jet while far above the target
    u.bench.spot_c = 9.0
    u.advance(0.5)
    assert ("hold_start", "10.00") in events(u)
    assert not u.unit.drive_on  # below target: duty 0
    u.bench.spot_c = 11.5  # warmer than the target: the valve is duty-cycled
    drive = []
    for _ in range(25):
        u.advance(0.02)
        drive.append(u.unit.drive_on)
    assert 0 < sum(drive) < len(drive)  # on part of each 100 ms period, off the rest
    assert sum(a != b for a, b in itertools.pairwise(drive)) >= 6
    u.bench.spot_c = 9.0
    u.advance(0.3)
    assert not u.unit.drive_on
    u.advance(1.5)
    assert state(u)[0] == "IDLE"
    assert ("treatment_end", "hold_done") in events(u)


def test_stop(u: UnitHarness) -> None:
    assert u.cmd("STOP #1") == "OK"  # harmless in IDLE
    assert u.cmd("HOLD 4 60 #2") == "OK"
    assert u.cmd("STOP #3") == "OK"
    assert state(u)[:2] == ("IDLE", "0")


# --- safety ---------------------------------------------------------------------------------------
def test_cutoff_rearm_and_ack(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC COOL 60 #2") == "OK"
    u.bench.spot_c = 1.5
    u.advance(1.0)
    assert state(u)[:2] == ("CUTOFF", "0")
    assert any(e[0] == "cutoff" for e in events(u))
    assert u.cmd("STOP #3") == "ERR E4 not allowed in CUTOFF"
    assert u.cmd("SHOCK 4 30 #4") == "ERR E4 not allowed in CUTOFF"
    u.bench.spot_c = 7.0
    u.advance(1.0)
    assert u.cmd("ACK #5") == "ERR E4 reading not above re-arm 8.00"
    u.bench.spot_c = 9.0
    u.advance(2.0)
    assert u.cmd("ACK #6") == "OK"
    assert state(u)[0] == "IDLE"


def test_ack_needs_something_to_acknowledge(u: UnitHarness) -> None:
    assert u.cmd("ACK #1") == "ERR E4 nothing to acknowledge in IDLE"


def test_cutoff_closes_within_one_control_period_of_the_reading(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC COOL 60 #2") == "OK"
    u.advance(0.5)
    t0 = u.sched.now_us
    assert u.cmd("SVC OVERRIDE 1.99 #3") == "OK"  # the reading is at the threshold now
    u.advance(0.5)
    assert 0 < u.fw.valve_closed_us - t0 <= u.profile.params.control_period_ms * 1000
    assert state(u)[0] == "CUTOFF"


def test_max_open_timer_faults_f04() -> None:
    u = UnitHarness(max_open_s=3.0)
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC OVERRIDE 20 #2") == "OK"
    assert u.cmd("SVC COOL 10 #3") == "OK"
    u.advance(2.9)
    assert u.unit.drive_on
    u.advance(0.2)
    assert u.cmd("STATE?") == "OK FAULT 20.00 0 F04"
    assert u.cmd("ACK #4") == "OK"
    assert state(u)[0] == "IDLE"


def test_service_cooling_ends_after_max_s(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC COOL 2 #2") == "OK"
    u.advance(2.1)
    assert state(u)[:2] == ("SERVICE", "0")
    assert ("svc_cool_end", "timeout") in events(u)


def test_undervoltage_closes_faults_and_does_not_reopen(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 30 #1") == "OK"
    u.advance(0.5)
    u.bench.supply_v = 19.0
    t0 = u.sched.now_us
    u.advance(0.5)
    assert u.fw.valve_closed_us - t0 <= 20_000
    assert state(u) == ("FAULT", "0", "F03")
    assert u.cmd("ACK #2") == "ERR E4 supply still low"
    u.bench.supply_v = 24.0
    u.advance(1.0)
    assert not u.unit.drive_on  # recovered voltage does not reopen the valve
    assert u.cmd("ACK #3") == "OK"
    assert state(u)[0] == "IDLE"


def test_dead_undervoltage_monitor_keeps_cooling() -> None:
    u = UnitHarness(undervoltage_v=0.0)
    assert u.cmd("SHOCK 4 30 #1") == "OK"
    u.bench.supply_v = 15.0
    u.advance(1.0)
    assert u.unit.drive_on


def test_undervoltage_only_matters_while_cooling(u: UnitHarness) -> None:
    u.bench.supply_v = 18.0
    u.advance(1.0)
    assert state(u)[0] == "IDLE"


@pytest.mark.parametrize("code", ["F01", "F02"])
def test_injected_sensor_fault(u: UnitHarness, code: str) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC COOL 60 #2") == "OK"
    t0 = u.sched.now_us
    assert u.cmd(f"SVC FAULT {code} #3") == "OK"
    u.advance(0.5)
    assert u.fw.valve_closed_us - t0 <= 20_000
    assert state(u)[1:] == ("0", code)
    assert u.cmd("ACK #4") == "OK"


def test_physical_sensor_out_of_range_faults_even_in_idle(u: UnitHarness) -> None:
    u.bench.spot_c = 75.0
    u.advance(1.0)
    assert state(u)[::2] == ("FAULT", "F02")
    assert u.cmd("ACK #1") == "ERR E4 sensor still failed"
    u.bench.spot_c = 30.0
    u.advance(1.0)
    assert u.cmd("ACK #2") == "OK"


# --- service mode ---------------------------------------------------------------------------------
def test_service_mode_entry_and_exit(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 1234 #1") == "ERR E3 wrong pin"
    assert u.cmd("SERVICE OFF #2") == "ERR E4 not allowed in IDLE"
    assert u.cmd("SVC COOL 5 #3") == "ERR E5 service mode required"
    assert u.cmd("SERVICE 7391 #4") == "OK"
    assert u.cmd("SERVICE 7391 #5") == "ERR E4 not allowed in SERVICE"
    assert u.cmd("SERVICE OFF #6") == "OK"
    assert state(u)[0] == "IDLE"


def test_service_sub_commands(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC #2") == "ERR E3 SVC needs a sub-command"
    assert u.cmd("SVC WARP #3") == "ERR E2 unknown command"
    assert u.cmd("SVC FAULT F03 #4") == "ERR E3 fault must be F01 or F02"
    assert u.cmd("SVC OVERRIDE 500 #5") == "ERR E3 reading out of range -50..100"
    assert u.cmd("SVC COOL 0 #6") == "ERR E3 max_s out of range 1..300"
    assert u.cmd("SVC OVERRIDE 12.5 #7") == "OK"
    u.advance(0.1)
    assert u.cmd("TEMP?") == "OK 12.50"
    assert u.cmd("SVC OVERRIDE OFF #8") == "OK"
    u.advance(0.1)
    assert u.cmd("TEMP?") != "OK 12.50"
    assert u.cmd("SVC COOL 30 #9") == "OK"
    assert u.cmd("SVC COOL 30 #10") == "ERR E4 already cooling"
    assert u.cmd("SERVICE OFF #11") == "OK"
    assert not u.unit.drive_on


def test_override_ends_with_service_mode(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("SVC OVERRIDE 12.5 #2") == "OK"
    assert u.cmd("SERVICE OFF #3") == "OK"
    u.advance(0.1)
    assert u.cmd("TEMP?") != "OK 12.50"


# --- calibration memory ---------------------------------------------------------------------------
def test_cal_write_needs_service_mode_and_valid_values(u: UnitHarness) -> None:
    assert u.cmd("CAL?") == "OK 1.000000 0.0000 2000-01-01 FACTORY"
    assert u.cmd("CAL? 1") == "ERR E3 expected 0 arguments"
    assert u.cmd("CAL 1.01 0.2 2026-11-28 C-1 #1") == "ERR E5 service mode required"
    assert u.cmd("SERVICE 7391 #2") == "OK"
    for seq, (args, msg) in enumerate(
        [
            ("1.2 0 2026-11-28 C-1", "gain out of range 0.9..1.1"),
            ("1.0 3.5 2026-11-28 C-1", "offset out of range -3..3"),
            ("1.0 0 2026-13-01 C-1", "date not yyyy-mm-dd"),
            ("1.0 0 28-11-2026 C-1", "date not yyyy-mm-dd"),
            ("1.0 0 2026-11-28 " + "X" * 33, "cert_id must be 1-32 characters without , or ;"),
            ("1.0 0 2026-11-28", "expected 4 arguments"),
        ],
        start=10,
    ):
        assert u.cmd(f"CAL {args} #{seq}") == f"ERR E3 {msg}"
    assert u.cmd("CAL 1.012345 -0.4321 2026-11-28 CERT-0001 #4") == "OK"
    assert u.cmd("CAL?") == "OK 1.012345 -0.4321 2026-11-28 CERT-0001"


def test_calibration_applies_to_the_corrected_reading(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("CAL 1.05 -1.5 2026-11-28 C-2 #2") == "OK"
    u.advance(0.1)
    raw = float(u.cmd("RAW?").split(" ")[1])
    temp = float(u.cmd("TEMP?").split(" ")[1])
    assert temp == pytest.approx(1.05 * raw - 1.5, abs=0.011)


def test_calibration_survives_reboot_and_power_cycle(u: UnitHarness) -> None:
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("CAL 0.98 0.75 2026-11-28 C-3 #2") == "OK"
    assert u.cmd("REBOOT #3") == "OK"
    assert u.raw(encode_frame("CAL?")) == []  # the port is silent while it restarts
    u.advance(1.4)
    assert u.out == []
    u.advance(0.2)
    assert u.replies() == ["OK 0.980000 0.7500 2026-11-28 C-3"]
    u.bench.supply_v = 0.0
    u.unit.on_supply_change(u.sched.now_us)
    u.advance(1.0)
    assert u.unit.state_name == "OFF"
    assert u.raw(encode_frame("ID?")) == []
    u.bench.supply_v = 24.0
    u.unit.on_supply_change(u.sched.now_us)
    u.advance(1.6)
    assert u.out == []  # what was sent while unpowered is gone
    assert u.cmd("CAL?") == "OK 0.980000 0.7500 2026-11-28 C-3"
    assert state(u)[0] == "IDLE"


def test_failing_memory_loses_writes_across_a_reset() -> None:
    u = UnitHarness(nvm_fault=True)
    assert u.cmd("SERVICE 7391 #1") == "OK"
    assert u.cmd("CAL 0.98 0.75 2026-11-28 C-3 #2") == "OK"
    assert u.cmd("CAL?") == "OK 0.980000 0.7500 2026-11-28 C-3"  # reads back from RAM
    assert u.cmd("REBOOT #3") == "OK"
    u.advance(1.6)
    assert u.cmd("CAL?") == "OK 1.000000 0.0000 2000-01-01 FACTORY"


def test_reboot_resets_the_clock_and_lands_idle_with_valve_closed(u: UnitHarness) -> None:
    assert u.cmd("SHOCK 4 30 #1") == "OK"
    assert u.cmd("REBOOT #2") == "OK"
    assert not u.unit.drive_on
    u.advance(1.6)
    assert int(u.cmd("CLOCK?").split(" ")[1]) == 1600
    assert state(u)[:2] == ("IDLE", "0")


# --- logs ---------------------------------------------------------------------------------------
def test_log_is_10_hz_on_the_unit_clock_and_pages_by_20(u: UnitHarness) -> None:
    u.advance(5.0)
    first = u.cmd("LOG? 0").split(";")
    assert first[0] == "OK 20"
    ms = [int(r.split(",")[0]) for r in first[1:]]
    assert ms == list(range(ms[0], ms[0] + 2000, 100))
    nxt = u.cmd(f"LOG? {ms[-1] + 1}").split(";")
    assert int(nxt[1].split(",")[0]) == ms[-1] + 100
    assert u.cmd("LOG? 99999999").split(";")[0] == "OK 0"
    assert u.cmd("LOG? -5") == "ERR E3 since_ms not an unsigned integer"
    assert u.cmd("LOG? 4294967296") == "ERR E3 since_ms out of range 0..4294967295"
    assert u.cmd("EVENTS?") == "ERR E3 expected 1 argument"


def test_events_page(u: UnitHarness) -> None:
    for i in range(15):
        assert u.cmd(f"SHOCK 4 30 #{2 * i}") == "OK"
        assert u.cmd(f"STOP #{2 * i + 1}") == "OK"
    page = u.cmd("EVENTS? 0").split(";")
    assert page[0] == "OK 20"
    assert page[1].split(",")[1:] == ["boot", "2.3.1"]


# --- link quality -------------------------------------------------------------------------------
def test_noisy_link_corrupts_replies() -> None:
    u = UnitHarness(link_error_rate=1.0)
    for _ in range(20):
        (reply,) = u.raw(encode_frame("ID?"))
        with pytest.raises(FrameError):
            decode_frame(reply)


def test_quiet_link_never_corrupts(u: UnitHarness) -> None:
    for _ in range(50):
        assert u.cmd("ID?").startswith("OK")


# --- the valve follows its latest command --------------------------------------------------------
def test_reopened_before_it_closed_the_valve_stays_open() -> None:
    """A HOLD's PWM drops the drive for one 20 ms tick; a valve slower to close (42 ms) than
    to open (22 ms) never gets to close. The jet must not end up off with the drive on."""
    u = UnitHarness(valve_open_delay_ms=22.0, valve_close_delay_ms=42.0)
    unit, t = u.unit, u.sched.now_us
    unit.set_valve_drive(t, True)
    u.advance(0.1)
    assert unit.flowing and u.bench.jet_log[-1][1] is True
    t = u.sched.now_us
    unit.set_valve_drive(t, False)
    u.advance(0.020)
    unit.set_valve_drive(u.sched.now_us, True)
    u.advance(0.2)
    assert unit.drive_on and unit.flowing
    assert [f for _, f in u.bench.jet_log] == [True]  # it never stopped


def test_a_pulse_shorter_than_the_open_delay_never_opens_the_valve() -> None:
    u = UnitHarness(valve_open_delay_ms=22.0, valve_close_delay_ms=42.0)
    unit = u.unit
    unit.set_valve_drive(u.sched.now_us, True)
    u.advance(0.010)
    unit.set_valve_drive(u.sched.now_us, False)
    u.advance(0.2)
    assert not unit.flowing and u.bench.jet_log == []


def test_the_valve_closes_after_its_close_delay() -> None:
    u = UnitHarness(valve_open_delay_ms=22.0, valve_close_delay_ms=42.0)
    unit = u.unit
    unit.set_valve_drive(u.sched.now_us, True)
    u.advance(0.1)
    off = u.sched.now_us
    unit.set_valve_drive(off, False)
    u.advance(0.2)
    assert u.bench.jet_log[-1] == (off + 42_000, False)
