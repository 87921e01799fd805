"""EOL step 5 — failed sensor and undervoltage while cooling.

Each fault is raised at a moment the rig knows (its own command); the reaction is
timed to the jet's stop seen by the reference surface. Short bursts of cooling
from a warm surface: nothing here comes near the cutoff threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.safety import command_time, flow_stop, latency
from rig.measure import measures


def _cool_then(bench, unit, clock, p, action):
    """Service-mode cooling for a while, ``action()``; return (t_action, t_end)."""
    bench.wait_surface_above(p.min_surface_c, 600.0)
    try:
        with bench.scan(p.acquisition):
            unit.enter_service()
            unit.service_cool(30.0)
            clock.sleep(p.cool_before_fault_s)
            t_action = clock.now()
            action()
            clock.sleep(p.observe_s)
    except BaseException:
        bench.ensure_idle()
        raise
    return t_action, clock.now()


def _fault_latency(bench, t_action, t_end):
    t_ref, ref = bench.reference_surface(t_action - 0.5, t_end)
    stop = flow_stop(t_ref, ref, after=t_action)
    return latency(command_time(t_action), stop)


@pytest.mark.requirement("REQ-SAFE-04")
@measures(
    "sensor.f01_close_latency", "sensor.f01_fault", "sensor.f02_close_latency", "sensor.f02_fault"
)
def test_sensor_faults(bench, unit, clock, protocols, measurements):
    """Open-circuit (F01) and out-of-range (F02) sensor faults injected while cooling."""
    p = protocols.faults
    for code in ("F01", "F02"):
        t_action, t_end = _cool_then(bench, unit, clock, p, lambda c=code: unit.inject_fault(c))
        lat = _fault_latency(bench, t_action, t_end)
        key = code.lower()
        measurements.record(
            f"sensor.{key}_close_latency",
            lat.value,
            uncertainty=lat.expanded,
            coverage_factor=lat.K,
        )
        measurements[f"sensor.{key}_fault"] = unit.state().fault
        bench.ensure_idle()


@pytest.mark.requirement("REQ-PWR-02")
@measures("power.uv_close_latency", "power.uv_fault", "power.uv_no_reopen")
def test_undervoltage(bench, unit, clock, protocols, measurements, supply):
    """The supply is stepped below 20 V while cooling: the valve closes, F03; with the
    voltage back the valve stays closed until the fault is acknowledged."""
    p = protocols.faults
    nominal_v = bench.bench_protocol.supply.voltage_v
    try:
        t_action, t_end = _cool_then(
            bench, unit, clock, p, lambda: setattr(supply, "voltage_setpoint_v", p.undervoltage_v)
        )
        lat = _fault_latency(bench, t_action, t_end)
        measurements.record(
            "power.uv_close_latency", lat.value, uncertainty=lat.expanded, coverage_factor=lat.K
        )
        supply.voltage_setpoint_v = p.recover_v
        t_back = clock.now()
        with bench.scan(p.acquisition):
            clock.sleep(p.no_reopen_s)
        _, v, threshold = bench.valve_sense(t_back, clock.now())
        state = unit.state()
        measurements["power.uv_fault"] = state.fault
        measurements["power.uv_no_reopen"] = bool(v.size) and bool(np.all(v < threshold))
    finally:
        supply.voltage_setpoint_v = nominal_v
    bench.ensure_idle()
