"""The device under test over its service port (``shared/specs/service-port.md``).

:class:`CryoUnitPort` turns each service-port command into a typed method; the
transaction rules (framing, ``#<n>`` sequence numbers, retries, clock-based
waiting) live in :mod:`rig.instruments.service_link`. Arguments are checked
against the documented ranges before anything is sent, so a mistyped plan is a
``ValueError`` rather than an ``ERR E3`` from the unit; to send a deliberately
bad command (testing the unit's own checks) use :meth:`CryoUnitPort.command`.

Timing: a reply is awaited 250 ms of rig clock time, ``SELFTEST`` 2.5 s (it
takes up to 2 s). After ``REBOOT`` the port is silent for 1.5 s; the driver
waits (up to 3 s) until ``ID?`` answers again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TypeVar

import serial

from rig.clock import Clock

from .errors import InstrumentError, UnitProtocolError, UnitTimeout
from .interfaces import CalRecord, LogRow, UnitEvent, UnitIdentity, UnitState
from .service_link import (
    MAX_RETRIES,
    READ_TIMEOUT_S,
    SerialLike,
    ServiceLink,
    UnitUnconfirmed,
)
from .steps import step

SELFTEST_TIMEOUT_S = 2.5
REBOOT_READY_TIMEOUT_S = 3.0
READY_PROBE_S = 0.5
MAX_ROWS = 20
MAX_PAGES = 1000
FAULT_CODES = ("F01", "F02")

Row = TypeVar("Row", UnitEvent, LogRow)
T = TypeVar("T")


def _num(value: float, decimals: int) -> str:
    """A compact decimal: ``4`` → ``4``, ``3.25`` → ``3.25`` (never exponent notation)."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _check(name: str, value: float, lo: float, hi: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"unit.{name}: {value!r} is outside the allowed range {lo:g} to {hi:g}")
    return float(value)


def _reading(text: str) -> float:
    """A reading field: a number, or ``nan`` while the sensor is open."""
    return math.nan if text.strip().lower() == "nan" else float(text)


class CryoUnitPort:
    """The unit on its service port (a pty, ``/dev/ttyUSB0`` or a ``socket://`` URL)."""

    def __init__(
        self,
        port: SerialLike,
        *,
        clock: Clock,
        role: str = "unit",
        resource: str = "",
        first_seq: int | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.role = role
        self.resource = resource
        self.clock = clock
        self.link = ServiceLink(
            port,
            clock=clock,
            role=role,
            resource=resource,
            first_seq=first_seq,
            read_timeout_s=read_timeout_s,
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Clock,
        role: str = "unit",
        first_seq: int | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> CryoUnitPort:
        """Open a device path or pyserial URL at 115200 8N1 and drop anything stale."""
        try:
            port = serial.serial_for_url(
                url,
                baudrate=115200,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=read_timeout_s,
            )
            port.reset_input_buffer()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise InstrumentError.about(role, url, None, f"cannot open: {exc}") from exc
        return cls(
            port,
            clock=clock,
            role=role,
            resource=url,
            first_seq=first_seq,
            read_timeout_s=read_timeout_s,
        )

    @property
    def stats(self) -> dict[str, int]:
        """Link statistics: frames sent, retries, framing errors, timeouts."""
        return self.link.stats

    # --- raw access -----------------------------------------------------------------------------
    def command(
        self, command: str, *, answer_timeout_s: float = 0.25, retries: int = MAX_RETRIES
    ) -> str:
        """Any command (``#<n>`` added when it changes state); the fields after ``OK``."""
        return self.link.transact(command, answer_timeout_s=answer_timeout_s, retries=retries)

    def _fields(self, command: str, reply: str, n: int) -> list[str]:
        fields = reply.split(" ")
        if len(fields) != n:
            raise UnitProtocolError(command, reply, f"expected {n} fields", role=self.role)
        return fields

    def _parse(self, command: str, reply: str, fn: Callable[[str], T]) -> T:
        """``fn(reply)``; a reply that does not convert is a :class:`UnitProtocolError`."""
        try:
            return fn(reply)
        except (ValueError, IndexError) as exc:
            raise UnitProtocolError(command, reply, str(exc), role=self.role) from None

    def _ok(self, command: str) -> None:
        reply = self.command(command)
        if reply:
            raise UnitProtocolError(command, reply, "expected a bare OK", role=self.role)

    # --- queries --------------------------------------------------------------------------------
    @step
    def identify(self) -> UnitIdentity:
        """``ID?``; ``response_s`` is the rig-clock time to the valid answer (retries included)."""
        t0 = self.clock.now()
        reply = self.command("ID?")
        elapsed = self.clock.now() - t0
        parts = reply.split(",")
        if len(parts) != 4 or not all(parts):
            raise UnitProtocolError(
                "ID?", reply, "expected maker,model,serial,firmware", role=self.role
            )
        return UnitIdentity(*parts, response_s=elapsed)

    @step
    def state(self) -> UnitState:
        reply = self.command("STATE?")
        name, reading, valve, fault = self._fields("STATE?", reply, 4)
        if valve not in ("0", "1"):
            raise UnitProtocolError("STATE?", reply, "valve must be 0 or 1", role=self.role)
        value = self._parse("STATE?", reply, lambda _: _reading(reading))
        return UnitState(name, value, valve == "1", None if fault == "-" else fault)

    @step
    def clock_ms(self, retries: int = MAX_RETRIES) -> int:
        """The unit's milliseconds since power-up (or reboot). ``retries=0`` for a caller
        that times the exchange itself (the acquisition's clock anchor)."""
        reply = self.command("CLOCK?", retries=retries)
        return self._parse("CLOCK?", reply, int)

    @step
    def selftest(self) -> str | None:
        """``SELFTEST``: ``None`` on PASS, else the fault code."""
        reply = self.link.transact("SELFTEST", answer_timeout_s=SELFTEST_TIMEOUT_S)
        if reply == "PASS":
            return None
        verdict, _, code = reply.partition(" ")
        if verdict != "FAIL" or not code:
            raise UnitProtocolError(
                "SELFTEST", reply, "expected PASS or FAIL <code>", role=self.role
            )
        return code

    @step
    def temperature_c(self) -> float:
        """The corrected skin reading (``nan`` while the sensor is open)."""
        reply = self.command("TEMP?")
        return self._parse("TEMP?", reply, _reading)

    @step
    def raw_c(self) -> float:
        """The uncorrected reading (for as-found calibration)."""
        reply = self.command("RAW?")
        return self._parse("RAW?", reply, _reading)

    @step
    def cutoff_settings(self) -> tuple[float, float]:
        """(threshold_c, rearm_c) of the over-cooling cutoff."""
        reply = self.command("CUTOFF?")
        threshold, rearm = self._fields("CUTOFF?", reply, 2)
        return self._parse("CUTOFF?", reply, lambda _: (float(threshold), float(rearm)))

    @step
    def calibration(self) -> CalRecord:
        reply = self.command("CAL?")
        gain, offset, date, cert = self._fields("CAL?", reply, 4)

        def build(_: str) -> CalRecord:
            return CalRecord(float(gain), float(offset), dt.date.fromisoformat(date), cert)

        return self._parse("CAL?", reply, build)

    # --- treatments -----------------------------------------------------------------------------
    @step
    def shock(self, target_c: float, max_s: float) -> None:
        """Cool until the reading reaches ``target_c`` (0–20), at most ``max_s`` (1–60)."""
        t = _check("shock.target_c", target_c, 0, 20)
        s = _check("shock.max_s", max_s, 1, 60)
        self._ok(f"SHOCK {_num(t, 2)} {_num(s, 3)}")

    @step
    def hold(self, target_c: float, hold_s: float) -> None:
        """Cool to ``target_c`` (0–20), then regulate around it for ``hold_s`` (1–300)."""
        t = _check("hold.target_c", target_c, 0, 20)
        s = _check("hold.hold_s", hold_s, 1, 300)
        self._ok(f"HOLD {_num(t, 2)} {_num(s, 3)}")

    @step
    def stop(self) -> None:
        self._ok("STOP")

    @step
    def ack(self) -> None:
        """Leave CUTOFF or FAULT (``ERR E4`` → UnitCommandError while the cause persists)."""
        self._ok("ACK")

    # --- service mode ---------------------------------------------------------------------------
    @step
    def enter_service(self, pin: str = "7391") -> None:
        if not (pin.isdigit() and pin.isascii()):
            raise ValueError(f"unit.enter_service: pin {pin!r} must be digits")
        self._ok(f"SERVICE {pin}")

    @step
    def leave_service(self) -> None:
        self._ok("SERVICE OFF")

    @step
    def write_calibration(self, rec: CalRecord) -> None:
        """``CAL`` (service mode): gain 0.9–1.1, offset −3…3 °C, cert id 1–32 plain characters."""
        gain = _check("write_calibration.gain", rec.gain, 0.9, 1.1)
        offset = _check("write_calibration.offset_c", rec.offset_c, -3.0, 3.0)
        cert = rec.cert_id
        if not (1 <= len(cert) <= 32) or any(not ("!" <= c <= "~") or c in "$*,;" for c in cert):
            raise ValueError(
                f"unit.write_calibration: cert_id {cert!r} must be 1-32 printable characters "
                "without spaces, '$', '*', ',' or ';'"
            )
        self._ok(f"CAL {gain:.6f} {offset:.4f} {rec.date.isoformat()} {cert}")

    @step
    def service_cool(self, max_s: float) -> None:
        """Continuous cooling (service mode) that only cutoff, max-open, a fault or max_s end."""
        s = _check("service_cool.max_s", max_s, 1, 300)
        self._ok(f"SVC COOL {_num(s, 3)}")

    @step
    def override(self, reading_c: float | None) -> None:
        """Replace the skin reading (service mode); ``None`` ends the override."""
        if reading_c is None:
            self._ok("SVC OVERRIDE OFF")
            return
        r = _check("override.reading_c", reading_c, -50, 100)
        self._ok(f"SVC OVERRIDE {_num(r, 2)}")

    @step
    def inject_fault(self, code: str) -> None:
        """Inject a sensor fault (service mode): F01 open, F02 out of range."""
        if code not in FAULT_CODES:
            raise ValueError(f"unit.inject_fault: {code!r} is not one of {FAULT_CODES}")
        self._ok(f"SVC FAULT {code}")

    # --- logs -----------------------------------------------------------------------------------
    def _page(self, command: str, parse_row: Callable[[list[str]], Row], width: int) -> list[Row]:
        reply = self.command(command)
        head, *items = reply.split(";")
        try:
            count = int(head)
            rows = [parse_row(item.split(",", width - 1)) for item in items]
        except (ValueError, IndexError) as exc:
            raise UnitProtocolError(command, reply, str(exc), role=self.role) from None
        if count != len(rows) or count > MAX_ROWS:
            raise UnitProtocolError(
                command, reply, f"count {count} but {len(rows)} rows", role=self.role
            )
        return rows

    @step
    def events(self, since_ms: int = 0) -> list[UnitEvent]:
        """One page (at most 20, oldest first) of events with ``ms >= since_ms``."""

        def row(f: list[str]) -> UnitEvent:
            return UnitEvent(int(f[0]), f[1], f[2])

        return self._page(f"EVENTS? {int(since_ms)}", row, 3)

    @step
    def log(self, since_ms: int = 0) -> list[LogRow]:
        """One page (at most 20, oldest first) of 10 Hz log rows with ``ms >= since_ms``."""

        def row(f: list[str]) -> LogRow:
            if f[2] not in ("0", "1"):
                raise ValueError(f"valve {f[2]!r}")
            return LogRow(int(f[0]), _reading(f[1]), f[2] == "1")

        return self._page(f"LOG? {int(since_ms)}", row, 3)

    @step
    def all_events(self, since_ms: int = 0) -> list[UnitEvent]:
        """Every event from ``since_ms`` on, paging until a page has fewer than 20."""
        return _all_pages(self.events, since_ms)

    @step
    def all_log(self, since_ms: int = 0) -> list[LogRow]:
        """Every log row from ``since_ms`` on, paging until a page has fewer than 20."""
        return _all_pages(self.log, since_ms)

    # --- reset ----------------------------------------------------------------------------------
    @step
    def reboot(self) -> None:
        """``REBOOT``, then wait (up to 3 s) until ``ID?`` answers again.

        A REBOOT is never resent on silence or a garbled reply: the reboot wipes
        the unit's sequence cache, so a resend would reboot it a second time.
        Instead the driver waits for the unit and checks with ``CLOCK?`` that it
        did restart after the command was sent.
        """
        t_sent = self.clock.now()
        try:
            self.link.transact("REBOOT", resend_unanswered=False)
        except UnitUnconfirmed as exc:
            self._wait_ready()
            uptime_s = self.clock_ms() / 1000.0
            if uptime_s > self.clock.now() - t_sent + 0.5:
                raise UnitTimeout(
                    f"{exc}; the unit has been up {uptime_s:.1f} s, so it did not reboot",
                    role=self.role,
                    resource=self.resource,
                    command="REBOOT",
                ) from None
            return
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = self.clock.now() + REBOOT_READY_TIMEOUT_S
        while True:
            left = deadline - self.clock.now()
            if left <= 1e-9:
                raise UnitTimeout(
                    f"{self.role} ({self.resource}): no answer to ID? within "
                    f"{REBOOT_READY_TIMEOUT_S:g} s after REBOOT",
                    role=self.role,
                    resource=self.resource,
                    command="ID?",
                )
            try:
                # Silence while booting is expected: not counted as link timeouts.
                self.link.transact(
                    "ID?",
                    answer_timeout_s=min(READY_PROBE_S, left),
                    retries=0,
                    count_timeouts=False,
                )
                return
            except UnitTimeout:
                continue

    def close(self) -> None:
        self.link.close()

    def __repr__(self) -> str:
        return f"CryoUnitPort(role={self.role!r}, resource={self.resource!r})"


def _all_pages(fetch: Callable[[int], list[Row]], since_ms: int) -> list[Row]:
    """Page through a log whose entries may share a millisecond.

    Asking ``last + 1`` for the next page (as the protocol suggests) would skip
    entries that share the last entry's millisecond but did not fit in the page
    (a valve_close, treatment_end and state change happen in the same tick), so
    the next page is asked from ``last`` and the entries already held at that
    millisecond are skipped. Only if one millisecond holds a full page does the
    cursor move to ``last + 1`` (the protocol cannot do better).
    """
    collected: list[Row] = []
    cursor, skip = since_ms, 0
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        collected.extend(page[skip:])
        if len(page) < MAX_ROWS:
            return collected
        last = page[-1].ms
        if last == cursor:
            cursor, skip = last + 1, 0
        else:
            cursor, skip = last, sum(1 for r in page if r.ms == last)
    raise UnitProtocolError("paging", f"{len(collected)} rows", f"more than {MAX_PAGES} pages")
