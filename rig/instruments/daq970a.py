"""Keysight DAQ970A data acquisition system with a DAQM901A multiplexer in slot 1.

Reference: *Keysight DAQ970A/DAQ973A Data Acquisition System Programming Guide*
(CONFigure, UNIT:TEMPerature, [SENSe:]…:NPLC, ROUTe:SCAN, FORMat:READing,
TRIGger, INITiate, ABORt, FETCh?, R?, DATA:POINts?, SYSTem:ERRor?).

The logger is the rig's independent witness (reference thermocouples, the
valve-drive voltage), so the driver is strict about the workflow the manual
prescribes: every ``CONFigure`` replaces the scan list and turns the
``FORMat:READing`` fields off, hence all channels are configured first, then the
scan list, format and trigger are set, then ``INITiate``. Each sequence ends with
an error-queue check, which is also what makes it lockstep-safe on the simulated
bench (a query on the same connection proves the instrument has the commands
before virtual time moves).

Choices:

* channel lists are sorted, de-duplicated and compacted (``(@101:105,110)``):
  the instrument scans in ascending order anyway;
* an overload reading (``+9.9E37``) becomes ``Reading(value=nan, overload=True)``
  (and ``nan`` from :meth:`Daq970aLogger.read_temperature`), so it can never be
  averaged into a temperature;
* :meth:`Daq970aLogger.configure_scan` does not abort a running scan: the
  instrument refuses configuration during a scan (-221, reported by the error
  check); call :meth:`~Daq970aLogger.abort` first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from rig.clock import Clock

from .adapters import Adapter
from .base import ScpiInstrument
from .interfaces import Reading
from .steps import step

OVERLOAD = 9.9e37
LINE_FREQ_MIN_HZ = 50.0
"""Integration time is NPLC / mains frequency: the slower mains (50 Hz) bounds it."""
SETTLE_S = 0.002
ONE_SHOT_MARGIN_S = 0.05


def channel_list(channels: Sequence[int]) -> str:
    """``[110, 101, 102, 103]`` → ``(@101:103,110)``."""
    chans = sorted(set(channels))
    if not chans:
        raise ValueError("empty channel list")
    parts: list[str] = []
    i = 0
    while i < len(chans):
        j = i
        while j + 1 < len(chans) and chans[j + 1] == chans[j] + 1:
            j += 1
        parts.append(f"{chans[i]}:{chans[j]}" if j > i else str(chans[i]))
        i = j + 1
    return "(@" + ",".join(parts) + ")"


def parse_block(reply: str) -> str:
    """The payload of an IEEE 488.2 definite-length block (``#<n><len><data>``).

    ``#10`` (or ``#0`` with nothing after it) is empty. The length is checked:
    a truncated block means readings were lost in transit.
    """
    text = reply.strip()
    if not text.startswith("#") or len(text) < 2 or not text[1].isdigit():
        raise ValueError("not a definite-length block")
    digits = int(text[1])
    if digits == 0:  # indefinite form: the rest of the message
        return text[2:]
    header = text[2 : 2 + digits]
    if len(header) != digits or not header.isdigit():
        raise ValueError(f"bad block length field {header!r}")
    length = int(header)
    data = text[2 + digits :]
    if len(data) != length:
        raise ValueError(f"block announces {length} bytes, holds {len(data)}")
    return data


def _value(text: str) -> tuple[float, bool]:
    value = float(text)
    if abs(value) >= OVERLOAD * 0.99:
        return math.nan, True
    return value, False


def parse_readings(data: str, fields: int) -> list[Reading]:
    """``value,time,channel,…`` (``fields`` = 3) or bare values (1) → readings."""
    text = data.strip()
    if not text:
        return []
    items = [t.strip() for t in text.split(",")]
    if len(items) % fields:
        raise ValueError(f"{len(items)} fields is not a multiple of {fields}")
    out: list[Reading] = []
    for i in range(0, len(items), fields):
        value, overload = _value(items[i])
        if fields == 3:
            out.append(Reading(value, float(items[i + 1]), int(float(items[i + 2])), overload))
        else:
            out.append(Reading(value, math.nan, 0, overload))
    return out


class Daq970aLogger(ScpiInstrument):
    """The thermocouple logger (DAQ970A + DAQM901A in slot 1).

    ``clock`` is the default for :meth:`read_temperature`'s wait.
    """

    SCAN_FIELDS: ClassVar[int] = 3  # value, time, channel

    def __init__(
        self, adapter: Adapter, *, role: str = "logger", clock: Clock | None = None
    ) -> None:
        super().__init__(adapter, role=role)
        self.clock = clock
        self._fields = self.SCAN_FIELDS

    # --- timed scans --------------------------------------------------------------------------
    @step
    def configure_scan(
        self,
        tc_channels: Sequence[int],
        volt_channels: Sequence[int],
        interval_s: float,
        count: int | None = None,
        nplc: float = 0.2,
    ) -> None:
        """Type T thermocouples in °C and DC volts in one timed scan with time and channel.

        ``count`` sweeps (``None``: until :meth:`abort`), one every ``interval_s``.
        """
        if not tc_channels and not volt_channels:
            raise ValueError(f"{self.role}.configure_scan: no channels")
        if set(tc_channels) & set(volt_channels):
            raise ValueError(f"{self.role}.configure_scan: a channel cannot be TC and volts")
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"{self.role}.configure_scan: interval_s {interval_s!r} must be > 0")
        if count is not None and (isinstance(count, bool) or count < 1):
            raise ValueError(f"{self.role}.configure_scan: count {count!r} must be >= 1 or None")
        if not (math.isfinite(nplc) and nplc > 0):
            raise ValueError(f"{self.role}.configure_scan: nplc {nplc!r} must be > 0")
        n = self.format_value(float(nplc))
        commands: list[str] = []
        if tc_channels:
            tc = channel_list(tc_channels)
            commands += [f"CONF:TEMP TC,T,{tc}", f"UNIT:TEMP C,{tc}"]
        if volt_channels:
            commands.append(f"CONF:VOLT:DC {channel_list(volt_channels)}")
        if tc_channels:
            commands.append(f"TEMP:NPLC {n},{channel_list(tc_channels)}")
        if volt_channels:
            commands.append(f"VOLT:DC:NPLC {n},{channel_list(volt_channels)}")
        commands += [
            f"ROUT:SCAN {channel_list([*tc_channels, *volt_channels])}",
            "FORM:READ:TIME ON",
            "FORM:READ:CHAN ON",
            "TRIG:SOUR TIM",
            f"TRIG:TIM {self.format_value(float(interval_s))}",
            f"TRIG:COUN {'INF' if count is None else int(count)}",
        ]
        for command in commands:
            self.write(command)
        self._fields = self.SCAN_FIELDS
        self.check_no_errors("configure_scan")

    @step
    def start(self) -> None:
        """``INIT``, confirmed with the error queue (the scan's time zero is now)."""
        self.write("INIT")
        self.check_no_errors("INIT")

    @step
    def abort(self) -> None:
        """``ABOR``: stop the scan; readings already taken stay in memory."""
        self.write("ABOR")
        self.check_no_errors("ABOR")

    @step
    def points(self) -> int:
        """Readings in memory (``DATA:POIN?``)."""
        return self.parse("DATA:POIN?", self.ask("DATA:POIN?"), lambda r: int(float(r)))

    @step
    def fetch_new(self, max_readings: int | None = None) -> list[Reading]:
        """Remove and return the oldest readings (``R?``; all of them by default)."""
        if max_readings is not None and (isinstance(max_readings, bool) or max_readings < 1):
            raise ValueError(f"{self.role}.fetch_new: max_readings {max_readings!r} must be >= 1")
        command = "R?" if max_readings is None else f"R? {int(max_readings)}"
        reply = self.ask(command)
        return self.parse(command, reply, lambda r: parse_readings(parse_block(r), self._fields))

    @step
    def fetch_all(self) -> list[Reading]:
        """Every reading in memory (``FETC?``); for a finished scan.

        ``FETC?`` answers only once the last sweep is done: on the simulated bench
        advance time past it first, or the query times out.
        """
        reply = self.ask("FETC?")
        return self.parse("FETC?", reply, lambda r: parse_readings(r, self._fields))

    # --- one-shot reading ---------------------------------------------------------------------
    @step
    def read_temperature(self, channel: int, clock: Clock | None = None, nplc: float = 1) -> float:
        """One type T reading of ``channel`` in °C (``nan`` on overload).

        Lockstep-safe form of ``MEAS:TEMP?``: configure and ``INIT``, confirm with
        the error queue, wait on the clock past the reading's time, then ``FETC?``.
        This replaces the scan configuration (run :meth:`configure_scan` again).
        """
        clk = clock or self.clock
        if clk is None:
            raise ValueError(f"{self.role}.read_temperature needs a clock")
        if not (math.isfinite(nplc) and nplc > 0):
            raise ValueError(f"{self.role}.read_temperature: nplc {nplc!r} must be > 0")
        ch = channel_list([channel])
        for command in (
            f"CONF:TEMP TC,T,{ch}",
            f"UNIT:TEMP C,{ch}",
            f"TEMP:NPLC {self.format_value(float(nplc))},{ch}",
            "TRIG:SOUR IMM",
            "TRIG:COUN 1",
            "INIT",
        ):
            self.write(command)
        self._fields = 1
        self.check_no_errors("read_temperature")
        wait_s = nplc / LINE_FREQ_MIN_HZ + SETTLE_S + ONE_SHOT_MARGIN_S
        # No tick hooks: acquisition must not fetch (R?) the reading from under us.
        clk.sleep(wait_s, step_s=wait_s, hooks=False)
        reply = self.ask("FETC?")
        readings = self.parse("FETC?", reply, lambda r: parse_readings(r, 1))
        if len(readings) != 1:
            raise self.error("FETC?", f"expected one reading, got {reply!r}")
        return readings[0].value
