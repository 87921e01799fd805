"""Keysight E36313A triple-output supply, one output as the unit's bench supply.

Reference: *Keysight E36300 Series Triple Output Power Supplies Programming
Guide* (SOURce:VOLTage/CURRent with channel lists, CURRent:PROTection:STATe and
:TRIPped?, OUTPut[:STATe], OUTPut:PROTection:CLEar, MEASure:VOLTage?/CURRent?).

One driver instance is one output (``channel``; the unit is on output 2, 25 V
2 A): every command carries its channel list, so nothing depends on the
instrument's selected channel. Every set is confirmed with ``SYST:ERR?``.
Ranges are the programming ranges of outputs 2 and 3 (rated + 3 %); output 1
(6 V 10 A) has other limits and is not used on this bench, so it is refused.
"""

from __future__ import annotations

from typing import ClassVar

from rig.clock import Clock

from .adapters import Adapter
from .base import (
    ScpiInstrument,
    control,
    in_range,
    measurement,
    on_off,
    parse_bool,
    parse_floats,
)
from .steps import step


class E36313aOutput(ScpiInstrument):
    """One output of the E36313A (default output 2: the unit's supply)."""

    BOOL_WORDS: ClassVar[tuple[str, str]] = ("ON", "OFF")

    voltage_setpoint_v = control(
        "VOLT? {ch}",
        "VOLT {value},{ch}",
        "Programmed output voltage.",
        validator=in_range(0, 25.75),
        units="V",
    )
    current_limit_a = control(
        "CURR? {ch}",
        "CURR {value},{ch}",
        "Current limit (constant-current level).",
        validator=in_range(0.002, 2.06),
        units="A",
    )
    output_enabled = control(
        "OUTP? {ch}",
        "OUTP {value},{ch}",
        "Output switched on (a tripped output reads off).",
        validator=on_off,
        get_process=parse_bool,
    )
    ocp_enabled = control(
        "CURR:PROT:STAT? {ch}",
        "CURR:PROT:STAT {value},{ch}",
        "Over-current protection: trip the output after its delay in constant current.",
        validator=on_off,
        get_process=parse_bool,
    )
    measured_voltage_v = measurement("MEAS:VOLT? {ch}", "Terminal voltage.", units="V")
    measured_current_a = measurement("MEAS:CURR? {ch}", "Output current.", units="A")
    measured_v_a = measurement(
        "MEAS:VOLT? {ch};:MEAS:CURR? {ch}",
        "Terminal voltage and output current in one exchange (acquisition's read-back).",
        get_process=parse_floats(2),
        units="V, A",
    )
    tripped = measurement(
        "CURR:PROT:TRIP? {ch}", "Over-current protection has tripped.", get_process=parse_bool
    )

    def __init__(
        self,
        adapter: Adapter,
        channel: int = 2,
        role: str = "supply",
        *,
        clock: Clock | None = None,
    ) -> None:
        if channel not in (2, 3):
            raise ValueError(f"E36313aOutput drives the 25 V 2 A outputs 2 and 3, not {channel!r}")
        super().__init__(adapter, role=role, channel=channel)
        self.clock = clock
        self.safe_off_error: str | None = None

    @step
    def clear_protection(self) -> None:
        """``OUTP:PROT:CLE``: re-enable a tripped output (it returns to its programmed state)."""
        command = f"OUTP:PROT:CLE {self.ch}"
        self.write(command)
        self.check_no_errors(command)

    @step
    def safe_off(self) -> bool:
        """Switch the output off and verify it reads off; never raises.

        Called on every way out of a run (including after an instrument error), so
        it must not mask the original problem: ``False`` when the output could not
        be confirmed off (unreachable, or still on); :attr:`safe_off_error` then says why.
        """
        return self.switch_off_confirmed(
            f"OUTP OFF,{self.ch}", f"OUTP? {self.ch}", check_errors=False
        )
