"""EOL step 4 — the over-cooling cutoff, in service-mode continuous cooling.

Nothing but the unit's own safety logic ends the cooling. The rig times the
reaction from the moment the unit's corrected reading falls to the factory
threshold to the moment the jet stops (the reference surface turns), and holds
the surface to REQ-SAFE-02 throughout.

When did the reading fall to the threshold? The unit decides on every control tick
(20 ms) but logs at 10 Hz, and its reading is noisy: the firmware may act on a
sample below the threshold that the log never shows. So the moment is the earlier
of the log's own crossing (interpolated between rows) and the unit's cutoff event.
A unit whose threshold has drifted low is caught by the first (its log crosses
2.0 °C long before it cuts off); a slow valve by the jet stopping late after either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from rig.analysis.safety import Timed, earliest, flow_stop, latency, reading_crossing
from rig.analysis.signals import crossings
from rig.instruments.errors import RigError, UnitCommandError
from rig.measure import measures


@pytest.mark.requirement("REQ-SAFE-01", "REQ-SAFE-02")
@measures(
    "cutoff.close_latency",
    "cutoff.state",
    "cutoff.no_reopen",
    "cutoff.rearm_refused_while_cold",
    "cutoff.rearm_refused_below",
    "cutoff.rearm_after_warm",
    "safety.min_surface_cutoff",
)
def test_cutoff(bench, unit, clock, protocols, measurements):
    """Continuous cooling until the unit cuts off; then re-arm only above 8 °C after ACK."""
    p = protocols.cutoff
    bench.condition_surface(p.precondition)
    try:
        _cutoff(bench, unit, clock, p, measurements)
    finally:
        bench.ensure_idle()


def _cutoff(bench, unit, clock, p, measurements) -> None:
    t_start = clock.now()
    with bench.scan(p.acquisition):
        clock.sleep(0.5)
        unit.enter_service()
        unit.service_cool(p.cool_max_s)
        state = bench.wait_cooling_end(p.cutoff_timeout_s, poll_s=0.25)
        refused = False
        below: RearmProbe | None = None
        if state == "CUTOFF":  # at once, while the spot is still cold
            try:
                unit.ack()
            except UnitCommandError as exc:
                refused = exc.code == "E4"
            if refused:  # the surface rebounds within seconds: this cannot wait
                below = _ack_just_below_rearm(unit, clock, p)
        clock.sleep(p.acquisition.post_s)
    t_cut = clock.now()
    measurements["cutoff.state"] = state
    measurements["cutoff.rearm_refused_while_cold"] = refused
    if below is None:
        why = "it did not cut off" if state != "CUTOFF" else "the ACK while cold was not refused"
        measurements.record("cutoff.rearm_refused_below", False, notes=f"not tried: {why}")
    else:
        measurements.record("cutoff.rearm_refused_below", below.refused, notes=below.note())

    bench.acq.poll_unit()
    t_log, reading, _ = bench.acq.unit_log(t_start, t_cut)
    t_ref, ref = bench.reference_surface(t_start, t_cut)
    events = bench.acq.unit_events("cutoff", t_start)
    decided = Timed(events[0][0], 0.001 / np.sqrt(12)) if events else Timed(np.inf, 0.0)
    cross = earliest(reading_crossing(t_log, reading, p.threshold_c, after=t_start), decided)
    if np.isfinite(cross.value):
        # Searched up to the end of the recording: a drifted threshold stops the jet
        # seconds after the factory one is crossed, and that is what gets measured.
        stop = flow_stop(t_ref, ref, after=cross.value - 0.05, search_s=t_cut - cross.value)
        lat = latency(cross, stop)
        measurements.record(
            "cutoff.close_latency", lat.value, uncertainty=lat.expanded, coverage_factor=lat.K
        )
    else:
        measurements.record(
            "cutoff.close_latency", float("inf"), notes="the reading never fell to the threshold"
        )

    # Wait for the spot to warm past the re-arm temperature, then acknowledge.
    warmed = clock.wait_until(
        lambda: unit.temperature_c() > p.rearm_c + 0.5, p.rearm_timeout_s, poll_s=1.0
    )
    rearmed = False
    t_ack = clock.now()
    if warmed and unit.state().state == "CUTOFF":
        unit.ack()
        rearmed = unit.state().state == "IDLE"
    # From the drive's fall at the cutoff to the acknowledgement the drive stays off.
    t_v, v, threshold = bench.valve_sense(t_start, t_ack)
    falls = crossings(t_v, v, threshold, "down") if t_v.size >= 2 else np.zeros(0)
    after = v[t_v > falls[0] + 0.005] if falls.size else np.zeros(0)
    measurements["cutoff.no_reopen"] = bool(after.size) and bool(np.all(after < threshold))
    measurements.record(
        "cutoff.rearm_after_warm",
        rearmed,
        notes=None if rearmed or state != "CUTOFF" or not warmed else _left_cutoff(below),
    )
    measurements["safety.min_surface_cutoff"] = bench.surface_min(t_start, clock.now())


def _left_cutoff(below: RearmProbe | None) -> str | None:
    if below is not None and not below.refused:
        return f"not tried: the unit had re-armed already, at {below.last_c:.2f} °C"
    return None


@dataclass(frozen=True)
class RearmProbe:
    """The acknowledgements tried while the reading rose through the probe band."""

    first_c: float
    last_c: float
    """The reading at the last ACK: the one accepted, if one was."""
    acks: int
    refused: bool
    """Every ACK refused."""

    def note(self) -> str:
        if not self.refused:
            return f"ACK accepted at a reading of {self.last_c:.2f} °C (ACK {self.acks})"
        return f"{self.acks} ACKs refused at readings of {self.first_c:.2f}–{self.last_c:.2f} °C"


def _ack_just_below_rearm(unit, clock, p) -> RearmProbe:
    """Poll the reading as the spot warms and acknowledge at every poll that finds it in
    ``rearm_probe_c`` (just below the re-arm temperature): each must be refused.

    Every poll, not only the first: one ACK at the band's bottom (cutoff 1.1.0) let a
    unit that re-arms at 7.5 or 7.9 °C pass, because the spot had not got there yet."""
    low, high = p.rearm_probe_c
    deadline = clock.now() + p.rearm_timeout_s
    last: str | None = None
    tried: list[float] = []
    while clock.now() < deadline:
        reading = unit.temperature_c()
        if reading >= high:
            if tried:
                return RearmProbe(tried[0], tried[-1], len(tried), True)
            raise RigError(
                f"the unit's reading went from {last} to {reading:.2f} °C between two polls "
                f"{p.rearm_probe_poll_s:g} s apart: no acknowledgement could be tried in "
                f"{low}–{high} °C, just below the re-arm temperature"
            )
        if reading >= low:
            tried.append(reading)
            try:
                unit.ack()
            except UnitCommandError as exc:
                if exc.code != "E4":
                    raise
            else:
                return RearmProbe(tried[0], reading, len(tried), False)
        last = f"{reading:.2f}"
        clock.sleep(p.rearm_probe_poll_s)
    if tried:
        return RearmProbe(tried[0], tried[-1], len(tried), True)
    raise RigError(
        f"the unit's reading did not reach {low} °C within {p.rearm_timeout_s:g} s of the cutoff"
    )
