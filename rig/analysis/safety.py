"""Timing of the unit's safety reactions and hold-band compliance, from the bench's own data.

The valve-sense channel shows when the valve's *drive* changed; when the jet
actually stopped is seen by the reference surface thermocouple, which sits in the
jet with a 10 ms response: while the jet flows the surface cools, the moment it
stops the surface turns and warms quickly (the thermal boundary layer is tens of
micrometres thick). That turn is the valve's mechanical close, measured without
trusting the unit. Every latency carries its standard uncertainty from the
sampling intervals (rectangular distributions) so the decision can be read with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .signals import AnalysisError, first_crossing


@dataclass(frozen=True)
class Timed:
    """A time (or duration) with its standard uncertainty, both in seconds."""

    value: float
    u: float

    K: ClassVar[float] = 2.0
    """The coverage factor of :attr:`expanded`."""

    @property
    def expanded(self) -> float:
        """U at k = 2 (about 95 % for the near-rectangular combinations here)."""
        return self.K * self.u


def _rect(width: float) -> float:
    """Standard uncertainty of a rectangular distribution of full ``width``."""
    return width / math.sqrt(12.0)


def sample_interval(t: np.ndarray) -> float:
    t = np.asarray(t, dtype=float)
    if t.size < 2:
        raise AnalysisError("need at least two samples to know the sampling interval")
    return float(np.median(np.diff(t)))


def flow_stop(
    t_ref,
    ref,
    after: float,
    *,
    search_s: float = 2.0,
    rise_c: float = 0.3,
    sustain: int = 3,
    sensor_lag_s: float = 0.010,
) -> Timed:
    """When the jet stopped: the turn of the reference surface from cooling to warming.

    Looks in ``[after, after + search_s]`` for the lowest sample that is followed by a
    rise of at least ``rise_c`` held for ``sustain`` samples in a row (a real turn, not
    noise: at 100 Hz and 0.2 PLC one dip and the next sample's spike can stand 0.3 °C
    apart, while the rebound after the jet stops climbs over 10 °C/s and stays up).
    Returns ``inf`` when the surface does not turn (the jet kept flowing). The
    uncertainty combines the sampling interval and the thermocouple's lag (rectangular
    each).
    """
    t_ref = np.asarray(t_ref, dtype=float)
    ref = np.asarray(ref, dtype=float)
    sel = (t_ref >= after) & (t_ref <= after + search_s)
    t, y = t_ref[sel], ref[sel]
    if t.size < 3:
        raise AnalysisError(f"{t.size} reference samples after t={after:.3f} s, need 3")
    dt = sample_interval(t)
    # Judged on a 5-sample running median (a lone dip or spike does not move it): a
    # sample stands ``rise_c`` above everything before it; the first of ``sustain``
    # such samples in a row marks the upturn. The turn itself is the lowest raw sample
    # of the few before the upturn (the rebound climbs over 10 °C/s, so the median lags
    # it by two samples at most).
    smooth = _running_median(y, 5)
    above = smooth - np.minimum.accumulate(smooth) >= rise_c
    held = above.copy()
    for k in range(1, sustain):
        held[:-k] &= above[k:]
        held[len(held) - k :] = False
    risen = np.flatnonzero(held)
    if risen.size == 0:
        return Timed(math.inf, 0.0)
    first = max(0, int(risen[0]) - max(3, round(0.03 / dt)))
    bottom = first + int(np.argmin(y[first : risen[0] + 1]))
    u = math.hypot(_rect(dt), _rect(sensor_lag_s))
    return Timed(float(t[bottom]), u)


def _running_median(y: np.ndarray, width: int) -> np.ndarray:
    """Centred running median of odd ``width``; the ends use what is there."""
    half = width // 2
    padded = np.pad(y, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def latency(start: Timed, end: Timed) -> Timed:
    if not math.isfinite(end.value):
        return Timed(math.inf, start.u)
    return Timed(end.value - start.value, math.hypot(start.u, end.u))


def reading_crossing(t_log, reading, level: float, after: float = -math.inf) -> Timed:
    """When the unit's corrected reading (its 10 Hz log) first fell to ``level``.

    Linear interpolation between log rows; the uncertainty is that of a crossing
    anywhere between the two rows (rectangular over one log interval).
    """
    t_log = np.asarray(t_log, dtype=float)
    t = first_crossing(t_log, reading, level + 1e-9, "down", after=after)
    if not math.isfinite(t):
        return Timed(math.inf, 0.0)
    return Timed(t, _rect(sample_interval(t_log)))


def earliest(*candidates: Timed) -> Timed:
    """The earliest of several estimates of one moment (inf when none is finite)."""
    finite = [c for c in candidates if math.isfinite(c.value)]
    if not finite:
        return Timed(math.inf, 0.0)
    return min(finite, key=lambda c: c.value)


def command_time(t_sent: float, *, resolution_s: float = 0.0) -> Timed:
    """A command's effect time as the rig knows it (its clock when the reply came)."""
    return Timed(t_sent, _rect(resolution_s))


@dataclass(frozen=True)
class HoldFigures:
    reached: bool
    t_reached: float
    window_s: float
    min_c: float
    max_c: float
    max_deviation_c: float
    """Largest |surface − target| inside the window (inf when the target was never reached)."""


def hold_compliance(t_ref, ref, target_c: float, hold_s: float, after: float) -> HoldFigures:
    """Whether the surface stays within the band for ``hold_s`` once it first reaches the target."""
    t_ref = np.asarray(t_ref, dtype=float)
    ref = np.asarray(ref, dtype=float)
    t0 = first_crossing(t_ref, ref, target_c + 1e-9, "down", after=after)
    if not math.isfinite(t0):
        return HoldFigures(False, math.inf, hold_s, math.nan, math.nan, math.inf)
    sel = (t_ref >= t0) & (t_ref <= t0 + hold_s)
    if not np.any(sel):
        raise AnalysisError("no reference sample inside the hold window")
    span = float(t_ref[sel][-1] - t0)
    if span < hold_s - 2 * sample_interval(t_ref):
        raise AnalysisError(f"the recording covers {span:.1f} s of the {hold_s:.0f} s hold window")
    window = ref[sel]
    dev = float(np.max(np.abs(window - target_c)))
    return HoldFigures(True, t0, hold_s, float(window.min()), float(window.max()), dev)


def pulse_duration(start: float, end: float, dt: float) -> Timed:
    """A valve-sense pulse's duration; each edge is known to one sampling interval."""
    if not (math.isfinite(start) and math.isfinite(end)):
        return Timed(math.inf, 0.0)
    return Timed(end - start, math.hypot(_rect(dt), _rect(dt)))
