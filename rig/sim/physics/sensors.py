"""Sensors that see a temperature through their own first-order lag.

A sensor is sampled only when something reads it (a logger sweep, a firmware
control tick), at irregular times. Between two samples the input is taken as
linear in time (first-order hold), for which the lag has an exact solution;
far apart samples (much longer than the time constant) reduce to the current
input, as they should.
"""

from __future__ import annotations

import math


class FirstOrderLag:
    """``tau dy/dt = x - y`` with exact first-order-hold discretisation."""

    __slots__ = ("t_us", "tau_s", "x", "y")

    def __init__(self, tau_s: float, initial: float, t_us: int = 0) -> None:
        if tau_s < 0:
            raise ValueError("a time constant cannot be negative")
        self.tau_s = tau_s
        self.t_us = t_us
        self.x = initial
        self.y = initial

    def _response(self, t_us: int, x_new: float) -> float:
        dt = (t_us - self.t_us) / 1e6
        tau = self.tau_s
        if dt <= 0:
            return self.y
        if tau <= 0:
            return x_new
        slope = (x_new - self.x) / dt
        decay = math.exp(-dt / tau)
        return x_new - slope * tau + (self.y - self.x + slope * tau) * decay

    def sample(self, t_us: int, x_new: float) -> float:
        """Feed the input value at ``t_us`` and return the output there (commits)."""
        if t_us <= self.t_us:
            return self.y
        self.y = self._response(t_us, x_new)
        self.x = x_new
        self.t_us = t_us
        return self.y

    def peek(self, t_us: int, x_new: float) -> float:
        """The output at ``t_us`` for that input, without changing the state."""
        return self._response(t_us, x_new)

    def reset(self, t_us: int, value: float) -> None:
        self.t_us = t_us
        self.x = value
        self.y = value


# --- type T thermocouple (NIST ITS-90 reference function, 0 °C reference) -------------
# Coefficients in µV/°C^i, NIST Monograph 175; used for the EMF a thermocouple channel
# shows when it is configured as DC volts instead of temperature.
_T_NEG = (
    0.0,
    3.8748106364e01,
    4.4194434347e-02,
    1.1844323200e-04,
    2.0032973554e-05,
    9.0138019559e-07,
    2.2651156593e-08,
    3.6071154205e-10,
    3.8493939883e-12,
    2.8213521925e-14,
    1.4251594779e-16,
    4.8768662286e-19,
    1.0795539270e-21,
    1.3945027062e-24,
    7.9795153927e-28,
)
_T_POS = (
    0.0,
    3.8748106364e01,
    3.3292227880e-02,
    2.0618243404e-04,
    -2.1882256846e-06,
    1.0996880928e-08,
    -3.0815758772e-11,
    4.5479135290e-14,
    -2.7512901673e-17,
)


def type_t_emf_uv(t_c: float) -> float:
    """Seebeck EMF of a type T thermocouple against a 0 °C junction, in µV."""
    coeffs = _T_NEG if t_c < 0 else _T_POS
    acc = 0.0
    for c in reversed(coeffs):
        acc = acc * t_c + c
    return acc


def _emf_and_slope(t_c: float) -> tuple[float, float]:
    """EMF (µV) and its derivative (µV/°C) by Horner's scheme, in one pass."""
    coeffs = _T_NEG if t_c < 0 else _T_POS
    value = 0.0
    slope = 0.0
    for c in reversed(coeffs):
        slope = slope * t_c + value
        value = value * t_c + c
    return value, slope


def type_t_shifted_c(t_c: float, delta_uv: float) -> float:
    """The temperature whose EMF is ``E(t_c) + delta_uv``, for small ``delta_uv``.

    Second-order inversion around ``t_c`` (error below 1e-8 °C for shifts of a few
    tenths of a degree, checked against :func:`type_t_temperature_c` in the tests):
    what a logger computes when its reference-junction reading or its input
    voltage is off by a few microvolts.
    """
    coeffs = _T_NEG if t_c < 0 else _T_POS
    s1 = 0.0
    s2 = 0.0
    value = 0.0
    for c in reversed(coeffs):
        s2 = s2 * t_c + s1
        s1 = s1 * t_c + value
        value = value * t_c + c
    # s1 = E'(t), s2 = E''(t)/2; invert E(t + x) = E(t) + s1 x + s2 x² to second order.
    x = delta_uv / s1
    return t_c + x - s2 * x * x / s1


TYPE_T_RANGE_C = (-270.0, 400.0)
_EMF_LOW = type_t_emf_uv(TYPE_T_RANGE_C[0])
_EMF_HIGH = type_t_emf_uv(TYPE_T_RANGE_C[1])


def type_t_temperature_c(emf_uv: float, guess_c: float | None = None) -> float | None:
    """Temperature for a type T EMF (inverse of :func:`type_t_emf_uv`, to 1e-7 °C).

    Newton's method with the analytic slope, kept inside a bisection bracket;
    ``guess_c`` (e.g. the last reading) only speeds it up. None outside the range.
    """
    if not _EMF_LOW <= emf_uv <= _EMF_HIGH:
        return None
    lo, hi = TYPE_T_RANGE_C
    t = guess_c if guess_c is not None and lo < guess_c < hi else emf_uv / 38.748
    for _ in range(100):
        value, slope = _emf_and_slope(t)
        f = value - emf_uv
        if f > 0:
            hi = t
        else:
            lo = t
        t_next = t - f / slope if slope > 0 else 0.5 * (lo + hi)
        if not lo <= t_next <= hi:
            t_next = 0.5 * (lo + hi)
        if abs(t_next - t) < 1e-7:
            return t_next
        t = t_next
    return t
