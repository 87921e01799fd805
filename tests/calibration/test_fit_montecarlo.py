"""Monte Carlo validation of fit_line's uncertainties: do they mean what they say?

Synthetic plateaus with a known line and known noise, refitted 2,000 times with a fixed
seed. The uncertainties fit_line reports must match the observed spread of its own
estimates, and the 95 % intervals (Student t with the fit's u_dof) must cover the true
line 95 % of the time. Each fit goes through fit_line itself (2,000 fits take ~0.2 s).

With 2,000 repetitions the observed sd is known to ±1.6 % and a coverage to ±0.5 %
(one sigma), so the windows below (±10 %, 93–97 %) are four sigma wide and still
reject an uncertainty off by √2 (``test_the_checks_reject_a_wrong_uncertainty``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from calibration.fit import fit_line, t_interval

GAIN, OFFSET = 1.02, -0.3
X = np.array([2.0, 4.0, 10.0, 20.0, 33.0, 40.0])
NOISE_SD = 0.05
U_KNOWN = 0.02 + 0.0015 * X  # the weighted fit's known, unequal u (0.023 … 0.08 °C)
X_EVAL = (2.0, 10.0, 25.0, 40.0)
REPS = 2000


@dataclass(frozen=True)
class Run:
    gain: np.ndarray
    offset: np.ndarray
    u_gain: np.ndarray
    u_offset: np.ndarray
    pred_err: np.ndarray
    """(REPS, len(X_EVAL)): fitted minus true line at each X_EVAL."""
    u_pred: np.ndarray
    k: np.ndarray
    chi2: np.ndarray | None

    def coverage(self, scale: float = 1.0, k: np.ndarray | float | None = None) -> np.ndarray:
        kk = self.k if k is None else k
        return np.mean(np.abs(self.pred_err) <= kk * scale * self.u_pred, axis=0)


def _simulate(seed: int, weighted: bool) -> Run:
    rng = np.random.default_rng(seed)
    sd = U_KNOWN if weighted else np.full_like(X, NOISE_SD)
    noise = rng.normal(size=(REPS, len(X))) * sd
    true_eval = GAIN * np.array(X_EVAL) + OFFSET
    cols: dict[str, list] = {k: [] for k in ("g", "o", "ug", "uo", "err", "up", "k", "chi2")}
    for row in noise:
        f = fit_line(X, GAIN * X + OFFSET + row, U_KNOWN if weighted else None)
        cols["g"].append(f.gain)
        cols["o"].append(f.offset_c)
        cols["ug"].append(f.u_gain)
        cols["uo"].append(f.u_offset_c)
        preds = [f.predict(x) for x in X_EVAL]
        cols["err"].append([p[0] for p in preds] - true_eval)
        cols["up"].append([p[1] for p in preds])
        cols["k"].append(t_interval(1.0, f.u_dof)[0])
        cols["chi2"].append(f.chi2)
    return Run(
        gain=np.array(cols["g"]),
        offset=np.array(cols["o"]),
        u_gain=np.array(cols["ug"]),
        u_offset=np.array(cols["uo"]),
        pred_err=np.array(cols["err"]),
        u_pred=np.array(cols["up"]),
        k=np.array(cols["k"])[:, None],
        chi2=np.array(cols["chi2"], dtype=float) if weighted else None,
    )


@pytest.fixture(scope="module")
def ols() -> Run:
    return _simulate(20240601, weighted=False)


@pytest.fixture(scope="module")
def wls() -> Run:
    return _simulate(20240602, weighted=True)


def _ratios(run: Run) -> tuple[float, float]:
    return (
        float(np.mean(run.u_gain) / np.std(run.gain, ddof=1)),
        float(np.mean(run.u_offset) / np.std(run.offset, ddof=1)),
    )


@pytest.mark.parametrize("which", ["ols", "wls"])
def test_estimates_are_unbiased(which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    for est, true in ((run.gain, GAIN), (run.offset, OFFSET)):
        se = np.std(est, ddof=1) / math.sqrt(REPS)
        assert abs(np.mean(est) - true) < 4 * se


@pytest.mark.parametrize("which", ["ols", "wls"])
def test_mean_reported_u_matches_observed_sd(which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    r_gain, r_offset = _ratios(run)
    assert 0.9 <= r_gain <= 1.1, r_gain
    assert 0.9 <= r_offset <= 1.1, r_offset


def test_ols_rms_u_is_unbiased(ols: Run) -> None:
    """The mean of s is c4·σ (0.940 for 4 dof); its root mean square is σ itself."""
    for u, est in ((ols.u_gain, ols.gain), (ols.u_offset, ols.offset)):
        ratio = math.sqrt(np.mean(u**2)) / np.std(est, ddof=1)
        assert 0.95 <= ratio <= 1.05, ratio


@pytest.mark.parametrize("which", ["ols", "wls"])
def test_95_percent_intervals_cover_the_true_line(
    which: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(which)
    coverage = run.coverage()
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), dict(zip(X_EVAL, coverage, strict=True))


def test_ols_interval_uses_student_t(ols: Run) -> None:
    """With 4 dof, k = 2.78; the normal 1.96 would cover only ~88 %."""
    assert np.allclose(ols.k, t_interval(1.0, 4)[0])
    assert np.all(ols.coverage(k=1.96) < 0.91)


def test_wls_uncertainties_are_the_stated_ones(wls: Run) -> None:
    """Known u: the fit's u do not depend on the draw, and chi2 averages its dof."""
    assert np.ptp(wls.u_gain) < 1e-15 and np.ptp(wls.u_offset) < 1e-15
    assert np.allclose(wls.k, 1.959963984540054)
    assert wls.chi2 is not None
    assert abs(np.mean(wls.chi2) - 4.0) < 4 * math.sqrt(2 * 4 / REPS)


@pytest.mark.parametrize("which", ["ols", "wls"])
def test_the_checks_reject_a_wrong_uncertainty(which: str, request: pytest.FixtureRequest) -> None:
    """The windows above are tight enough to catch u off by √2 either way."""
    run: Run = request.getfixturevalue(which)
    for scale in (math.sqrt(2.0), 1.0 / math.sqrt(2.0)):
        for r in _ratios(run):
            assert not 0.9 <= r * scale <= 1.1
        coverage = run.coverage(scale=scale)
        assert np.all((coverage < 0.93) | (coverage > 0.97))
