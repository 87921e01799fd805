"""The unit's firmware: service-port commands, treatment state machine, safety logic.

It runs on its own control period (``control_period_ms``): each tick it reads
the skin sensor and the supply-voltage monitor it has, applies its calibration,
and decides on the valve. It knows nothing of the phantom: a defect in the
sensor or in the valve shows up on the bench the way it would on real units.

Where ``service-port.md`` is silent the choices are written here and in
``docs/sim.md``:

* state-changing commands need ``#<n>``; a frame repeating the last sequence
  number is answered with the cached reply and not executed again (the
  comparison is by number only, as the protocol says); the cache is RAM and is
  lost on reset;
* ``EVENTS?``/``LOG?`` return entries with ``ms >= since_ms`` (ask
  ``last + 1`` for the next page); a reply may exceed 200 bytes (the 200-byte
  limit is the unit's receive buffer; 20 log rows do not fit in 200 bytes);
* while ``SELFTEST`` runs (1.2 s) every other frame gets ``ERR E6 busy``;
* ``SVC COOL <max_s>`` (1–300 s) ends by itself after ``max_s`` if neither the
  cutoff, the max-open timer nor a fault ended it first;
* an injected sensor fault (``SVC FAULT``) is latched at the next tick and then
  consumed; overrides and injections end when SERVICE is left;
* HOLD cools at full jet until the reading is within 2 °C of the target, then
  duty-cycles the valve: a PI controller on the corrected reading sets the duty of
  a PWM with a period of 5 control ticks (100 ms nominal); the hold timer starts
  when the reading first reaches the target. The PWM's valve edges are not
  events (the 10 Hz log shows the valve); the event log keeps the treatment's own.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..noise import RandomStream
from ..profile import UnitProfile
from ..timebase import EventHandle, Scheduler

MAKER = "INSTANTCRYO"
MODEL = "IC-1"
SERVICE_PIN = "7391"
SELFTEST_US = 1_200_000
BOOT_US = 1_500_000
LOG_PERIOD_MS = 100
EVENT_CAPACITY = 512
LOG_CAPACITY = 6000  # ten minutes at 10 Hz
MAX_ROWS = 20
HOLD_APPROACH_C = 2.0
"""HOLD cools at full jet until the reading is this close to the target, then modulates."""
HOLD_PWM_TICKS = 5
"""Valve PWM period in control ticks (100 ms at the nominal 20 ms)."""
HOLD_KP = 0.3
"""Duty per °C of reading above target."""
HOLD_KI = 0.2
"""Duty per °C·s of accumulated error."""
SENSOR_RANGE_C = (-20.0, 60.0)
UV_RECOVER_HYSTERESIS_V = 0.5
FACTORY_CAL = (1_000_000, 0, "2000-01-01", "FACTORY")  # gain µ-units, offset 1e-4 °C


class State:
    IDLE = "IDLE"
    SHOCK = "SHOCK"
    HOLD = "HOLD"
    CUTOFF = "CUTOFF"
    FAULT = "FAULT"
    SERVICE = "SERVICE"


COOLING_STATES = (State.SHOCK, State.HOLD, State.SERVICE)


class Hardware(Protocol):
    """The unit's own electronics as the firmware sees them."""

    def read_raw_sensor(self, t_us: int) -> float | None:
        """Thermopile reading before calibration (°C); None when the sensor is open."""
        ...

    def supply_monitor_v(self, t_us: int) -> float:
        """The undervoltage monitor's reading of the supply input."""
        ...

    def set_valve_drive(self, t_us: int, on: bool) -> None: ...


@dataclass(slots=True)
class CalRecord:
    gain_u: int  # gain × 1e6
    offset_u: int  # offset × 1e4 °C
    date: str
    cert_id: str

    @property
    def gain(self) -> float:
        return self.gain_u / 1e6

    @property
    def offset_c(self) -> float:
        return self.offset_u / 1e4

    def text(self) -> str:
        return f"{self.gain_u / 1e6:.6f} {self.offset_u / 1e4:.4f} {self.date} {self.cert_id}"


class Nvm:
    """Calibration memory. A failing part acknowledges writes and keeps the old record."""

    def __init__(self, failing: bool) -> None:
        self.failing = failing
        self.stored = CalRecord(*FACTORY_CAL)

    def write(self, rec: CalRecord) -> None:
        if not self.failing:
            self.stored = CalRecord(rec.gain_u, rec.offset_u, rec.date, rec.cert_id)

    def read(self) -> CalRecord:
        s = self.stored
        return CalRecord(s.gain_u, s.offset_u, s.date, s.cert_id)


class CommandError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


def _bad(text: str) -> CommandError:
    return CommandError("E3", text)


def _parse_float(tok: str, name: str, low: float, high: float) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise _bad(f"{name} not a number") from None
    if not math.isfinite(value) or not (low <= value <= high):
        raise _bad(f"{name} out of range {low:g}..{high:g}")
    return value


def _parse_uint(tok: str, name: str, high: int) -> int:
    if not tok.isdigit():
        raise _bad(f"{name} not an unsigned integer")
    value = int(tok)
    if value > high:
        raise _bad(f"{name} out of range 0..{high}")
    return value


# Commands that change state carry a sequence number; queries do not.
_SEQUENCED = frozenset({"SHOCK", "HOLD", "STOP", "ACK", "SERVICE", "SVC", "REBOOT", "CAL"})


class Firmware:
    """One boot of the firmware: created at power-up, discarded at reset or power loss."""

    def __init__(
        self,
        sched: Scheduler,
        hw: Hardware,
        profile: UnitProfile,
        nvm: Nvm,
        boot_us: int,
        noise: RandomStream,
        request_reboot: Callable[[int], None],
    ) -> None:
        self.sched = sched
        self.hw = hw
        self.profile = profile
        self.p = profile.params
        self.nvm = nvm
        self.boot_us = boot_us
        self.noise = noise
        self._request_reboot = request_reboot
        self.cal = nvm.read()
        self.state = State.IDLE
        self.fault: str | None = None
        self.valve = False
        self.raw_c: float | None = None
        self.reading_c: float = float("nan")
        self.supply_v = 0.0
        self._last_seq: tuple[int, str] | None = None
        self.events: deque[tuple[int, str, str]] = deque(maxlen=EVENT_CAPACITY)
        self.log: deque[tuple[int, float, int]] = deque(maxlen=LOG_CAPACITY)
        self._next_log_ms = 0
        self.override_c: float | None = None
        self.inject: str | None = None
        self.busy_until_us = 0
        self._period_us = int(self.p.control_period_ms) * 1000
        # Treatment bookkeeping.
        self.target_c = 0.0
        self.treat_start_us = 0
        self.treat_limit_us = 0
        self.hold_started_us: int | None = None
        self.hold_us = 0
        self.hold_modulating = False
        self.hold_tick = 0
        self.hold_integral = 0.0
        self.hold_on_ticks = 0
        self.svc_cooling = False
        self.valve_opened_us = 0
        self.valve_closed_us = -(10**12)
        self._tick_handle: EventHandle | None = None
        self._last_sense_us = boot_us
        self.alive = True

    # --- clock ------------------------------------------------------------------------------
    def ms(self, t_us: int) -> int:
        return ((t_us - self.boot_us) // 1000) & 0xFFFFFFFF

    def start(self, t_us: int) -> None:
        """Boot complete: land in IDLE with the valve closed and start the control loop."""
        self._event(t_us, "boot", self.profile.firmware)
        self._event(t_us, "state", State.IDLE)
        self._next_log_ms = (self.ms(t_us) // LOG_PERIOD_MS + 1) * LOG_PERIOD_MS
        self._tick(t_us)

    def stop(self) -> None:
        self.alive = False
        if self._tick_handle is not None:
            self._tick_handle.cancel()

    def _event(self, t_us: int, name: str, detail: str = "-") -> None:
        self.events.append((self.ms(t_us), name, detail))

    # --- control loop -------------------------------------------------------------------------
    def _active(self) -> bool:
        """Cooling: every control tick matters (valve decisions, safety timing)."""
        return self.state in (State.SHOCK, State.HOLD) or self.svc_cooling

    def _tick(self, t_us: int) -> None:
        if not self.alive:
            return
        self._sense(t_us)
        self._decide(t_us)
        ms = self.ms(t_us)
        if ms >= self._next_log_ms:
            self.log.append((ms, self.reading_c, int(self.valve)))
            self._next_log_ms = (ms // LOG_PERIOD_MS + 1) * LOG_PERIOD_MS
        self._schedule_tick(t_us)

    def _grid_after(self, t_us: int) -> int:
        """The first control tick strictly after ``t_us``."""
        k = (t_us - self.boot_us) // self._period_us + 1
        return self.boot_us + k * self._period_us

    def _schedule_tick(self, t_us: int) -> None:
        """Next tick: one control period on while cooling; otherwise the control tick
        that falls on the next 10 Hz log entry (a simulation shortcut: with the valve
        closed and nothing to decide, the skipped ticks would change nothing that can
        be observed; commands refresh the reading first, see :meth:`refresh`)."""
        nxt = t_us + self._period_us
        if not self._active():
            log_us = self.boot_us + self._next_log_ms * 1000
            if log_us > nxt:
                nxt = self._grid_after(log_us - 1)
        self._tick_handle = self.sched.at(nxt, self._tick)
        self._last_sense_us = t_us

    def _wake(self, t_us: int) -> None:
        """Cooling starts: tick on every control period again from the next one."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._tick_handle = self.sched.at(self._grid_after(t_us), self._tick)

    def refresh(self, t_us: int) -> None:
        """Before a command: read the sensor as the last skipped control tick would have."""
        if not self._active() and t_us - self._last_sense_us >= self._period_us:
            self._sense(t_us)
            self._decide(t_us)
            self._last_sense_us = t_us

    def _sense(self, t_us: int) -> None:
        raw = self.hw.read_raw_sensor(t_us)
        if self.inject == "F01":
            raw = None
        elif self.inject == "F02":
            raw = 85.0
        self.raw_c = None if raw is None else round(raw, 2)
        if self.override_c is not None:
            self.reading_c = self.override_c
        elif self.raw_c is None:
            self.reading_c = float("nan")
        else:
            self.reading_c = round(self.cal.gain * self.raw_c + self.cal.offset_c, 2)
        self.supply_v = self.hw.supply_monitor_v(t_us) + self.noise.normal(0.02)

    def _sensor_fault(self) -> str | None:
        if self.raw_c is None:
            return "F01"
        lo, hi = SENSOR_RANGE_C
        if not (lo <= self.raw_c <= hi) or not (lo <= self.reading_c <= hi):
            return "F02"
        return None

    def _decide(self, t_us: int) -> None:
        state = self.state
        sensor = self._sensor_fault()
        if sensor is not None and state in (State.IDLE, *COOLING_STATES):
            self.inject = None
            self._enter_fault(t_us, sensor)
            return
        if state not in COOLING_STATES:
            return
        cooling = state != State.SERVICE or self.svc_cooling
        if not cooling:
            return
        p = self.p
        if self.supply_v < p.undervoltage_v:
            self._enter_fault(t_us, "F03")
            return
        reading = self.reading_c
        if reading <= p.cutoff_threshold_c:
            self._valve(t_us, False)
            self.svc_cooling = False
            self._set_state(t_us, State.CUTOFF)
            self._event(t_us, "cutoff", f"{reading:.2f}")
            return
        if self.valve and t_us - self.valve_opened_us >= int(p.max_open_s * 1e6):
            self._enter_fault(t_us, "F04")
            return
        if state == State.SHOCK:
            if reading <= self.target_c:
                self._finish(t_us, "target")
            elif t_us - self.treat_start_us >= self.treat_limit_us:
                self._finish(t_us, "timeout")
        elif state == State.HOLD:
            self._regulate(t_us, reading)
        elif t_us - self.treat_start_us >= self.treat_limit_us:  # service cooling
            self._valve(t_us, False)
            self.svc_cooling = False
            self._event(t_us, "svc_cool_end", "timeout")

    def _regulate(self, t_us: int, reading: float) -> None:
        if self.hold_started_us is None and reading <= self.target_c:
            self.hold_started_us = t_us
            self._event(t_us, "hold_start", f"{self.target_c:.2f}")
        if self.hold_started_us is not None and t_us - self.hold_started_us >= self.hold_us:
            self._finish(t_us, "hold_done")
            return
        if not self.hold_modulating:
            if reading > self.target_c + HOLD_APPROACH_C:
                return  # still cooling down at full jet
            self.hold_modulating = True
            self.hold_tick = 0
        if self.hold_tick % HOLD_PWM_TICKS == 0:
            error = reading - self.target_c
            period_s = HOLD_PWM_TICKS * self._period_us / 1e6
            integral = self.hold_integral + HOLD_KI * error * period_s
            self.hold_integral = min(max(integral, -1.0), 2.0)
            duty = min(max(HOLD_KP * error + self.hold_integral, 0.0), 1.0)
            self.hold_on_ticks = round(duty * HOLD_PWM_TICKS)
        self._valve(t_us, self.hold_tick % HOLD_PWM_TICKS < self.hold_on_ticks)
        self.hold_tick += 1

    def _finish(self, t_us: int, why: str) -> None:
        self._valve(t_us, False)
        self._event(t_us, "treatment_end", why)
        self._set_state(t_us, State.IDLE)

    def _enter_fault(self, t_us: int, code: str) -> None:
        self._valve(t_us, False)
        self.svc_cooling = False
        self.fault = code
        self._set_state(t_us, State.FAULT)
        self._event(t_us, "fault", code)

    def _set_state(self, t_us: int, state: str) -> None:
        if state != self.state:
            if self.state == State.SERVICE and state in (State.IDLE,):
                self.override_c = None
                self.inject = None
            self.state = state
            self._event(t_us, "state", state)

    def _valve(self, t_us: int, on: bool) -> None:
        if on == self.valve:
            return
        self.valve = on
        self.hw.set_valve_drive(t_us, on)
        if on:
            self.valve_opened_us = t_us
        else:
            self.valve_closed_us = t_us
        # The PWM of a HOLD switches the valve ten times a second; its edges are in the
        # 10 Hz log, the event log keeps the treatment's own transitions.
        if not (self.state == State.HOLD and self.hold_modulating):
            self._event(t_us, "valve_open" if on else "valve_close")

    def power_lost(self, t_us: int) -> None:
        """The supply went away: the coil loses its drive with the MCU."""
        if self.valve:
            self.valve = False
            self.hw.set_valve_drive(t_us, False)
        self.stop()

    # --- service port -------------------------------------------------------------------------
    def handle(self, payload: str, t_us: int, reply: Callable[[str], None]) -> None:
        """Execute one frame's payload and answer through ``reply`` (now or when due)."""
        self.refresh(t_us)
        if t_us < self.busy_until_us:
            reply("ERR E6 busy")
            return
        tokens = payload.split(" ")
        name = tokens[0]
        args = tokens[1:]
        seq: int | None = None
        if name in _SEQUENCED:
            if not args or not args[-1].startswith("#"):
                reply("ERR E3 missing sequence number")
                return
            try:
                seq = _parse_uint(args[-1][1:], "sequence number", 65535)
            except CommandError as exc:
                reply(f"ERR {exc.code} {exc.text}")
                return
            args = args[:-1]
            if self._last_seq is not None and self._last_seq[0] == seq:
                reply(self._last_seq[1])
                return
        try:
            text = self._dispatch(name, args, t_us, reply)
        except CommandError as exc:
            text = f"ERR {exc.code} {exc.text}"
        if text is None:  # answered later (SELFTEST)
            return
        if seq is not None:
            self._last_seq = (seq, text)
        reply(text)

    def _dispatch(
        self, name: str, args: list[str], t_us: int, reply: Callable[[str], None]
    ) -> str | None:
        handler = _COMMANDS.get(name)
        if handler is None:
            raise CommandError("E2", "unknown command")
        return handler(self, args, t_us, reply)

    @staticmethod
    def _nargs(args: list[str], n: int) -> None:
        if len(args) != n:
            raise _bad(f"expected {n} argument{'s' if n != 1 else ''}")

    def _require(self, *states: str) -> None:
        if self.state not in states:
            raise CommandError("E4", f"not allowed in {self.state}")

    def _require_service(self) -> None:
        if self.state != State.SERVICE:
            raise CommandError("E5", "service mode required")

    def _fmt_reading(self) -> str:
        return "nan" if math.isnan(self.reading_c) else f"{self.reading_c:.2f}"

    # queries
    def cmd_id(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return f"OK {MAKER},{MODEL},{self.profile.serial},{self.profile.firmware}"

    def cmd_state(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        fault = self.fault if self.state == State.FAULT and self.fault else "-"
        return f"OK {self.state} {self._fmt_reading()} {int(self.valve)} {fault}"

    def cmd_clock(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return f"OK {self.ms(t_us)}"

    def cmd_temp(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return f"OK {self._fmt_reading()}"

    def cmd_raw(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return "OK nan" if self.raw_c is None else f"OK {self.raw_c:.2f}"

    def cmd_cutoff(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return f"OK {self.p.cutoff_threshold_c:.2f} {self.p.cutoff_rearm_c:.2f}"

    def cmd_selftest(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> None:
        self._nargs(args, 0)
        self._require(State.IDLE, State.SERVICE)
        if self.svc_cooling:
            raise CommandError("E4", "not allowed while cooling")
        self.busy_until_us = t_us + SELFTEST_US

        def done(t: int) -> None:
            if not self.alive:
                return
            code = self._selftest_result()
            self._event(t, "selftest", code or "PASS")
            reply("OK PASS" if code is None else f"OK FAIL {code}")

        self.sched.at(t_us + SELFTEST_US, done)
        return None

    def _selftest_result(self) -> str | None:
        if self.p.selftest_fault:
            return self.p.selftest_fault
        if self.raw_c is None:
            return "F01"
        lo, hi = SENSOR_RANGE_C
        if not (lo <= self.raw_c <= hi):
            return "F02"
        if self.supply_v < self.p.undervoltage_v:
            return "F03"
        return None

    def _rows(self, args: list[str], source: deque, fmt: Callable[[tuple], str]) -> str:
        self._nargs(args, 1)
        since = _parse_uint(args[0], "since_ms", 0xFFFFFFFF)
        # Entries are in time order and hosts ask for recent ones: walk back from the
        # newest to the first one older than ``since`` instead of scanning the buffer.
        newer: list[tuple] = []
        for entry in reversed(source):
            if entry[0] < since:
                break
            newer.append(entry)
        rows = [fmt(e) for e in reversed(newer[-MAX_ROWS:])] if newer else []
        return f"OK {len(rows)}" + "".join(";" + r for r in rows)

    def cmd_events(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        return self._rows(args, self.events, lambda e: f"{e[0]},{e[1]},{e[2]}")

    def cmd_log(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        def fmt(e: tuple) -> str:
            r = "nan" if math.isnan(e[1]) else f"{e[1]:.2f}"
            return f"{e[0]},{r},{e[2]}"

        return self._rows(args, self.log, fmt)

    def cmd_cal_query(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        return f"OK {self.cal.text()}"

    def cmd_cal(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 4)
        self._require_service()
        if self.svc_cooling:
            raise CommandError("E4", "not allowed while cooling")
        gain = _parse_float(args[0], "gain", 0.9, 1.1)
        offset = _parse_float(args[1], "offset", -3.0, 3.0)
        try:
            date = dt.date.fromisoformat(args[2])
        except ValueError:
            raise _bad("date not yyyy-mm-dd") from None
        if len(args[2]) != 10:
            raise _bad("date not yyyy-mm-dd")
        cert = args[3]
        if not (1 <= len(cert) <= 32) or "," in cert or ";" in cert:
            raise _bad("cert_id must be 1-32 characters without , or ;")
        rec = CalRecord(round(gain * 1e6), round(offset * 1e4), date.isoformat(), cert)
        self.cal = rec
        self.nvm.write(rec)
        self._event(t_us, "cal_write", cert)
        return "OK"

    # treatments
    def _start_cooling(self, t_us: int, limit_s: float) -> None:
        self.treat_start_us = t_us
        self.treat_limit_us = round(limit_s * 1e6)
        self._valve(t_us, True)
        self._wake(t_us)

    def cmd_shock(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 2)
        target = _parse_float(args[0], "target", 0.0, 20.0)
        max_s = _parse_float(args[1], "max_s", 1.0, 60.0)
        self._require(State.IDLE)
        self.target_c = target
        self._set_state(t_us, State.SHOCK)
        self._start_cooling(t_us, max_s)
        return "OK"

    def cmd_hold(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 2)
        target = _parse_float(args[0], "target", 0.0, 20.0)
        hold_s = _parse_float(args[1], "hold_s", 1.0, 300.0)
        self._require(State.IDLE)
        self.target_c = target
        self.hold_us = round(hold_s * 1e6)
        self.hold_started_us = None
        self.hold_modulating = False
        self.hold_integral = 0.0
        self._set_state(t_us, State.HOLD)
        self._start_cooling(t_us, 1e6)
        return "OK"

    def cmd_stop(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        self._require(State.IDLE, State.SHOCK, State.HOLD, State.SERVICE)
        self._valve(t_us, False)
        self.svc_cooling = False
        if self.state != State.IDLE:
            self._event(t_us, "stop")
        self._set_state(t_us, State.IDLE)
        return "OK"

    def cmd_ack(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        if self.state == State.CUTOFF:
            if not self.reading_c > self.p.cutoff_rearm_c:
                raise CommandError("E4", f"reading not above re-arm {self.p.cutoff_rearm_c:.2f}")
        elif self.state == State.FAULT:
            if (
                self.fault == "F03"
                and self.supply_v < self.p.undervoltage_v + UV_RECOVER_HYSTERESIS_V
            ):
                raise CommandError("E4", "supply still low")
            if self.fault in ("F01", "F02") and self._sensor_fault() is not None:
                raise CommandError("E4", "sensor still failed")
        else:
            raise CommandError("E4", f"nothing to acknowledge in {self.state}")
        self._event(t_us, "ack", self.fault or State.CUTOFF)
        self.fault = None
        self.override_c = None
        self.inject = None
        self._set_state(t_us, State.IDLE)
        return "OK"

    def cmd_service(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 1)
        if args[0] == "OFF":
            self._require(State.SERVICE)
            self._valve(t_us, False)
            self.svc_cooling = False
            self._set_state(t_us, State.IDLE)
            return "OK"
        self._require(State.IDLE)
        if args[0] != SERVICE_PIN:
            raise _bad("wrong pin")
        self._set_state(t_us, State.SERVICE)
        return "OK"

    def cmd_svc(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        if not args:
            raise _bad("SVC needs a sub-command")
        self._require_service()
        sub, rest = args[0], args[1:]
        if sub == "COOL":
            self._nargs(rest, 1)
            max_s = _parse_float(rest[0], "max_s", 1.0, 300.0)
            if self.svc_cooling:
                raise CommandError("E4", "already cooling")
            self.svc_cooling = True
            self._event(t_us, "svc_cool", f"{max_s:g}")
            self._start_cooling(t_us, max_s)
            return "OK"
        if sub == "OVERRIDE":
            self._nargs(rest, 1)
            if rest[0] == "OFF":
                self.override_c = None
                self._event(t_us, "override", "OFF")
                return "OK"
            self.override_c = round(_parse_float(rest[0], "reading", -50.0, 100.0), 2)
            self._event(t_us, "override", f"{self.override_c:.2f}")
            return "OK"
        if sub == "FAULT":
            self._nargs(rest, 1)
            if rest[0] not in ("F01", "F02"):
                raise _bad("fault must be F01 or F02")
            self.inject = rest[0]
            self._event(t_us, "inject", rest[0])
            return "OK"
        raise CommandError("E2", "unknown command")

    def cmd_reboot(self, args: list[str], t_us: int, reply: Callable[[str], None]) -> str:
        self._nargs(args, 0)
        self._request_reboot(t_us)
        return "OK"


_COMMANDS: dict[str, Callable[[Firmware, list[str], int, Callable[[str], None]], str | None]] = {
    "ID?": Firmware.cmd_id,
    "STATE?": Firmware.cmd_state,
    "CLOCK?": Firmware.cmd_clock,
    "SELFTEST": Firmware.cmd_selftest,
    "TEMP?": Firmware.cmd_temp,
    "RAW?": Firmware.cmd_raw,
    "SHOCK": Firmware.cmd_shock,
    "HOLD": Firmware.cmd_hold,
    "STOP": Firmware.cmd_stop,
    "ACK": Firmware.cmd_ack,
    "CUTOFF?": Firmware.cmd_cutoff,
    "CAL?": Firmware.cmd_cal_query,
    "CAL": Firmware.cmd_cal,
    "SERVICE": Firmware.cmd_service,
    "SVC": Firmware.cmd_svc,
    "EVENTS?": Firmware.cmd_events,
    "LOG?": Firmware.cmd_log,
    "REBOOT": Firmware.cmd_reboot,
}
