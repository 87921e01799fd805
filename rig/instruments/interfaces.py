"""What test plans may rely on: small protocols per bench role, and the result records.

Test plans are written against these, not against a model: a station with a
different logger or supply only needs a driver that satisfies the protocol.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rig.clock import Clock

# --- result records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """An instrument's ``*IDN?`` (or equivalent) answer."""

    maker: str
    model: str
    serial: str
    firmware: str


@dataclass(frozen=True, slots=True)
class Reading:
    """One logger reading.

    ``t_s`` is seconds from the scan's start (the instrument's own time stamp).
    An overload (``+9.9E37``: open thermocouple, EMF outside type T, DC range
    exceeded) is kept as ``value = nan`` with ``overload = True``, so arithmetic
    on a column never mistakes it for a temperature.
    """

    value: float
    t_s: float
    channel: int
    overload: bool = False


@dataclass(frozen=True, slots=True)
class UnitIdentity:
    """The unit's ``ID?`` answer and how long it took (rig clock seconds)."""

    maker: str
    model: str
    serial: str
    firmware: str
    response_s: float


@dataclass(frozen=True, slots=True)
class UnitState:
    """``STATE?``: state name, corrected reading (nan if the sensor is open), valve, fault."""

    state: str
    reading_c: float
    valve_open: bool
    fault: str | None


@dataclass(frozen=True, slots=True)
class CalRecord:
    """Calibration coefficients as stored in the unit (gain 6 decimals, offset 4)."""

    gain: float
    offset_c: float
    date: dt.date
    cert_id: str


@dataclass(frozen=True, slots=True)
class UnitEvent:
    """One entry of the unit's event log (unit milliseconds since power-up)."""

    ms: int
    name: str
    detail: str


@dataclass(frozen=True, slots=True)
class LogRow:
    """One row of the unit's 10 Hz log."""

    ms: int
    reading_c: float
    valve: bool

    @property
    def reading_valid(self) -> bool:
        return not math.isnan(self.reading_c)


# --- roles -------------------------------------------------------------------------------------


@runtime_checkable
class ThermocoupleLogger(Protocol):
    def identify(self) -> Identity: ...

    def errors(self) -> list[str]: ...

    def check_no_errors(self, context: str) -> None: ...

    def configure_scan(
        self,
        tc_channels: Sequence[int],
        volt_channels: Sequence[int],
        interval_s: float,
        count: int | None = None,
        nplc: float = 0.2,
    ) -> None: ...

    def start(self) -> None: ...

    def abort(self) -> None: ...

    def points(self) -> int: ...

    def fetch_new(self, max_readings: int | None = None) -> list[Reading]: ...

    def fetch_all(self) -> list[Reading]: ...

    def read_temperature(
        self, channel: int, clock: Clock | None = None, nplc: float = 1
    ) -> float: ...


@runtime_checkable
class BenchSupply(Protocol):
    voltage_setpoint_v: float
    current_limit_a: float
    output_enabled: bool
    ocp_enabled: bool

    @property
    def measured_voltage_v(self) -> float: ...

    @property
    def measured_current_a(self) -> float: ...

    @property
    def measured_v_a(self) -> tuple[float, ...]: ...

    @property
    def tripped(self) -> bool: ...

    def identify(self) -> Identity: ...

    def errors(self) -> list[str]: ...

    def clear_protection(self) -> None: ...

    def safe_off(self) -> bool: ...


@runtime_checkable
class TecStage(Protocol):
    setpoint_c: float
    output_enabled: bool

    @property
    def temperature_c(self) -> float: ...

    @property
    def tec_current_a(self) -> float: ...

    def identify(self) -> Identity: ...

    def set_temperature_mode(self) -> None: ...

    def safe_off(self) -> bool: ...


@runtime_checkable
class CryoUnit(Protocol):
    def identify(self) -> UnitIdentity: ...

    def state(self) -> UnitState: ...

    def clock_ms(self, retries: int = ...) -> int: ...

    def selftest(self) -> str | None: ...

    def temperature_c(self) -> float: ...

    def raw_c(self) -> float: ...

    def shock(self, target_c: float, max_s: float) -> None: ...

    def hold(self, target_c: float, hold_s: float) -> None: ...

    def stop(self) -> None: ...

    def ack(self) -> None: ...

    def cutoff_settings(self) -> tuple[float, float]: ...

    def calibration(self) -> CalRecord: ...

    def write_calibration(self, rec: CalRecord) -> None: ...

    def enter_service(self, pin: str = "7391") -> None: ...

    def leave_service(self) -> None: ...

    def service_cool(self, max_s: float) -> None: ...

    def override(self, reading_c: float | None) -> None: ...

    def inject_fault(self, code: str) -> None: ...

    def events(self, since_ms: int = 0) -> list[UnitEvent]: ...

    def log(self, since_ms: int = 0) -> list[LogRow]: ...

    def all_events(self, since_ms: int = 0) -> list[UnitEvent]: ...

    def all_log(self, since_ms: int = 0) -> list[LogRow]: ...

    def reboot(self) -> None: ...

    def close(self) -> None: ...
