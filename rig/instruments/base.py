"""Driver base: declarative SCPI properties (after PyMeasure's ``Instrument.control``).

One line per instrument property keeps a driver reviewable against the
programming guide, command for command::

    voltage_setpoint_v = control(
        "VOLT? {ch}", "VOLT {value},{ch}", "Output voltage setpoint.",
        validator=in_range(0, 25.75), units="V",
    )

Templates may contain ``{ch}`` (the driver's channel list, e.g. ``(@2)``) and
``{value}``. A set validates first (nothing is written on a bad value), writes,
then calls the driver's :meth:`Instrument.check_set_errors`: every set is
confirmed by a query on the same connection. That both reports a refused
setting at once and makes the set lockstep-safe (on the simulated bench, virtual
time may only move once the instrument has the command).

Reading and setting are traced as steps ``<role>.<property>`` (see
:mod:`rig.instruments.steps`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from . import steps
from .adapters import Adapter, VisaAdapter
from .errors import InstrumentError
from .interfaces import Identity
from .steps import step
from .testing import ProtocolAdapter
from .validators import Validator, in_range, on_off, one_of

__all__ = [
    "Adapter",
    "Instrument",
    "ProtocolAdapter",
    "ScpiInstrument",
    "VisaAdapter",
    "control",
    "in_range",
    "measurement",
    "on_off",
    "one_of",
    "parse_bool",
    "parse_float",
    "setting",
    "step",
]


def parse_float(reply: str) -> float:
    """A numeric reply (NR1/NR2/NR3, surrounding whitespace allowed)."""
    return float(reply.strip())


def parse_floats(count: int) -> Callable[[str], tuple[float, ...]]:
    """The replies of ``count`` queries sent as one message (IEEE 488.2: joined by ``;``)."""

    def parse(reply: str) -> tuple[float, ...]:
        parts = reply.strip().split(";")
        if len(parts) != count:
            raise ValueError(f"{len(parts)} replies, expected {count}")
        return tuple(float(p) for p in parts)

    return parse


def parse_bool(reply: str) -> bool:
    """A state reply: ``1``/``0`` (also ``ON``/``OFF``)."""
    text = reply.strip().upper()
    if text in ("1", "ON", "+1"):
        return True
    if text in ("0", "OFF", "+0"):
        return False
    raise ValueError(f"not a state: {reply!r}")


def _identity(value: Any) -> Any:
    return value


class _Property:
    """The descriptor behind :func:`control`, :func:`measurement` and :func:`setting`."""

    def __init__(
        self,
        get_cmd: str | None,
        set_cmd: str | None,
        doc: str,
        *,
        validator: Validator | None,
        get_process: Callable[[str], Any],
        set_process: Callable[[Any], Any],
        units: str | None,
    ) -> None:
        self.get_cmd = get_cmd
        self.set_cmd = set_cmd
        self.validator = validator
        self.get_process = get_process
        self.set_process = set_process
        self.units = units
        self.name = "?"
        self.__doc__ = doc + (f" [{units}]" if units else "")

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Instrument | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        if self.get_cmd is None:
            raise AttributeError(f"{self.name} can only be set")
        return steps.run(f"{obj.role}.{self.name}", {}, lambda: obj._get_property(self))

    def __set__(self, obj: Instrument, value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{self.name} can only be read")
        steps.run(
            f"{obj.role}.{self.name}", {"value": value}, lambda: obj._set_property(self, value)
        )

    def check(self, role: str, value: Any) -> Any:
        """Validate, raising ``ValueError`` naming property, value and what is allowed."""
        if self.validator is None:
            return value
        try:
            return self.validator(value)
        except ValueError as exc:
            unit = f" {self.units}" if self.units else ""
            raise ValueError(f"{role}.{self.name}: {exc}{unit}") from None


def control(
    get_cmd: str,
    set_cmd: str,
    doc: str,
    *,
    validator: Validator | None = None,
    get_process: Callable[[str], Any] = parse_float,
    set_process: Callable[[Any], Any] = _identity,
    units: str | None = None,
) -> Any:
    """A property that is read with ``get_cmd`` and set with ``set_cmd``."""
    return _Property(
        get_cmd,
        set_cmd,
        doc,
        validator=validator,
        get_process=get_process,
        set_process=set_process,
        units=units,
    )


def measurement(
    get_cmd: str,
    doc: str,
    get_process: Callable[[str], Any] = parse_float,
    units: str | None = None,
) -> Any:
    """A read-only property (a measurement or a status query)."""
    return _Property(
        get_cmd,
        None,
        doc,
        validator=None,
        get_process=get_process,
        set_process=_identity,
        units=units,
    )


def setting(
    set_cmd: str,
    doc: str,
    validator: Validator | None = None,
    units: str | None = None,
    set_process: Callable[[Any], Any] = _identity,
) -> Any:
    """A write-only property (the instrument offers no query for it)."""
    return _Property(
        None,
        set_cmd,
        doc,
        validator=validator,
        get_process=_identity,
        set_process=set_process,
        units=units,
    )


class Instrument:
    """A driver: an adapter, the instrument's role on the bench and an optional channel."""

    BOOL_WORDS: ClassVar[tuple[str, str]] = ("ON", "OFF")
    """How this instrument spells a switch (True, False) in commands."""

    def __init__(self, adapter: Adapter, *, role: str, channel: int | None = None) -> None:
        self.adapter = adapter
        self.role = role
        self.channel = channel

    # --- command text -------------------------------------------------------------------------
    @property
    def ch(self) -> str:
        """The channel list for ``{ch}`` in templates: ``(@2)``; empty without a channel."""
        return "" if self.channel is None else f"(@{self.channel})"

    def format_value(self, value: Any) -> str:
        """How a value appears in a command: bools per :attr:`BOOL_WORDS`, floats compactly."""
        if isinstance(value, bool):
            return self.BOOL_WORDS[0] if value else self.BOOL_WORDS[1]
        if isinstance(value, float):
            text = f"{value:.12g}"
            return "0" if text == "-0" else text
        return str(value)

    def fill(self, template: str, value: Any = None) -> str:
        return template.format(ch=self.ch, value=self.format_value(value))

    # --- I/O ----------------------------------------------------------------------------------
    def write(self, command: str) -> None:
        self.adapter.write(command)

    def ask(self, command: str) -> str:
        return self.adapter.query(command)

    def error(self, command: str | None, cause: object) -> InstrumentError:
        """An :class:`InstrumentError` naming this instrument, ``command`` and ``cause``."""
        return InstrumentError.about(self.role, self.adapter.resource_name, command, cause)

    def parse(self, command: str, reply: str, process: Callable[[str], Any]) -> Any:
        """Apply ``process`` to a reply; a reply that does not parse is an InstrumentError."""
        try:
            return process(reply)
        except (ValueError, IndexError) as exc:
            raise self.error(command, f"unexpected reply {reply!r} ({exc})") from None

    def switch_off_confirmed(self, command: str, query: str, *, check_errors: bool) -> bool:
        """Send ``command``, then read ``query`` back: True only when it reads off.

        For the safe state, which runs on every way out of a run (after an instrument
        error too), so it never raises: ``False`` when the output could not be
        confirmed off (unreachable, refused, or still on), :attr:`safe_off_error` says why.
        """
        self.safe_off_error: str | None = None
        try:
            self.write(command)
            if check_errors:
                errors = self.errors()
                if errors:
                    self.safe_off_error = f"{self.role}: {command!r} refused: " + "; ".join(errors)
                    return False
            reply = self.ask(query)
            if parse_bool(reply) is False:
                return True
            self.safe_off_error = f"{self.role}: the output still reads on ({reply!r})"
        except InstrumentError as exc:
            self.safe_off_error = str(exc)
        except ValueError as exc:
            self.safe_off_error = f"{self.role}: unexpected reply to the output query: {exc}"
        return False

    def check_set_errors(self, command: str) -> None:
        """Confirm a set command on the same connection; override per instrument."""

    def close(self) -> None:
        self.adapter.close()

    @property
    def link_failure(self) -> str | None:
        """The last transfer that failed (timeout, lost connection) if the instrument has not
        answered since; None while it answers (or for adapters that do not track it)."""
        return getattr(self.adapter, "failure", None)

    @step
    def reconnect(self) -> None:
        """A fresh session to the instrument, e.g. before the safe state after its link
        failed (adapters without sessions have nothing to renew)."""
        renew = getattr(self.adapter, "reconnect", None)
        if renew is not None:
            renew()

    # --- declarative properties ---------------------------------------------------------------
    def _get_property(self, prop: _Property) -> Any:
        assert prop.get_cmd is not None
        command = self.fill(prop.get_cmd)
        return self.parse(command, self.ask(command), prop.get_process)

    def _set_property(self, prop: _Property, value: Any) -> None:
        assert prop.set_cmd is not None
        checked = prop.check(self.role, value)
        command = self.fill(prop.set_cmd, prop.set_process(checked))
        self.write(command)
        self.check_set_errors(command)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(role={self.role!r}, resource={self.adapter.resource_name!r})"


class ScpiInstrument(Instrument):
    """IEEE 488.2 / SCPI common behaviour: ``*IDN?``, ``*RST``, ``*CLS``, the error queue."""

    ERROR_QUEUE_LIMIT: ClassVar[int] = 32
    """Reads of ``SYST:ERR?`` before giving up (the queue holds 20 plus an overflow mark)."""

    @step
    def identify(self) -> Identity:
        """``*IDN?`` → maker, model, serial, firmware."""
        reply = self.ask("*IDN?")
        parts = [p.strip() for p in reply.split(",", 3)]
        if len(parts) != 4:
            raise self.error("*IDN?", f"unexpected reply {reply!r} (expected 4 fields)")
        return Identity(*parts)

    @step
    def reset(self) -> None:
        """``*RST``, confirmed by ``*OPC?`` (nothing is pending after a reset)."""
        self.write("*RST")
        reply = self.ask("*OPC?")
        if reply.strip() != "1":
            raise self.error("*OPC?", f"unexpected reply {reply!r} after *RST")

    @step
    def clear_status(self) -> None:
        """``*CLS`` (clears the error queue), confirmed by an empty ``SYST:ERR?``."""
        self.write("*CLS")
        self.check_no_errors("*CLS")

    @step
    def errors(self) -> list[str]:
        """Empty the error queue: every ``SYST:ERR?`` entry up to ``+0,"No error"``."""
        found: list[str] = []
        for _ in range(self.ERROR_QUEUE_LIMIT):
            reply = self.ask("SYST:ERR?").strip()
            code = reply.split(",", 1)[0].strip()
            try:
                if int(code) == 0:
                    return found
            except ValueError:
                raise self.error("SYST:ERR?", f"unexpected reply {reply!r}") from None
            found.append(reply)
        raise self.error("SYST:ERR?", f"error queue does not empty: {found[:5]!r}...")

    @step
    def check_no_errors(self, context: str) -> None:
        """Raise :class:`InstrumentError` listing the queued errors, if there are any."""
        found = self.errors()
        if found:
            raise self.error(context, "error queue: " + "; ".join(found))

    def check_set_errors(self, command: str) -> None:
        self.check_no_errors(command)
