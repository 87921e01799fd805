"""EOL step 3 — the treatments, each from a phantom surface held at 33 °C.

Judged on the reference surface thermocouple (channel 101) and the valve-sense
channel (110), the logger's own view, not on the unit's report of itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.cooling import shock_figures
from rig.analysis.safety import hold_compliance
from rig.analysis.signals import first_crossing
from rig.measure import measures


@pytest.mark.requirement("REQ-COOL-01", "REQ-COOL-02", "REQ-PWR-01", "REQ-SAFE-02")
@measures(
    "shock.time_to_target_band",
    "shock.min_surface",
    "shock.drop_in_30s",
    "shock.rate_30_to_10",
    "power.valve_open_current",
    "safety.min_surface_shock",
)
def test_shock(bench, unit, clock, protocols, measurements):
    """SHOCK to 4 °C from 33 °C: time into the target band, thermal-shock drop and rate,
    the lowest surface temperature, and the supply current while the valve is open."""
    p = protocols.shock
    bench.condition_surface(p.precondition)
    t_start = clock.now()
    try:
        with bench.scan(p.acquisition):
            clock.sleep(0.5)  # a baseline before the valve opens
            unit.shock(p.treatment.target_c, p.treatment.max_s)
            bench.wait_cooling_end(p.treatment.max_s + 5.0)
            clock.sleep(p.acquisition.post_s)
    finally:
        bench.ensure_idle()
    t_end = clock.now()
    t_ref, ref = bench.reference_surface(t_start, t_end)
    t_v, v, threshold = bench.valve_sense(t_start, t_end)
    fig = shock_figures(
        t_ref,
        ref,
        t_v,
        v,
        threshold_v=threshold,
        target_c=p.treatment.target_c,
        band_c=p.treatment.band_c,
        rate_from_c=p.treatment.rate_from_c,
        rate_to_c=p.treatment.rate_to_c,
        drop_window_s=p.treatment.drop_window_s,
        t_from=t_start,
    )
    measurements["shock.time_to_target_band"] = fig.time_to_band_s
    measurements["shock.min_surface"] = fig.min_surface_c
    measurements["shock.drop_in_30s"] = fig.drop_in_window_c
    measurements["shock.rate_30_to_10"] = fig.rate_c_per_s
    measurements["safety.min_surface_shock"] = bench.surface_min(t_start, t_end)
    current = bench.supply_current(fig.valve.start + 0.1, fig.valve.end - 0.1)
    measurements["power.valve_open_current"] = float(np.median(current))


def _hold(bench, unit, clock, protocols, measurements, run_name: str) -> None:
    p = protocols.hold
    run = next(r for r in p.runs if r.name == run_name)
    bench.condition_surface(p.precondition)
    t_start = clock.now()
    try:
        with bench.scan(p.acquisition):
            clock.sleep(0.5)
            unit.hold(run.target_c, run.hold_s)
            bench.wait_unit_state(("HOLD",), 2.0)
            bench.wait_cooling_end(run.hold_s + p.timeout_margin_s)
            # Record the whole window the surface had to be held for, even if the unit
            # gave up early (a cutoff or a fault mid-hold is then a deviation, not a gap).
            t_ref, ref = bench.reference_surface(t_start, clock.now())
            reached = first_crossing(t_ref, ref, run.target_c + 1e-9, after=t_start)
            if np.isfinite(reached):
                clock.sleep(max(0.0, reached + run.hold_s - clock.now()))
            clock.sleep(p.acquisition.post_s)
        t_end = clock.now()
        t_ref, ref = bench.reference_surface(t_start, t_end)
        fig = hold_compliance(t_ref, ref, run.target_c, run.hold_s, after=t_start)
        measurements[f"{run_name}.reached"] = fig.reached
        measurements[f"{run_name}.max_deviation"] = fig.max_deviation_c
        measurements[f"safety.min_surface_{run_name}"] = bench.surface_min(t_start, t_end)
    finally:
        bench.ensure_idle()


@pytest.mark.requirement("REQ-HOLD-01", "REQ-SAFE-02")
@measures("hold4.reached", "hold4.max_deviation", "safety.min_surface_hold4")
def test_hold_4c(bench, unit, clock, protocols, measurements):
    """HOLD at 4 °C for 60 s: the reference surface within ±2 °C of the target throughout."""
    _hold(bench, unit, clock, protocols, measurements, "hold4")


@pytest.mark.requirement("REQ-HOLD-01", "REQ-SAFE-02")
@measures("hold10.reached", "hold10.max_deviation", "safety.min_surface_hold10")
def test_hold_10c(bench, unit, clock, protocols, measurements):
    """HOLD at 10 °C for 120 s: the reference surface within ±2 °C of the target throughout."""
    _hold(bench, unit, clock, protocols, measurements, "hold10")
