"""Daq970aLogger against the DAQ970A Programming Guide, command for command."""

from __future__ import annotations

import math

import pytest

from rig.instruments.daq970a import Daq970aLogger, channel_list, parse_block, parse_readings
from rig.instruments.errors import InstrumentError
from rig.instruments.interfaces import Reading
from rig.instruments.testing import FakeClock, expected_protocol

OK = ("SYST:ERR?", '+0,"No error"')


@pytest.mark.parametrize(
    ("channels", "text"),
    [
        ([101], "(@101)"),
        ([101, 110], "(@101,110)"),
        ([105, 101, 102, 103, 104, 110, 101], "(@101:105,110)"),
        ([101, 102, 104, 106, 107, 108], "(@101:102,104,106:108)"),
    ],
)
def test_channel_lists_are_compact(channels: list[int], text: str) -> None:
    assert channel_list(channels) == text


def test_empty_channel_list_is_refused() -> None:
    with pytest.raises(ValueError):
        channel_list([])


def test_configure_scan_command_order() -> None:
    pairs = [
        ("CONF:TEMP TC,T,(@101:105)", None),
        ("UNIT:TEMP C,(@101:105)", None),
        ("CONF:VOLT:DC (@110)", None),
        ("TEMP:NPLC 0.2,(@101:105)", None),
        ("VOLT:DC:NPLC 0.2,(@110)", None),
        ("ROUT:SCAN (@101:105,110)", None),
        ("FORM:READ:TIME ON", None),
        ("FORM:READ:CHAN ON", None),
        ("TRIG:SOUR TIM", None),
        ("TRIG:TIM 0.02", None),
        ("TRIG:COUN INF", None),
        OK,
    ]
    with expected_protocol(Daq970aLogger, pairs) as log:
        log.configure_scan([101, 102, 103, 104, 105], [110], 0.02)


def test_configure_scan_finite_count_and_nplc_and_tc_only() -> None:
    pairs = [
        ("CONF:TEMP TC,T,(@101)", None),
        ("UNIT:TEMP C,(@101)", None),
        ("TEMP:NPLC 1,(@101)", None),
        ("ROUT:SCAN (@101)", None),
        ("FORM:READ:TIME ON", None),
        ("FORM:READ:CHAN ON", None),
        ("TRIG:SOUR TIM", None),
        ("TRIG:TIM 0.5", None),
        ("TRIG:COUN 400", None),
        OK,
    ]
    with expected_protocol(Daq970aLogger, pairs) as log:
        log.configure_scan([101], [], 0.5, count=400, nplc=1)


def test_configure_scan_volts_only() -> None:
    pairs = [
        ("CONF:VOLT:DC (@110)", None),
        ("VOLT:DC:NPLC 0.2,(@110)", None),
        ("ROUT:SCAN (@110)", None),
        ("FORM:READ:TIME ON", None),
        ("FORM:READ:CHAN ON", None),
        ("TRIG:SOUR TIM", None),
        ("TRIG:TIM 1", None),
        ("TRIG:COUN 2", None),
        OK,
    ]
    with expected_protocol(Daq970aLogger, pairs) as log:
        log.configure_scan([], [110], 1.0, count=2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tc_channels": [], "volt_channels": [], "interval_s": 1},
        {"tc_channels": [101], "volt_channels": [101], "interval_s": 1},
        {"tc_channels": [101], "volt_channels": [], "interval_s": 0},
        {"tc_channels": [101], "volt_channels": [], "interval_s": 1, "count": 0},
        {"tc_channels": [101], "volt_channels": [], "interval_s": 1, "nplc": -1},
    ],
)
def test_configure_scan_rejects_bad_arguments_before_writing(kwargs: dict) -> None:
    with expected_protocol(Daq970aLogger, []) as log, pytest.raises(ValueError, match="logger"):
        log.configure_scan(**kwargs)


def test_configure_scan_refused_during_a_scan_reports_the_errors() -> None:
    pairs = [
        ("CONF:TEMP TC,T,(@101)", None),
        ("UNIT:TEMP C,(@101)", None),
        ("TEMP:NPLC 0.2,(@101)", None),
        ("ROUT:SCAN (@101)", None),
        ("FORM:READ:TIME ON", None),
        ("FORM:READ:CHAN ON", None),
        ("TRIG:SOUR TIM", None),
        ("TRIG:TIM 0.1", None),
        ("TRIG:COUN INF", None),
        ("SYST:ERR?", '-221,"Settings conflict"'),
        ("SYST:ERR?", '-221,"Settings conflict"'),
        OK,
    ]
    with expected_protocol(Daq970aLogger, pairs) as log, pytest.raises(InstrumentError) as err:
        log.configure_scan([101], [], 0.1)
    assert "configure_scan" in str(err.value) and str(err.value).count("-221") == 2


def test_start_abort_points() -> None:
    pairs = [("INIT", None), OK, ("DATA:POIN?", "+12"), ("ABOR", None), OK]
    with expected_protocol(Daq970aLogger, pairs) as log:
        log.start()
        assert log.points() == 12
        log.abort()


def test_start_refused() -> None:
    pairs = [("INIT", None), ("SYST:ERR?", '-213,"Init ignored"'), OK]
    with (
        expected_protocol(Daq970aLogger, pairs) as log,
        pytest.raises(InstrumentError, match="-213"),
    ):
        log.start()


def test_fetch_new_empty_block() -> None:
    with expected_protocol(Daq970aLogger, [("R?", "#10")]) as log:
        assert log.fetch_new() == []


def test_fetch_new_parses_value_time_channel() -> None:
    data = "+2.21000000E+01,0.000,101,-1.00000000E-05,0.006,110,+2.20000000E+01,0.020,101"
    block = f"#2{len(data)}{data}"
    with expected_protocol(Daq970aLogger, [("R? 3", block)]) as log:
        readings = log.fetch_new(3)
    assert readings == [
        Reading(22.1, 0.0, 101),
        Reading(-1e-5, 0.006, 110),
        Reading(22.0, 0.02, 101),
    ]


def test_multi_digit_block_headers() -> None:
    row = "+2.21000000E+01,12.340,101"
    data = ",".join([row] * 500)  # 13 499 bytes: a 5-digit length
    block = f"#{len(str(len(data)))}{len(data)}{data}"
    assert block.startswith("#513499")
    assert parse_block(block) == data
    assert len(parse_readings(parse_block(block), 3)) == 500
    small = "+1.0E+00,0.000,101"
    assert parse_block(f"#2{len(small)}{small}") == small
    assert parse_block("#0" + small) == small


@pytest.mark.parametrize("bad", ["", "22.1", "#", "#x", "#3", "#2ab12", "#15abc", "#15abcdefg"])
def test_malformed_blocks(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_block(bad)


def test_malformed_block_from_the_instrument_is_an_instrument_error() -> None:
    with (
        expected_protocol(Daq970aLogger, [("R?", "#19+1.0,0.0")]) as log,
        pytest.raises(InstrumentError, match="R\\?"),
    ):
        log.fetch_new()


def test_overload_becomes_nan_with_a_flag() -> None:
    data = "+9.90000000E+37,0.000,101,+2.2E+01,0.000,102"
    with expected_protocol(Daq970aLogger, [("R?", f"#2{len(data)}{data}")]) as log:
        first, second = log.fetch_new()
    assert math.isnan(first.value) and first.overload and first.channel == 101
    assert second == Reading(22.0, 0.0, 102, False)


def test_fetch_all_for_a_finished_scan() -> None:
    with expected_protocol(
        Daq970aLogger, [("FETC?", "+2.2E+01,0.000,101,+2.3E+01,0.500,101")]
    ) as log:
        assert [r.value for r in log.fetch_all()] == [22.0, 23.0]


def test_fetch_new_rejects_bad_max() -> None:
    with expected_protocol(Daq970aLogger, []) as log, pytest.raises(ValueError):
        log.fetch_new(0)


def test_read_temperature_is_lockstep_safe() -> None:
    clock = FakeClock()
    pairs = [
        ("CONF:TEMP TC,T,(@104)", None),
        ("UNIT:TEMP C,(@104)", None),
        ("TEMP:NPLC 1,(@104)", None),
        ("TRIG:SOUR IMM", None),
        ("TRIG:COUN 1", None),
        ("INIT", None),
        OK,
        ("FETC?", "+3.53000000E+01"),
    ]
    with expected_protocol(Daq970aLogger, pairs, clock=clock) as log:
        assert log.read_temperature(104) == 35.3
    # the FETC? comes after the reading is due: 1 PLC at 50 Hz + settling + margin
    assert clock.now() == pytest.approx(1 / 50 + 0.002 + 0.05)
    assert len(clock.slept) == 1


def test_read_temperature_with_explicit_clock_and_nplc_and_overload() -> None:
    clock = FakeClock()
    pairs = [
        ("CONF:TEMP TC,T,(@101)", None),
        ("UNIT:TEMP C,(@101)", None),
        ("TEMP:NPLC 10,(@101)", None),
        ("TRIG:SOUR IMM", None),
        ("TRIG:COUN 1", None),
        ("INIT", None),
        OK,
        ("FETC?", "+9.90000000E+37"),
    ]
    with expected_protocol(Daq970aLogger, pairs) as log:
        assert math.isnan(log.read_temperature(101, clock, nplc=10))
    assert clock.now() == pytest.approx(10 / 50 + 0.052)


def test_read_temperature_needs_a_clock() -> None:
    with expected_protocol(Daq970aLogger, []) as log, pytest.raises(ValueError, match="clock"):
        log.read_temperature(101)


def test_read_temperature_error_stops_before_waiting() -> None:
    clock = FakeClock()
    pairs = [
        ("CONF:TEMP TC,T,(@101)", None),
        ("UNIT:TEMP C,(@101)", None),
        ("TEMP:NPLC 1,(@101)", None),
        ("TRIG:SOUR IMM", None),
        ("TRIG:COUN 1", None),
        ("INIT", None),
        ("SYST:ERR?", '-221,"Settings conflict"'),
        OK,
    ]
    with (
        expected_protocol(Daq970aLogger, pairs, clock=clock) as log,
        pytest.raises(InstrumentError),
    ):
        log.read_temperature(101)
    assert clock.now() == 0.0


def test_identify_and_check_no_errors() -> None:
    pairs = [
        ("*IDN?", "Keysight Technologies,DAQ970A,MY58017742,A.03.02-01.00-03.02-00.02-03.03-00.03"),
        ("SYST:ERR?", '-113,"Undefined header"'),
        OK,
    ]
    with expected_protocol(Daq970aLogger, pairs) as log:
        ident = log.identify()
        assert (ident.model, ident.serial) == ("DAQ970A", "MY58017742")
        with pytest.raises(
            InstrumentError, match=r"logger \(protocol\): 'after setup': error queue: -113"
        ):
            log.check_no_errors("after setup")


def test_reset_and_clear_status() -> None:
    pairs = [("*RST", None), ("*OPC?", "1"), ("*CLS", None), OK]
    with expected_protocol(Daq970aLogger, pairs) as log:
        log.reset()
        log.clear_status()


def test_reset_without_completion_is_an_error() -> None:
    with (
        expected_protocol(Daq970aLogger, [("*RST", None), ("*OPC?", "0")]) as log,
        pytest.raises(InstrumentError, match="after \\*RST"),
    ):
        log.reset()
