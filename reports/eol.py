"""End-of-line report: one self-contained HTML file per run, and the fleet study report.

The EOL report is what a QA engineer signs and what goes into the unit's device
history record, so it shows only what the run record says: verdicts are the rig's
(nothing is recomputed here), the limits file and software are identified by
version and hash, and the evidence (the measurements and the signals they came
from) is shown next to each verdict. It must also render for the runs that need
it most: a run killed half-way (``INCOMPLETE``: read from the journals) and a run
that stopped at bring-up with no measurements (``ERROR``).

Figures are embedded as ``data:`` URIs, so the report is one file that can be
archived or mailed without losing its pictures.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from rig.fleet import CPK_CAPABLE, cpk_text
from rig.recording import RunData, load_run

from . import plots
from .formatting import (
    environment,
    format_duration,
    format_uncertainty,
    format_value,
    is_missing,
    parse_time,
)
from .plots import Series
from .requirements import requirement_title
from .runview import (
    DEFAULT_VALVE_THRESHOLD_V,
    Window,
    channel_entry,
    clip,
    corrected_channel,
    limit_lines,
    protocol_marks,
    short_test,
    split_logger,
    stream_columns,
    trace_test_spans,
    treatment_windows,
    valve_intervals,
)

__all__ = [
    "REPORT_NAME",
    "eol_context",
    "fleet_context",
    "render_eol_report",
    "render_fleet_report",
]

REPORT_NAME = "report.html"
REF_CHANNEL = 101
SECOND_CHANNEL = 102
VALVE_CHANNEL = 110
OVERVIEW_CHANNELS = (101, 102, 103, 104, 105)
_SEVERITY = {"PASS": 0, "NOT_RUN": 1, "FAIL": 2, "ERROR": 3}


# --- rendering plumbing --------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    """The reports' environment (:func:`reports.formatting.environment`), lenient: the
    report of a damaged run must still render."""
    return environment(strict=False)


def _write_atomic(path: Path, text: str) -> Path:
    """Write then rename: a report in the run directory is evidence, and a reader must
    never find half of one (e.g. the line's MES picking it up while it is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _software_version() -> str:
    try:
        return metadata.version("cryorig")
    except metadata.PackageNotFoundError:
        return "unknown"


def _now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(value: Any) -> str:
    """A metadata field for a table cell, ``—`` when absent."""
    return "—" if is_missing(value) else str(value)


# --- header --------------------------------------------------------------------------------------
def _duration(meta: Mapping[str, Any]) -> str:
    started, finished = parse_time(meta.get("started")), parse_time(meta.get("finished"))
    if started is None or finished is None:
        return "—"
    return format_duration((finished - started).total_seconds())


def _software(meta: Mapping[str, Any]) -> str:
    sw = meta.get("software") or {}
    if not isinstance(sw, Mapping):
        return _text(sw)
    version = _text(sw.get("version"))
    commit = sw.get("git_commit")
    if is_missing(commit):
        return f"cryorig {version} (git hash unknown)"
    dirty = " + uncommitted changes" if sw.get("git_dirty") else ""
    return f"cryorig {version}, git {str(commit)[:12]}{dirty}"


def _limits(meta: Mapping[str, Any]) -> dict[str, str]:
    lim = meta.get("limits") or {}
    lim = lim if isinstance(lim, Mapping) else {}
    return {
        "file": _text(lim.get("file")),
        "version": _text(lim.get("version")),
        "sha256": _text(lim.get("sha256")),
    }


def _simulated(meta: Mapping[str, Any]) -> dict[str, str] | None:
    """Seed and unit profile of a simulated bench (None for a real one): a simulated
    run is reproducible only from these two."""
    extra = meta.get("extra") or {}
    rig = extra.get("rig") if isinstance(extra, Mapping) else None
    if rig != "sim" and meta.get("profile") is None and meta.get("seed") is None:
        return None
    profile = meta.get("profile")
    return {
        "seed": _text(meta.get("seed")),
        "profile": "nominal unit (manufacturing spread)" if profile is None else str(profile),
    }


def _header(run: RunData, last_t: float | None) -> dict[str, Any]:
    meta = run.meta
    return {
        "serial": _text(meta.get("unit_serial")),
        "verdict": run.status,
        "run_id": _text(meta.get("run_id") or run.path.name),
        "station": _text(meta.get("station")),
        "site": _text(meta.get("site")),
        "operator": _text(meta.get("operator")),
        "started": _text(meta.get("started")),
        "finished": _text(meta.get("finished")),
        "duration": _duration(meta),
        "rig_time": "—" if last_t is None else f"{last_t:.1f} s",
        "limits": _limits(meta),
        "software": _software(meta),
        "simulated": _simulated(meta),
        "retest_of": meta.get("retest_of"),
        "command_line": " ".join(str(a) for a in meta.get("command_line") or []),
        "protocols": _protocols(meta),
    }


def _protocols(meta: Mapping[str, Any]) -> str:
    extra = meta.get("extra") or {}
    protocols = extra.get("protocols") if isinstance(extra, Mapping) else None
    if not isinstance(protocols, Mapping) or not protocols:
        return "—"
    return ", ".join(str(v) for v in protocols.values())


# --- verdicts and measurements -------------------------------------------------------------------
def _worst(verdicts: list[str]) -> str:
    return max(verdicts, key=lambda v: _SEVERITY.get(v, 3)) if verdicts else "NOT_RUN"


def _measurement_records(run: RunData) -> list[dict[str, Any]]:
    m = run.measurements
    return [] if m.empty else m.to_dict("records")


def _requirement_rows(run: RunData, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per REQ ID of the run. A finished run states its verdicts in run.json; a
    run that never finished has none, so its rows are the measurements' worst so far,
    marked provisional (an unfinished run decides nothing)."""
    by_req: dict[str, list[str]] = {}
    for r in records:
        by_req.setdefault(str(r.get("req")), []).append(str(r.get("verdict")))
    recorded = run.meta.get("requirements")
    provisional = not isinstance(recorded, Mapping) or not recorded
    verdicts = {req: _worst(v) for req, v in by_req.items()} if provisional else dict(recorded)
    return [
        {
            "id": req,
            "title": requirement_title(req),
            "verdict": str(verdict),
            "measurements": len(by_req.get(req, [])),
            "provisional": provisional,
        }
        for req, verdict in sorted(verdicts.items())
    ]


def _measurement_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        unit = "" if is_missing(r.get("unit")) else str(r.get("unit"))
        uncertainty = None if is_missing(r.get("uncertainty")) else r.get("uncertainty")
        k = None if is_missing(r.get("coverage_factor")) else r.get("coverage_factor")
        rows.append(
            {
                "name": _text(r.get("name")),
                "req": _text(r.get("req")),
                "test": short_test(_text(r.get("test"))),
                "value": format_value(r.get("value"), uncertainty),
                "unit": unit,
                "limit": _text(r.get("limit_text")),
                "uncertainty": format_uncertainty(uncertainty, unit, k),
                "verdict": _text(r.get("verdict")),
                "notes": "" if is_missing(r.get("notes")) else str(r.get("notes")),
            }
        )
    return rows


def _outcomes(trace: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The worst ``test_outcome`` event per test. The plugin traces only tests that did
    not pass (setup, call or teardown), so no event after a test's end means it passed."""
    outcomes: dict[str, dict[str, Any]] = {}
    for e in trace:
        if e.get("kind") != "test_outcome" or not isinstance(e.get("test"), str):
            continue
        current = outcomes.get(e["test"])
        if current is None or _SEVERITY.get(e.get("verdict"), 3) > _SEVERITY.get(
            current.get("verdict"), 3
        ):
            outcomes[e["test"]] = e
    return outcomes


def _test_rows(run: RunData, last_t: float | None) -> list[dict[str, Any]]:
    """Each test with its span in rig time and its outcome (FAIL and ERROR details are
    the failure reason in the plan's own words). A test that failed in setup has an
    outcome but no span; it is listed too."""
    outcomes = _outcomes(run.trace)
    rows = []
    for test, t0, t1, finished in trace_test_spans(run.trace, last_t):
        outcome = outcomes.pop(test, {})
        rows.append(
            {
                "test": short_test(test),
                "start": f"{t0:.2f}",
                "end": f"{t1:.2f}" if finished else "— (no end recorded)",
                "verdict": outcome.get("verdict") or ("PASS" if finished else "INCOMPLETE"),
                "detail": outcome.get("detail") or "",
            }
        )
    for test, outcome in outcomes.items():
        rows.append(
            {
                "test": short_test(test),
                "start": "—",
                "end": "—",
                "verdict": _text(outcome.get("verdict")),
                "detail": f"{outcome.get('when', '')}: {outcome.get('detail') or ''}".strip(": "),
            }
        )
    return rows


# --- instruments ---------------------------------------------------------------------------------
_CAL_CLASS = {"OK": "pass", "DUE_SOON": "error", "OVERDUE": "fail", "OVERRIDDEN": "fail"}
"""Badge colour of a calibration status: anything but OK needs a reviewer's eye."""


def _calibration(entry: Mapping[str, Any]) -> dict[str, str]:
    cal = entry.get("calibration")
    if not isinstance(cal, Mapping):
        return {}
    keys = ("certificate", "laboratory", "calibrated", "due", "days_left", "status", "override")
    cells = {k: _text(cal.get(k)) for k in keys}
    cells["class"] = _CAL_CLASS.get(cells["status"], "unknown")
    return cells


def _instrument_rows(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    station = meta.get("instruments") or {}
    instruments = station.get("instruments") if isinstance(station, Mapping) else None
    if not isinstance(instruments, Mapping):
        return []
    return [
        {
            "name": name,
            "model": _text(entry.get("model")),
            "serial": _text(entry.get("serial")),
            "resource": _text(entry.get("resource")),
            "cal": _calibration(entry),
        }
        for name, entry in instruments.items()
        if isinstance(entry, Mapping)
    ]


def _channel_rows(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    station = meta.get("instruments") or {}
    channels = station.get("channels") if isinstance(station, Mapping) else None
    if not isinstance(channels, Mapping):
        return []
    rows = []
    for number, entry in sorted(channels.items(), key=lambda kv: str(kv[0])):
        if not isinstance(entry, Mapping):
            continue
        rows.append({"channel": number, **_channel_cells(entry), "cal": _calibration(entry)})
    return rows


def _channel_cells(entry: Mapping[str, Any]) -> dict[str, str]:
    """Correction and expanded uncertainty (U = k·u) of a thermocouple, or the threshold of
    a voltage channel: what the report's corrected curves and valve shading used."""
    correction = entry.get("correction_c")
    u, k = entry.get("u_c"), entry.get("k")
    expanded = ""
    if isinstance(u, int | float) and isinstance(k, int | float):
        expanded = f"± {u * k:.3g} °C (k = {k:g})"
    setting = ""
    if isinstance(correction, int | float):
        setting = f"correction {correction:+g} °C"
    elif isinstance(entry.get("threshold_v"), int | float):
        setting = f"threshold {entry['threshold_v']:g} V"
    return {
        "role": _text(entry.get("role")),
        "kind": _text(entry.get("kind")),
        "setting": setting or "—",
        "uncertainty": expanded or "—",
    }


def _deviation_rows(meta: Mapping[str, Any]) -> list[dict[str, str]]:
    """Departures from procedure (e.g. a QA override of an overdue calibration): the
    run's own list, else the station record's (older records carry only that one)."""
    station = meta.get("instruments")
    from_station = station.get("deviations") if isinstance(station, Mapping) else None
    deviations = meta.get("deviations") or from_station or []
    rows = []
    for d in deviations if isinstance(deviations, list) else [deviations]:
        if isinstance(d, Mapping):
            rows.append(
                {
                    "kind": _text(d.get("kind")),
                    "item": _text(d.get("item")),
                    "reason": _text(d.get("reason")),
                    "other": "; ".join(
                        f"{k}: {v}" for k, v in d.items() if k not in ("kind", "item", "reason")
                    ),
                }
            )
        else:
            rows.append({"kind": "—", "item": "—", "reason": str(d), "other": ""})
    return rows


# --- figures -------------------------------------------------------------------------------------
def _last_sample_time(run: RunData) -> float | None:
    ends = [
        float(df["t_s"].max())
        for df in run.samples.values()
        if not df.empty and "t_s" in df.columns and np.isfinite(df["t_s"].max())
    ]
    return max(ends) if ends else None


def _channel_label(meta: Mapping[str, Any], channel: int, corrected: bool) -> str:
    role = channel_entry(meta, channel).get("role")
    name = f"{channel} {role}" if role else f"ch {channel}"
    return f"{name} (corrected)" if corrected else name


def _valve(meta: Mapping[str, Any]) -> tuple[float, str]:
    threshold = channel_entry(meta, VALVE_CHANNEL).get("threshold_v")
    if not isinstance(threshold, int | float):
        threshold = DEFAULT_VALVE_THRESHOLD_V
    return float(threshold), f"valve open (ch {VALVE_CHANNEL} > {threshold:g} V)"


def _window_series(run: RunData, channels: Mapping[int, Any], w: Window) -> list[Series]:
    """Reference surface, channel 102 and the unit's own reading in one window, on the
    window's time axis (seconds from ``w.zero``)."""
    series = []
    styles = {REF_CHANNEL: ("-", 1.6, "#212121"), SECOND_CHANNEL: ("-", 1.0, "#1565c0")}
    for ch in (REF_CHANNEL, SECOND_CHANNEL):
        t, v, corrected = corrected_channel(channels, run.meta, ch)
        t, v = clip(t, v, w.start, w.end)
        style, width, colour = styles[ch]
        label = _channel_label(run.meta, ch, corrected)
        series.append(Series(label, t - w.zero, v, style, width, colour))
    t_u, reading = stream_columns(run.samples.get("unit_log"), "t_s", "reading_c")
    t_u, reading = clip(t_u, reading, w.start, w.end)
    series.append(Series("unit's own reading", t_u - w.zero, reading, "--", 1.0, "#ef6c00"))
    return series


def _describe_openings(intervals: list[tuple[float, float]]) -> str:
    """The valve openings in words; a HOLD pulses hundreds of times, so many are summed up."""
    if not intervals:
        return "never"
    if len(intervals) <= 3:
        return ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in intervals)
    total = sum(b - a for a, b in intervals)
    first, last = intervals[0][0], intervals[-1][1]
    return (
        f"{len(intervals)} openings from {first:.2f} s to {last:.2f} s, {total:.1f} s open in all"
    )


def _names_of_test(run: RunData, test: str) -> list[str]:
    m = run.measurements
    if m.empty or "test" not in m.columns:
        return []
    return [str(n) for n in m.loc[m["test"] == test, "name"]]


def _window_figure(run: RunData, channels: Mapping[int, Any], w: Window) -> dict[str, str]:
    threshold, valve_label = _valve(run.meta)
    t_v, v = clip(*channels.get(VALVE_CHANNEL, (np.empty(0), np.empty(0))), w.start, w.end)
    intervals = [(a - w.zero, b - w.zero) for a, b in valve_intervals(t_v, v, threshold)]
    xlabel = f"s from {w.origin} (rig time {w.zero:.2f} s)"
    bands, settings = protocol_marks(run.meta, w.test, _names_of_test(run, w.test))
    png = plots.treatment_figure(
        f"{w.title}: treatment window" + ("" if w.finished else " (test never ended)"),
        _window_series(run, channels, w),
        valve_open=intervals,
        valve_label=valve_label,
        limits=[*limit_lines(run.measurements, w.test), *settings],
        bands=bands,
        xlabel=xlabel,
    )
    opened = _describe_openings(intervals)
    caption = (
        f"{w.title}, rig time {w.start:.2f}–{w.end:.2f} s. Valve open on the valve-sense "
        f"channel: {opened} (from {w.origin})."
    )
    if not w.finished:
        caption += " The test never ended: the record stops inside it."
    return {"title": w.title, "caption": caption, "uri": plots.data_uri(png)}


def _overview_figure(
    run: RunData, channels: Mapping[int, Any], windows: list[Window]
) -> dict[str, str]:
    temps = []
    for ch in OVERVIEW_CHANNELS:
        t, v, corrected = corrected_channel(channels, run.meta, ch)
        if t.size:
            label = _channel_label(run.meta, ch, corrected)
            if ch == REF_CHANNEL:  # the judged one: black and on top, as in the windows
                temps.append(Series(label, t, v, width=1.1, colour="#212121", zorder=3.0))
            else:
                temps.append(Series(label, t, v, width=0.9))
    t_s, current = stream_columns(run.samples.get("supply"), "t_s", "current_a")
    png = plots.overview_figure(
        temps,
        Series("supply current", t_s, current) if t_s.size else None,
        highlight=[(w.zero, w.end) for w in windows],
    )
    caption = "Thermocouples 101–105 (station corrections applied) and the supply current."
    return {"title": "Whole run", "caption": caption, "uri": plots.data_uri(png)}


def _guarded(title: str, draw: Callable[[], dict[str, str]]) -> dict[str, str]:
    """A figure, or a note saying why it could not be drawn: a record damaged in some
    unforeseen way must cost one picture, never the report (which is most needed for
    exactly such runs)."""
    try:
        return draw()
    except Exception as exc:  # any failure of one plot; the tables still render
        return {"title": title, "caption": f"could not be drawn: {type(exc).__name__}: {exc}"}


def _channels_and_windows(run: RunData) -> tuple[Mapping[int, Any], list[Window]]:
    """The logger's channels and the run's treatment windows (what every figure needs)."""
    return split_logger(run.samples.get("logger")), treatment_windows(
        run.trace, _last_sample_time(run)
    )


def _figures(run: RunData) -> list[dict[str, str]]:
    if not run.samples:
        return []
    channels, windows = _channels_and_windows(run)
    figures = [_guarded(w.title, lambda w=w: _window_figure(run, channels, w)) for w in windows]
    figures.append(_guarded("Whole run", lambda: _overview_figure(run, channels, windows)))
    return figures


# --- the EOL report ------------------------------------------------------------------------------
def _status_note(run: RunData, last_t: float | None) -> str | None:
    """Why the verdict is what it is, when run.json alone does not say."""
    if run.status == "INCOMPLETE":
        until = "" if last_t is None else f" (journaled up to rig time {last_t:.2f} s)"
        return (
            "run.json still says RUNNING: the rig process ended without closing the record "
            f"(killed or powered off). The data below is what the journals hold{until}. "
            "An incomplete run decides nothing: the unit must be retested."
        )
    if run.status == "ERROR" and run.measurements.empty:
        return "The run stopped before any measurement was taken; the unit must be retested."
    return None


def eol_context(run: RunData) -> dict[str, Any]:
    """Everything the EOL template shows, as plain values (the template only lays out)."""
    last_t = _last_sample_time(run)
    records = _measurement_records(run)
    return {
        "header": _header(run, last_t),
        "reason": run.meta.get("reason"),
        "status_note": _status_note(run, last_t),
        "requirements": _requirement_rows(run, records),
        "measurements": _measurement_rows(records),
        "tests": _test_rows(run, last_t),
        "instruments": _instrument_rows(run.meta),
        "channels": _channel_rows(run.meta),
        "deviations": _deviation_rows(run.meta),
        "figures": _figures(run),
        "run_dir": str(run.path),
        "generated": _now_utc(),
        "generator": f"cryorig {_software_version()} (reports.eol)",
    }


def warm_up() -> None:
    """Import and draw once: what the first report of a process would otherwise pay on top
    of its own work (matplotlib's and pandas' imports, the font cache, the template). For a
    worker that will render a report soon."""
    import pyarrow.parquet  # noqa: F401 - the run's samples are read from Parquet

    fig = plots.Figure(figsize=(1, 1), dpi=20)
    fig.add_subplot().plot([0, 1], [0, 1], label="°C")
    plots.to_png(fig)
    _environment().get_template("eol_report.html.j2")


def prerender_figures(run_dir: Path) -> int:
    """Draw the window figure of every treatment that has ended so far in a run still going
    on (its journals as they stand); the number drawn. For a report worker with a core to
    spare while the plan runs: the figures are kept by :func:`plots.drawn_once`, and the
    report at the end uses each one whose data, limits and title are still the same."""
    run = load_run(Path(run_dir))
    if not run.samples:
        return 0
    channels, windows = _channels_and_windows(run)
    finished = [w for w in windows if w.finished]
    for w in finished:
        _guarded(w.title, lambda w=w: _window_figure(run, channels, w))
    return len(finished)


def render_eol_report(run_dir: Path, *, out: Path | None = None) -> Path:
    """Render the EOL report of the run in ``run_dir`` to ``out`` (default
    ``<run_dir>/report.html``) and return the path written."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    html = _environment().get_template("eol_report.html.j2").render(**eol_context(run))
    return _write_atomic(Path(out) if out is not None else run_dir / REPORT_NAME, html)


# --- the fleet report ----------------------------------------------------------------------------
def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _records(value: Any) -> list[dict[str, Any]]:
    return [dict(v) for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _limit(value: Any) -> str:
    """A limit as written in the limits file (``30``, ``0.55``), not padded to 4 digits."""
    x = _float(value)
    return "—" if x is None else f"{x:g}"


def _cpk_rows(cpk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cpk table rows with a histogram each; Cpk < 1.33 is flagged (the usual capability
    floor for a production characteristic), a missing Cpk is shown as such."""
    rows = []
    for c in cpk:
        unit = "" if is_missing(c.get("unit")) else str(c.get("unit"))
        value = _float(c.get("cpk"))
        lower = _float(c.get("cpk_lower95"))
        png = plots.histogram_figure(
            f"{_text(c.get('name'))} ({_text(c.get('req'))})",
            c.get("values"),
            mean=_float(c.get("mean")),
            sd=_float(c.get("sd")),
            low=_float(c.get("low")),
            high=_float(c.get("high")),
            unit=unit,
        )
        rows.append(
            {
                **{k: _text(c.get(k)) for k in ("name", "req", "n")},
                "unit": unit,
                **{k: format_value(c.get(k)) for k in ("mean", "sd")},
                **{k: _limit(c.get(k)) for k in ("low", "high")},
                "cpk": cpk_text(value),
                "cpk_lower95": cpk_text(lower),
                "capable": value is not None and value >= CPK_CAPABLE,
                "note": None if is_missing(c.get("cpk_note")) else _text(c.get("cpk_note")),
                "uri": plots.data_uri(png),
            }
        )
    return rows


def _confusion_rows(confusion: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def joined(value: Any) -> str:
        return ", ".join(str(v) for v in value) if isinstance(value, list) and value else "—"

    return [
        {
            "profile": _text(c.get("profile")),
            "serial": _text(c.get("serial")),
            "breaks": joined(c.get("breaks")),
            "verdict": _text(c.get("verdict")),
            "failed": joined(c.get("failed")),
            "detected": c.get("detected"),
            "outcome": _text(c.get("outcome") or ("detected" if c.get("detected") else "missed")),
            "reason": _text(c.get("reason")) if c.get("reason") else None,
            "caught_by": joined(c.get("caught_by")),
        }
        for c in confusion
    ]


def _nominal(nominal: dict[str, Any]) -> dict[str, Any]:
    rate = _float(nominal.get("rate"))
    upper = _float(nominal.get("rate_upper95"))
    return {
        "units": _text(nominal.get("units")),
        "false_rejects": _text(nominal.get("false_rejects")),
        "rate": "—" if rate is None else f"{100 * rate:.2f} %",
        "rate_upper95": "—" if upper is None else f"{100 * upper:.2f} %",
        "rejected": [
            {
                "serial": _text(r.get("serial")),
                "failed": ", ".join(str(x) for x in r.get("failed") or []) or "—",
                "run_dir": _text(r.get("run_dir")),
            }
            for r in _records(nominal.get("rejected"))
        ],
        "present": bool(nominal),
    }


def _seconds(value: Any, unit: str = "") -> str:
    """Virtual time to the tenth of a second: the cycle's totals (with " s") and each
    step's mean (in a column headed in seconds) alike."""
    x = _float(value)
    return "—" if x is None else f"{x:.1f}{unit}"


def _cycle(cycle: dict[str, Any]) -> dict[str, Any]:
    ratio = _float(cycle.get("ratio"))
    return {
        "mean": _seconds(cycle.get("mean_s"), " s"),
        "p95": _seconds(cycle.get("p95_s"), " s"),
        "fixed_wait": _seconds(cycle.get("fixed_wait_s"), " s"),
        "ratio": "—" if ratio is None else f"{ratio:.2f}",
        "steps": [
            {"test": short_test(_text(s.get("test"))), "mean": _seconds(s.get("mean_s"))}
            for s in _records(cycle.get("steps"))
        ],
        "present": bool(cycle),
    }


def fleet_context(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The fleet template's values; every key of ``summary`` is optional."""
    wall = _float(summary.get("wall_s"))
    confusion = _confusion_rows(_records(summary.get("confusion")))
    return {
        "units": _text(summary.get("units")),
        "seed": _text(summary.get("seed")),
        "workers": _text(summary.get("workers")),
        "wall": format_duration(wall),
        "confusion": confusion,
        "missed": sum(1 for c in confusion if c["detected"] is False),
        "nominal": _nominal(_mapping(summary.get("nominal"))),
        "cpk": _cpk_rows(_records(summary.get("cpk"))),
        "cycle": _cycle(_mapping(summary.get("cycle"))),
        "generated": _now_utc(),
        "generator": f"cryorig {_software_version()} (reports.eol)",
    }


def render_fleet_report(summary: dict, out: Path) -> Path:
    """Render a fleet study (defect detection, false rejects, capability, cycle time) to
    ``out`` and return it."""
    html = _environment().get_template("fleet_report.html.j2").render(**fleet_context(summary))
    return _write_atomic(Path(out), html)
