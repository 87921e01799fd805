"""Conformity of one calibration point with its tolerance: guarded acceptance, w = U.

The rule (ILAC-G8:09/2019 §4.2.2, binary statement with a guard band; JCGM 106:2012
§8.3, guarded acceptance): with tolerance ±T and expanded uncertainty U (95 %),

* acceptance limit A = T − U (guard band w = U);
* PASS if |E| ≤ A, else FAIL;
* if U ≥ T there is no acceptance interval (A ≤ 0): the measurement cannot show
  conformity, and every point FAILs whatever E is. That is a FAIL of the
  measurement's capability, and the low TUR says so.

Why w = U: at the acceptance limit the true error lies beyond the tolerance with
probability 2.5 % (the one-sided tail beyond k, with k the Student-t factor for ν_eff
that made U), so no accepted point carries a specific risk of false acceptance above
2.5 % at the nearer limit; the farther limit adds less than 0.1 % when T/U ≥ 2 and
ν_eff ≥ 4 (tested), and the total is reported per point.

Specific risks (JCGM 106:2012 §9), from the measured E and the state of knowledge of
the true error Y after the measurement: ``(Y − E)/u_c`` is Student-t with ν_eff degrees
of freedom (JCGM 100 G.3, G.6.2), or standard normal when ν_eff is infinite. For an
accepted point the probability of false acceptance is Pr(|Y| > T); for a rejected
point the probability of false rejection is Pr(|Y| ≤ T). The other probability is 0
for that point (it was not accepted, or not rejected).
"""

from __future__ import annotations

import math

from calibration.record import Budget, Decision

__all__ = ["RULE", "RULE_NAME", "RULE_REFERENCE", "RULE_STATEMENT", "decide", "p_conform"]

RULE_NAME = "Guarded acceptance, guard band w = U (binary statement)"

RULE_STATEMENT = (
    "Conformity with the tolerance ±T is stated under a guarded-acceptance decision rule "
    "with a guard band equal to the expanded uncertainty U of the error (coverage "
    "probability 95 %, coverage factor from the Student t distribution with the effective "
    "degrees of freedom): a point is declared PASS (conforming) only if the magnitude of its "
    "measured error does not exceed the acceptance limit T − U, and FAIL (not shown to "
    "conform) otherwise, including every point measured with U ≥ T. Under this rule the "
    "specific probability that the true error of a point declared PASS lies beyond the "
    "nearer tolerance limit does not exceed 2.5 % (JCGM 106:2012 §9); the total probability "
    "that it lies outside the tolerance, and for a point declared FAIL the probability that "
    "its true error nevertheless lies within the tolerance, are reported with each point."
)

RULE_REFERENCE = (
    "ILAC-G8:09/2019 §4.2.2 (binary statement with guard band w = U); "
    "JCGM 106:2012 §8.3 (guarded acceptance) and §9 (specific risks)"
)

RULE: dict[str, str] = {
    "name": RULE_NAME,
    "statement": RULE_STATEMENT,
    "reference": RULE_REFERENCE,
}
"""The ``decision_rule`` block of :class:`calibration.record.CalibrationRecord`."""

TUR_MINIMUM = 4.0
"""Test uncertainty ratio below which a point is flagged (the customary 4:1)."""


def p_conform(error_c: float, u_c: float, dof: float | None, tolerance_c: float) -> float:
    """Pr(|Y| ≤ T) for the true error Y given the measured ``error_c`` and its ``u_c``.

    ``(Y − error_c)/u_c`` is Student t with ``dof`` (``None`` or infinite: normal).
    """
    dist, lo, hi = _standardised(error_c, u_c, dof, tolerance_c)
    if hi <= 0.0:  # the whole tolerance below the estimate: both in the lower tail
        return float(dist.cdf(hi) - dist.cdf(lo))
    if lo >= 0.0:
        return float(dist.sf(lo) - dist.sf(hi))
    return 1.0 - _p_outside(error_c, u_c, dof, tolerance_c)


def _standardised(
    error_c: float, u_c: float, dof: float | None, tolerance_c: float
) -> tuple[_Student, float, float]:
    if not (math.isfinite(u_c) and u_c > 0.0):
        raise ValueError(f"u_c = {u_c!r}: a standard uncertainty must be finite and > 0")
    if dof is not None and not dof > 0.0:
        raise ValueError(f"dof = {dof!r}: degrees of freedom must be > 0 (None: infinite)")
    return _Student(dof), (-tolerance_c - error_c) / u_c, (tolerance_c - error_c) / u_c


class _Student:
    """Student's t with ``dof`` degrees of freedom (normal when ``dof`` is None or
    infinite): cdf and sf from scipy.special (``stdtr``/``ndtr``), not scipy.stats,
    whose import costs a station a second for two functions."""

    def __init__(self, dof: float | None) -> None:
        from scipy import special

        self._special = special
        self._dof = None if dof is None or math.isinf(dof) else float(dof)

    def cdf(self, x: float) -> float:
        sp = self._special
        return float(sp.ndtr(x) if self._dof is None else sp.stdtr(self._dof, x))

    def sf(self, x: float) -> float:
        return self.cdf(-x)  # symmetric: the upper tail without 1 − cdf's cancellation


def _p_outside(error_c: float, u_c: float, dof: float | None, tolerance_c: float) -> float:
    """Pr(|Y| > T), each tail from its own side so a risk of 1e-12 is not rounded to 0."""
    dist, lo, hi = _standardised(error_c, u_c, dof, tolerance_c)
    return float(dist.sf(hi) + dist.cdf(lo))


def decide(error_c: float, budget: Budget, tolerance_c: float = 0.5) -> Decision:
    """Apply :data:`RULE` to a point's measured error and its budget.

    ``tolerance_c`` is the half-width T (REQ-SENS-01: 0.5 °C). PASS iff U < T and
    |E| ≤ T − U. The probabilities are the specific risks of JCGM 106 §9 (module
    docstring); ``test_uncertainty_ratio`` is T/U, flagged when below 4.
    """
    if not (math.isfinite(tolerance_c) and tolerance_c > 0.0):
        raise ValueError(f"tolerance_c = {tolerance_c!r}: must be finite and > 0")
    if not math.isfinite(error_c):
        raise ValueError(f"error_c = {error_c!r}: not a finite number")
    big_u = budget.expanded_uncertainty_c
    u_c = budget.combined_standard_uncertainty_c
    if not (big_u > 0.0 and u_c > 0.0):
        raise ValueError(f"expanded uncertainty U = {big_u!r}: a measurement has U > 0")
    limit = tolerance_c - big_u
    passed = big_u < tolerance_c and abs(error_c) <= limit
    dof = budget.effective_dof
    outside = _p_outside(error_c, u_c, dof, tolerance_c)
    tur = tolerance_c / big_u
    return Decision(
        tolerance_c=tolerance_c,
        guard_band_c=big_u,
        acceptance_limit_c=limit,
        result="PASS" if passed else "FAIL",
        probability_false_accept=outside if passed else 0.0,
        probability_false_reject=0.0 if passed else p_conform(error_c, u_c, dof, tolerance_c),
        test_uncertainty_ratio=tur,
        tur_below_4=tur < TUR_MINIMUM,
    )
