"""point_budget: every row's type, distribution, u, sensitivity and ν; u_c, ν_eff, k, U."""

from __future__ import annotations

import dataclasses
import math

import pytest
from GTC import reporting
from scipy import stats

from calibration.budget import (
    SIM_PHANTOM_LAYERS,
    Layer,
    PointInputs,
    error_estimate,
    heat_flux,
    junction_half_width_c,
    point_budget,
    thermal_resistance_m2k_w,
    years_between,
)
from calibration.record import Budget

SYMBOLS = [
    "δI_res",
    "δI_rep",
    "δI_fit",
    "C_ref",
    "δ_drift",
    "δ_CJC",
    "δ_junction",
    "δ_unif",
]
SENSITIVITY = {s: (1.0 if s.startswith("δI") else -1.0) for s in SYMBOLS}
R3 = math.sqrt(3.0)


def _inputs(**changes: object) -> PointInputs:
    base = PointInputs(
        indicated_c=20.07,
        reference_c=20.0,
        difference_sd_c=0.02,
        n=16,
        t102_c=20.04,
        t103_c=20.5,
        t104_c=21.3,
        cert_expanded_c=0.1,
        cert_k=2.0,
        drift_c_per_year=0.02,
        years_since_cal=0.5,
        cjc_half_width_c=0.05,
    )
    return dataclasses.replace(base, **changes)


def _rows(budget: Budget) -> dict:
    return {r.symbol: r for r in budget.rows}


def test_every_row_is_listed_in_model_order() -> None:
    assert [r.symbol for r in point_budget(_inputs()).rows] == SYMBOLS


def test_rows_that_contribute_nothing_are_still_listed() -> None:
    """As-found (no fit), T102 = T101, no time since calibration, no heat flux."""
    p = _inputs(t102_c=20.0, years_since_cal=0.0, t103_c=20.0, t104_c=20.0)
    rows = _rows(point_budget(p))
    assert list(rows) == SYMBOLS
    for sym in ("δI_fit", "δ_unif", "δ_drift", "δ_junction"):
        assert rows[sym].standard_uncertainty == 0.0
        assert rows[sym].contribution_c == 0.0
        assert rows[sym].sensitivity == SENSITIVITY[sym]  # the model's, not GTC's "absent"
    assert "as-found" in rows["δI_fit"].note


def test_type_b_rectangular_rows() -> None:
    p = _inputs()
    rows = _rows(point_budget(p))
    half_widths = {
        "δI_res": 0.005,
        "δ_drift": 0.02 * 0.5,
        "δ_CJC": 0.05,
        "δ_junction": junction_half_width_c(p),
        "δ_unif": 0.04,
    }
    for sym, a in half_widths.items():
        row = rows[sym]
        assert (row.type, row.distribution, row.dof, row.estimate) == ("B", "rectangular", None, 0)
        assert row.half_width == pytest.approx(a, rel=1e-12)
        assert row.standard_uncertainty == pytest.approx(a / R3, rel=1e-12)
        assert row.contribution_c == pytest.approx(a / R3, rel=1e-12)
        assert row.sensitivity == SENSITIVITY[sym]
        assert row.unit == "°C"


def test_type_b_normal_certificate_row() -> None:
    row = _rows(point_budget(_inputs()))["C_ref"]
    assert (row.type, row.distribution, row.dof, row.half_width) == ("B", "normal", None, None)
    assert row.standard_uncertainty == pytest.approx(0.05)
    assert row.sensitivity == -1.0
    assert "U = 0.1 °C, k = 2" in row.note


def test_certificate_with_stated_dof_is_a_t_row() -> None:
    row = _rows(point_budget(_inputs(cert_expanded_c=0.12, cert_k=2.1, cert_dof=30.0)))["C_ref"]
    assert (row.distribution, row.dof) == ("t", 30.0)
    assert row.standard_uncertainty == pytest.approx(0.12 / 2.1)


def test_type_a_rows() -> None:
    rows = _rows(point_budget(_inputs(fit_u_c=0.015, fit_dof=4)))
    for sym, u, dof in (
        ("δI_rep", 0.02 * math.sqrt(1 + 1 / 16), 15.0),  # one indication: s·√(1 + 1/n)
        ("δI_fit", 0.015, 4),
    ):
        row = rows[sym]
        assert (row.type, row.distribution, row.half_width) == ("A", "t", None)
        assert row.standard_uncertainty == pytest.approx(u, rel=1e-12)
        assert row.dof == dof
        assert row.contribution_c == pytest.approx(u, rel=1e-12)
        assert row.sensitivity == SENSITIVITY[sym]


def test_weighted_fit_row_has_infinite_dof() -> None:
    row = _rows(point_budget(_inputs(fit_u_c=0.015)))["δI_fit"]
    assert (row.type, row.distribution, row.dof) == ("A", "normal", None)


def test_combined_uncertainty_is_the_root_sum_of_squares_and_matches_gtc() -> None:
    b = point_budget(_inputs(fit_u_c=0.015, fit_dof=4))
    rss = math.sqrt(sum(r.contribution_c**2 for r in b.rows))
    assert b.combined_standard_uncertainty_c == pytest.approx(rss, rel=1e-12)
    assert b.expanded_uncertainty_c == pytest.approx(b.coverage_factor * rss, rel=1e-12)
    assert b.coverage_probability == 0.95


def test_rows_agree_with_gtc_reporting_budget() -> None:
    """Cross-check the row contributions against GTC's own budget listing."""
    from calibration.budget import _components, _model

    p = _inputs(fit_u_c=0.015, fit_dof=4)
    error, _ = _model(p, _components(p), unit_u=False)
    listed = {i.label: i.u for i in reporting.budget(error, trim=0)}
    for row in point_budget(p).rows:
        assert listed.get(row.symbol, 0.0) == pytest.approx(row.contribution_c, rel=1e-12)


def test_welch_satterthwaite_against_a_hand_calculation() -> None:
    """Only two finite-dof rows; ν_eff = u_c⁴ / Σ u_i⁴/ν_i written out by hand."""
    p = _inputs(
        difference_sd_c=0.04 / math.sqrt(17),  # u = s·√(17/16) = 0.01, ν = 15
        fit_u_c=0.02,  # ν = 4
        fit_dof=4,
        cert_expanded_c=0.06,  # u = 0.03, ν = ∞
        drift_c_per_year=0.0,
        cjc_half_width_c=0.0,
        t102_c=20.0,
        t103_c=20.0,
        t104_c=20.0,
        resolution_c=0.002 * R3 * 2,  # a = 0.002√3 → u = 0.002
    )
    b = point_budget(p)
    u_c2 = 0.01**2 + 0.02**2 + 0.03**2 + 0.002**2  # = 0.001404
    assert b.combined_standard_uncertainty_c == pytest.approx(math.sqrt(u_c2), rel=1e-12)
    # ν_eff = 0.001404² / (1e-8/15 + 1.6e-7/4) = 1.971216e-6 / 4.0666667e-8
    nu = u_c2**2 / (0.01**4 / 15 + 0.02**4 / 4)
    assert b.effective_dof == pytest.approx(nu, rel=1e-10)
    assert b.effective_dof == pytest.approx(48.47252, abs=1e-5)
    k = stats.t.ppf(0.975, nu)
    assert b.coverage_factor == pytest.approx(k, rel=1e-10)
    assert b.expanded_uncertainty_c == pytest.approx(k * math.sqrt(u_c2), rel=1e-10)


def test_a_noisy_indication_cannot_be_shown_to_conform() -> None:
    """REQ-SENS-01 judges each corrected reading: one whose scatter about the mean error is
    0.3 °C (ten times a nominal sensor's) has U > 0.5 °C, so the point FAILs even when the
    mean error is 0. Budgeted as the mean's repeatability (s/√n) it passed."""
    from calibration.decision import decide

    noisy = point_budget(_inputs(indicated_c=20.0, difference_sd_c=0.3, n=20))
    rep = _rows(noisy)["δI_rep"]
    assert rep.standard_uncertainty == pytest.approx(0.3 * math.sqrt(21 / 20), rel=1e-12)
    assert noisy.expanded_uncertainty_c > 0.6
    assert decide(0.0, noisy).result == "FAIL"
    nominal = point_budget(_inputs(indicated_c=20.0, difference_sd_c=0.03, n=20))
    assert decide(0.0, nominal).result == "PASS"


def test_only_infinite_dof_gives_none_and_k_1_96() -> None:
    b = point_budget(_inputs(difference_sd_c=0.0))
    assert b.effective_dof is None
    assert b.coverage_factor == pytest.approx(1.959963984540054)


def test_error_estimate_is_indication_minus_reference() -> None:
    assert error_estimate(_inputs()) == pytest.approx(0.07, abs=1e-12)
    assert error_estimate(_inputs(indicated_c=1.9, reference_c=2.0)) == pytest.approx(-0.1)


def test_thermal_resistance_sums_partial_layers() -> None:
    layers = SIM_PHANTOM_LAYERS
    r_top3 = 0.1e-3 / 0.21 + 1.9e-3 / 0.37 + 1.0e-3 / 0.21
    assert thermal_resistance_m2k_w(layers, 0.0, 3.0) == pytest.approx(r_top3, rel=1e-12)
    assert thermal_resistance_m2k_w(layers, 3.0, 6.0) == pytest.approx(3.0e-3 / 0.21, rel=1e-12)
    assert thermal_resistance_m2k_w(layers, 0.0, 0.025) == pytest.approx(0.025e-3 / 0.21)
    assert thermal_resistance_m2k_w(layers, 0.05, 0.15) == pytest.approx(
        0.05e-3 / 0.21 + 0.05e-3 / 0.37
    )
    with pytest.raises(ValueError, match="below the phantom"):
        thermal_resistance_m2k_w(layers, 0.0, 6.5)
    with pytest.raises(ValueError):
        thermal_resistance_m2k_w(layers, 2.0, 1.0)


def test_heat_flux_takes_the_larger_magnitude_with_its_sign() -> None:
    r_up = 0.1e-3 / 0.21 + 1.9e-3 / 0.37 + 1.0e-3 / 0.21
    r_lo = 3.0e-3 / 0.21 + 0.0005
    # 40 °C point: plate warmer than the surface, heat flows up (negative).
    p = _inputs(reference_c=40.0, t103_c=41.5, t104_c=43.7, contact_resistance_m2k_w=0.0005)
    q = heat_flux(p)
    assert q.upper_w_m2 == pytest.approx(-1.5 / r_up)
    assert q.lower_w_m2 == pytest.approx(-2.2 / r_lo)
    assert q.upper_w_m2 == pytest.approx(-144.603, abs=1e-3)
    assert q.lower_w_m2 == pytest.approx(-148.792, abs=1e-3)
    assert q.used_w_m2 == q.lower_w_m2  # the larger magnitude, sign kept
    assert junction_half_width_c(p) == pytest.approx(abs(q.used_w_m2) * 0.025e-3 / 0.21)
    assert junction_half_width_c(p) > 0.0


def test_a_transient_makes_the_larger_flux_count() -> None:
    p = _inputs(reference_c=2.0, t103_c=0.5, t104_c=0.0)  # lower layers not yet cooled
    q = heat_flux(p)
    assert abs(q.upper_w_m2) > abs(q.lower_w_m2)
    assert q.used_w_m2 == q.upper_w_m2


def test_junction_below_the_top_layer_sums_the_layers() -> None:
    p = _inputs(junction_depth_mm=0.2)
    q = abs(heat_flux(p).used_w_m2)
    assert junction_half_width_c(p) == pytest.approx(q * (0.1e-3 / 0.21 + 0.1e-3 / 0.37))


def test_years_between() -> None:
    assert years_between("2026-01-31", "2026-05-01") == pytest.approx(90 / 365.25)
    with pytest.raises(ValueError, match="before the certificate date"):
        years_between("2026-05-01", "2026-01-31")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 1}, "n = 1"),
        ({"difference_sd_c": -0.1}, "difference_sd_c = -0.1"),
        ({"reference_c": math.nan}, "reference_c = nan"),
        ({"cert_k": 0.0}, "cert_k = 0.0"),
        ({"cert_dof": 0.5}, "cert_dof = 0.5"),
        ({"resolution_c": 0.0}, "resolution_c = 0.0"),
        ({"fit_dof": 4}, "fit_dof = 4 given without fit_u_c"),
        ({"fit_u_c": -0.01}, "fit_u_c = -0.01"),
        ({"depth_103_mm": 7.0}, "depth_103_mm = 7.0"),
        ({"layers": ()}, "layers: empty"),
        ({"layers": (Layer(1.0, 0.0),)}, r"layers\[0\]"),
    ],
)
def test_bad_inputs_are_refused_by_name(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _inputs(**change)


def test_budget_round_trips_through_json() -> None:
    b = point_budget(_inputs(fit_u_c=0.01, fit_dof=4))
    assert Budget.model_validate_json(b.model_dump_json()) == b
