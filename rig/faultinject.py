"""Faults raised on purpose, on the simulated bench only: ``--sim-fault SPEC``.

The rig's promise is that a fault at any step of the plan (an instrument that stops
answering, a corrupted reply, the unit losing power) ends the run as ERROR with the
bench safe and every acquired sample kept. That promise is only worth something if
each step has been seen to keep it, so the simulated bench's control channel
(``FAULT <resource> …``, ``POWER CUT``) can be told to break something at a chosen
moment inside a chosen step::

    --sim-fault 'test_shock@210.5=logger:stall'
    --sim-fault 'test_hold_4c@0=device:corrupt:1'
    --sim-fault 'test_plans/test_01_unit.py::test_selftest@0.6=power:off'

``SPEC`` is ``TEST@SECONDS=WHAT``:

* ``TEST``: a substring of the node ID; the first test whose ID contains it is the
  one (``test_hold`` is the first HOLD, not both);
* ``SECONDS``: virtual seconds after that test starts; ``0`` is the moment it
  starts, before its first command;
* ``WHAT``: ``<resource>:drop``, ``<resource>:stall``, ``<resource>:corrupt[:<rate>]``
  (rate 0–1, default 1: every reply), ``<resource>:delay:<ms>`` with ``<resource>``
  one of ``logger``, ``supply``, ``stage``, ``device`` (the unit's service port), or
  ``power:off`` (the relay between the supply and the unit opens).

Each fault fires exactly once, through the lockstep clock: an advance hook
(:meth:`rig.clock.Clock.on_advance`) that also runs in the short steps a driver
takes inside its own transaction, so a fault can land in the middle of a
conversation, as a real one would; :meth:`~rig.clock.Clock.wake_at` makes the
step end exactly at the fault's moment. It is traced as ``fault_injected`` (or
``fault_not_injected`` when its test ended first, or never ran) and listed in
run.json (``sim_faults``). Faults are never cleared by the rig: what it does after
one is the point. On a lab bench the option is refused before anything is
energized: there is nothing to inject through, and a lab run must not carry it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

RESOURCES = ("logger", "supply", "stage", "device")
KINDS = ("drop", "stall", "corrupt", "delay")


class FaultSpecError(ValueError):
    """A ``--sim-fault`` value that does not say what to break, where or when."""


class SimFaults(Protocol):
    """The part of :class:`rig.simlink.SimControl` that injects faults."""

    def fault(self, resource: str, kind: str, arg: str | float | None = None) -> None: ...

    def power(self, on: bool) -> None: ...


class ClockLike(Protocol):
    def now(self) -> float: ...

    def on_advance(self, hook: Callable[[float], None]) -> Callable[[], None]: ...

    def wake_at(self, t: float) -> None: ...


@dataclass(frozen=True)
class FaultSpec:
    """One fault: in which test, how long after it starts, what breaks."""

    text: str
    test: str
    at_s: float
    resource: str
    """``logger``, ``supply``, ``stage``, ``device`` or ``power``."""
    kind: str
    """``drop``, ``stall``, ``corrupt``, ``delay``; ``off`` for power."""
    arg: float | None = None
    """The corruption rate or the delay in ms."""

    def describe(self) -> str:
        if self.resource == "power":
            return "the unit's power cut (POWER CUT)"
        arg = "" if self.arg is None else f" {self.arg:g}"
        return f"FAULT {self.resource} {self.kind}{arg}"


USAGE = (
    "expected TEST@SECONDS=WHAT, e.g. 'test_shock@120=supply:stall'; WHAT is "
    "<logger|supply|stage|device>:<drop|stall|corrupt[:rate]|delay:ms> or power:off"
)


def parse_fault_spec(text: str) -> FaultSpec:
    """``TEST@SECONDS=WHAT`` (see the module docstring); :class:`FaultSpecError` names
    the value and what is wrong with it.

    Split from the right: a node ID may contain ``=`` or ``@`` (parametrized IDs), the
    time and the fault never do.
    """
    where, eq, what = text.rpartition("=")
    test, at, seconds = where.rpartition("@")
    if not eq or not at or not test.strip():
        raise FaultSpecError(f"--sim-fault {text!r}: {USAGE}")
    try:
        at_s = float(seconds)
    except ValueError:
        raise FaultSpecError(
            f"--sim-fault {text!r}: {seconds!r} is not a number of seconds"
        ) from None
    if not math.isfinite(at_s) or at_s < 0:
        raise FaultSpecError(f"--sim-fault {text!r}: seconds must be >= 0, not {seconds!r}")
    parts = what.strip().split(":")
    resource, kind, rest = parts[0], (parts[1] if len(parts) > 1 else ""), parts[2:]
    arg: float | None = None
    if resource == "power":
        if kind != "off" or rest:
            raise FaultSpecError(f"--sim-fault {text!r}: the unit's power fault is 'power:off'")
    elif resource not in RESOURCES:
        raise FaultSpecError(
            f"--sim-fault {text!r}: resource {resource!r} is not one of "
            f"{', '.join(RESOURCES)} or power"
        )
    elif kind in ("drop", "stall"):
        if rest:
            raise FaultSpecError(f"--sim-fault {text!r}: {kind} takes no argument")
    elif kind == "corrupt":
        if len(rest) > 1:
            raise FaultSpecError(f"--sim-fault {text!r}: corrupt takes one rate (0 to 1)")
        arg = _number(text, rest[0], "rate") if rest else 1.0
        if not 0.0 < arg <= 1.0:
            raise FaultSpecError(f"--sim-fault {text!r}: rate {arg:g} is not in (0, 1]")
    elif kind == "delay":
        if len(rest) != 1:
            raise FaultSpecError(f"--sim-fault {text!r}: delay takes the delay in ms")
        arg = _number(text, rest[0], "delay")
        if arg <= 0:
            raise FaultSpecError(f"--sim-fault {text!r}: delay {arg:g} ms must be > 0")
    else:
        raise FaultSpecError(
            f"--sim-fault {text!r}: fault {kind!r} is not one of {', '.join(KINDS)}"
        )
    return FaultSpec(text, test.strip(), at_s, resource, kind, arg)


def _number(text: str, value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FaultSpecError(f"--sim-fault {text!r}: {what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise FaultSpecError(f"--sim-fault {text!r}: {what} {value!r} is not a number")
    return number


@dataclass
class _Armed:
    spec: FaultSpec
    test: str
    due: float


@dataclass
class FaultInjector:
    """Fires each spec once, ``at_s`` after the first test matching it starts."""

    sim: SimFaults
    clock: ClockLike
    specs: tuple[FaultSpec, ...]
    trace: Callable[[dict[str, Any]], None]
    """Where ``fault_injected`` / ``fault_not_injected`` go (the run's trace)."""
    waiting: list[FaultSpec] = field(default_factory=list)
    armed: list[_Armed] = field(default_factory=list)
    fired: list[dict[str, Any]] = field(default_factory=list)
    _remove: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.waiting = list(self.specs)
        if self.specs:
            self._remove = self.clock.on_advance(self._on_advance)

    def test_started(self, nodeid: str) -> None:
        """Arm the specs that name this test; a spec at 0 s fires now, before its first
        command (a step that takes no virtual time has no other moment inside it)."""
        now = self.clock.now()
        for spec in [s for s in self.waiting if s.test in nodeid]:
            self.waiting.remove(spec)
            armed = _Armed(spec, nodeid, now + spec.at_s)
            if spec.at_s <= 0:
                self._fire(armed, now)
            else:
                self.armed.append(armed)
                self.clock.wake_at(armed.due)

    def test_ended(self, nodeid: str) -> None:
        """A fault still armed for this test did not happen inside it: it never will."""
        for armed in [a for a in self.armed if a.test == nodeid]:
            self.armed.remove(armed)
            self._not_injected(
                armed.spec,
                f"{nodeid} ended at t={self.clock.now():.3f} s, before the fault was due at "
                f"t={armed.due:.3f} s",
            )

    def close(self) -> None:
        """End of the run: report specs whose test never ran; stop watching the clock."""
        if self._remove is not None:
            self._remove()
            self._remove = None
        for spec in self.waiting:
            self._not_injected(spec, f"no test whose node ID contains {spec.test!r} ran")
        self.waiting.clear()
        for armed in self.armed:
            self._not_injected(armed.spec, f"{armed.test} never reached t={armed.due:.3f} s")
        self.armed.clear()

    def record(self) -> list[dict[str, Any]]:
        """What run.json says about the faults asked for and what became of them."""
        fired = {f["spec"]: f for f in self.fired}
        return [
            {
                "spec": s.text,
                "fault": s.describe(),
                "injected_t": fired[s.text]["t"] if s.text in fired else None,
                "test": fired[s.text]["test"] if s.text in fired else None,
            }
            for s in self.specs
        ]

    # --- internals ----------------------------------------------------------------------------
    def _on_advance(self, now: float) -> None:
        for armed in [a for a in self.armed if now >= a.due - 1e-9]:
            self.armed.remove(armed)
            self._fire(armed, now)

    def _fire(self, armed: _Armed, now: float) -> None:
        spec = armed.spec
        if spec.resource == "power":
            self.sim.power(False)
        else:
            self.sim.fault(spec.resource, spec.kind, spec.arg)
        event = {
            "kind": "fault_injected",
            "t": now,
            "test": armed.test,
            "spec": spec.text,
            "resource": spec.resource,
            "fault": spec.describe(),
        }
        self.fired.append(event)
        self.trace(event)

    def _not_injected(self, spec: FaultSpec, why: str) -> None:
        self.trace(
            {"kind": "fault_not_injected", "t": self.clock.now(), "spec": spec.text, "why": why}
        )
