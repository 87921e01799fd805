"""Keysight DAQ970A data acquisition system with a DAQM901A multiplexer in slot 1.

Reference: Keysight DAQ970A/DAQ973A Data Acquisition System Programming Guide
(SCPI Programming chapter: CONFigure, ROUTe:SCAN, TRIGger, FORMat:READing,
INITiate/FETCh?/R?/DATA:POINts?, MEASure?, SYSTem:ERRor?).

The logger is the rig's independent witness of the phantom's temperatures and of
the valve drive, so the emulator reproduces what a driver depends on: the
configure-then-scan workflow (every ``CONFigure``/``MEASure?`` replaces the scan
list and turns the ``FORMat:READing`` fields off), buffered timed scans with time
stamps, ``R?`` definite-length blocks, ``FETCh?`` that answers only once the last
sweep is done, and a thermocouple measurement chain with a cold-junction
compensation error of its own (so a CJC offset shows as a temperature offset).

Timing is exact virtual time: ``INITiate`` at t0, sweep k starts at t0 + k·timer
(TIMer) or right after the previous sweep (IMMediate), but never before the
previous one ended; channel i of a sweep is read at sweep start + the channel
times of the channels before it, channel time = NPLC/line frequency + 2 ms. Every
reading is taken by a scheduler event at its own time, so the physics between
readings is respected; a scan is done at its last reading's time.

Choices where the manual was not at hand (drivers may rely on them):

* the scan list is sorted ascending and de-duplicated, as the instrument scans
  channels in ascending order whatever order they were written in;
* ``ROUTe:SCAN?`` answers a definite-length block with runs compacted:
  ``#214(@101:103,110)``; ``#13(@)`` when empty;
* ``UNIT:TEMPerature`` and the ``NPLC`` commands without a channel list apply to
  every channel; units survive ``CONFigure`` (only ``*RST`` restores °C);
* ``CONFigure`` sets the NPLC of its function on its channels back to 1; the
  resolution parameter is accepted and ignored; a fixed DC range makes readings
  beyond 120 % of it read ``+9.90000000E+37`` (overload), as does an open
  thermocouple or an EMF outside type T's range;
* only type T thermocouples are modelled: other types (and RTD, thermistor) are
  -224; ``TRIGger:SOURce`` BUS, EXTernal or ALARm are -221, and so is
  ``FORMat:READing:TIME:TYPE ABSolute``;
* configuration changes while a scan runs are -221; ``INITiate`` while one runs is
  -213; ``INITiate``/``READ?`` with an empty scan list is -221; ``FETCh?``/``READ?``
  with an infinite trigger count are -214 (they could never answer);
* ``FETCh?`` with nothing in memory and no scan running is -230 with no reply,
  whether or not a scan ran before; ``ABORt`` or ``*RST`` while a ``FETCh?`` waits
  answers it with what is in memory then; ``DATA:REMove? n`` with fewer than n
  readings is -222;
* ``FORMat:READing:UNIT ON`` appends `` C``/`` F``/`` K``/`` VDC`` to the value;
* counts answer in NR1 (``+12``), times and levels in ``%+.8E``, states ``0``/``1``,
  ``TRIG:SOUR?`` ``TIM``/``IMM``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from ..noise import NoiseBank, RandomStream
from ..physics.sensors import TYPE_T_RANGE_C, type_t_emf_uv, type_t_shifted_c
from ..ports import LoggerTerminals, SimClock
from ..timebase import EventHandle
from .line import Wait, then
from .scpi import (
    Bool,
    Chans,
    Choice,
    Command,
    Num,
    Reply,
    ScpiError,
    ScpiInstrument,
    format_block,
    nr1,
    nr3,
)

OVERLOAD = 9.9e37
MEMORY_SIZE = 100_000
CHANNELS = range(101, 121)
NPLC_STEPS = (0.02, 0.2, 1.0, 2.0, 10.0, 20.0, 100.0, 200.0)
DC_RANGES = (0.1, 1.0, 10.0, 100.0, 300.0)
SETTLE_US = 2_000
TYPE_T_MIN_C = -270.0
TYPE_T_MAX_C = 400.0


# --- thermocouple arithmetic ---------------------------------------------------------


def _convert_temperature(t_c: float, unit: str) -> float:
    if unit == "F":
        return t_c * 9.0 / 5.0 + 32.0
    if unit == "K":
        return t_c + 273.15
    return t_c


def _round_nplc(nplc: float) -> float:
    """Values between the integration steps round up to the next step."""
    return next(step for step in NPLC_STEPS if nplc <= step * (1 + 1e-9))


def _pick_range(volts: float) -> float:
    return next((r for r in DC_RANGES if volts <= r), DC_RANGES[-1])


def _compact(channels: Sequence[int]) -> str:
    """``101,102,103,110`` → ``101:103,110``."""
    parts: list[str] = []
    i = 0
    while i < len(channels):
        j = i
        while j + 1 < len(channels) and channels[j + 1] == channels[j] + 1:
            j += 1
        parts.append(f"{channels[i]}:{channels[j]}" if j > i else str(channels[i]))
        i = j + 1
    return ",".join(parts)


# --- state ---------------------------------------------------------------------------


@dataclass
class ChannelConfig:
    """What a channel measures and how (reset by ``*RST``)."""

    function: str = "VOLT"  # "VOLT" (DC volts) or "TEMP" (type T thermocouple)
    nplc_volt: float = 1.0
    nplc_temp: float = 1.0
    volt_range: float | None = None  # None: autorange
    unit: str = "C"

    @property
    def nplc(self) -> float:
        return self.nplc_temp if self.function == "TEMP" else self.nplc_volt


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored reading: value, its unit, time from the scan's start, channel."""

    value: float
    unit: str
    rel_us: int
    channel: int


@dataclass
class ScanRun:
    """A running scan: its fixed timing plan and where it has got to."""

    t0_us: int
    channels: tuple[int, ...]
    offsets_us: tuple[int, ...]
    duration_us: int
    count: float
    timer_us: int | None
    sweep: int = 0
    sweep_start_us: int = 0
    handle: EventHandle | None = None
    done: Wait = field(default_factory=Wait)


@dataclass
class ScanSettings:
    """Trigger and format settings (``*RST`` values)."""

    scan_list: list[int] = field(default_factory=list)
    trigger_source: str = "IMMEDIATE"
    timer_us: int = 1_000_000
    count: float = 1
    time_on: bool = False
    channel_on: bool = False
    unit_on: bool = False


# --- the instrument ------------------------------------------------------------------


class Daq970a(ScpiInstrument):
    """The emulated logger; see the module docstring for its behaviour."""

    def __init__(
        self,
        clock: SimClock,
        terminals: LoggerTerminals,
        noise: NoiseBank,
        *,
        serial: str = "MY58017742",
        firmware: str = "A.03.02-01.00-03.02-00.02-03.03-00.03",
        line_freq_hz: float = 50.0,
        cjc_offset_c: float = 0.0,
        cjc_drift_c_per_h: float = 0.0,
        channel_offsets_c: dict[int, float] | None = None,
    ) -> None:
        if line_freq_hz <= 0:
            raise ValueError(f"line frequency must be positive, got {line_freq_hz}")
        self._clock = clock
        self._terminals = terminals
        self._noise = noise
        self.line_freq_hz = line_freq_hz
        self.cjc_offset_c = cjc_offset_c
        self.cjc_drift_c_per_h = cjc_drift_c_per_h
        self.channel_offsets_c = dict(channel_offsets_c or {})
        self._t_start_us = clock.now_us
        self._last_block: tuple[float, float] = (math.nan, 0.0)
        self._streams: dict[int, RandomStream] = {}
        self._channels: dict[int, ChannelConfig] = {}
        self._settings = ScanSettings()
        self._memory: deque[Reading] = deque(maxlen=MEMORY_SIZE)
        self._scan: ScanRun | None = None
        self._unit_default = "C"
        super().__init__(f"Keysight Technologies,DAQ970A,{serial},{firmware}")
        self.reset()

    # -- command table ------------------------------------------------------------

    def commands(self) -> Sequence[Command]:
        ch = Chans(101, 120)
        opt_ch = Chans(101, 120, optional=True)
        dc_range = Num(0.0, 300.0, optional=True, auto=True, unit="V")
        resolution = Num(0.0, 1e9, optional=True, auto=True)
        probe, tc_type = Choice("TCouple", "DEFault"), Choice("T")
        tc_range = Num(1.0, 1.0, default=1.0, optional=True)
        nplc = Num(0.02, 200.0, default=1.0)
        tc = (probe, tc_type, tc_range, resolution)
        state, time_type = Bool(), Choice("RELative", "ABSolute")
        setf, getf = self._set_format, self._format_query
        return [
            Command("CONFigure:TEMPerature", self._conf_temp, *tc, ch),
            Command("CONFigure:VOLTage[:DC]", self._conf_volt, dc_range, resolution, ch),
            Command("MEASure:TEMPerature?", self._meas_temp, *tc, ch),
            Command("MEASure:VOLTage[:DC]?", self._meas_volt, dc_range, resolution, ch),
            Command("UNIT:TEMPerature", self._set_unit, Choice("C", "F", "K"), opt_ch),
            Command("UNIT:TEMPerature?", self._unit_query, opt_ch),
            Command("[SENSe:]TEMPerature:NPLC", partial(self._set_nplc, "TEMP"), nplc, opt_ch),
            Command("[SENSe:]TEMPerature:NPLC?", partial(self._nplc_query, "TEMP"), opt_ch),
            Command("[SENSe:]VOLTage[:DC]:NPLC", partial(self._set_nplc, "VOLT"), nplc, opt_ch),
            Command("[SENSe:]VOLTage[:DC]:NPLC?", partial(self._nplc_query, "VOLT"), opt_ch),
            Command("ROUTe:SCAN", self._set_scan, Chans(101, 120, allow_empty=True)),
            Command("ROUTe:SCAN?", self._scan_query),
            Command("ROUTe:SCAN:SIZE?", lambda: nr1(len(self._settings.scan_list))),
            Command("TRIGger:SOURce", self._set_source, Choice(*_TRIGGER_SOURCES)),
            Command("TRIGger:SOURce?", lambda: self._settings.trigger_source[:3]),
            Command("TRIGger:TIMer", self._set_timer, Num(1e-3, 359999.0, default=1.0, unit="S")),
            Command("TRIGger:TIMer?", lambda: nr3(self._settings.timer_us / 1e6)),
            Command("TRIGger:COUNt", self._set_count, Num(1, 1e8, 1, inf=True, integer=True)),
            Command("TRIGger:COUNt?", self._count_query),
            Command("FORMat:READing:TIME[:STATe]", partial(setf, "time_on"), state),
            Command("FORMat:READing:TIME[:STATe]?", partial(getf, "time_on")),
            Command("FORMat:READing:CHANnel[:STATe]", partial(setf, "channel_on"), state),
            Command("FORMat:READing:CHANnel[:STATe]?", partial(getf, "channel_on")),
            Command("FORMat:READing:UNIT[:STATe]", partial(setf, "unit_on"), state),
            Command("FORMat:READing:UNIT[:STATe]?", partial(getf, "unit_on")),
            Command("FORMat:READing:TIME:TYPE", self._set_time_type, time_type),
            Command("FORMat:READing:TIME:TYPE?", lambda: "REL"),
            Command("INITiate[:IMMediate]", self._initiate),
            Command("ABORt", self.abort),
            Command("FETCh?", self._fetch),
            Command("READ?", self._read),
            Command("R?", self._remove_block, Num(1, 2**31 - 1, optional=True, integer=True)),
            Command("DATA:POINts?", lambda: nr1(len(self._memory))),
            Command("DATA:REMove?", self._remove, Num(1, 2**31 - 1, integer=True)),
            Command("SYSTem:LFRequency?", lambda: nr1(round(self.line_freq_hz))),
        ]

    # -- reset and state helpers --------------------------------------------------

    def reset(self) -> None:
        """``*RST``: DC volts autorange NPLC 1 everywhere, empty scan list, IMM x1, 1 s."""
        self.abort()
        self._channels = {ch: ChannelConfig() for ch in CHANNELS}
        self._settings = ScanSettings()
        self._unit_default = "C"
        self._memory.clear()

    def operation_pending(self) -> Wait | None:
        return self._scan.done if self._scan is not None else None

    def _require_idle(self) -> None:
        if self._scan is not None:
            raise ScpiError(-221)

    def _targets(self, channels: list[int] | None) -> list[int]:
        return list(CHANNELS) if channels is None else channels

    # -- configuration ------------------------------------------------------------

    def _configure(self, function: str, channels: list[int], volt_range: float | None) -> None:
        """Common part of CONFigure/MEASure?: function, NPLC 1, new scan list, formats off."""
        self._require_idle()
        for ch in channels:
            cfg = self._channels[ch]
            cfg.function = function
            if function == "TEMP":
                cfg.nplc_temp = 1.0
            else:
                cfg.nplc_volt = 1.0
                cfg.volt_range = None if volt_range is None else _pick_range(volt_range)
        s = self._settings
        s.scan_list = sorted(set(channels))
        s.time_on = s.channel_on = s.unit_on = False
        self._memory.clear()

    def _conf_temp(self, _p: str, _t: str, _r: float, _res: float, chans: list[int]) -> None:
        self._configure("TEMP", chans, None)

    def _conf_volt(self, rng: float | None, _res: float | None, chans: list[int]) -> None:
        self._configure("VOLT", chans, rng)

    def _set_unit(self, unit: str, channels: list[int] | None) -> None:
        self._require_idle()
        if channels is None:
            self._unit_default = unit
        for ch in self._targets(channels):
            self._channels[ch].unit = unit

    def _unit_query(self, channels: list[int] | None) -> str:
        if channels is None:
            return self._unit_default
        return ",".join(self._channels[ch].unit for ch in channels)

    def _set_nplc(self, function: str, nplc: float, channels: list[int] | None) -> None:
        self._require_idle()
        value = _round_nplc(nplc)
        for ch in self._targets(channels):
            cfg = self._channels[ch]
            if function == "TEMP":
                cfg.nplc_temp = value
            else:
                cfg.nplc_volt = value

    def _nplc_query(self, function: str, channels: list[int] | None) -> str:
        attr = "nplc_temp" if function == "TEMP" else "nplc_volt"
        return ",".join(nr3(getattr(self._channels[ch], attr)) for ch in self._targets(channels))

    def _set_scan(self, channels: list[int]) -> None:
        self._require_idle()
        self._settings.scan_list = sorted(set(channels))

    def _scan_query(self) -> str:
        return format_block(f"(@{_compact(self._settings.scan_list)})")

    def _set_source(self, source: str) -> None:
        if source not in ("TIMER", "IMMEDIATE"):
            raise ScpiError(-221)
        self._require_idle()
        self._settings.trigger_source = source

    def _set_timer(self, seconds: float) -> None:
        self._require_idle()
        self._settings.timer_us = round(seconds * 1e6)

    def _set_count(self, count: float) -> None:
        self._require_idle()
        self._settings.count = count

    def _count_query(self) -> str:
        count = self._settings.count
        return nr3(OVERLOAD if math.isinf(count) else count)

    def _set_format(self, attr: str, on: bool) -> None:
        setattr(self._settings, attr, on)

    def _format_query(self, attr: str) -> str:
        return "1" if getattr(self._settings, attr) else "0"

    def _set_time_type(self, kind: str) -> None:
        if kind != "RELATIVE":
            raise ScpiError(-221)

    # -- scanning -----------------------------------------------------------------

    def channel_time_us(self, channel: int) -> int:
        """Time one channel occupies in a sweep: integration plus relay settling."""
        nplc = self._channels[channel].nplc
        return round(nplc / self.line_freq_hz * 1e6) + SETTLE_US

    def _initiate(self) -> None:
        if self._scan is not None:
            raise ScpiError(-213)
        if not self._settings.scan_list:
            raise ScpiError(-221)
        s = self._settings
        timer = s.timer_us if s.trigger_source == "TIMER" else None
        self._start_scan(s.scan_list, s.count, timer)

    def _start_scan(self, channels: Sequence[int], count: float, timer_us: int | None) -> None:
        self._memory.clear()
        times = [self.channel_time_us(ch) for ch in channels]
        offsets = tuple(sum(times[:i]) for i in range(len(times)))
        now = self._clock.now_us
        scan = ScanRun(now, tuple(channels), offsets, sum(times), count, timer_us, 0, now)
        self._scan = scan
        self._schedule(scan, 0)

    def _schedule(self, scan: ScanRun, index: int) -> None:
        t_us = scan.sweep_start_us + scan.offsets_us[index]
        scan.handle = self._clock.at(t_us, partial(self._on_reading, scan, index))

    def _on_reading(self, scan: ScanRun, index: int, t_us: int) -> None:
        """Take one reading at its own time, then the next ones of the sweep.

        Each reading happens at its own instant; when nothing else on the bench
        is due before the next reading, the clock moves there directly instead of
        through the scheduler's heap (same result, less overhead).
        """
        if scan is not self._scan:
            return
        channels = scan.channels
        last = len(channels) - 1
        clock = self._clock
        while True:
            ch = channels[index]
            value, unit = self._measure(ch, t_us)
            self._memory.append(Reading(value, unit, t_us - scan.t0_us, ch))
            if index == last:
                break
            index += 1
            t_next = scan.sweep_start_us + scan.offsets_us[index]
            if not clock.run_inline(t_next):
                self._schedule(scan, index)
                return
            t_us = t_next
        scan.sweep += 1
        if scan.sweep >= scan.count:
            self._scan = None
            scan.done.finish()
            return
        next_start = scan.sweep_start_us + scan.duration_us
        if scan.timer_us is not None:
            next_start = max(next_start, scan.t0_us + scan.sweep * scan.timer_us)
        scan.sweep_start_us = next_start
        self._schedule(scan, 0)

    def abort(self) -> None:
        """``ABORt``: stop the scan; readings stay, a waiting ``FETCh?`` answers now."""
        scan, self._scan = self._scan, None
        if scan is not None:
            if scan.handle is not None:
                scan.handle.cancel()
            scan.done.finish()

    # -- reading out ----------------------------------------------------------------

    def _format_reading(self, r: Reading) -> str:
        s = self._settings
        text = nr3(r.value)
        if s.unit_on:
            text += f" {r.unit}"
        if s.time_on:
            ms = (r.rel_us + 500) // 1000
            text += f",{ms // 1000}.{ms % 1000:03d}"
        if s.channel_on:
            text += f",{r.channel}"
        return text

    def _format_readings(self, readings: Sequence[Reading]) -> str:
        return ",".join(self._format_reading(r) for r in readings)

    def _take_oldest(self, n: int) -> list[Reading]:
        return [self._memory.popleft() for _ in range(min(n, len(self._memory)))]

    def _fetch_text(self) -> str | None:
        if not self._memory:
            self.error(-230)
            return None
        return self._format_readings(self._memory)

    def _fetch(self) -> Reply:
        scan = self._scan
        if scan is None:
            if not self._memory:
                raise ScpiError(-230)
            return self._fetch_text()
        if math.isinf(scan.count):
            raise ScpiError(-214)
        return then(scan.done, lambda _: self._fetch_text())

    def _read(self) -> Reply:
        if math.isinf(self._settings.count):
            raise ScpiError(-214)
        self._initiate()
        return self._fetch()

    def _meas(self, function: str, channels: list[int], volt_range: float | None) -> Reply:
        self._configure(function, channels, volt_range)
        self._start_scan(self._settings.scan_list, 1, None)
        return self._fetch()

    def _meas_temp(self, _p: str, _t: str, _r: float, _res: float, chans: list[int]) -> Reply:
        return self._meas("TEMP", chans, None)

    def _meas_volt(self, rng: float | None, _res: float | None, chans: list[int]) -> Reply:
        return self._meas("VOLT", chans, rng)

    def _remove_block(self, max_count: int | None) -> str:
        readings = self._take_oldest(len(self._memory) if max_count is None else max_count)
        return format_block(self._format_readings(readings))

    def _remove(self, count: int) -> str:
        if count > len(self._memory):
            raise ScpiError(-222)
        return self._format_readings(self._take_oldest(count))

    # -- the measurement model ----------------------------------------------------

    def _measure(self, channel: int, t_us: int) -> tuple[float, str]:
        cfg = self._channels[channel]
        if cfg.function == "TEMP":
            return self._measure_temperature(channel, cfg, t_us), cfg.unit
        return self._measure_volts(channel, cfg, t_us), "VDC"

    def _stream(self, channel: int) -> RandomStream:
        stream = self._streams.get(channel)
        if stream is None:
            stream = self._streams[channel] = self._noise.stream(f"daq970a.ch{channel}")
        return stream

    @staticmethod
    def _tc_sigma_uv(nplc: float) -> float:
        """Thermocouple voltage noise: 0.4 µV at 1 PLC, falling as 1/sqrt(NPLC), ≤ 3 µV."""
        return min(0.4 / math.sqrt(max(nplc, 0.02)), 3.0)

    @staticmethod
    def _dcv_sigma_v(nplc: float) -> float:
        """DC volts noise on the signal ranges: 20 µV at 1 PLC, as 1/sqrt(NPLC), ≤ 150 µV."""
        return min(20e-6 * math.sqrt(1.0 / max(nplc, 0.02)), 150e-6)

    def cjc_reading_c(self, t_us: int) -> float:
        """What the instrument's reference-junction sensor reads (true block + its error)."""
        hours = (t_us - self._t_start_us) / 3.6e9
        block = self._terminals.terminal_block_c(t_us)
        return block + self.cjc_offset_c + self.cjc_drift_c_per_h * hours

    def _measure_temperature(self, channel: int, cfg: ChannelConfig, t_us: int) -> float:
        tj = self._terminals.tc_junction_c(channel, t_us)
        if tj is None:
            return OVERLOAD
        if not TYPE_T_RANGE_C[0] < tj < TYPE_T_RANGE_C[1]:
            return OVERLOAD
        # The instrument computes E⁻¹(E(tj) − E(block) + noise + E(cjc reading)): the
        # junction's temperature shifted by the CJC error and the voltage noise.
        t_block = self._terminals.terminal_block_c(t_us)
        noise_uv = self._stream(channel).normal(self._tc_sigma_uv(cfg.nplc))
        cjc_uv = type_t_emf_uv(self.cjc_reading_c(t_us)) - self._block_emf_uv(t_block)
        t_c = type_t_shifted_c(tj, cjc_uv + noise_uv)
        t_c += self.channel_offsets_c.get(channel, 0.0)
        return _convert_temperature(t_c, cfg.unit)

    def _block_emf_uv(self, t_block: float) -> float:
        """EMF of the reference junction; the block's temperature rarely changes."""
        if t_block != self._last_block[0]:
            self._last_block = (t_block, type_t_emf_uv(t_block))
        return self._last_block[1]

    def _measure_volts(self, channel: int, cfg: ChannelConfig, t_us: int) -> float:
        tj = self._terminals.tc_junction_c(channel, t_us)
        stream = self._stream(channel)
        if tj is not None:
            emf_uv = type_t_emf_uv(tj) - type_t_emf_uv(self._terminals.terminal_block_c(t_us))
            volts = (emf_uv + stream.normal(self._tc_sigma_uv(cfg.nplc))) * 1e-6
        else:
            sigma = self._dcv_sigma_v(cfg.nplc)
            volts = self._terminals.dc_volts(channel, t_us) + stream.normal(sigma)
        if cfg.volt_range is not None and abs(volts) > 1.2 * cfg.volt_range:
            return OVERLOAD
        return volts


_TRIGGER_SOURCES = ("TIMer", "IMMediate", "BUS", "EXTernal", "ALARm1", "ALARm2", "ALARm3", "ALARm4")
