"""Edges, crossings and settling on sampled signals (vectorized numpy).

All functions take sample times and values as 1-D arrays, sorted by time, and
return times by linear interpolation between the two samples around an event,
so their resolution is better than the sampling interval for smooth signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class AnalysisError(ValueError):
    """The data cannot answer the question (too few samples, no edge where one must be)."""


def _check(t: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise AnalysisError(f"{what}: times and values must be 1-D arrays of one length")
    if t.size < 2:
        raise AnalysisError(f"{what}: {t.size} samples, need at least 2")
    if np.any(np.diff(t) <= 0):
        raise AnalysisError(f"{what}: sample times must increase")
    return t, y


def crossings(t, y, level: float, direction: str = "down") -> np.ndarray:
    """Times where ``y`` crosses ``level`` (``down``: from above to at-or-below; ``up``)."""
    t, y = _check(t, y, "crossings")
    if direction == "down":
        idx = np.flatnonzero((y[:-1] > level) & (y[1:] <= level))
    elif direction == "up":
        idx = np.flatnonzero((y[:-1] < level) & (y[1:] >= level))
    else:
        raise ValueError(f"direction must be 'down' or 'up', not {direction!r}")
    y0, y1 = y[idx], y[idx + 1]
    frac = (level - y0) / (y1 - y0)
    return t[idx] + frac * (t[idx + 1] - t[idx])


def first_crossing(t, y, level: float, direction: str = "down", after: float = -np.inf) -> float:
    """The first crossing at or after ``after``; ``inf`` when there is none."""
    times = crossings(t, y, level, direction)
    times = times[times >= after]
    return float(times[0]) if times.size else float("inf")


@dataclass(frozen=True)
class Pulse:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def pulses(t, y, threshold: float) -> list[Pulse]:
    """Intervals where ``y`` is above ``threshold`` (edges interpolated).

    A pulse still high at the last sample ends at ``inf``; one high from the first
    sample starts at ``-inf`` (its true start was not seen).
    """
    t, y = _check(t, y, "pulses")
    rises = crossings(t, y, threshold, "up")
    falls = crossings(t, y, threshold, "down")
    starts = list(rises)
    ends = list(falls)
    if y[0] >= threshold:
        starts.insert(0, float("-inf"))
    if y[-1] > threshold:
        ends.append(float("inf"))
    return [Pulse(float(a), float(b)) for a, b in zip(starts, ends, strict=False)]


def slope_per_s(t, y) -> float:
    """Least-squares slope of ``y`` over ``t``."""
    t, y = _check(t, y, "slope")
    tc = t - t.mean()
    return float(np.dot(tc, y - y.mean()) / np.dot(tc, tc))


@dataclass(frozen=True)
class Stability:
    settled: bool
    mean: float
    slope_per_min: float
    span: float


def stability(t, y, *, target: float, band: float, max_slope_per_min: float) -> Stability:
    """Is the signal settled? Its mean within ``target ± band``, every sample within
    the band widened by twice the noise, and the fitted slope below the limit."""
    t, y = _check(t, y, "stability")
    slope = slope_per_s(t, y) * 60.0
    mean = float(y.mean())
    resid = y - (mean + (slope / 60.0) * (t - t.mean()))
    noise = float(resid.std())
    span = float(y.max() - y.min())
    settled = (
        abs(mean - target) <= band
        and abs(slope) <= max_slope_per_min
        and bool(np.all(np.abs(y - target) <= band + 2 * noise))
    )
    return Stability(settled, mean, slope, span)
