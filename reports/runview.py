"""What the report needs out of a run record: corrected channels, treatment windows,
valve-open intervals and the limit lines of a window.

The record keeps raw instrument readings (corrections are applied in analysis, see
``docs/rig.md``), so the report applies the station's corrections itself, the same
way the plan judged them. Every function tolerates a partial record (a run killed
half-way, or one that stopped at bring-up): missing streams, columns or trace events
give empty results, never an exception, because a report of a broken run is the one
most needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rig.shared import yamlsafe

from .plots import Band, LimitLine

__all__ = [
    "TREATMENT_WORDS",
    "Window",
    "channel_entry",
    "corrected_channel",
    "limit_lines",
    "protocol_marks",
    "short_test",
    "split_logger",
    "trace_test_spans",
    "treatment_windows",
    "valve_intervals",
]

TREATMENT_WORDS = ("shock", "hold", "cutoff", "max_open", "fault", "undervoltage")
"""A test whose name contains one of these treats the phantom: it gets a window plot."""
PRE_ROLL_S = 5.0
"""Seconds of the settled surface shown before a treatment segment starts."""
DEFAULT_VALVE_THRESHOLD_V = 1.2
TEMPERATURE_UNITS = frozenset({"°C", "degC", "C"})

Arrays = tuple[np.ndarray, np.ndarray]
_EMPTY: Arrays = (np.empty(0), np.empty(0))


def short_test(nodeid: str) -> str:
    """``test_plans/test_eol.py::test_shock`` → ``test_shock`` (what an operator reads)."""
    return str(nodeid).rsplit("::", 1)[-1]


# --- channels ------------------------------------------------------------------------------------
def channel_map(meta: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The logger's channel map recorded with the run (empty when bring-up never got there)."""
    instruments = meta.get("instruments")
    channels = instruments.get("channels") if isinstance(instruments, Mapping) else None
    if not isinstance(channels, Mapping):
        return {}
    return {str(k): dict(v) for k, v in channels.items() if isinstance(v, Mapping)}


def channel_entry(meta: Mapping[str, Any], channel: int) -> dict[str, Any]:
    return channel_map(meta).get(str(channel), {})


def split_logger(logger: pd.DataFrame | None) -> dict[int, Arrays]:
    """The logger journal (long format) as ``{channel: (t, value)}``, time-sorted."""
    if logger is None or logger.empty or not {"t_s", "channel", "value"} <= set(logger.columns):
        return {}
    out: dict[int, Arrays] = {}
    for ch, group in logger.groupby("channel", sort=True):
        g = group.sort_values("t_s", kind="stable")
        out[int(ch)] = (g["t_s"].to_numpy(float), g["value"].to_numpy(float))
    return out


def corrected_channel(
    channels: Mapping[int, Arrays], meta: Mapping[str, Any], channel: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(t, value, corrected?) of a channel with the station's ``correction_c`` added, as
    the plan's analysis did (corrected = reading + correction)."""
    t, v = channels.get(channel, _EMPTY)
    correction = channel_entry(meta, channel).get("correction_c")
    if isinstance(correction, int | float) and math.isfinite(correction):
        return t, v + float(correction), True
    return t, v, False


def stream_columns(df: pd.DataFrame | None, *columns: str) -> tuple[np.ndarray, ...]:
    """Columns of a sample stream as float arrays, empty when the stream is absent."""
    if df is None or df.empty or not set(columns) <= set(df.columns):
        return tuple(np.empty(0) for _ in columns)
    return tuple(pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in columns)


def clip(t: np.ndarray, y: np.ndarray, t0: float, t1: float) -> Arrays:
    mask = (t >= t0) & (t <= t1)
    return t[mask], y[mask]


# --- windows -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """One treatment segment of a test, in rig time.

    ``zero`` is the origin of the plot's time axis: the end of surface conditioning
    (the trace's ``settled`` event) when the test conditions the phantom, else the
    test's start; ``start`` is a few seconds earlier to show the settled baseline.
    Conditioning itself (minutes of a stage settling) is left to the overview plot,
    where it does not squeeze a 40 s treatment into a sliver.
    """

    test: str
    start: float
    zero: float
    end: float
    part: int = 1
    parts: int = 1
    origin: str = "test start"
    finished: bool = True

    @property
    def title(self) -> str:
        name = short_test(self.test)
        return f"{name} ({self.part}/{self.parts})" if self.parts > 1 else name


def _last_time(trace: Iterable[Mapping[str, Any]], samples_end: float | None) -> float:
    times = [float(e["t"]) for e in trace if isinstance(e.get("t"), int | float)]
    if samples_end is not None:
        times.append(samples_end)
    return max(times) if times else 0.0


def trace_test_spans(
    trace: list[dict[str, Any]], samples_end: float | None = None
) -> list[tuple[str, float, float, bool]]:
    """(test, start, end, finished) from the trace's test_start/test_end events; a test
    without an end (the run died in it) ends at the last thing recorded."""
    starts: dict[str, float] = {}
    spans: list[tuple[str, float, float, bool]] = []
    for e in trace:
        kind, test, t = e.get("kind"), e.get("test"), e.get("t")
        if not isinstance(test, str) or not isinstance(t, int | float):
            continue
        if kind == "test_start":
            starts[test] = float(t)
        elif kind == "test_end" and test in starts:
            spans.append((test, starts.pop(test), float(t), True))
    last = _last_time(trace, samples_end)
    spans += [(test, t0, max(t0, last), False) for test, t0 in starts.items()]
    return sorted(spans, key=lambda s: s[1])


def _segments(
    trace: list[dict[str, Any]], test: str, t0: float, t1: float, finished: bool
) -> list[Window]:
    settled = sorted(
        float(e["t"])
        for e in trace
        if e.get("kind") == "settled" and isinstance(e.get("t"), int | float) and t0 <= e["t"] <= t1
    )
    if not settled:
        return [Window(test, t0, t0, t1, finished=finished)]
    ends = [*settled[1:], t1]
    return [
        Window(
            test,
            start=max(t0, zero - PRE_ROLL_S),
            zero=zero,
            end=end,
            part=i + 1,
            parts=len(settled),
            origin="surface settled",
            finished=finished,
        )
        for i, (zero, end) in enumerate(zip(settled, ends, strict=True))
    ]


def treatment_windows(
    trace: list[dict[str, Any]], samples_end: float | None = None
) -> list[Window]:
    """The treatment segments of the run: each test named like a treatment, cut at its
    test_start/test_end, split at every ``settled`` event it contains (one per
    treatment the test runs)."""
    windows: list[Window] = []
    for test, t0, t1, finished in trace_test_spans(trace, samples_end):
        if any(word in short_test(test).lower() for word in TREATMENT_WORDS):
            windows += _segments(trace, test, t0, t1, finished)
    return windows


def valve_intervals(t: np.ndarray, v: np.ndarray, threshold_v: float) -> list[tuple[float, float]]:
    """Intervals where the valve-sense voltage is above its threshold (the logger's own,
    independent witness of the valve drive); an interval still open at the end of the
    data ends there."""
    if t.size == 0:
        return []
    above = np.concatenate(([False], v > threshold_v, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return list(zip(t[edges[::2]].tolist(), t[edges[1::2] - 1].tolist(), strict=True))


# --- limits --------------------------------------------------------------------------------------
def _bound(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def limit_lines(measurements: pd.DataFrame, test: str) -> list[LimitLine]:
    """The temperature limits the test's measurements were judged against (e.g. the
    2.5 °C minimum of REQ-COOL-01, the 0 °C of REQ-SAFE-02), one line per value."""
    if measurements.empty or "test" not in measurements.columns:
        return []
    rows = measurements[measurements["test"] == test]
    lines: dict[float, LimitLine] = {}
    for row in rows.itertuples(index=False):
        if getattr(row, "unit", None) not in TEMPERATURE_UNITS:
            continue
        for value, sign in ((_bound(row.low), "≥"), (_bound(row.high), "≤")):
            if value is not None and value not in lines:
                lines[value] = LimitLine(value, f"{row.name} {sign} {value:g} °C")
    return list(lines.values())


def protocol_marks(
    meta: Mapping[str, Any], test: str, measurement_names: Iterable[str] = ()
) -> tuple[list[Band], list[LimitLine]]:
    """Target bands and temperature settings of the protocol the test ran, e.g. SHOCK's
    4 ± 1 °C, HOLD's 4 ± 2 °C, the cutoff's 2 °C threshold.

    Targets are settings of a protocol file, not limits of a measurement, so the
    record only names the protocol (``extra.protocols``: name → "id version"). They
    are drawn only when the protocol file of this installation has exactly that id
    and version: a report must not draw a target the run did not use. A protocol of
    several runs (``runs: [{name: hold4, …}]``) contributes the run whose name
    prefixes the test's measurements (``hold4.max_deviation``).
    """
    from rig.protocols import PROTOCOL_DIR

    recorded = (meta.get("extra") or {}).get("protocols")
    if not isinstance(recorded, Mapping):
        return [], []
    prefixes = {str(n).split(".", 1)[0] for n in measurement_names}
    bands: list[Band] = []
    lines: list[LimitLine] = []
    for name, ident in recorded.items():
        if str(name).lower() not in short_test(test).lower():
            continue
        raw = _protocol_file(PROTOCOL_DIR / f"{name}.yaml", str(ident))
        if raw is not None:
            bands += _target_bands(raw, str(ident), prefixes)
            lines += _setting_lines(raw)
    return bands, lines


def _protocol_file(path: Path, ident: str) -> Mapping[str, Any] | None:
    """The protocol file's content if it is the one recorded (same id and version)."""
    try:
        raw = yamlsafe.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(raw, Mapping) or f"{raw.get('id')} {raw.get('version')}" != ident:
        return None
    return raw


def _target_bands(raw: Mapping[str, Any], ident: str, prefixes: set[str]) -> list[Band]:
    candidates = [raw["treatment"]] if isinstance(raw.get("treatment"), Mapping) else []
    runs = raw.get("runs")
    if isinstance(runs, list):
        candidates += [r for r in runs if isinstance(r, Mapping) and r.get("name") in prefixes]
    bands = []
    for c in candidates:
        target, band = _bound(c.get("target_c")), _bound(c.get("band_c"))
        if target is not None and band is not None:
            label = f"target {target:g} ± {band:g} °C ({ident})"
            bands.append(Band(target - band, target + band, label, centre=target))
    return bands


def _setting_lines(raw: Mapping[str, Any]) -> list[LimitLine]:
    """Top-level temperature settings (``threshold_c: 2.0``, ``rearm_c: 8.0``)."""
    lines = []
    for key, value in raw.items():
        number = _bound(value) if not isinstance(value, bool) else None
        if str(key).endswith("_c") and number is not None:
            label = f"{str(key)[:-2].replace('_', ' ')} {number:g} °C (protocol)"
            lines.append(LimitLine(number, label, setting=True))
    return lines
