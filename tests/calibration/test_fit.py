"""fit_line against examples worked by hand, the matrix formulas, and its input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.fit import LineFit, fit_line, t_interval
from calibration.record import Fit

# Worked by hand: x = 1..4, y = 2, 3, 5, 6.
#   x̄ = 2.5, ȳ = 4, Sxx = Σ(x − x̄)² = 5, Sxy = Σ(x − x̄)(y − ȳ) = 3 + 0.5 + 0.5 + 3 = 7
#   gain = Sxy/Sxx = 1.4, offset = ȳ − gain·x̄ = 0.5
#   residuals 0.1, −0.3, 0.3, −0.1: SSR = 0.2, s² = SSR/(n − 2) = 0.1
#   u(gain)² = s²/Sxx = 0.02, u(offset)² = s²(1/n + x̄²/Sxx) = 0.1·(0.25 + 1.25) = 0.15
#   cov = −x̄ s²/Sxx = −0.05, r = −0.05/√(0.02·0.15) = −0.912871
#   at x = 2: u² = 0.15 + 4·0.02 + 2·2·(−0.05) = 0.03 (= s²(1/n + (x − x̄)²/Sxx))
X4 = [1.0, 2.0, 3.0, 4.0]
Y4 = [2.0, 3.0, 5.0, 6.0]


def test_ordinary_fit_matches_the_hand_calculation() -> None:
    f = fit_line(X4, Y4)
    assert f.gain == pytest.approx(1.4, abs=1e-14)
    assert f.offset_c == pytest.approx(0.5, abs=1e-14)
    assert f.u_gain == pytest.approx(math.sqrt(0.02), rel=1e-13)
    assert f.u_offset_c == pytest.approx(math.sqrt(0.15), rel=1e-13)
    assert f.correlation == pytest.approx(-0.05 / math.sqrt(0.02 * 0.15), rel=1e-13)
    assert f.covariance == pytest.approx(-0.05, rel=1e-13)
    assert f.residual_sd_c == pytest.approx(math.sqrt(0.1), rel=1e-13)
    assert (f.dof, f.n, f.weighted, f.chi2, f.u_dof) == (2, 4, False, None, 2.0)
    corrected, u = f.predict(2.0)
    assert corrected == pytest.approx(3.3, abs=1e-14)
    assert u == pytest.approx(math.sqrt(0.03), rel=1e-12)


# Weighted, by hand: same data, u = 0.1, 0.1, 0.2, 0.2 → w = 100, 100, 25, 25.
#   S = Σw = 250, Sx = Σwx = 475, Sy = Σwy = 775, Sxx = Σwx² = 1125, Sxy = Σwxy = 1775
#   Δ = S·Sxx − Sx² = 55625
#   gain = (S·Sxy − Sx·Sy)/Δ = 75625/55625, offset = (Sxx·Sy − Sx·Sxy)/Δ = 28750/55625
#   var(gain) = S/Δ, var(offset) = Sxx/Δ, cov = −Sx/Δ  (the inverse of XᵀWX)
U4 = [0.1, 0.1, 0.2, 0.2]


def test_weighted_fit_matches_the_hand_calculation() -> None:
    f = fit_line(X4, Y4, U4)
    d = 55625.0
    assert f.gain == pytest.approx(75625 / d, rel=1e-14)
    assert f.offset_c == pytest.approx(28750 / d, rel=1e-13)
    assert f.u_gain == pytest.approx(math.sqrt(250 / d), rel=1e-13)
    assert f.u_offset_c == pytest.approx(math.sqrt(1125 / d), rel=1e-13)
    assert f.covariance == pytest.approx(-475 / d, rel=1e-13)
    r = np.array(Y4) - (75625 / d * np.array(X4) + 28750 / d)
    assert f.chi2 == pytest.approx(float(np.sum((r / np.array(U4)) ** 2)), rel=1e-12)
    assert f.residual_sd_c == pytest.approx(math.sqrt(float(np.sum(r**2)) / 2), rel=1e-12)
    assert (f.dof, f.n, f.weighted, f.u_dof) == (2, 4, True, math.inf)
    assert f.reduced_chi2 == pytest.approx(f.chi2 / 2)


def _matrix_fit(x: np.ndarray, y: np.ndarray, u: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The textbook matrix form: β = (XᵀWX)⁻¹XᵀWy, cov = s²(XᵀX)⁻¹ or (XᵀWX)⁻¹."""
    design = np.column_stack([x, np.ones_like(x)])
    w = np.ones_like(x) if u is None else 1.0 / u**2
    xtwx = design.T @ (w[:, None] * design)
    beta = np.linalg.solve(xtwx, design.T @ (w * y))
    cov = np.linalg.inv(xtwx)
    if u is None:
        r = y - design @ beta
        cov = cov * (r @ r) / (len(x) - 2)
    return beta, cov


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_agrees_with_the_matrix_formulas(weighted: bool) -> None:
    rng = np.random.default_rng(7)
    x = np.array([2.0, 4.0, 10.0, 20.0, 33.0, 40.0])
    u = 0.03 + 0.001 * x
    y = 1.02 * x - 0.3 + rng.normal(size=x.size) * u
    f = fit_line(x, y, u if weighted else None)
    beta, cov = _matrix_fit(x, y, u if weighted else None)
    assert f.gain == pytest.approx(beta[0], rel=1e-12)
    assert f.offset_c == pytest.approx(beta[1], rel=1e-10)
    assert f.u_gain == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)
    assert f.u_offset_c == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-10)
    assert f.covariance == pytest.approx(cov[0, 1], rel=1e-9)
    for xi in (-5.0, 2.0, 25.0, 60.0):
        g = np.array([xi, 1.0])
        assert f.predict(xi)[1] == pytest.approx(math.sqrt(g @ cov @ g), rel=1e-9)


def test_an_exact_line_has_zero_uncertainty() -> None:
    f = fit_line([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    assert (f.gain, f.offset_c) == pytest.approx((2.0, 1.0))
    assert f.u_gain == pytest.approx(0.0, abs=1e-12)
    assert f.predict(1.0)[1] == pytest.approx(0.0, abs=1e-12)


def test_to_record_carries_every_field() -> None:
    f = fit_line(X4, Y4)
    rec = f.to_record()
    assert isinstance(rec, Fit)
    assert rec.model_dump() == {
        "gain": f.gain,
        "offset_c": f.offset_c,
        "u_gain": f.u_gain,
        "u_offset_c": f.u_offset_c,
        "correlation": f.correlation,
        "residual_sd_c": f.residual_sd_c,
        "dof": 2,
        "n": 4,
        "weighted": False,
    }


def test_linefit_is_frozen() -> None:
    f = fit_line(X4, Y4)
    assert isinstance(f, LineFit)
    with pytest.raises(AttributeError):
        f.gain = 1.0  # type: ignore[misc]


def test_chi2_p_value_flags_understated_uncertainties() -> None:
    x = np.linspace(2.0, 40.0, 8)
    y = x + np.array([0.04, -0.05, 0.02, 0.06, -0.03, -0.05, 0.01, 0.03])  # sd ≈ 0.04
    right = fit_line(x, y, [0.05] * 8)
    too_small = fit_line(x, y, [0.01] * 8)
    assert right.chi2_p_value is not None and right.chi2_p_value > 0.05
    assert too_small.chi2_p_value is not None and too_small.chi2_p_value < 1e-6
    # No Birge scaling: the stated u's covariance stands (5× smaller u, 5× smaller u_gain).
    assert too_small.u_gain == pytest.approx(right.u_gain / 5, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1.0, 2.0], [1.0, 2.0]), r"indicated: 2 point\(s\)"),
        (([1.0, 2.0, 3.0], [1.0, 2.0]), r"reference: 2 values for 3"),
        (([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]), r"indicated: all 3 values equal \(2\.0\)"),
        (([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0]), r"indicated\[1\] = nan"),
        (([1.0, 2.0, 3.0], [1.0, 2.0, math.inf]), r"reference\[2\] = inf"),
        (([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.1, 0.0, 0.1]), r"u_reference\[1\] = 0\.0"),
        (([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.1, -0.2, 0.1]), r"u_reference\[1\] = -0\.2"),
        (([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.1, 0.1]), r"u_reference: 2 values"),
        (([1.0, "x", 3.0], [1.0, 2.0, 3.0]), r"indicated: not a sequence of numbers"),
    ],
)
def test_bad_input_is_refused_by_name(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_line(*args)


def test_t_interval() -> None:
    assert t_interval(0.1, 4) == pytest.approx((2.7764451051977934, 0.27764451051977934))
    assert t_interval(1.0, None)[0] == pytest.approx(1.959963984540054)
    assert t_interval(1.0, math.inf)[0] == pytest.approx(1.959963984540054)
    assert t_interval(1.0, 10, p=0.99)[0] == pytest.approx(3.169272672616, rel=1e-9)
    for bad in ((1.0, 0), (1.0, -1), (-1.0, 4), (math.nan, 4)):
        with pytest.raises(ValueError):
            t_interval(*bad)
    with pytest.raises(ValueError, match="p = 1"):
        t_interval(1.0, 4, p=1.0)
