"""E36313aOutput against the E36300 Series Programming Guide."""

from __future__ import annotations

import pytest

from rig.instruments.e36313a import E36313aOutput
from rig.instruments.errors import InstrumentError
from rig.instruments.testing import ProtocolAdapter, expected_protocol

OK = ("SYST:ERR?", '+0,"No error"')


def test_voltage_and_current_setpoints() -> None:
    pairs = [
        ("VOLT 24,(@2)", None),
        OK,
        ("VOLT? (@2)", "+2.40000000E+01"),
        ("CURR 1.5,(@2)", None),
        OK,
        ("CURR? (@2)", "+1.50000000E+00"),
    ]
    with expected_protocol(E36313aOutput, pairs) as supply:
        supply.voltage_setpoint_v = 24
        assert supply.voltage_setpoint_v == 24.0
        supply.current_limit_a = 1.5
        assert supply.current_limit_a == 1.5


def test_output_and_ocp_switches() -> None:
    pairs = [
        ("OUTP ON,(@2)", None),
        OK,
        ("OUTP? (@2)", "1"),
        ("CURR:PROT:STAT ON,(@2)", None),
        OK,
        ("CURR:PROT:STAT? (@2)", "1"),
        ("CURR:PROT:STAT OFF,(@2)", None),
        OK,
        ("OUTP OFF,(@2)", None),
        OK,
        ("OUTP? (@2)", "0"),
    ]
    with expected_protocol(E36313aOutput, pairs) as supply:
        supply.output_enabled = True
        assert supply.output_enabled is True
        supply.ocp_enabled = True
        assert supply.ocp_enabled is True
        supply.ocp_enabled = False
        supply.output_enabled = False
        assert supply.output_enabled is False


def test_measurements_and_trip() -> None:
    pairs = [
        ("MEAS:VOLT? (@2)", "+2.39990000E+01"),
        ("MEAS:CURR? (@2)", "+9.12000000E-02"),
        ("MEAS:VOLT? (@2);:MEAS:CURR? (@2)", "+2.39990000E+01;+9.12000000E-02"),
        ("MEAS:VOLT? (@2);:MEAS:CURR? (@2)", "+2.39990000E+01"),
        ("CURR:PROT:TRIP? (@2)", "0"),
        ("CURR:PROT:TRIP? (@2)", "1"),
        ("OUTP:PROT:CLE (@2)", None),
        OK,
    ]
    with expected_protocol(E36313aOutput, pairs) as supply:
        assert supply.measured_voltage_v == pytest.approx(23.999)
        assert supply.measured_current_a == pytest.approx(0.0912)
        assert supply.measured_v_a == pytest.approx((23.999, 0.0912))
        with pytest.raises(InstrumentError, match="1 replies, expected 2"):
            supply.measured_v_a  # noqa: B018 - a reply short of one value
        assert supply.tripped is False
        assert supply.tripped is True
        supply.clear_protection()


@pytest.mark.parametrize(
    ("prop", "value", "allowed"),
    [
        ("voltage_setpoint_v", 25.76, "0 to 25.75 V"),
        ("voltage_setpoint_v", -1, "0 to 25.75 V"),
        ("current_limit_a", 0.001, "0.002 to 2.06 A"),
        ("current_limit_a", 2.1, "0.002 to 2.06 A"),
        ("output_enabled", "ON", "True or False"),
        ("ocp_enabled", 1, "True or False"),
    ],
)
def test_validator_rejections_write_nothing(prop: str, value: object, allowed: str) -> None:
    with expected_protocol(E36313aOutput, []) as supply, pytest.raises(ValueError) as err:
        setattr(supply, prop, value)
    assert f"supply.{prop}" in str(err.value) and repr(value) in str(err.value)
    assert allowed in str(err.value)


def test_other_channel_and_role() -> None:
    pairs = [("VOLT 5,(@3)", None), OK]
    with expected_protocol(E36313aOutput, pairs, channel=3, role="aux") as supply:
        supply.voltage_setpoint_v = 5.0
        assert supply.role == "aux"
    with pytest.raises(ValueError, match="outputs 2 and 3"):
        E36313aOutput(ProtocolAdapter([]), channel=1)


def test_set_refused_by_the_supply() -> None:
    pairs = [("VOLT 20,(@2)", None), ("SYST:ERR?", '-222,"Data out of range"'), OK]
    with expected_protocol(E36313aOutput, pairs) as supply, pytest.raises(InstrumentError) as err:
        supply.voltage_setpoint_v = 20
    assert "supply" in str(err.value) and "'VOLT 20,(@2)'" in str(err.value)


def test_identify_and_errors() -> None:
    pairs = [
        ("*IDN?", "Keysight Technologies,E36313A,MY59001234,2.1.0-1.0.4-1.12"),
        ("SYST:ERR?", '-113,"Undefined header"'),
        ("SYST:ERR?", '-222,"Data out of range"'),
        OK,
    ]
    with expected_protocol(E36313aOutput, pairs) as supply:
        assert supply.identify().serial == "MY59001234"
        assert supply.errors() == ['-113,"Undefined header"', '-222,"Data out of range"']


def test_safe_off_confirms_off() -> None:
    with expected_protocol(E36313aOutput, [("OUTP OFF,(@2)", None), ("OUTP? (@2)", "0")]) as s:
        assert s.safe_off() is True


def test_safe_off_reports_an_output_that_stays_on() -> None:
    with expected_protocol(E36313aOutput, [("OUTP OFF,(@2)", None), ("OUTP? (@2)", "1")]) as s:
        assert s.safe_off() is False


def test_safe_off_never_raises_when_unreachable() -> None:
    class Dead(ProtocolAdapter):
        def write(self, command: str) -> None:
            raise InstrumentError("supply (x): gone", role="supply")

    supply = E36313aOutput(Dead([]))
    assert supply.safe_off() is False
