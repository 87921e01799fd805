"""Arroyo Instruments TECSource 5305 TEC controller: the skin-phantom stage.

Reference: *Arroyo Instruments Computer Interfacing Manual* (TECSource series):
``*IDN?``, ``TEC:MODE:T``, ``TEC:T``, ``TEC:SET:T?``, ``TEC:T?``, ``TEC:ITE?``,
``TEC:OUT``, ``TEC:OUT?``, ``ERRSTR?``.

Not SCPI: lines end in CR LF, ``*IDN?`` answers with spaces
(``Arroyo 5305 <serial> <firmware>``), and commands that set send no reply at
all, also when refused. Every set is therefore followed by ``ERRSTR?``, which
must answer ``0``: it is the only way to learn that a setting was refused, and
it proves the controller has the command before the rig lets time move.
"""

from __future__ import annotations

from typing import ClassVar

from rig.clock import Clock

from .adapters import Adapter
from .base import Instrument, control, in_range, measurement, on_off, parse_bool
from .interfaces import Identity
from .steps import step

ERROR_QUEUE_LIMIT = 16


class Arroyo5305Stage(Instrument):
    """The TEC controller regulating the phantom's stage plate (its own PID)."""

    BOOL_WORDS: ClassVar[tuple[str, str]] = ("1", "0")

    setpoint_c = control(
        "TEC:SET:T?",
        "TEC:T {value}",
        "Temperature setpoint of the stage plate.",
        validator=in_range(-20, 60),
        units="°C",
    )
    output_enabled = control(
        "TEC:OUT?", "TEC:OUT {value}", "TEC output on.", validator=on_off, get_process=parse_bool
    )
    temperature_c = measurement("TEC:T?", "Measured stage plate temperature.", units="°C")
    tec_current_a = measurement("TEC:ITE?", "TEC current (positive heats).", units="A")

    def __init__(
        self, adapter: Adapter, role: str = "stage", *, clock: Clock | None = None
    ) -> None:
        super().__init__(adapter, role=role)
        self.clock = clock
        self.safe_off_error: str | None = None

    @step
    def identify(self) -> Identity:
        """``*IDN?`` → ``Arroyo 5305 <serial> <firmware>``."""
        reply = self.ask("*IDN?")
        parts = reply.split()
        if len(parts) != 4 or parts[0] != "Arroyo":
            raise self.error("*IDN?", f"unexpected reply {reply!r}")
        return Identity("Arroyo", parts[1], parts[2], parts[3])

    @step
    def errors(self) -> list[str]:
        """Empty the error queue: every ``ERRSTR?`` entry (``<code>,<text>``) up to ``0``."""
        found: list[str] = []
        for _ in range(ERROR_QUEUE_LIMIT):
            reply = self.ask("ERRSTR?").strip()
            if reply == "0":
                return found
            found.append(reply)
        raise self.error("ERRSTR?", f"error queue does not empty: {found[:5]!r}...")

    @step
    def check_no_errors(self, context: str) -> None:
        found = self.errors()
        if found:
            raise self.error(context, "refused: " + "; ".join(found))

    def check_set_errors(self, command: str) -> None:
        self.check_no_errors(command)

    @step
    def set_temperature_mode(self) -> None:
        """``TEC:MODE:T``: regulate temperature (not current or resistance)."""
        self.write("TEC:MODE:T")
        self.check_no_errors("TEC:MODE:T")

    @step
    def safe_off(self) -> bool:
        """Switch the TEC output off and verify; never raises (see the supply's)."""
        return self.switch_off_confirmed("TEC:OUT 0", "TEC:OUT?", check_errors=True)
