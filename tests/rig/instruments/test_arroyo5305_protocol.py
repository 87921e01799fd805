"""Arroyo5305Stage against the TECSource computer interfacing manual."""

from __future__ import annotations

import pytest

from rig.instruments.arroyo5305 import Arroyo5305Stage
from rig.instruments.errors import InstrumentError
from rig.instruments.interfaces import Identity
from rig.instruments.testing import ProtocolAdapter, expected_protocol

OK = ("ERRSTR?", "0")


def test_identify_parses_spaces() -> None:
    with expected_protocol(Arroyo5305Stage, [("*IDN?", "Arroyo 5305 534017 v2.08")]) as stage:
        assert stage.identify() == Identity("Arroyo", "5305", "534017", "v2.08")


@pytest.mark.parametrize("reply", ["Keysight,5305,1,2", "Arroyo 5305 534017", ""])
def test_identify_rejects_other_replies(reply: str) -> None:
    with (
        expected_protocol(Arroyo5305Stage, [("*IDN?", reply)]) as stage,
        pytest.raises(InstrumentError),
    ):
        stage.identify()


def test_every_set_is_followed_by_errstr() -> None:
    pairs = [
        ("TEC:MODE:T", None),
        OK,
        ("TEC:T 35.3", None),
        OK,
        ("TEC:OUT 1", None),
        OK,
        ("TEC:OUT 0", None),
        OK,
    ]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        stage.set_temperature_mode()
        stage.setpoint_c = 35.3
        stage.output_enabled = True
        stage.output_enabled = False


def test_queries() -> None:
    pairs = [
        ("TEC:SET:T?", "35.300"),
        ("TEC:T?", "34.912"),
        ("TEC:ITE?", "-0.250"),
        ("TEC:OUT?", "1"),
    ]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        assert stage.setpoint_c == 35.3
        assert stage.temperature_c == 34.912
        assert stage.tec_current_a == -0.25
        assert stage.output_enabled is True


@pytest.mark.parametrize(
    ("value", "prop"), [(60.5, "setpoint_c"), (-20.5, "setpoint_c"), (1, "output_enabled")]
)
def test_rejections_write_nothing(value: object, prop: str) -> None:
    with (
        expected_protocol(Arroyo5305Stage, []) as stage,
        pytest.raises(ValueError, match=f"stage.{prop}"),
    ):
        setattr(stage, prop, value)


def test_refused_setting_names_code_and_text() -> None:
    pairs = [("TEC:T 20", None), ("ERRSTR?", "201,Parameter out of range"), OK]
    with expected_protocol(Arroyo5305Stage, pairs) as stage, pytest.raises(InstrumentError) as err:
        stage.setpoint_c = 20
    assert "'TEC:T 20'" in str(err.value) and "201,Parameter out of range" in str(err.value)


def test_safe_off() -> None:
    pairs = [("TEC:OUT 0", None), OK, ("TEC:OUT?", "0")]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        assert stage.safe_off() is True
    pairs = [("TEC:OUT 0", None), ("ERRSTR?", "202,Invalid parameter"), OK]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        assert stage.safe_off() is False


def test_safe_off_never_raises_when_unreachable() -> None:
    class Dead(ProtocolAdapter):
        def query(self, command: str) -> str:
            raise InstrumentError("stage (x): timeout", role="stage")

    stage = Arroyo5305Stage(Dead([("TEC:OUT 0", None)]))
    assert stage.safe_off() is False


def test_errors_reads_the_queue_until_zero() -> None:
    pairs = [("ERRSTR?", "123,Command not found"), ("ERRSTR?", "202,Invalid parameter"), OK]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        assert stage.errors() == ["123,Command not found", "202,Invalid parameter"]


def test_check_no_errors() -> None:
    pairs = [OK, ("ERRSTR?", "123,Command not found"), OK]
    with expected_protocol(Arroyo5305Stage, pairs) as stage:
        stage.check_no_errors("idle")
        with pytest.raises(InstrumentError, match=r"stage .*'x': refused: 123,Command not found"):
            stage.check_no_errors("x")
