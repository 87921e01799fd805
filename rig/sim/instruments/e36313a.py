"""Keysight E36313A triple-output bench supply (1: 6 V 10 A, 2 and 3: 25 V 2 A).

Reference: Keysight E36300 Series Triple Output Power Supplies Programming Guide
(SOURce:VOLTage/CURRent with channel lists, CURRent:PROTection, OUTPut,
OUTPut:PROTection:CLEar, MEASure:VOLTage?/CURRent?, SYSTem:ERRor?).

The rig powers the unit from output 2 and relies on the supply for current
limiting, over-current protection, undervoltage steps and current read-back, so
each output is modelled as a regulator the load can push from constant voltage
into constant current, with a first-order output lag (τ = 2 ms) that makes
voltage steps and trips take a little time, as on the bench.

Physics per output (all analytic, no periodic events): the terminal voltage is
``v(t) = target + (v0 - target)·exp(-(t - t0)/τ)``, re-anchored whenever the
target changes. The target is 0 when the output is off or tripped; otherwise
the set voltage if the load draws no more than the current limit there (CV),
else the voltage at which it draws exactly the limit (CC, found by bisection on
``[0, v_set]``, so any load shape works). A CC condition lasting longer than the
OCP delay trips an output that has OCP enabled. The load is told of every change
of target or state through ``on_supply_change``; it tells the supply of a change
of its demand through :meth:`E36313a.load_changed`.

Choices where the manual was not at hand:

* programming ranges are the rated values + 3 %: output 1 0–6.18 V and
  0.002–10.3 A, outputs 2–3 0–25.75 V and 0.002–2.06 A; beyond is -222; MIN/MAX/DEF
  are resolved per output (DEF: 0 V, maximum current);
* OCP delay 0–0.255 s, default 0.05 s; the delay starts at the CV→CC transition;
* a tripped output reads ``OUTP?`` 0 and stays off until
  ``OUTPut:PROTection:CLEar``, which restores the programmed state (on if it was
  switched on and not switched off meanwhile);
* ``output_current`` is 0 while the output is off or tripped (the output is
  disconnected), and the load's current at v(t) otherwise;
* without a channel list a command acts on the channel selected with
  ``INSTrument:NSELect n`` or ``INSTrument[:SELect] CHn|OUTn`` (1 after ``*RST``);
* ``MEASure`` answers at once (the reading is taken when the query executes);
* levels answer ``%+.8E``, states ``1``/``0``, ``INST:NSEL?`` ``+2``, ``INST?`` ``CH2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from ..noise import NoiseBank
from ..ports import SimClock, SupplyLoad
from ..timebase import EventHandle
from .scpi import Bool, Chans, Choice, Command, Num, ScpiError, ScpiInstrument, nr1, nr3

TAU_S = 2e-3
OCP_DELAY_DEFAULT_S = 0.05
OCP_DELAY_MAX_S = 0.255
MIN_CURRENT_A = 0.002
V_NOISE = 0.5e-3
I_NOISE = 0.2e-3


@dataclass(frozen=True)
class Rating:
    """Programming limits of one output."""

    v_max: float
    i_max: float


RATINGS: dict[int, Rating] = {1: Rating(6.18, 10.3), 2: Rating(25.75, 2.06), 3: Rating(25.75, 2.06)}


@dataclass
class OutputState:
    """Settings, protection state and voltage trajectory of one output."""

    number: int
    rating: Rating
    v_set: float = 0.0
    i_limit: float = 0.0
    enabled: bool = False
    ocp_enabled: bool = False
    ocp_delay_s: float = OCP_DELAY_DEFAULT_S
    tripped: bool = False
    load: SupplyLoad | None = None
    t0_us: int = 0
    v0: float = 0.0
    target: float = 0.0
    cc: bool = False
    live_before: bool = False
    trip_event: EventHandle | None = None

    @property
    def live(self) -> bool:
        """Delivering power: switched on and not tripped."""
        return self.enabled and not self.tripped

    def voltage_at(self, t_us: int) -> float:
        dt_s = max(0, t_us - self.t0_us) / 1e6
        return self.target + (self.v0 - self.target) * math.exp(-dt_s / TAU_S)


class E36313a(ScpiInstrument):
    """The emulated supply; see the module docstring."""

    def __init__(
        self,
        clock: SimClock,
        noise: NoiseBank,
        *,
        serial: str = "MY59001234",
        firmware: str = "2.1.0-1.0.4-1.12",
    ) -> None:
        self._clock = clock
        self._noise = noise
        self._outputs = {n: OutputState(n, r, i_limit=r.i_max) for n, r in RATINGS.items()}
        self._selected = 1
        self._updating: set[int] = set()
        self._again: set[int] = set()
        super().__init__(f"Keysight Technologies,E36313A,{serial},{firmware}")
        self.reset()

    # -- the bench's interface ----------------------------------------------------

    def attach_load(self, output: int, load: SupplyLoad) -> None:
        """Connect ``load`` to ``output``'s terminals."""
        self._outputs[output].load = load
        self._update(self._outputs[output], self._clock.now_us)

    def load_changed(self, output: int, t_us: int) -> None:
        """The load's current demand changed at ``t_us``: re-evaluate CV/CC and OCP."""
        self._update(self._outputs[output], t_us)

    def output_voltage(self, output: int, t_us: int) -> float:
        """Terminal voltage of ``output`` at ``t_us``."""
        return self._outputs[output].voltage_at(t_us)

    def output_current(self, output: int, t_us: int) -> float:
        """Current delivered by ``output`` at ``t_us`` (0 when off, tripped or unloaded)."""
        out = self._outputs[output]
        if out.load is None or not out.live:
            return 0.0
        return out.load.current_a(out.voltage_at(t_us), t_us)

    def is_on(self, output: int) -> bool:
        """Whether ``output`` delivers power (on and not tripped)."""
        return self._outputs[output].live

    def is_cc(self, output: int) -> bool:
        """Whether ``output`` regulates current (its load wants more than the limit)."""
        out = self._outputs[output]
        return out.live and out.cc

    # -- command table ------------------------------------------------------------

    def commands(self) -> Sequence[Command]:
        ch = Chans(1, 3, optional=True)
        level = Num(0.0, 0.0, optional=False, symbolic=True, unit="V")
        amps = Num(0.0, 0.0, symbolic=True, unit="A")
        delay = Num(0.0, OCP_DELAY_MAX_S, default=OCP_DELAY_DEFAULT_S, unit="S")
        volt = "[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]"
        curr = "[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]"
        prot = "[SOURce:]CURRent:PROTection"
        return [
            Command(volt, self._set_voltage, level, ch),
            Command(volt + "?", self._query(lambda o: nr3(o.v_set)), ch),
            Command(curr, self._set_current, amps, ch),
            Command(curr + "?", self._query(lambda o: nr3(o.i_limit)), ch),
            Command(prot + ":STATe", self._set_ocp, Bool(), ch),
            Command(prot + ":STATe?", self._query(lambda o: _flag(o.ocp_enabled)), ch),
            Command(prot + ":DELay[:TIME]", self._set_ocp_delay, delay, ch),
            Command(prot + ":DELay[:TIME]?", self._query(lambda o: nr3(o.ocp_delay_s)), ch),
            Command(prot + ":TRIPped?", self._query(lambda o: _flag(o.tripped)), ch),
            Command("OUTPut[:STATe]", self._set_output, Bool(), ch),
            Command("OUTPut[:STATe]?", self._query(lambda o: _flag(o.live)), ch),
            Command("OUTPut:PROTection:CLEar", self._clear_protection, ch),
            Command("MEASure[:SCALar]:VOLTage[:DC]?", self._query(self._measure_v), ch),
            Command("MEASure[:SCALar]:CURRent[:DC]?", self._query(self._measure_i), ch),
            Command("INSTrument:NSELect", self._select, Num(1, 3, integer=True)),
            Command("INSTrument:NSELect?", lambda: nr1(self._selected)),
            Command("INSTrument[:SELect]", self._select_named, Choice(*_NAMES)),
            Command("INSTrument[:SELect]?", lambda: f"CH{self._selected}"),
        ]

    # -- reset and helpers --------------------------------------------------------

    def reset(self) -> None:
        """``*RST``: outputs off at 0 V, maximum current, OCP off, protection cleared."""
        self._selected = 1
        t_us = self._clock.now_us
        for out in self._outputs.values():
            out.v_set = 0.0
            out.i_limit = out.rating.i_max
            out.enabled = out.ocp_enabled = out.tripped = False
            out.ocp_delay_s = OCP_DELAY_DEFAULT_S
            self._update(out, t_us)

    def _targets(self, channels: list[int] | None) -> list[OutputState]:
        return [self._outputs[n] for n in (channels if channels is not None else [self._selected])]

    def _query(self, fn: Callable[[OutputState], str]) -> Callable[[list[int] | None], str]:
        return lambda channels: ",".join(fn(out) for out in self._targets(channels))

    @staticmethod
    def _level(value: float | str, lo: float, hi: float, default: float) -> float:
        """MIN/MAX/DEF for this output, or the number checked against its range."""
        if isinstance(value, str):
            return {"MIN": lo, "MAX": hi, "DEF": default}[value]
        if not lo <= value <= hi:
            raise ScpiError(-222)
        return value

    def _apply(self, channels: list[int] | None, change: Callable[[OutputState], None]) -> None:
        """Apply a setting to each targeted output and re-evaluate it at the present time."""
        for out in self._targets(channels):
            change(out)
            self._update(out, self._clock.now_us)

    # -- setting handlers ---------------------------------------------------------

    def _set_voltage(self, value: float | str, channels: list[int] | None) -> None:
        outs = self._targets(channels)
        levels = [self._level(value, 0.0, o.rating.v_max, 0.0) for o in outs]
        for out, v in zip(outs, levels, strict=True):
            self._apply([out.number], partial(_assign, "v_set", v))

    def _set_current(self, value: float | str, channels: list[int] | None) -> None:
        outs = self._targets(channels)
        limits = [self._level(value, MIN_CURRENT_A, o.rating.i_max, o.rating.i_max) for o in outs]
        for out, a in zip(outs, limits, strict=True):
            self._apply([out.number], partial(_assign, "i_limit", a))

    def _set_ocp(self, on: bool, channels: list[int] | None) -> None:
        self._apply(channels, partial(_assign, "ocp_enabled", on))

    def _set_ocp_delay(self, seconds: float, channels: list[int] | None) -> None:
        self._apply(channels, partial(_assign, "ocp_delay_s", seconds))

    def _set_output(self, on: bool, channels: list[int] | None) -> None:
        self._apply(channels, partial(_assign, "enabled", on))

    def _clear_protection(self, channels: list[int] | None) -> None:
        self._apply(channels, partial(_assign, "tripped", False))

    def _select(self, number: int) -> None:
        self._selected = number

    def _select_named(self, name: str) -> None:
        self._selected = int(name[-1])

    # -- measurement --------------------------------------------------------------

    def _measure_v(self, out: OutputState) -> str:
        t_us = self._clock.now_us
        noise = self._noise.stream(f"e36313a.out{out.number}.v").normal(V_NOISE)
        return nr3(out.voltage_at(t_us) + noise)

    def _measure_i(self, out: OutputState) -> str:
        t_us = self._clock.now_us
        noise = self._noise.stream(f"e36313a.out{out.number}.i").normal(I_NOISE)
        return nr3(self.output_current(out.number, t_us) + noise)

    # -- regulation and protection ------------------------------------------------

    def _operating_point(self, out: OutputState, t_us: int) -> tuple[float, bool]:
        """Target voltage and whether the output is in constant current."""
        if not out.live:
            return 0.0, False
        load = out.load
        if load is None or load.current_a(out.v_set, t_us) <= out.i_limit:
            return out.v_set, False
        if load.current_a(0.0, t_us) >= out.i_limit:
            return 0.0, True
        lo, hi = 0.0, out.v_set
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if load.current_a(mid, t_us) > out.i_limit:
                hi = mid
            else:
                lo = mid
        return lo, True

    def _update(self, out: OutputState, t_us: int) -> None:
        """Re-evaluate an output at ``t_us``; tolerant of the load calling back into us."""
        if out.number in self._updating:
            self._again.add(out.number)
            return
        self._updating.add(out.number)
        try:
            for _ in range(10):
                self._again.discard(out.number)
                self._evaluate(out, t_us)
                if out.number not in self._again:
                    break
        finally:
            self._updating.discard(out.number)

    def _evaluate(self, out: OutputState, t_us: int) -> None:
        target, cc = self._operating_point(out, t_us)
        changed = target != out.target or out.live != out.live_before
        if target != out.target:
            out.v0 = out.voltage_at(t_us)
            out.t0_us = t_us
            out.target = target
        out.cc = cc
        out.live_before = out.live
        self._arm_ocp(out, t_us)
        if changed and out.load is not None:
            out.load.on_supply_change(t_us)

    def _arm_ocp(self, out: OutputState, t_us: int) -> None:
        should_arm = out.live and out.cc and out.ocp_enabled
        if should_arm and out.trip_event is None:
            delay_us = round(out.ocp_delay_s * 1e6)
            out.trip_event = self._clock.at(t_us + delay_us, partial(self._on_ocp_timer, out))
        elif not should_arm and out.trip_event is not None:
            out.trip_event.cancel()
            out.trip_event = None

    def _on_ocp_timer(self, out: OutputState, t_us: int) -> None:
        """The CC condition has lasted the OCP delay: trip if it still holds."""
        out.trip_event = None
        _, cc = self._operating_point(out, t_us)
        if cc and out.live and out.ocp_enabled:
            out.tripped = True
        self._update(out, t_us)


_NAMES = ("CH1", "CH2", "CH3", "OUT1", "OUT2", "OUT3")


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _assign(attr: str, value: object, out: OutputState) -> None:
    setattr(out, attr, value)
