"""Cooling performance of a treatment, from the reference surface and the valve witness.

Inputs are the recorded reference-surface thermocouple (channel 101, station
correction applied) and the valve-sense channel (110): the logger's own,
independent view of when the valve was driven. Nothing here trusts the unit's
report of itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .signals import AnalysisError, Pulse, first_crossing, pulses


@dataclass(frozen=True)
class ShockFigures:
    valve: Pulse
    start_c: float
    time_to_band_s: float
    """From valve opening to the surface within ``band`` of the target (inf: never)."""
    min_surface_c: float
    """Lowest surface temperature from the opening to ``settle_after_close_s`` after closing."""
    drop_in_window_c: float
    rate_c_per_s: float
    """Mean rate between the two levels (nan when the lower one was never reached)."""
    t_rate_from: float
    t_rate_to: float


def valve_pulse(t_v, v, threshold_v: float, t_from: float | None = None) -> Pulse:
    """The first valve-drive pulse (after ``t_from``) seen on the valve-sense channel."""
    found = [p for p in pulses(t_v, v, threshold_v) if t_from is None or p.start >= t_from]
    if not found:
        raise AnalysisError("the valve-sense channel shows no opening")
    return found[0]


def shock_figures(
    t_ref,
    ref,
    t_v,
    v,
    *,
    threshold_v: float,
    target_c: float,
    band_c: float,
    rate_from_c: float,
    rate_to_c: float,
    drop_window_s: float,
    settle_after_close_s: float = 2.0,
    t_from: float | None = None,
) -> ShockFigures:
    t_ref = np.asarray(t_ref, dtype=float)
    ref = np.asarray(ref, dtype=float)
    valve = valve_pulse(t_v, v, threshold_v, t_from)
    if not np.isfinite(valve.start):
        raise AnalysisError("the valve was already open when recording started")
    before = ref[t_ref <= valve.start]
    if before.size == 0:
        raise AnalysisError("no reference sample before the valve opened")
    start_c = float(before[-1])
    close = valve.end if np.isfinite(valve.end) else t_ref[-1]
    during = (t_ref >= valve.start) & (t_ref <= close + settle_after_close_s)
    if not np.any(during):
        raise AnalysisError("no reference sample during the treatment")
    min_c = float(ref[during].min())
    level = target_c + band_c
    after_open = ref[t_ref >= valve.start]
    if after_open.size and after_open[0] <= level:
        reached = valve.start
    else:
        reached = first_crossing(t_ref, ref, level, "down", after=valve.start)
    window = (t_ref >= valve.start) & (t_ref <= valve.start + drop_window_s)
    drop = start_c - float(ref[window].min()) if np.any(window) else float("nan")
    t_hi = first_crossing(t_ref, ref, rate_from_c, "down", after=valve.start)
    t_lo = first_crossing(t_ref, ref, rate_to_c, "down", after=valve.start)
    if np.isfinite(t_hi) and np.isfinite(t_lo) and t_lo > t_hi:
        rate = (rate_from_c - rate_to_c) / (t_lo - t_hi)
    else:
        rate = float("nan")
    return ShockFigures(
        valve=valve,
        start_c=start_c,
        time_to_band_s=reached - valve.start,
        min_surface_c=min_c,
        drop_in_window_c=drop,
        rate_c_per_s=rate,
        t_rate_from=t_hi,
        t_rate_to=t_lo,
    )
