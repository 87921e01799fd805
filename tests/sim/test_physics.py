"""The phantom's conduction model against analytic solutions, and the sensors' lag."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erfc, erfcx

from rig.sim.physics.materials import DERMIS, PHANTOM_LAYERS, Layer, StageDesign
from rig.sim.physics.sensors import FirstOrderLag, type_t_emf_uv
from rig.sim.physics.thermal import Column, ThermalModel, graded_cells

S = 1_000_000


def single_column(**kw: object) -> ThermalModel:
    return ThermalModel(columns=(Column("only", 0.0, 5e-3, 1.0),), lateral=False, **kw)


def test_steady_state_is_piecewise_linear_through_the_layers() -> None:
    """Heat from a hot plate to cool air: a straight line in each layer, slopes ∝ 1/k."""
    stage = StageDesign()
    m = single_column(initial_c=35.0, ambient_c=22.0, plate_heat_capacity_j_k=1e15, stage=stage)
    m.commit(200_000 * S)
    temps = m.column_profile("only")
    plate = m.temperatures()[m.plate_index]
    assert plate == pytest.approx(35.0, abs=1e-6)

    resist = [lay.thickness_m / lay.material.conductivity_w_mk for lay in PHANTOM_LAYERS]
    total = 1 / stage.natural_convection_w_m2k + sum(resist) + 1 / stage.contact_w_m2k
    q = (plate - 22.0) / total
    surface = 22.0 + q / stage.natural_convection_w_m2k

    def analytic(z: float) -> float:
        t, top = surface, 0.0
        for lay, r in zip(PHANTOM_LAYERS, resist, strict=True):
            if z <= top + lay.thickness_m + 1e-12:
                return t + q * (z - top) / lay.material.conductivity_w_mk
            t += q * r
            top += lay.thickness_m
        return t

    expected = np.array([analytic(z) for z in m.depths_m])
    np.testing.assert_allclose(temps, expected, atol=1e-6)
    # The three layers' gradients differ as 1/k.
    grads = [q / lay.material.conductivity_w_mk for lay in PHANTOM_LAYERS]
    assert grads[0] / grads[1] == pytest.approx(DERMIS.conductivity_w_mk / 0.21)


@pytest.mark.parametrize("h", [50.0, 100.0, 200.0])
def test_semi_infinite_solid_with_convective_surface(h: float) -> None:
    """Surface and subsurface temperatures against the exp·erfc solution within 2 %.

    Compared wherever the thermal front has arrived (x ≤ 2√(αt)); the error is
    relative to the temperature change there.
    """
    thick = 40e-3
    stage = StageDesign(natural_convection_w_m2k=0.0)
    m = single_column(
        layers=(Layer(DERMIS, thick),),
        cells=[graded_cells(thick, 20e-6, 1.15, 1e-3)],
        stage=stage,
        jet_htc_w_m2k=h,
        jet_temp_c=-70.0,
        initial_c=33.0,
        ambient_c=33.0,
        plate_heat_capacity_j_k=1e15,
    )
    m.set_jet(0, True)
    k, alpha = DERMIS.conductivity_w_mk, DERMIS.diffusivity_m2_s
    ti, tg = 33.0, -70.0
    for t_s in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0):
        m.commit(int(t_s * S))
        prof = m.column_profile("only")
        for depth in (0.0, 0.5e-3, 1.0e-3):
            i = int(np.argmin(np.abs(m.depths_m - depth)))
            x = m.depths_m[i]
            eta = x / (2 * math.sqrt(alpha * t_s))
            if eta > 1.0:  # ahead of the thermal front the change is too small to compare
                continue
            beta = h * math.sqrt(alpha * t_s) / k
            theta = erfc(eta) - math.exp(-(eta**2)) * erfcx(eta + beta)
            exact = ti + (tg - ti) * theta
            change = ti - exact
            assert abs((ti - prof[i]) - change) <= 0.02 * change, (t_s, depth, prof[i], exact)


def test_modal_stepping_is_exactly_implicit_euler() -> None:
    m = ThermalModel(initial_c=30.0, jet_htc_w_m2k=90.0)
    m.set_tec_power(0, 12.0)
    m.set_jet(0, True)
    start = m.temperatures()
    m.max_step_us = 5_000
    m.commit(1 * S)  # 200 substeps of 5 ms in closed form
    reference = m.implicit_euler_reference(start, 0.005, 200)
    np.testing.assert_allclose(m.temperatures(), reference, atol=1e-9)


def test_observer_reads_what_the_model_holds_between_commits() -> None:
    """The observer's cached terms (per jet state and offset) must not go stale when the
    model commits, the TEC's power changes or the jet switches: each read equals the
    full state's temperatures at that instant, for single nodes and weighted sums."""
    m = ThermalModel(initial_c=30.0, jet_htc_w_m2k=90.0)
    nodes = [m.surface_index["centre"], m.plate_index]
    obs = m.observer(nodes)
    weights = np.zeros((1, len(m.capacity)))
    weights[0, m.surface_index["centre"]] = 0.25
    weights[0, m.surface_index["spot_edge"]] = 0.75
    spot = m.observer(weights)
    t = 0
    for k, (power, jet) in enumerate([(5.0, False), (-8.0, False), (-8.0, True), (3.0, True)]):
        for offset in (0, 40_000, 100_000, 40_000):  # a repeated offset hits the cache
            temps = m.temperatures(t + offset)
            np.testing.assert_allclose(obs.at(t + offset), temps[nodes], rtol=0, atol=1e-9)
            expected = 0.25 * temps[nodes[0]] + 0.75 * temps[m.surface_index["spot_edge"]]
            assert spot.node(t + offset, 0) == pytest.approx(expected, abs=1e-9)
        t += 100_000 * (k + 1)
        m.set_tec_power(t, power)
        m.set_jet(t, jet)


def test_unconditionally_stable_for_huge_steps() -> None:
    m = ThermalModel(initial_c=33.0, jet_htc_w_m2k=90.0, max_step_us=500 * S)
    m.set_jet(0, True)
    for k in range(1, 6):
        m.commit(k * 500 * S)
        temps = m.temperatures()
        assert np.all(np.isfinite(temps))
        assert temps.min() >= m.jet_temp_c - 1e-9
        assert temps.max() <= 33.0 + 1e-9


def test_columns_with_the_same_jet_stay_identical() -> None:
    """Lateral coupling carries heat only where columns differ."""
    cols = (
        Column("centre", 0.0, 2.5e-3, 1.0),
        Column("spot_edge", 2.5e-3, 5e-3, 1.0),
        Column("surround", 5e-3, 15e-3, 1.0),
    )
    m = ThermalModel(columns=cols, initial_c=33.0, jet_htc_w_m2k=90.0)
    m.set_jet(0, True)
    m.commit(10 * S)
    surf = [m.temperatures()[i] for i in m.surface_index.values()]
    assert max(surf) - min(surf) < 1e-6


def test_default_phantom_jet_and_recovery() -> None:
    """With the jet the centre is coldest; once it stops the surface recovers from below."""
    m = ThermalModel(initial_c=33.0, ambient_c=33.0, jet_htc_w_m2k=82.0)
    m.set_jet(0, True)
    m.commit(20 * S)
    t = m.temperatures()
    centre = t[m.surface_index["centre"]]
    assert centre < t[m.surface_index["spot_edge"]] < t[m.surface_index["surround"]]
    assert 2.0 < centre < 8.0
    m.set_jet(20 * S, False)
    m.commit(21 * S)
    assert m.temperatures()[m.surface_index["centre"]] > centre + 2.0


def test_first_order_lag_step_and_ramp() -> None:
    lag = FirstOrderLag(0.15, 33.0)
    lag.sample(1, 4.0)  # a step to 4 °C (held from 1 µs on)
    y = lag.sample(150_001, 4.0)
    assert y == pytest.approx(4.0 + 29.0 * math.exp(-1.0), rel=1e-3)
    ramp = FirstOrderLag(0.5, 0.0)
    for k in range(1, 1001):  # a 1 °C/s ramp sampled at 10 Hz
        y = ramp.sample(k * 100_000, k * 0.1)
    assert y == pytest.approx(100.0 - 0.5, abs=1e-6)  # lags by slope × tau
    assert ramp.peek(100_050_000, 100.05) == pytest.approx(ramp.sample(100_050_000, 100.05))


def test_type_t_reference_function() -> None:
    # NIST ITS-90 table values for type T (µV).
    assert type_t_emf_uv(0.0) == 0.0
    assert type_t_emf_uv(25.0) == pytest.approx(992, abs=1)
    assert type_t_emf_uv(100.0) == pytest.approx(4279, abs=1)
    assert type_t_emf_uv(-100.0) == pytest.approx(-3379, abs=1)
    assert type_t_emf_uv(-50.0) == pytest.approx(-1819, abs=1)


def test_small_shift_inversion_matches_the_exact_inverse() -> None:
    from rig.sim.physics.sensors import type_t_shifted_c, type_t_temperature_c

    for t in (-60.0, -5.0, 0.5, 4.0, 22.0, 33.0, 50.0, 150.0):
        for delta in (-12.0, -2.0, 0.3, 4.0, 15.0):
            exact = type_t_temperature_c(type_t_emf_uv(t) + delta)
            assert type_t_shifted_c(t, delta) == pytest.approx(exact, abs=1e-6)
