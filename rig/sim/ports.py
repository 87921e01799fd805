"""The seams between the simulated bench's physics and its emulated instruments.

An instrument emulator (``rig/sim/instruments``) only sees the bench through
these small protocols, so that what a thing *is* (the phantom, the unit as an
electrical load, the stage plate) stays apart from how an instrument drives or
reads it, and each emulator can be tested against a stand-in bench.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .timebase import EventHandle


class SimClock(Protocol):
    """The bench's virtual clock (:class:`rig.sim.timebase.Scheduler`)."""

    now_us: int

    def at(self, t_us: int, callback: Callable[[int], None]) -> EventHandle: ...

    def after(self, delay_us: int, callback: Callable[[int], None]) -> EventHandle: ...

    def run_inline(self, t_us: int) -> bool: ...


class LoggerTerminals(Protocol):
    """What is wired to the logger's multiplexer (slot 1 of the DAQ970A)."""

    def tc_junction_c(self, channel: int, t_us: int) -> float | None:
        """Hot-junction temperature of the thermocouple on ``channel`` at ``t_us``, after
        the sensor's own lag; None when no thermocouple is wired to that channel."""
        ...

    def dc_volts(self, channel: int, t_us: int) -> float:
        """Voltage across a channel with no thermocouple (0.0 when nothing is wired)."""
        ...

    def terminal_block_c(self, t_us: int) -> float:
        """True temperature of the module's isothermal block (the reference junction)."""
        ...


class SupplyLoad(Protocol):
    """Whatever hangs on a supply output: here, the unit under test."""

    def current_a(self, volts: float, t_us: int) -> float:
        """Current the load draws at ``volts`` terminal voltage at ``t_us``."""
        ...

    def on_supply_change(self, t_us: int) -> None:
        """The supply's output trajectory changed at ``t_us`` (setpoint, on/off, trip)."""
        ...


class StagePlant(Protocol):
    """The stage plate as the TEC controller sees it."""

    def plate_sensor_c(self, t_us: int) -> float:
        """True plate temperature where the controller's sensor sits."""
        ...

    def set_tec_current(self, t_us: int, amps: float) -> None:
        """Drive the Peltier element; positive current heats the plate."""
        ...
