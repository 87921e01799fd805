"""Loss-proof run recording: everything a run measured survives the process being killed.

A run is one directory under the output root (``./runs`` by default) named
``<UTC yyyymmddTHHMMSSZ>_<serial>_<6 hex>``, never reused. What goes in it, and why
it is written the way it is:

* ``run.json``: the run's identity and verdict. Written atomically (temporary file,
  fsync, rename, fsync of the directory) at creation with ``status: RUNNING`` and
  again at :meth:`RunRecorder.finish`, so a reader sees either the old or the new
  document, never half of one. A run.json still saying RUNNING means the process
  died: :func:`load_run` reports it as ``INCOMPLETE``.
* ``samples/<name>.csv``: the primary, append-only journal of a sample stream.
  Every block is written and flushed to the operating system before
  :meth:`SampleStream.append` returns, so a SIGKILL loses nothing already appended,
  and fsynced at once unless the stream's last fsync is under 0.25 s old (a power
  cut, as far as the disk honours fsync, can cost at most that much wall time of
  blocks; on a real bench blocks are seconds apart and each is fsynced); at worst
  the last line of the block being written is torn, and the reader drops it.
  Floats are written with ``repr``, which Python guarantees to read back to the
  identical double.
* ``samples/<name>.parquet``: a typed, compact copy made at ``finish()``; it is
  written to a temporary name and renamed, so it is complete when it exists.
* ``measurements.jsonl``: one JSON line per verdict-bearing measurement, fsynced
  (each is evidence for a requirement).
* ``trace.jsonl``: steps, test starts and ends, errors; flushed per event, fsynced
  at most every 0.5 s (or on :meth:`RunRecorder.sync`) because it is chatty and
  only diagnostic.
* ``station.yaml`` and attachments (e.g. a copy of the limits file).

The recorder is used from one thread. Any failure to write (disk full, permission,
a root that is not a directory) raises :class:`RecordingError` naming the file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .shared.durable import fsync_dir

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "DEFAULT_ROOT",
    "MEASUREMENT_FIELDS",
    "RecordingError",
    "RunData",
    "RunMetadata",
    "RunRecorder",
    "SampleStream",
    "SoftwareIdentity",
    "amend_status",
    "load_run",
    "software_identity",
]

DEFAULT_ROOT = Path("runs")
FORMAT = "cryorig-run/1"
TRACE_FSYNC_INTERVAL_S = 0.5
SAMPLE_FSYNC_INTERVAL_S = 0.25
"""A power cut can cost at most the sample blocks of this much wall time (a killed
process costs nothing: every block is written to the OS before ``append`` returns)."""

RunStatus = Literal["PASS", "FAIL", "ERROR"]
LoadedStatus = Literal["PASS", "FAIL", "ERROR", "INCOMPLETE"]
_FINAL = ("PASS", "FAIL", "ERROR")
_REQ_VERDICTS = ("PASS", "FAIL", "ERROR", "NOT_RUN")
_MEAS_VERDICTS = ("PASS", "FAIL", "ERROR")

MEASUREMENT_FIELDS = ("name", "req", "value", "unit", "low", "high", "verdict", "test", "t")
"""Required fields of a measurement record, in column order."""
MEASUREMENT_OPTIONAL = ("uncertainty", "coverage_factor", "notes")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RESERVED = {"run.json", "measurements.jsonl", "trace.jsonl", "station.yaml", "samples"}


class RecordingError(RuntimeError):
    """Writing the run record failed; ``path`` is the file that could not be written."""

    def __init__(self, path: Path | str, action: str, cause: BaseException | None = None) -> None:
        self.path = Path(path)
        detail = ""
        if isinstance(cause, OSError):
            detail = f": {cause.strerror or cause}"
        elif cause is not None:
            detail = f": {cause}"
        super().__init__(f"{self.path}: cannot {action}{detail}")


# --- software identity -------------------------------------------------------------------------
@dataclass(frozen=True)
class SoftwareIdentity:
    """Which software produced a run: the package version and, when the rig runs from
    a git checkout, the commit and whether the working tree differed from it."""

    package: str
    version: str | None
    git_commit: str | None
    git_dirty: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git(args: list[str], cwd: Path) -> str | None:
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never take the index lock others may be using
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def software_identity() -> SoftwareIdentity:
    """The ``cryorig`` version and the source checkout's HEAD + dirty flag (None if the
    package is not installed from a git checkout or git is unavailable)."""
    from importlib import metadata

    try:
        version: str | None = metadata.version("cryorig")
    except metadata.PackageNotFoundError:
        version = None
    source = Path(__file__).resolve().parents[1]
    commit: str | None = None
    dirty: bool | None = None
    top = _git(["rev-parse", "--show-toplevel"], source)
    if top is not None and Path(top.strip()).resolve() == source:
        head = _git(["rev-parse", "HEAD"], source)
        status = _git(["status", "--porcelain"], source)
        if head is not None:
            commit = head.strip()
            dirty = bool(status.strip()) if status is not None else None
    return SoftwareIdentity("cryorig", version, commit, dirty)


# --- file helpers ------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, whole."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RecordingError(path, "write", exc) from exc
    fsync_dir(path.parent)


def _json_default(value: Any) -> Any:
    """JSON for what runs carry besides plain types: numpy scalars, paths, dates."""
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return value.as_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, default=_json_default, ensure_ascii=False, **kw)


def _utc_iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: Any, where: str) -> str:
    """One CSV cell. Floats as ``repr`` (exact round trip); one row must stay one line."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ValueError(f"{where}: text cells cannot contain line breaks: {value!r}")
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _cell(value.item(), where)
    raise TypeError(f"{where}: cells are float, int or str, not {type(value).__name__}")


def _fast_line(row: Sequence[Any]) -> str | None:
    """The CSV line of an all-numeric row (the common case), None for anything else.

    Same text as the csv module would write for it; numeric rows need no quoting.
    """
    cells = []
    for v in row:
        t = type(v)
        if t is float:
            cells.append(repr(v))
        elif t is int:
            cells.append(str(v))
        else:
            return None
    return ",".join(cells) + "\n"


def _complete_lines(data: bytes) -> list[str]:
    """The lines of a journal, without a torn last line (no newline yet)."""
    end = data.rfind(b"\n")
    if end < 0:
        return []
    return data[: end + 1].decode("utf-8", errors="replace").splitlines()


# --- metadata ----------------------------------------------------------------------------------
@dataclass
class RunMetadata:
    """What run.json says about a run from the start (and keeps if the run dies).

    ``instruments`` is typically :func:`rig.station.station_record` (instruments with
    their calibration status); ``deviations`` e.g. QA calibration overrides.
    ``software`` and ``command_line`` are filled in when left as None.
    """

    unit_serial: str
    station: str | None = None
    site: str | None = None
    operator: str | None = None
    seed: int | None = None
    limits: dict[str, Any] | None = None
    """``{"file": ..., "version": ...}`` (plus a hash if the caller has one)."""
    profile: str | None = None
    retest_of: str | None = None
    instruments: dict[str, Any] = field(default_factory=dict)
    deviations: list[Any] = field(default_factory=list)
    software: dict[str, Any] | None = None
    command_line: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- streams -----------------------------------------------------------------------------------
class SampleStream:
    """An append-only CSV journal of samples; every block is on disk when append returns."""

    def __init__(
        self,
        path: Path,
        name: str,
        columns: Sequence[str],
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.columns = tuple(columns)
        self.rows = 0
        self._on_failure = on_failure
        """Told of every write that fails (the recorder keeps the first: a run whose
        record has a hole cannot PASS)."""
        self._closed = False
        self._dirty = False
        self._synced = time.monotonic()
        header = self._line(self.columns, "header")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            self._file = os.fdopen(fd, "wb")
            self._file.write(header.encode("utf-8"))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise RecordingError(path, "create sample stream", exc) from exc
        fsync_dir(path.parent)

    @staticmethod
    def _line(cells: Sequence[str], where: str) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        line = buf.getvalue()
        if line.count("\n") != 1:
            raise ValueError(f"{where}: a row must stay on one line")
        return line

    def append(self, rows: Sequence[Sequence[float | int | str]]) -> None:
        """Append one block of rows: in the operating system's hands when this returns (a
        killed process loses none of it), and on the disk (fsync) at once unless the last
        fsync of this stream is less than ``SAMPLE_FSYNC_INTERVAL_S`` old; then with the
        next block, :meth:`sync` or the run's finish. On a real bench blocks come seconds
        apart and every one is fsynced on its own; the simulated bench makes hundreds per
        wall second, which then share an fsync (each costs milliseconds on this disk).

        The whole block is checked first (row length, cell types), so a bad row writes
        nothing.
        """
        if self._closed:
            raise ValueError(f"{self.path}: stream {self.name!r} is closed (run finished)")
        n = len(self.columns)
        parts = []
        for i, row in enumerate(rows):
            if len(row) != n:
                where = f"{self.path} row {self.rows + i}"
                raise ValueError(f"{where}: {len(row)} values for {n} columns {self.columns}")
            fast = _fast_line(row)
            if fast is None:
                where = f"{self.path} row {self.rows + i}"
                fast = self._line([_cell(v, where) for v in row], where)
            parts.append(fast)
        if not parts:
            return
        try:
            self._file.write("".join(parts).encode("utf-8"))
            self._file.flush()
            self._dirty = True
            if time.monotonic() - self._synced >= SAMPLE_FSYNC_INTERVAL_S:
                self.sync()
        except OSError as exc:
            raise self._failed("append samples", exc) from exc
        self.rows += len(parts)

    def sync(self) -> None:
        """fsync what was appended since the last one (a no-op when nothing was)."""
        if self._dirty and not self._closed:
            try:
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise self._failed("sync samples", exc) from exc
            self._dirty = False
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._closed:
            return
        self.sync()
        self._closed = True
        try:
            self._file.close()
        except OSError as exc:
            raise self._failed("close sample stream", exc) from exc

    def _failed(self, action: str, exc: OSError) -> RecordingError:
        err = RecordingError(self.path, action, exc)
        if self._on_failure is not None:
            self._on_failure(str(err))
        return err


def _exact_floats() -> dict[str, Any]:
    """pandas < 3 parses floats with a fast, not always exact, routine unless asked; pandas 3
    parses exactly by default (and deprecates the option)."""
    import pandas as pd

    return {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _read_stream_csv(path: Path) -> pd.DataFrame:
    """A CSV journal as a DataFrame, dropping a torn last line; floats read exactly."""
    import pandas as pd

    lines = _complete_lines(path.read_bytes())
    if not lines:
        return pd.DataFrame()
    text = "\n".join(lines) + "\n"
    return pd.read_csv(
        io.StringIO(text),
        keep_default_na=False,
        na_values=["nan", "-nan", "NaN"],
        **_exact_floats(),
    )


def _stream_table(path: Path, columns: Sequence[str]) -> pa.Table:
    """A CSV journal as an Arrow table, for its Parquet copy: the same values and types as
    :func:`_read_stream_csv` gives (the tests hold them equal), without pandas, which the
    station's process then never imports (0.4 s a run).

    Arrow parses floats correctly rounded, as pandas' round-trip parser does; ``nan`` and
    ``inf`` are numbers, not missing values (no null markers at all: an empty text field
    is the empty string, as the journal wrote it)."""
    import csv

    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    lines = _complete_lines(path.read_bytes())
    if len(lines) < 2:  # no row: the columns, as floats (what pandas makes of them)
        names = next(csv.reader(lines[:1]), None) or list(columns)
        return pa.table({c: pa.array([], type=pa.float64()) for c in names})
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return arrow_csv.read_csv(
        io.BytesIO(data),
        convert_options=arrow_csv.ConvertOptions(
            null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def _count_csv_rows(path: Path) -> int:
    return max(len(_complete_lines(path.read_bytes())) - 1, 0)


# --- recorder ----------------------------------------------------------------------------------
class RunRecorder:
    """Writes one run's directory. Create with :meth:`create`; end with :meth:`finish`.

    As a context manager, an exception (or leaving without a verdict) finishes the
    run as ERROR, so a crash inside the run still leaves a closed record.
    """

    def __init__(self, run_dir: Path, meta: dict[str, Any]) -> None:
        self.dir = run_dir
        self.run_id = run_dir.name
        self.meta = meta
        self._streams: dict[str, SampleStream] = {}
        self._finished = False
        self._measurements = self._open_append(run_dir / "measurements.jsonl")
        self._trace = self._open_append(run_dir / "trace.jsonl")
        self._trace_synced = time.monotonic()
        self._verdicts = dict.fromkeys(_MEAS_VERDICTS, 0)
        self._failure: str | None = None

    # --- creation ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        meta: RunMetadata,
        root: str | Path = DEFAULT_ROOT,
        *,
        now: _dt.datetime | None = None,
    ) -> RunRecorder:
        """Make a fresh run directory and write run.json (status RUNNING)."""
        started = now or _dt.datetime.now(_dt.UTC)
        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(root, "create the output root", exc) from exc
        if not root.is_dir():
            raise RecordingError(root, "use the output root: not a directory")
        stamp = started.astimezone(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        serial = re.sub(r"[^A-Za-z0-9.-]+", "-", meta.unit_serial).strip("-.") or "unknown"
        run_dir: Path | None = None
        for _ in range(100):
            candidate = root / f"{stamp}_{serial}_{secrets.token_hex(3)}"
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RecordingError(candidate, "create the run directory", exc) from exc
            run_dir = candidate
            break
        if run_dir is None:
            raise RecordingError(root, "find an unused run directory name")
        try:
            (run_dir / "samples").mkdir()
        except OSError as exc:
            raise RecordingError(run_dir / "samples", "create directory", exc) from exc
        fsync_dir(root)

        data = asdict(meta)
        if data["software"] is None:
            data["software"] = software_identity().as_dict()
        if data["command_line"] is None:
            data["command_line"] = list(sys.argv)
        doc = {
            "format": FORMAT,
            "run_id": run_dir.name,
            "status": "RUNNING",
            "started": _utc_iso(started),
            "finished": None,
            **data,
            "reason": None,
            "requirements": {},
            "counts": {},
        }
        recorder = cls(run_dir, doc)
        recorder._write_meta()
        return recorder

    # --- writing -----------------------------------------------------------------------------
    def _open_append(self, path: Path) -> Any:
        try:
            return open(path, "ab")  # kept open for the run's lifetime
        except OSError as exc:
            raise RecordingError(path, "create", exc) from exc

    def _write_meta(self) -> None:
        _write_run_json(self.dir, self.meta)

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError(f"{self.dir}: the run is finished; nothing more can be recorded")

    def stream(self, name: str, columns: Sequence[str]) -> SampleStream:
        """Start ``samples/<name>.csv`` with a header line of ``columns``."""
        self._check_open()
        if not _NAME_RE.match(name):
            raise ValueError(f"stream name {name!r}: letters, digits, '_', '.', '-' only")
        if name in self._streams:
            raise ValueError(f"{self.dir}: stream {name!r} already exists in this run")
        if not columns or len(set(columns)) != len(columns):
            raise ValueError(f"stream {name!r}: columns must be non-empty and unique: {columns}")
        s = SampleStream(self.dir / "samples" / f"{name}.csv", name, columns, self._note_failure)
        self._streams[name] = s
        return s

    def measurement(self, record: Mapping[str, Any]) -> None:
        """Append one measurement to measurements.jsonl and fsync it (it is evidence).

        Fields :data:`MEASUREMENT_FIELDS` are required, ``uncertainty`` and ``notes``
        optional; further keys (e.g. a boolean ``expect``, a ``limit_text``) are kept,
        after the standard ones.
        """
        self._check_open()
        missing = [k for k in MEASUREMENT_FIELDS if k not in record]
        if missing:
            raise ValueError(f"measurement {record.get('name')!r}: missing fields {missing}")
        if record["verdict"] not in _MEAS_VERDICTS:
            raise ValueError(
                f"measurement {record['name']!r}: verdict {record['verdict']!r} "
                f"is not one of {_MEAS_VERDICTS}"
            )
        known = MEASUREMENT_FIELDS + MEASUREMENT_OPTIONAL
        ordered = {k: record[k] for k in known if k in record}
        ordered.update((k, v) for k, v in record.items() if k not in known)
        path = self.dir / "measurements.jsonl"
        line = _dumps(ordered) + "\n"
        try:
            self._measurements.write(line.encode("utf-8"))
            self._measurements.flush()
            os.fsync(self._measurements.fileno())
        except OSError as exc:
            raise self._failed(RecordingError(path, "append a measurement", exc)) from exc
        self._verdicts[record["verdict"]] += 1

    @property
    def write_failure(self) -> str | None:
        """The first write of this record that failed (trace, measurement or samples), or
        None. A run whose record has a hole cannot PASS: the bench check after a step
        (:mod:`rig.health`) ends the run on it, and the close says it."""
        return self._failure

    def _note_failure(self, text: str) -> None:
        self._failure = self._failure or text

    def _failed(self, err: RecordingError) -> RecordingError:
        self._note_failure(str(err))
        return err

    def trace(self, event: Mapping[str, Any]) -> None:
        """Append an event to trace.jsonl (``wall`` = UTC time added if absent); flushed
        now, fsynced at most every 0.5 s."""
        self._check_open()
        doc = dict(event)
        doc.setdefault("wall", _utc_iso(_dt.datetime.now(_dt.UTC)))
        try:
            self._trace.write((_dumps(doc) + "\n").encode("utf-8"))
            self._trace.flush()
            if time.monotonic() - self._trace_synced >= TRACE_FSYNC_INTERVAL_S:
                os.fsync(self._trace.fileno())
                self._trace_synced = time.monotonic()
        except OSError as exc:  # the path built only here: 4,000+ events a run
            err = RecordingError(self.dir / "trace.jsonl", "append a trace event", exc)
            raise self._failed(err) from exc

    def sync(self) -> None:
        """Force the trace and every sample stream to disk now (measurements always are)."""
        for stream in self._streams.values():
            stream.sync()
        path = self.dir / "trace.jsonl"
        try:
            self._trace.flush()
            os.fsync(self._trace.fileno())
        except OSError as exc:
            raise RecordingError(path, "sync", exc) from exc
        self._trace_synced = time.monotonic()

    def save_station(self, yaml_text: str) -> Path:
        """Store the station file the run used (``station.yaml``)."""
        self._check_open()
        path = self.dir / "station.yaml"
        _atomic_write(path, yaml_text.encode("utf-8"))
        return path

    def attach(self, name: str, data: bytes | str) -> Path:
        """Store another artifact (e.g. ``limits.yaml``) in the run directory; names are
        plain file names, never the record's own files, and are never overwritten."""
        self._check_open()
        if not _NAME_RE.match(name) or name in _RESERVED or name.startswith("."):
            raise ValueError(f"attachment name {name!r}: a plain file name, not a record file")
        path = self.dir / name
        if path.exists():
            raise ValueError(f"{path}: an attachment of that name already exists")
        _atomic_write(path, data.encode("utf-8") if isinstance(data, str) else bytes(data))
        return path

    def document(self, name: str, data: bytes | str) -> Path:
        """Write or rewrite a document of the run (e.g. ``calibration.json``, which the
        calibration rewrites as each phase completes, so an aborted calibration leaves
        what it had found). Atomic: a reader sees the old or the new document, whole."""
        self._check_open()
        if not _NAME_RE.match(name) or name in _RESERVED or name.startswith("."):
            raise ValueError(f"document name {name!r}: a plain file name, not a record file")
        path = self.dir / name
        _atomic_write(path, data.encode("utf-8") if isinstance(data, str) else bytes(data))
        return path

    def annotate(self, **fields: Any) -> None:
        """Add or replace top-level fields of run.json while the run is open (e.g. the faults
        injected on the simulated bench, which a reader of an ERROR run must see at once);
        run.json is rewritten atomically now. The fields the recorder owns are refused."""
        self._check_open()
        owned = {"format", "run_id", "status", "started", "finished", "reason"}
        owned |= {"requirements", "counts", "recording_errors"}
        clash = sorted(owned & fields.keys())
        if clash:
            raise ValueError(f"run.json fields {clash} are the recorder's own")
        self.meta.update(fields)
        self._write_meta()

    # --- finishing ---------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._finished

    def finish(
        self,
        status: RunStatus,
        reason: str | None = None,
        requirements: Mapping[str, str] | None = None,
        counts: Mapping[str, Any] | None = None,
    ) -> None:
        """Close the streams, write their Parquet copies and the final run.json.

        ``requirements`` maps REQ IDs to PASS/FAIL/ERROR/NOT_RUN. A PASS with a FAIL or
        ERROR requirement is a contradiction and refused (the run stays open); NOT_RUN
        requirements are recorded as they are (the caller decides whether a partial run
        may pass; ``counts.requirements.NOT_RUN`` shows it). If a
        Parquet copy cannot be written the verdict is still recorded (the CSV journal
        is the primary copy), then RecordingError is raised.
        """
        self._check_open()
        if status not in _FINAL:
            raise ValueError(f"run status {status!r} is not one of {_FINAL}")
        reqs = dict(requirements or {})
        bad = {k: v for k, v in reqs.items() if v not in _REQ_VERDICTS}
        if bad:
            raise ValueError(f"requirement verdicts must be one of {_REQ_VERDICTS}: {bad}")
        contradicting = {k: v for k, v in reqs.items() if v in ("FAIL", "ERROR")}
        if status == "PASS" and contradicting:
            raise ValueError(f"a run cannot PASS with requirements {contradicting}")
        self._finished = True
        errors: list[RecordingError] = []
        for s in self._streams.values():
            try:
                s.close()
                self._write_parquet(s)
            except RecordingError as exc:
                errors.append(exc)
        for f in (self._measurements, self._trace):
            try:
                f.flush()
                os.fsync(f.fileno())
                f.close()
            except OSError as exc:
                errors.append(RecordingError(f.name, "close", exc))
        req_counts = {v: sum(1 for x in reqs.values() if x == v) for v in _REQ_VERDICTS}
        all_counts: dict[str, Any] = {
            "measurements": {**self._verdicts, "total": sum(self._verdicts.values())},
            "requirements": req_counts,
            "samples": {name: s.rows for name, s in self._streams.items()},
        }
        all_counts.update(counts or {})
        self.meta.update(
            status=status,
            finished=_utc_iso(_dt.datetime.now(_dt.UTC)),
            reason=reason,
            requirements=reqs,
            counts=all_counts,
        )
        if errors:
            self.meta["recording_errors"] = [str(e) for e in errors]
        self._write_meta()
        if errors:
            raise errors[0]

    def _write_parquet(self, s: SampleStream) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = s.path.with_suffix(".parquet")
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            pq.write_table(_stream_table(s.path, s.columns), tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except (OSError, pa.ArrowException, ValueError) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RecordingError(target, "write the Parquet copy", exc) from exc
        fsync_dir(target.parent)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._finished:
            return
        if exc is not None:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "the run ended without a verdict"
        self.finish("ERROR", reason=reason)


def amend_status(run_dir: str | Path, status: RunStatus, reason: str) -> None:
    """Change a finished run's verdict afterwards, keeping the one it replaces.

    The station decides a unit's release after the plan: a PASS whose calibration
    certificate could not be issued does not leave the line, so the MES line says ERROR,
    and run.json must say the same. The plan's own verdict and reason are kept under
    ``amended`` with the time and why. Rewritten atomically, like every run.json.
    """
    if status not in _FINAL:
        raise ValueError(f"run status {status!r} is not one of {_FINAL}")
    path = Path(run_dir) / "run.json"
    meta = _read_run_json(path)
    if meta.get("status") not in _FINAL:
        raise ValueError(f"{path}: status {meta.get('status')!r}: only a finished run is amended")
    meta["amended"] = {
        "status": meta["status"],
        "reason": meta.get("reason"),
        "at": _utc_iso(_dt.datetime.now(_dt.UTC)),
    }
    meta.update(status=status, reason=reason)
    _write_run_json(path.parent, meta)


def _write_run_json(run_dir: Path, meta: Mapping[str, Any]) -> None:
    _atomic_write(run_dir / "run.json", (_dumps(meta, indent=2) + "\n").encode())


def _read_run_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordingError(path, "read", exc) from exc


# --- reading -----------------------------------------------------------------------------------
@dataclass
class RunData:
    """A run as read back from disk, whether it finished or was killed."""

    path: Path
    meta: dict[str, Any]
    status: LoadedStatus
    samples: dict[str, pd.DataFrame]
    measurements: pd.DataFrame
    trace: list[dict[str, Any]]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """JSON lines, tolerating a torn last line (and skipping none other silently)."""
    if not path.exists():
        return []
    out = []
    lines = _complete_lines(path.read_bytes())
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise RecordingError(path, f"parse line {i + 1}", exc) from exc
    return out


def _iter_streams(samples_dir: Path) -> Iterator[tuple[str, Path]]:
    if samples_dir.is_dir():
        for csv_path in sorted(samples_dir.glob("*.csv")):
            yield csv_path.stem, csv_path


def _load_stream(csv_path: Path) -> pd.DataFrame:
    """From Parquet when present and complete (same row count as the journal), else CSV."""
    parquet = csv_path.with_suffix(".parquet")
    if parquet.exists():
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(parquet)
            if table.num_rows == _count_csv_rows(csv_path):
                return table.to_pandas()
        except Exception:  # a damaged copy: fall back to the journal
            pass
    return _read_stream_csv(csv_path)


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory; a run whose run.json still says RUNNING is INCOMPLETE."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        meta = _read_run_json(meta_path)
    elif not run_dir.is_dir():
        raise RecordingError(run_dir, "read the run: no such directory")
    status: LoadedStatus = meta.get("status") if meta.get("status") in _FINAL else "INCOMPLETE"
    samples = {name: _load_stream(p) for name, p in _iter_streams(run_dir / "samples")}
    rows = _read_jsonl(run_dir / "measurements.jsonl")
    columns = list(MEASUREMENT_FIELDS) + list(MEASUREMENT_OPTIONAL)
    columns += sorted({k for r in rows for k in r} - set(columns))
    import pandas as pd

    measurements = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    trace = _read_jsonl(run_dir / "trace.jsonl")
    return RunData(run_dir, meta, status, samples, measurements, trace)
