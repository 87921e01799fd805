"""Run recording: nothing appended is lost to a kill, files are atomic, reads are faithful."""

from __future__ import annotations

import datetime as dt
import errno
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rig import recording
from rig.recording import (
    RecordingError,
    RunMetadata,
    RunRecorder,
    load_run,
    software_identity,
)

from .record_until_killed import COLUMNS, ROWS_PER_BLOCK, block_rows

HELPER = Path(__file__).with_name("record_until_killed.py")
NOW = dt.datetime(2026, 5, 1, 12, 30, 45, tzinfo=dt.UTC)


def _meta(**kw: Any) -> RunMetadata:
    base: dict[str, Any] = {
        "unit_serial": "SIM-D-0001",
        "station": "SIM-01",
        "operator": "J. Doe",
        "seed": 3,
        "limits": {"file": "/x/eol-limits.yaml", "version": "1.0.0"},
        "profile": "slow-valve",
        "deviations": [{"item": "supply", "reason": "QA-1", "kind": "calibration overdue"}],
        "command_line": ["cryorig", "run", "--seed", "3"],
    }
    base.update(kw)
    return RunMetadata(**base)


def _measurement(name: str = "cool-time", verdict: str = "PASS", **kw: Any) -> dict[str, Any]:
    rec = {
        "name": name,
        "req": "REQ-COOL-01",
        "value": 21.37,
        "unit": "s",
        "low": None,
        "high": 30.0,
        "verdict": verdict,
        "test": "tests/eol/test_cool.py::test_shock",
        "t": 123.456,
    }
    rec.update(kw)
    return rec


def _csv_frame(path: Path) -> pd.DataFrame:
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    return pd.read_csv(path, keep_default_na=False, na_values=["nan"], **exact)


# --- a kill loses nothing already appended -------------------------------------------------------
def test_streams_survive_sigkill(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        run_dir = Path(proc.stdout.readline().strip())
        printed = 0
        while printed < 5:
            line = proc.stdout.readline()
            assert line, f"helper died: {proc.stderr.read() if proc.stderr else ''}"
            printed = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    run = load_run(run_dir)
    assert run.status == "INCOMPLETE"
    assert run.meta["status"] == "RUNNING" and run.meta["unit_serial"] == "SIM-KILL-01"
    df = run.samples["logger"]
    assert list(df.columns) == list(COLUMNS)
    blocks = len(df) // ROWS_PER_BLOCK
    assert len(df) >= printed * ROWS_PER_BLOCK
    expected = [row for k in range(blocks + 1) for row in block_rows(k)][: len(df)]
    assert [tuple(r) for r in df.itertuples(index=False)] == expected  # exact floats
    assert len(run.measurements) >= printed
    assert list(run.measurements["name"][:printed]) == [f"block-{k}" for k in range(printed)]
    assert not (run_dir / "samples" / "logger.parquet").exists()


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("logger", ["t", "v"])
    s.append([(0.0, 1.5), (0.1, 2.5)])
    rec.measurement(_measurement())
    # what a kill in the middle of a write leaves behind
    with open(s.path, "ab") as f:
        f.write(b"0.2,3.")
    with open(rec.dir / "measurements.jsonl", "ab") as f:
        f.write(b'{"name": "half')
    with open(rec.dir / "trace.jsonl", "ab") as f:
        f.write(b'{"event": "te')
    run = load_run(rec.dir)
    assert run.status == "INCOMPLETE"
    assert run.samples["logger"].to_dict("list") == {"t": [0.0, 0.1], "v": [1.5, 2.5]}
    assert list(run.measurements["name"]) == ["cool-time"]
    assert run.trace == []


# --- finish -------------------------------------------------------------------------------------
def test_finish_writes_parquet_equal_to_the_csv(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("scan", ["t", "ch101", "n", "note"])
    rows: list[tuple[Any, ...]] = [
        (0.1 + 0.2, 1 / 3, 1, "a,b"),
        (1e-300, -0.0, 2, 'quote "q"'),
        (float("nan"), 33.0, 3, "plain"),
        (5e20, float("inf"), -4, ""),
    ]
    s.append(rows[:2])
    s.append(rows[2:])
    empty = rec.stream("empty", ["t", "x"])
    assert s.rows == 4 and empty.rows == 0
    rec.finish("PASS", requirements={"REQ-COOL-01": "PASS"})

    parquet = s.path.with_suffix(".parquet")
    assert parquet.exists() and s.path.exists()  # the CSV journal stays
    from_parquet = pd.read_parquet(parquet)
    pd.testing.assert_frame_equal(from_parquet, _csv_frame(s.path))
    assert from_parquet["t"][0] == 0.1 + 0.2 and from_parquet["ch101"][0] == 1 / 3
    assert math.isnan(from_parquet["t"][2]) and from_parquet["ch101"][3] == math.inf
    assert list(from_parquet["note"]) == ["a,b", 'quote "q"', "plain", ""]
    assert from_parquet["n"].dtype.kind == "i"
    run = load_run(rec.dir)
    pd.testing.assert_frame_equal(run.samples["scan"], from_parquet)
    assert list(run.samples["empty"].columns) == ["t", "x"] and len(run.samples["empty"]) == 0
    with pytest.raises(ValueError, match="closed"):
        s.append([(1.0, 2.0, 3, "x")])


def test_load_falls_back_to_the_journal_when_parquet_is_incomplete(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("scan", ["t"])
    s.append([(0.5,), (1.5,)])
    rec.finish("FAIL", reason="REQ-COOL-01 failed", requirements={"REQ-COOL-01": "FAIL"})
    s.path.with_suffix(".parquet").write_bytes(b"PAR1 truncated")
    assert load_run(rec.dir).samples["scan"]["t"].tolist() == [0.5, 1.5]


def test_run_json_lifecycle(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    doc = json.loads((rec.dir / "run.json").read_text())
    assert doc["status"] == "RUNNING" and doc["started"] == "2026-05-01T12:30:45.000Z"
    assert doc["run_id"] == rec.dir.name and doc["finished"] is None
    assert doc["unit_serial"] == "SIM-D-0001" and doc["station"] == "SIM-01"
    assert doc["operator"] == "J. Doe" and doc["seed"] == 3 and doc["profile"] == "slow-valve"
    assert doc["limits"] == {"file": "/x/eol-limits.yaml", "version": "1.0.0"}
    assert doc["deviations"][0]["reason"] == "QA-1"
    assert doc["command_line"] == ["cryorig", "run", "--seed", "3"]
    assert doc["software"]["package"] == "cryorig" and doc["software"]["version"]
    rec.measurement(_measurement())
    rec.measurement(_measurement("undershoot", verdict="FAIL", req="REQ-SAFE-02", value=-0.4))
    reqs = {"REQ-COOL-01": "PASS", "REQ-SAFE-02": "FAIL", "REQ-CAL-01": "NOT_RUN"}
    rec.finish("FAIL", reason="REQ-SAFE-02 failed", requirements=reqs, counts={"tests": 3})
    doc = json.loads((rec.dir / "run.json").read_text())
    assert doc["status"] == "FAIL" and doc["reason"] == "REQ-SAFE-02 failed"
    assert doc["finished"].endswith("Z") and doc["requirements"] == reqs
    assert doc["counts"]["measurements"] == {"PASS": 1, "FAIL": 1, "ERROR": 0, "total": 2}
    assert doc["counts"]["requirements"] == {"PASS": 1, "FAIL": 1, "ERROR": 0, "NOT_RUN": 1}
    assert doc["counts"]["tests"] == 3
    assert load_run(rec.dir).status == "FAIL"
    assert [p.name for p in rec.dir.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ValueError, match="finished"):
        rec.measurement(_measurement())


def test_run_json_update_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new run.json appears by rename of a fully written, fsynced file; if that fails
    the old document is intact and no temporary file is left behind."""
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    before = (rec.dir / "run.json").read_bytes()
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        calls.append((Path(src).name, Path(dst).name))
        if Path(dst).name == "run.json":
            tmp = Path(src)
            assert json.loads(tmp.read_text())["status"] == "ERROR"  # complete before rename
            raise OSError(errno.EIO, "I/O error")
        real_replace(src, dst)

    monkeypatch.setattr(recording.os, "replace", failing_replace)
    with pytest.raises(RecordingError, match=r"run\.json"):
        rec.finish("ERROR", reason="instrument fault")
    assert calls[-1][1] == "run.json" and calls[-1][0].startswith(".run.json.tmp-")
    assert (rec.dir / "run.json").read_bytes() == before
    assert [p.name for p in rec.dir.iterdir() if p.name.startswith(".")] == []
    assert load_run(rec.dir).status == "INCOMPLETE"


def test_a_pass_contradicted_by_a_requirement_is_refused(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    with pytest.raises(ValueError, match="REQ-SAFE-01"):
        rec.finish("PASS", requirements={"REQ-COOL-01": "PASS", "REQ-SAFE-01": "FAIL"})
    with pytest.raises(ValueError, match="MAYBE"):
        rec.finish("ERROR", requirements={"REQ-COOL-01": "MAYBE"})
    with pytest.raises(ValueError, match="status"):
        rec.finish("OK")  # type: ignore[arg-type]
    assert load_run(rec.dir).status == "INCOMPLETE"  # nothing was finished by the refusals
    rec.finish("PASS", requirements={"REQ-COOL-01": "PASS", "REQ-CAL-01": "NOT_RUN"})
    run = load_run(rec.dir)
    assert run.status == "PASS" and run.meta["counts"]["requirements"]["NOT_RUN"] == 1


def test_context_manager_records_a_crash_as_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), RunRecorder.create(_meta(), tmp_path, now=NOW) as rec:
        rec.stream("scan", ["t"]).append([(1.0,)])
        raise RuntimeError("logger stopped answering")
    run = load_run(rec.dir)
    assert run.status == "ERROR" and "logger stopped answering" in run.meta["reason"]
    assert (rec.dir / "samples" / "scan.parquet").exists()


# --- measurements, trace, artifacts -------------------------------------------------------------
def test_measurements_and_trace_are_readable(tmp_path: Path) -> None:
    import numpy as np

    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    rec.trace({"event": "test_start", "test": "tests/eol/test_cool.py::test_shock", "t": 1.0})
    rec.measurement(_measurement(uncertainty={"U": 0.1, "k": 2.0}))
    idle = _measurement("idle-current", req="REQ-PWR-01", value=np.float64(0.0912), unit="A")
    idle.update(high=0.150, notes="at 24.0 V", t=np.int64(130))
    rec.measurement(idle)
    rec.measurement(_measurement("selftest", verdict="ERROR", value=None, unit=""))
    rec.trace({"event": "error", "what": "timeout", "at": dt.date(2026, 5, 1)})
    rec.sync()
    run = load_run(rec.dir)
    m = run.measurements
    assert tuple(m.columns[:9]) == recording.MEASUREMENT_FIELDS
    assert list(m["name"]) == ["cool-time", "idle-current", "selftest"]
    assert list(m["verdict"]) == ["PASS", "PASS", "ERROR"]
    assert m["value"][1] == 0.0912 and m["t"][1] == 130 and m["notes"][1] == "at 24.0 V"
    assert m["uncertainty"][0] == {"U": 0.1, "k": 2.0}
    assert [e["event"] for e in run.trace] == ["test_start", "error"]
    assert run.trace[1]["at"] == "2026-05-01" and "wall" in run.trace[0]


def test_measurement_records_are_checked(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    bad = _measurement()
    del bad["req"]
    with pytest.raises(ValueError, match="req"):
        rec.measurement(bad)
    with pytest.raises(ValueError, match="MAYBE"):
        rec.measurement(_measurement(verdict="MAYBE"))
    assert (rec.dir / "measurements.jsonl").read_bytes() == b""
    # keys beyond the standard ones are kept (e.g. a boolean expectation)
    rec.measurement(_measurement("serial-match", value=True, expect=True, limit_text="== label"))
    m = load_run(rec.dir).measurements
    assert m["expect"][0] and m["limit_text"][0] == "== label"
    assert list(m.columns[-2:]) == ["expect", "limit_text"]


def test_sample_blocks_are_checked_before_writing(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("scan", ["t", "v"])
    with pytest.raises(ValueError, match="2 columns"):
        s.append([(1.0, 2.0), (3.0,)])
    with pytest.raises(ValueError, match="line break"):
        s.append([(1.0, "a\nb")])
    with pytest.raises(TypeError):
        s.append([(1.0, [2.0])])  # type: ignore[list-item]
    assert s.path.read_text() == "t,v\n"
    with pytest.raises(ValueError, match="already exists"):
        rec.stream("scan", ["t"])
    with pytest.raises(ValueError):
        rec.stream("../escape", ["t"])


def test_trace_fsyncs_at_most_every_half_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    now = [1000.0]
    synced: list[int] = []
    real_fsync = os.fsync
    trace_fd = rec._trace.fileno()

    def counting_fsync(fd: int) -> None:
        if fd == trace_fd:
            synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(recording.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(recording.os, "fsync", counting_fsync)
    rec._trace_synced = now[0]
    for i in range(50):
        rec.trace({"event": "step", "i": i})
        now[0] += 0.04  # 2 s of events at 25 Hz
    assert 3 <= len(synced) <= 4
    assert (rec.dir / "trace.jsonl").read_text().count("\n") == 50  # flushed every call
    rec.sync()
    assert len(synced) in (4, 5)


def test_station_and_attachments(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    rec.save_station("station: SIM-01\n")
    rec.attach("limits.yaml", "version: '1.0.0'\n")
    rec.attach("plot.png", b"\x89PNG\r\n")
    assert (rec.dir / "station.yaml").read_text() == "station: SIM-01\n"
    assert (rec.dir / "limits.yaml").read_text() == "version: '1.0.0'\n"
    assert (rec.dir / "plot.png").read_bytes() == b"\x89PNG\r\n"
    for name in ("run.json", "../x", "samples", "limits.yaml"):
        with pytest.raises(ValueError):
            rec.attach(name, "x")


# --- directories and errors ---------------------------------------------------------------------
def test_run_dirs_are_unique_and_named_by_time_and_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = {RunRecorder.create(_meta(), tmp_path, now=NOW).dir for _ in range(20)}
    assert len(dirs) == 20
    for d in dirs:
        assert re.fullmatch(r"20260501T123045Z_SIM-D-0001_[0-9a-f]{6}", d.name)
    # a name that is already taken is never reused
    hexes = iter(["abcdef", "abcdef", "123456", "fedcba"])
    monkeypatch.setattr(recording.secrets, "token_hex", lambda n: next(hexes))
    first = RunRecorder.create(_meta(), tmp_path, now=NOW)
    second = RunRecorder.create(_meta(), tmp_path, now=NOW)
    assert first.dir.name.endswith("_abcdef") and second.dir.name.endswith("_123456")
    # a serial is made safe for a directory name
    odd = RunRecorder.create(_meta(unit_serial="A/B C"), tmp_path, now=NOW)
    assert odd.dir.parent == tmp_path and "_A-B-C_" in odd.dir.name


def test_unwritable_root_raises_recording_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(RecordingError, match=re.escape(str(not_a_dir))):
        RunRecorder.create(_meta(), not_a_dir / "runs", now=NOW)
    with pytest.raises(RecordingError, match=re.escape(str(not_a_dir))):
        RunRecorder.create(_meta(), not_a_dir, now=NOW)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_root_raises_recording_error(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(RecordingError, match=re.escape(str(root))):
            RunRecorder.create(_meta(), root, now=NOW)
    finally:
        root.chmod(0o700)


def test_permission_denied_names_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a read-only root does for a non-root user (the test may run as root)."""
    root = tmp_path / "runs"
    root.mkdir()

    def denied(self: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(RecordingError, match=re.escape(str(root)) + ".*Permission denied"):
        RunRecorder.create(_meta(), root, now=NOW)


def test_disk_full_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("scan", ["t"])

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(recording.os, "fsync", full)
    monkeypatch.setattr(recording, "SAMPLE_FSYNC_INTERVAL_S", 0.0)  # every block fsynced
    with pytest.raises(RecordingError, match=r"scan\.csv.*No space left") as info:
        s.append([(1.0,)])
    assert info.value.path == s.path
    with pytest.raises(RecordingError, match=r"measurements\.jsonl"):
        rec.measurement(_measurement())
    # The first failure is remembered, for the bench check and the run's close.
    assert rec.write_failure is not None
    assert rec.write_failure.startswith(f"{s.path}: cannot sync samples: No space left")


def test_sample_fsyncs_are_grouped_but_never_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks closer together than SAMPLE_FSYNC_INTERVAL_S share an fsync: the next block
    past the interval, sync() or the run's finish flushes them to the disk."""
    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    s = rec.stream("scan", ["t"])
    synced: list[int] = []
    real = recording.os.fsync
    monkeypatch.setattr(recording.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    monkeypatch.setattr(recording, "SAMPLE_FSYNC_INTERVAL_S", 3600.0)
    for i in range(50):
        s.append([(float(i),)])
    assert synced == []  # all 50 blocks are written to the OS, none fsynced yet
    assert s.path.read_text().count("\n") == 51  # a killed process would lose none
    rec.sync()
    assert len(synced) >= 1  # the stream (and the trace) went to the disk
    n = len(synced)
    rec.sync()  # nothing new: the stream is not fsynced again
    assert len(synced) == n + 1  # only the trace


def test_software_identity() -> None:
    ident = software_identity()
    assert ident.package == "cryorig" and ident.version
    if ident.git_commit is not None:  # running from a checkout
        assert re.fullmatch(r"[0-9a-f]{40}", ident.git_commit)
        assert isinstance(ident.git_dirty, bool)


def test_load_run_of_a_directory_without_run_json(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    run = load_run(tmp_path / "r")
    assert run.status == "INCOMPLETE" and run.meta == {} and run.samples == {}
    with pytest.raises(RecordingError):
        load_run(tmp_path / "missing")


def test_json_is_plain_text(tmp_path: Path) -> None:
    rec = RunRecorder.create(_meta(extra={"path": Path("/a"), "when": NOW}), tmp_path, now=NOW)
    doc = json.load(io.StringIO((rec.dir / "run.json").read_text()))
    assert doc["extra"] == {"path": "/a", "when": "2026-05-01T12:30:45+00:00"}


def test_a_pass_that_is_not_released_is_amended_to_error_keeping_the_pass(
    tmp_path: Path,
) -> None:
    """`cryorig run` turns a PASS without its certificate into ERROR on the MES line; the
    run's record said PASS all the same until run.json could be amended."""
    from rig.cli import _record_release_error
    from rig.recording import amend_status
    from rig.runner import RunOutcome

    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    rec.finish("PASS", requirements={"REQ-SENS-01": "PASS"})
    why = "no certificate issued: the reference is overdue"
    outcome = RunOutcome(
        "SN-1", "ERROR", {"REQ-SENS-01": "PASS"}, [], str(rec.dir), None, reason=why
    )
    _record_release_error(outcome, console=None, report=False)
    run = load_run(rec.dir)
    assert run.status == "ERROR" and run.meta["reason"] == why
    assert run.meta["amended"]["status"] == "PASS" and run.meta["amended"]["reason"] is None
    assert run.meta["requirements"] == {"REQ-SENS-01": "PASS"}
    with pytest.raises(ValueError, match="not one of"):
        amend_status(rec.dir, "MAYBE", "x")  # type: ignore[arg-type]


def test_a_run_still_running_is_not_amended(tmp_path: Path) -> None:
    from rig.recording import amend_status

    rec = RunRecorder.create(_meta(), tmp_path, now=NOW)
    with pytest.raises(ValueError, match="only a finished run is amended"):
        amend_status(rec.dir, "ERROR", "x")
    rec.finish("ERROR", reason="test over")
