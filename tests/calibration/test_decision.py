"""decide(): the guarded-acceptance rule, its edge cases and the specific risks."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from calibration.decision import RULE, RULE_REFERENCE, RULE_STATEMENT, decide, p_conform
from calibration.record import Budget, Decision


def _budget(u_c: float, dof: float | None = None) -> Budget:
    k = float(stats.norm.ppf(0.975) if dof is None else stats.t.ppf(0.975, dof))
    return Budget(
        rows=[],
        combined_standard_uncertainty_c=u_c,
        effective_dof=dof,
        coverage_factor=k,
        expanded_uncertainty_c=k * u_c,
    )


def test_a_clear_pass_with_known_numbers() -> None:
    """E = 0.2, u = 0.05, normal: U = 0.098, A = 0.402, PFA = Φ(−6) + Φ(−14)."""
    d = decide(0.2, _budget(0.05))
    assert isinstance(d, Decision)
    assert d.result == "PASS"
    assert d.guard_band_c == pytest.approx(0.0979982, abs=1e-7)
    assert d.acceptance_limit_c == pytest.approx(0.4020018, abs=1e-7)
    # Φ(−6) = 9.865876e-10, Φ(−14) = 7.8e-45
    assert d.probability_false_accept == pytest.approx(9.865876450377e-10, rel=1e-9)
    assert d.probability_false_reject == 0.0
    assert d.test_uncertainty_ratio == pytest.approx(5.1021346, rel=1e-7)
    assert d.tur_below_4 is False
    assert d.tolerance_c == 0.5


def test_negative_errors_are_symmetric() -> None:
    a, b = decide(0.2, _budget(0.05, 12)), decide(-0.2, _budget(0.05, 12))
    assert a.result == b.result == "PASS"
    assert a.probability_false_accept == pytest.approx(b.probability_false_accept, rel=1e-12)


def test_student_t_is_used_for_finite_dof() -> None:
    d = decide(0.2, _budget(0.05, 8))
    expected = stats.t.sf(6.0, 8) + stats.t.cdf(-14.0, 8)  # ≈ 1.6e-4, far above Φ(−6)
    assert d.probability_false_accept == pytest.approx(expected, rel=1e-10)
    assert d.probability_false_accept > 1e-4


@pytest.mark.parametrize("dof", [4.0, 10.0, 50.0, None])
def test_at_the_acceptance_limit_the_risk_is_2_5_percent_at_the_nearer_limit(
    dof: float | None,
) -> None:
    b = _budget(0.05, dof)
    limit = 0.5 - b.expanded_uncertainty_c
    d = decide(limit, b)
    assert d.result == "PASS"
    dist = stats.norm if dof is None else stats.t(dof)
    far = dist.cdf((-0.5 - limit) / 0.05)
    assert d.probability_false_accept - far == pytest.approx(0.025, rel=1e-9)


@pytest.mark.parametrize("dof", [4.0, 10.0, None])
@pytest.mark.parametrize("tur", [2.0, 3.0, 5.0])
def test_the_rule_statements_bound_holds(dof: float | None, tur: float) -> None:
    """RULE's claim: PFA ≤ 2.5 % (+ < 0.1 % far tail when T/U ≥ 2, ν_eff ≥ 4) on every PASS."""
    k = float(stats.norm.ppf(0.975) if dof is None else stats.t.ppf(0.975, dof))
    b = _budget(0.5 / tur / k, dof)
    limit = b.expanded_uncertainty_c * (tur - 1.0)
    worst = 0.0
    for i in range(101):
        d = decide(limit * i / 100.0, b)
        assert d.result == "PASS"
        worst = max(worst, d.probability_false_accept)
    assert worst == pytest.approx(0.025, abs=1e-3)  # attained at |E| = A, nearer tail 2.5 %
    assert worst < 0.026


def test_just_beyond_the_limit_fails_with_its_false_reject_risk() -> None:
    b = _budget(0.05, 10)
    e = 0.5 - b.expanded_uncertainty_c + 1e-6
    d = decide(e, b)
    assert d.result == "FAIL"
    assert d.probability_false_accept == 0.0
    inside = stats.t.cdf((0.5 - e) / 0.05, 10) - stats.t.cdf((-0.5 - e) / 0.05, 10)
    assert d.probability_false_reject == pytest.approx(inside, rel=1e-9)
    assert d.probability_false_reject == pytest.approx(0.975, abs=1e-3)


def test_u_at_or_above_the_tolerance_passes_nothing() -> None:
    b = Budget(  # U = T exactly
        rows=[],
        combined_standard_uncertainty_c=0.25,
        effective_dof=None,
        coverage_factor=2.0,
        expanded_uncertainty_c=0.5,
    )
    for budget in (b, _budget(0.3)):
        d = decide(0.0, budget)
        assert d.result == "FAIL"
        assert d.acceptance_limit_c <= 1e-15
        assert d.tur_below_4 is True
        assert d.test_uncertainty_ratio <= 1.0 + 1e-12
        assert d.probability_false_reject == pytest.approx(
            p_conform(0.0, budget.combined_standard_uncertainty_c, None, 0.5)
        )
        assert d.probability_false_reject > 0.9


def test_tur_below_4_is_flagged() -> None:
    d = decide(0.0, _budget(0.066))  # U = 0.1294, TUR = 3.86
    assert d.result == "PASS"
    assert d.test_uncertainty_ratio == pytest.approx(0.5 / (1.959963984540054 * 0.066))
    assert d.tur_below_4 is True
    assert decide(0.0, _budget(0.0637)).tur_below_4 is False  # TUR = 4.005


def test_tiny_risks_are_not_rounded_to_zero() -> None:
    assert decide(0.0, _budget(0.02)).probability_false_accept == pytest.approx(
        2 * stats.norm.sf(25.0), rel=1e-9
    )
    far = decide(1.0, _budget(0.05))
    assert far.result == "FAIL"
    assert far.probability_false_reject == pytest.approx(stats.norm.cdf(-10.0), rel=1e-6)
    assert far.probability_false_reject > 0.0
    below = decide(-1.0, _budget(0.05))
    assert below.probability_false_reject == pytest.approx(far.probability_false_reject)


def test_p_conform() -> None:
    assert p_conform(0.0, 0.25, None, 0.5) == pytest.approx(0.9544997361, rel=1e-9)
    assert p_conform(0.5, 0.05, None, 0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="u_c = 0"):
        p_conform(0.0, 0.0, None, 0.5)
    with pytest.raises(ValueError, match="dof = 0"):
        p_conform(0.0, 0.1, 0.0, 0.5)


@pytest.mark.parametrize(
    ("error", "tol", "message"),
    [(math.nan, 0.5, "error_c"), (0.1, 0.0, "tolerance_c"), (0.1, math.inf, "tolerance_c")],
)
def test_bad_arguments(error: float, tol: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decide(error, _budget(0.05), tolerance_c=tol)


def test_a_zero_uncertainty_is_refused() -> None:
    with pytest.raises(ValueError, match="U = 0"):
        decide(
            0.1,
            Budget(
                rows=[],
                combined_standard_uncertainty_c=0.0,
                effective_dof=None,
                coverage_factor=2.0,
                expanded_uncertainty_c=0.0,
            ),
        )


def test_rule_text_for_the_certificate() -> None:
    assert set(RULE) == {"name", "statement", "reference"}
    assert RULE["statement"] == RULE_STATEMENT
    for phrase in ("guard band", "T − U", "PASS", "FAIL", "U ≥ T", "2.5 %", "95 %"):
        assert phrase in RULE_STATEMENT
    for ref in ("ILAC-G8:09/2019 §4.2.2", "JCGM 106:2012"):
        assert ref in RULE_REFERENCE
