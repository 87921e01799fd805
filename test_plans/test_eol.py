"""End-of-line plan, first part: identity, power, self test and a SHOCK treatment.

Each test is a step of the procedure the QA engineer signs: what is done to the
unit, what is measured, and which requirement it verifies; the numbers it is
judged against are in ``limits/eol-limits.yaml``, the settings in
``protocols/``. Steps run in this order (cheapest and least thermal first).
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.analysis.cooling import shock_figures
from rig.measure import measures


@pytest.mark.requirement("REQ-ID-01")
@measures(
    "identity.response_time",
    "identity.serial_matches_label",
    "identity.firmware_approved",
    "identity.model",
)
def test_identity(bench, unit, measurements):
    """Ask the unit who it is; compare with the scanned label and the approved firmware."""
    ident = unit.identify()
    measurements["identity.response_time"] = ident.response_s
    measurements["identity.serial_matches_label"] = ident.serial == bench.label_serial
    measurements["identity.firmware_approved"] = ident.firmware in bench.limits.approved_firmware
    measurements["identity.model"] = f"{ident.maker} {ident.model}"


@pytest.mark.requirement("REQ-PWR-01")
@measures("power.idle_current")
def test_idle_current(bench, unit, clock, measurements):
    """With the unit idle at 24 V, the supply's current read-back over a few seconds."""
    assert unit.state().state == "IDLE"
    window = bench.bench_protocol.idle_current_window_s
    t0 = clock.now()
    with bench.fast_polling():
        clock.sleep(window)
    measurements["power.idle_current"] = float(np.median(bench.supply_current(t0, clock.now())))


@pytest.mark.requirement("REQ-ST-01")
@measures("selftest.result")
def test_selftest(unit, measurements):
    """The unit's built-in self test."""
    code = unit.selftest()
    measurements["selftest.result"] = "PASS" if code is None else f"FAIL {code}"


@pytest.mark.requirement("REQ-COOL-01", "REQ-COOL-02", "REQ-PWR-01")
@measures(
    "shock.time_to_target_band",
    "shock.min_surface",
    "shock.drop_in_30s",
    "shock.rate_30_to_10",
    "power.valve_open_current",
)
def test_shock(bench, unit, clock, protocols, measurements):
    """SHOCK to 4 °C from a phantom surface held at 33 °C, judged on the reference
    thermocouple and the valve-sense channel, not on the unit's own report."""
    p = protocols.shock
    bench.condition_surface(p.precondition)
    t_start = clock.now()
    with bench.scan(p.acquisition):
        clock.sleep(0.5)  # a baseline before the valve opens
        unit.shock(p.treatment.target_c, p.treatment.max_s)
        bench.wait_unit_state(("IDLE", "CUTOFF", "FAULT"), p.treatment.max_s + 5.0)
        clock.sleep(p.acquisition.post_s)
    t_end = clock.now()
    t_ref, ref = bench.reference_surface(t_start, t_end)
    vs_ch, vs = bench.station.channel("valve_sense")
    t_v, v = bench.acq.channel(vs_ch, t_start, t_end)
    fig = shock_figures(
        t_ref,
        ref,
        t_v,
        v,
        threshold_v=vs.threshold_v,
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
    current = bench.supply_current(fig.valve.start + 0.1, fig.valve.end - 0.1)
    measurements["power.valve_open_current"] = float(np.median(current))


@pytest.mark.requirement("REQ-PWR-01")
@measures("power.peak_current")
def test_peak_current(bench, measurements):
    """The highest supply current read back over the whole plan so far."""
    measurements["power.peak_current"] = float(bench.supply_current(0.0, bench.clock.now()).max())
