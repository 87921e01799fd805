"""Windows, valve intervals and limit lines cut from a run record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.runview import (
    PRE_ROLL_S,
    corrected_channel,
    limit_lines,
    protocol_marks,
    split_logger,
    trace_test_spans,
    treatment_windows,
    valve_intervals,
)

TRACE = [
    {"kind": "test_start", "test": "p.py::test_identity", "t": 1.0},
    {"kind": "test_end", "test": "p.py::test_identity", "t": 2.0},
    {"kind": "test_start", "test": "p.py::test_shock", "t": 2.0},
    {"kind": "settled", "t": 700.0},
    {"kind": "test_end", "test": "p.py::test_shock", "t": 750.0},
    {"kind": "test_start", "test": "p.py::test_hold[4c]", "t": 750.0},
    {"kind": "settled", "t": 900.0},
    {"kind": "settled", "t": 1300.0},
    {"kind": "test_end", "test": "p.py::test_hold[4c]", "t": 1500.0},
    {"kind": "test_start", "test": "p.py::test_cutoff", "t": 1500.0},
    {"kind": "block", "t": 1510.0},
]


def test_spans_pair_starts_and_ends_and_keep_an_unfinished_test() -> None:
    spans = trace_test_spans(TRACE, samples_end=1520.0)
    assert spans[0] == ("p.py::test_identity", 1.0, 2.0, True)
    assert spans[-1] == ("p.py::test_cutoff", 1500.0, 1520.0, False)


def test_treatment_windows_start_where_the_surface_settled() -> None:
    windows = treatment_windows(TRACE, samples_end=1520.0)
    assert [w.title for w in windows] == [
        "test_shock",
        "test_hold[4c] (1/2)",
        "test_hold[4c] (2/2)",
        "test_cutoff",
    ]
    shock = windows[0]
    assert (shock.start, shock.zero, shock.end) == (700.0 - PRE_ROLL_S, 700.0, 750.0)
    assert (windows[1].zero, windows[1].end) == (900.0, 1300.0)
    assert (windows[2].zero, windows[2].end) == (1300.0, 1500.0)
    cutoff = windows[3]
    assert (cutoff.zero, cutoff.end, cutoff.finished) == (1500.0, 1520.0, False)


def test_valve_intervals_from_the_threshold() -> None:
    t = np.arange(10.0)
    v = np.array([0, 2.4, 2.4, 0, 0, 2.4, 0, 0, 2.4, 2.4])
    assert valve_intervals(t, v, 1.2) == [(1.0, 2.0), (5.0, 5.0), (8.0, 9.0)]
    assert valve_intervals(np.empty(0), np.empty(0), 1.2) == []


def test_logger_split_and_corrected() -> None:
    logger = pd.DataFrame(
        {"t_s": [0.2, 0.1, 0.1, 0.2], "channel": [101, 101, 110, 110], "value": [20.0, 21.0, 0, 2]}
    )
    channels = split_logger(logger)
    meta = {"instruments": {"channels": {"101": {"correction_c": -0.1}, "110": {}}}}
    t, v, corrected = corrected_channel(channels, meta, 101)
    assert corrected and list(t) == [0.1, 0.2] and np.allclose(v, [20.9, 19.9])
    assert corrected_channel(channels, meta, 110)[2] is False
    assert corrected_channel(channels, {}, 105)[0].size == 0
    assert split_logger(pd.DataFrame()) == {}


def test_limit_lines_are_the_temperature_limits_of_the_test() -> None:
    m = pd.DataFrame(
        [
            {"name": "shock.min_surface", "unit": "°C", "low": 2.5, "high": None, "test": "a::t"},
            {"name": "safe.min_surface", "unit": "°C", "low": 0.0, "high": None, "test": "a::t"},
            {"name": "shock.time", "unit": "s", "low": None, "high": 30.0, "test": "a::t"},
            {"name": "other.min", "unit": "°C", "low": 1.0, "high": None, "test": "a::u"},
        ]
    )
    assert [line.value for line in limit_lines(m, "a::t")] == [2.5, 0.0]
    assert limit_lines(pd.DataFrame(), "a::t") == []


def test_protocol_band_only_for_the_version_the_run_used() -> None:
    meta = {"extra": {"protocols": {"shock": "shock-4c 1.1.0"}}}
    (band,), lines = protocol_marks(meta, "p.py::test_shock")
    assert (band.low, band.centre, band.high) == (3.0, 4.0, 5.0)
    assert lines == []
    other_version = {"extra": {"protocols": {"shock": "shock-4c 9.9.9"}}}
    assert protocol_marks(other_version, "x::test_shock") == ([], [])
    assert protocol_marks(meta, "p.py::test_identity") == ([], [])
    assert protocol_marks({}, "p.py::test_shock") == ([], [])


def test_protocol_runs_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol of several runs gives the band of the run the test's measurements name;
    top-level temperature settings become lines."""
    import rig.protocols

    (tmp_path / "hold.yaml").write_text(
        "id: hold\nversion: '2.0.0'\nthreshold_c: 2.0\nflag_c: true\n"
        "runs:\n  - {name: hold4, target_c: 4.0, band_c: 2.0}\n"
        "  - {name: hold10, target_c: 10.0, band_c: 2.0}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(rig.protocols, "PROTOCOL_DIR", tmp_path)
    meta = {"extra": {"protocols": {"hold": "hold 2.0.0"}}}
    (band,), (line,) = protocol_marks(meta, "p.py::test_hold_10c", ["hold10.max_deviation"])
    assert (band.low, band.high) == (8.0, 12.0)
    assert line.value == 2.0 and line.setting
    assert protocol_marks(meta, "p.py::test_hold_10c")[0] == []
