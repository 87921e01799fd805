"""EOL step 6 — the maximum valve-open time (runs last: it over-cools the phantom)."""

from __future__ import annotations

import pytest

from rig.analysis.safety import pulse_duration, sample_interval
from rig.analysis.signals import pulses
from rig.measure import measures


@pytest.mark.requirement("REQ-SAFE-03")
@measures("maxopen.duration", "maxopen.fault")
def test_max_open_time(bench, unit, clock, protocols, measurements):
    """Service mode, skin reading overridden to 20 °C, continuous cooling: only the
    max-open timer can close the valve; its open time is read off the valve-sense channel."""
    p = protocols.max_open
    t_start = clock.now()
    try:
        with bench.scan(p.acquisition):
            clock.sleep(0.5)
            unit.enter_service()
            unit.override(p.override_c)
            unit.service_cool(p.cool_max_s)
            bench.wait_cooling_end(p.timeout_s)
            clock.sleep(1.0)
    except BaseException:
        bench.ensure_idle()
        raise
    t_v, v, threshold = bench.valve_sense(t_start, clock.now())
    opened = [q for q in pulses(t_v, v, threshold) if q.start >= t_start]
    if opened:
        d = pulse_duration(opened[0].start, opened[0].end, sample_interval(t_v))
        measurements.record(
            "maxopen.duration", d.value, uncertainty=d.expanded, coverage_factor=d.K
        )
    else:
        measurements.record("maxopen.duration", float("nan"), notes="the valve never opened")
    measurements["maxopen.fault"] = unit.state().fault
    bench.ensure_idle()
