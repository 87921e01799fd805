"""After every step of the plan: is the bench still whole?

A step judges what it measures, not the bench it measures with: an instrument that
stopped answering in the middle of a step may not be asked anything by the rest of
the step (the stage is not commanded during a treatment), a unit that lost its
power makes ``test_identity`` count unanswered queries as link errors of the unit
(a FAIL of REQ-ID-01 that is really a bench fault), a supply whose read-back died
leaves an idle-current median over the samples taken before. So after each step
the plugin asks every instrument once (:func:`check_bench`); anything that does not
answer turns the step into an ERROR naming the instrument and ends the run, with
the bench made safe: a measurement taken on a bench that broke meanwhile decides
nothing about the unit.
"""

from __future__ import annotations

from typing import Any

from .instruments import steps
from .instruments.errors import RigError, UnitCommandError, UnitProtocolError
from .recording import RecordingError

UNIT_PROBES = 5
"""``STATE?`` tries before the unit counts as not answering: each try is already three
attempts, and a unit with a noisy link (a defect judged by REQ-ID-01, not a bench
fault) loses a whole transaction about one time in 25, so five in a row never happen
by chance (≈ 1e-7) while a unit without power costs 5 × 0.75 s of bench time."""
NO_LOAD_A = 0.005
"""Below this the unit draws nothing from a supply output that is on: it is cut off
(an idle unit draws about 0.1 A)."""


class BenchFault(RigError):
    """The bench failed during a step: the step cannot be judged and the run ends."""


def check_bench(bench: Any) -> list[str]:
    """Ask every instrument once: a logger block, a supply read-back, the stage's error
    queue, the unit's state; the problems found (empty when all answered)."""
    problems: list[str] = []
    hole = getattr(getattr(bench, "recorder", None), "write_failure", None)
    if hole:  # a hole in the record: nothing after it can be shown (a full disk)
        problems.append(f"the run record cannot be written: {hole}")
    acq = bench.acq
    if acq is not None:
        try:
            problems.extend(acq.check())
        except RecordingError as exc:  # what was read could not be journaled
            if not hole:
                problems.append(f"the run record cannot be written: {exc}")
    with steps.muted():
        stage = bench.stage
        failure = getattr(stage, "link_failure", None) if stage is not None else None
        if failure:  # it failed during the step and has not answered since: not again
            problems.append(f"stage stopped answering: {failure}")
        elif stage is not None:
            try:
                errors = stage.errors()
            except RigError as exc:  # no answer, or answers that make no sense
                problems.append(f"the stage's error queue cannot be read: {exc}")
            else:
                if errors:
                    problems.append(f"stage reports errors nobody asked for: {errors}")
        if bench.unit is not None:
            problems.extend(_unit_problems(bench))
    return problems


def _unit_problems(bench: Any) -> list[str]:
    last: RigError | None = None
    for _ in range(UNIT_PROBES):
        try:
            bench.unit.state()
        except (UnitCommandError, UnitProtocolError):
            return []  # a refusal or an odd field is still an answer: the unit is there
        except RigError as exc:  # no valid answer, or the port itself failed
            last = exc
        else:
            return []
    where = getattr(bench.unit, "resource", "") or "service port"
    cause = str(last).split(": ", 2)[-1].split("; ")[0] if last is not None else "no answer"
    silent = f"unit ({where}): no valid answer to STATE? in {UNIT_PROBES} tries ({cause})"
    power = _power_diagnosis(bench)
    if "lost its power" in power:  # the cause first
        return [f"{power}; {silent}"]
    return [f"{silent}; {power}" if power else silent]


def _power_diagnosis(bench: Any) -> str:
    """What the supply says about the unit's power: the cause, when it explains a silent
    unit (empty when the supply cannot tell)."""
    supply = bench.supply
    acq = bench.acq
    if supply is None or (acq is not None and "supply" in acq.dead):
        return ""
    try:
        on = supply.output_enabled
        volts, amps = supply.measured_v_a  # one exchange, as acquisition reads it
    except RigError:
        return ""
    if not on:
        return "the supply's output to the unit is off"
    if amps < NO_LOAD_A:
        return (
            f"the unit has lost its power (the supply's output is on at {volts:.2f} V but "
            f"the unit draws {amps * 1000:.1f} mA)"
        )
    return f"it is powered (it draws {amps:.3f} A at {volts:.2f} V)"
