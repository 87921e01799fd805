"""Arroyo Instruments TECSource 5305 TEC controller (not SCPI: a plain line protocol).

Reference: Arroyo Instruments Computer Interfacing Manual (TECSource series):
TEC:MODE:T, TEC:T, TEC:SET:T?, TEC:T?, TEC:ITE?, TEC:OUT, TEC:LIM:ITE, ERRSTR?.

The stage under the phantom is regulated by the controller's own PID, so the rig
only sets a setpoint, switches the output and reads temperature and TEC current
back. The emulator runs that PID in virtual time at 10 Hz on the plant's plate
sensor and drives the Peltier element through :class:`rig.sim.ports.StagePlant`.

Protocol: one command per line, case-insensitive, ``<command>[ <argument>]``;
lines end with CR, LF or CR LF on input and CR LF on output. Commands that set
send nothing back; unknown or malformed commands go to the error queue and send
nothing back either (the client then sees a timeout, and ``ERRSTR?`` says why).

Error codes (``ERRSTR?`` answers the oldest as ``<code>,<text>``, or ``0``):

====  ==========================  ===============================================
code  text                        when
====  ==========================  ===============================================
123   Command not found           unknown command, or a line longer than 64 KiB
201   Parameter out of range      ``TEC:T`` outside −20.0–60.0 °C, ``TEC:LIM:ITE``
                                  outside 0–limit A
202   Invalid parameter           missing, extra or non-numeric argument,
                                  ``TEC:OUT`` other than 1/0/ON/OFF
====  ==========================  ===============================================

The queue keeps 10 errors; further ones are dropped until it is read or
``*CLS`` clears it.

PID: positional form ``u = kp·e + ki·∫e dt − kd·dy/dt`` with derivative on the
measurement (a setpoint step gives no derivative kick) and conditional
integration (the integral is frozen while the output is saturated and the
error would drive it further), so the integrator cannot wind up during a long
full-power ramp. The loop restarts from a zero integral each time the output
is switched on; the first tick happens at the switch-on instant.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..noise import NoiseBank
from ..ports import SimClock, StagePlant
from ..timebase import EventHandle
from .line import Wait

TICK_US = 100_000
SETPOINT_MIN_C = -20.0
SETPOINT_MAX_C = 60.0
"""The stage's setpoint range. bench.md says 0–50 °C, but a phantom surface at the 2 °C
calibration point needs the plate near −1.5 °C in still air (the surface sits about 17 %
of the way from the plate to the room), so the stage is built, as Peltier stages are,
to go below 0 °C; see docs/sim.md."""
SETPOINT_DEFAULT_C = 25.0
SENSOR_NOISE_C = 0.003
MAX_LINE_CHARS = 64 * 1024
ERROR_QUEUE_SIZE = 10

ERROR_TEXT: dict[int, str] = {
    123: "Command not found",
    201: "Parameter out of range",
    202: "Invalid parameter",
}

_log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")


class ArroyoError(Exception):
    """A command refused with one of the codes of :data:`ERROR_TEXT`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class PidState:
    """Gains and memory of the temperature loop."""

    kp: float
    ki: float
    kd: float
    integral: float = 0.0
    last_measure: float | None = None

    def restart(self) -> None:
        self.integral = 0.0
        self.last_measure = None

    def step(self, setpoint: float, measured: float, dt_s: float, limit: float) -> float:
        """One controller tick: the TEC current in [-limit, +limit]."""
        error = setpoint - measured
        slope = 0.0 if self.last_measure is None else (measured - self.last_measure) / dt_s
        self.last_measure = measured
        candidate = self.integral + error * dt_s
        u = self.kp * error + self.ki * candidate - self.kd * slope
        winding_up = (u > limit and error > 0) or (u < -limit and error < 0)
        if winding_up:
            u = self.kp * error + self.ki * self.integral - self.kd * slope
        else:
            self.integral = candidate
        return max(-limit, min(limit, u))


def _number(arg: str) -> float:
    if _NUMBER.fullmatch(arg) is None:
        raise ArroyoError(202)
    return float(arg)


def _fixed3(value: float) -> str:
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


class Arroyo5305:
    """The emulated TEC controller (implements the server's ``LineInstrument``)."""

    input_terminators: ClassVar[bytes] = b"\r\n"
    output_terminator: ClassVar[bytes] = b"\r\n"

    def __init__(
        self,
        clock: SimClock,
        plant: StagePlant,
        noise: NoiseBank,
        *,
        serial: str = "534017",
        firmware: str = "v2.08",
        current_limit_a: float = 5.0,
        kp: float = 3.0,
        ki: float = 0.05,
        kd: float = 4.0,
    ) -> None:
        self._clock = clock
        self._plant = plant
        self._sensor_noise = noise.stream("arroyo.t")
        self.identity = f"Arroyo 5305 {serial} {firmware}"
        self.hardware_limit_a = current_limit_a
        self.pid = PidState(kp, ki, kd)
        self._errors: deque[int] = deque()
        self.internal_errors = 0
        self._setpoint = SETPOINT_DEFAULT_C
        self._limit = current_limit_a
        self._output = False
        self._current = 0.0
        self._tick: EventHandle | None = None
        self._table = self._command_table()

    # -- the bench's interface ----------------------------------------------------

    @property
    def output_on(self) -> bool:
        return self._output

    @property
    def setpoint_c(self) -> float:
        return self._setpoint

    @property
    def tec_current_a(self) -> float:
        """The current commanded at the last tick (0 when off)."""
        return self._current

    # -- commands -----------------------------------------------------------------

    def _command_table(self) -> dict[str, tuple[Callable[..., str | None], bool]]:
        """Command word → (handler, takes an argument)."""
        return {
            "*IDN?": (lambda: self.identity, False),
            "*RST": (self.reset, False),
            "*CLS": (self._errors.clear, False),
            "*OPC?": (lambda: "1", False),
            "ERRSTR?": (self._errstr, False),
            "TEC:MODE:T": (lambda: None, False),
            "TEC:MODE?": (lambda: "T", False),
            "TEC:T": (self._set_setpoint, True),
            "TEC:T?": (self._measure_t, False),
            "TEC:SET:T?": (lambda: _fixed3(self._setpoint), False),
            "TEC:ITE?": (lambda: _fixed3(self._current), False),
            "TEC:OUT": (self._set_output_text, True),
            "TEC:OUT?": (lambda: "1" if self._output else "0", False),
            "TEC:LIM:ITE": (self._set_limit, True),
            "TEC:LIM:ITE?": (lambda: _fixed3(self._limit), False),
        }

    def execute(self, line: str, respond: Callable[[str], None]) -> Wait | None:
        """Handle one line; replies go out at once (nothing here waits on virtual time)."""
        try:
            reply = self._run(line)
        except ArroyoError as exc:
            self._push_error(exc.code)
            return None
        except Exception:  # the bench must survive any input: count it, tests assert 0
            _log.exception("internal error in Arroyo5305")
            self.internal_errors += 1
            return None
        if reply is not None:
            respond(reply)
        return None

    def _run(self, line: str) -> str | None:
        if len(line) > MAX_LINE_CHARS:
            raise ArroyoError(123)
        parts = line.strip(" \t\r\n").split(maxsplit=1)
        if not parts:
            return None
        entry = self._table.get(parts[0].upper())
        if entry is None:
            raise ArroyoError(123)
        handler, takes_arg = entry
        if takes_arg != (len(parts) == 2):
            raise ArroyoError(202)
        return handler(parts[1].strip()) if takes_arg else handler()

    def _push_error(self, code: int) -> None:
        if len(self._errors) < ERROR_QUEUE_SIZE:
            self._errors.append(code)

    def _errstr(self) -> str:
        if not self._errors:
            return "0"
        code = self._errors.popleft()
        return f"{code},{ERROR_TEXT[code]}"

    def reset(self) -> None:
        """``*RST``: output off, setpoint 25 °C, current limit back to the hardware limit."""
        self._set_output(False)
        self._setpoint = SETPOINT_DEFAULT_C
        self._limit = self.hardware_limit_a

    def _set_setpoint(self, arg: str) -> None:
        value = _number(arg)
        if not SETPOINT_MIN_C <= value <= SETPOINT_MAX_C:
            raise ArroyoError(201)
        self._setpoint = value

    def _set_limit(self, arg: str) -> None:
        value = _number(arg)
        if not 0.0 <= value <= self.hardware_limit_a:
            raise ArroyoError(201)
        self._limit = value

    def _measure_t(self) -> str:
        t_us = self._clock.now_us
        return _fixed3(self._plant.plate_sensor_c(t_us) + self._sensor_noise.normal(SENSOR_NOISE_C))

    def _set_output_text(self, arg: str) -> None:
        states = {"1": True, "0": False, "ON": True, "OFF": False}
        state = states.get(arg.upper())
        if state is None:
            raise ArroyoError(202)
        self._set_output(state)

    # -- the control loop ---------------------------------------------------------

    def _set_output(self, on: bool) -> None:
        if on == self._output:
            return
        self._output = on
        now = self._clock.now_us
        if on:
            self.pid.restart()
            self._tick = self._clock.at(now, self._on_tick)
            return
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._current = 0.0
        self._plant.set_tec_current(now, 0.0)

    def _on_tick(self, t_us: int) -> None:
        """One 10 Hz controller step at ``t_us``; schedules the next."""
        measured = self._plant.plate_sensor_c(t_us)
        self._current = self.pid.step(self._setpoint, measured, TICK_US / 1e6, self._limit)
        self._plant.set_tec_current(t_us, self._current)
        self._tick = self._clock.at(t_us + TICK_US, self._on_tick)
