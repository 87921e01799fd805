"""Acquisition: logger scans, supply read-back and the unit's own log, on one time base.

Everything the rig acquires flows through here on the clock's ticks (see
:mod:`rig.clock`): the logger's buffered timed scan is fetched in blocks with
``R?``, the supply current and voltage are read back, and the unit's 10 Hz log
and event log are paged in and placed on the rig's time base through ``CLOCK?``.
Each block goes to the run's journal as it arrives (append + fsync), so a killed
process loses nothing it had acquired, and stays in memory for the analysis.

A logger or supply that fails (no answer, a lost connection, a reply that does not
parse) ends its acquisition at once: :class:`AcquisitionError` is raised into the
step that is waiting, and into every wait after it, and the source is not asked
again, so the step ends in ERROR within one I/O timeout instead of computing its
figures over a hole in the record (a garbled ``R?`` block is gone from the logger's
memory for good). The unit's log is different: it stays in the unit, so a poll that
fails is simply repeated at the next one, and the steps that command the unit notice
a unit that stopped answering themselves (as does the check after every step,
:mod:`rig.health`).

Time base: rig clock seconds. Logger readings carry their time from the scan's
start, anchored at the rig time the ``INIT`` was confirmed; unit rows carry the
unit's milliseconds, anchored with a ``CLOCK?`` round trip (re-anchored when the
unit's clock restarts after a reset).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .clock import Clock
from .instruments import steps
from .instruments.errors import RigError, UnitTimeout

FATAL_SOURCES = ("logger", "supply")
"""Sources whose failure ends their acquisition (see the module docstring)."""

ANCHOR_ATTEMPTS = 10
"""``CLOCK?`` exchanges the clock anchor may take: a link that garbles 35 % of replies
(the catalog's noisy-link unit) fails ten in a row once in 36,000 anchors; three (one
exchange with the link's own retries) failed one anchor in 23, ending those runs in ERROR
before the plan could judge the link."""


class AcquisitionError(RigError):
    """A source of the record failed: the step that was waiting cannot be judged."""


class Stream(Protocol):
    def append(self, rows: Sequence[Sequence[Any]]) -> None: ...


class Journal(Protocol):
    def stream(self, name: str, columns: Sequence[str]) -> Stream: ...

    def trace(self, event: dict) -> None: ...


@dataclass(frozen=True)
class PollRates:
    """How often each source is read back (rig clock seconds)."""

    logger_s: float
    supply_s: float
    unit_s: float

    @property
    def tick_s(self) -> float:
        return min(self.logger_s, self.supply_s, self.unit_s)


@dataclass(frozen=True)
class ScanPlan:
    tc_channels: tuple[int, ...]
    volt_channels: tuple[int, ...]
    interval_s: float
    nplc: float = 0.2

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(sorted(self.tc_channels + self.volt_channels))


_TABLE_NAMES = ("logger", "supply", "unit_log", "unit_events")


@dataclass
class _Table:
    """Rows kept in memory for analysis, mirrored to a journal stream block by block."""

    columns: tuple[str, ...]
    stream: Stream | None
    rows: list[tuple] = field(default_factory=list)
    _journaled: int = 0

    def add(self, rows: list[tuple]) -> None:
        self.rows.extend(rows)

    def flush(self) -> None:
        """Append what is new to the journal as one block (one fsync)."""
        if self.stream is not None and self._journaled < len(self.rows):
            self.stream.append(self.rows[self._journaled :])
        self._journaled = len(self.rows)

    def frame(self):  # -> pandas.DataFrame (imported when asked for: it is slow to import)
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(self.columns))


class Acquisition:
    """Background acquisition driven by the clock; use :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        clock: Clock,
        journal: Journal | None,
        *,
        logger: Any,
        supply: Any,
        unit: Any | None = None,
        slow: PollRates | None = None,
        fast: PollRates | None = None,
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.logger = logger
        self.supply = supply
        self.unit = unit
        self.slow = slow or PollRates(logger_s=5.0, supply_s=1.0, unit_s=5.0)
        self.fast_rates = fast or PollRates(logger_s=1.0, supply_s=0.1, unit_s=1.0)
        self._rates = self.slow

        def table(name: str, cols: tuple[str, ...]) -> _Table:
            stream = journal.stream(name, cols) if journal is not None else None
            return _Table(cols, stream)

        self.logger_rows = table("logger", ("t_s", "channel", "value"))
        self.supply_rows = table("supply", ("t_s", "voltage_v", "current_a"))
        self.unit_log_rows = table("unit_log", ("t_s", "unit_ms", "reading_c", "valve"))
        self.unit_event_rows = table("unit_events", ("t_s", "unit_ms", "event", "detail"))
        self._tables = (
            self.logger_rows,
            self.supply_rows,
            self.unit_log_rows,
            self.unit_event_rows,
        )
        self._logger_cache = _TimeRows(3)
        self._unit_log_cache = _TimeRows(3)
        self._supply_cache = _TimeRows(3)
        self.scan: ScanPlan | None = None
        self._scan_t0 = 0.0
        self._next_logger = 0.0
        self._next_supply = 0.0
        self._next_unit = 0.0
        self._unit_anchor: tuple[float, int] | None = None
        self._unit_log_since = 0
        self._unit_event_seen: tuple[int, int] = (0, 0)
        """(ms of the newest event held, how many events at that ms are held): the unit
        logs several events in one millisecond, so paging restarts at that ms and skips
        the ones already held."""
        self.unit_online = False
        self.polling = False
        """True while a tick's polls run (their driver steps are routine, not traced)."""
        self._remove_hook = None
        self.problems: list[str] = []
        self.dead: dict[str, str] = {}
        """Sources whose acquisition ended on a failure, with the failure."""

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, scan: ScanPlan) -> None:
        self.set_scan(scan)
        self._remove_hook = self.clock.on_tick(self._tick)
        self._retick()

    @property
    def logger_poll_s(self) -> float:
        return self._rates.logger_s

    @property
    def supply_poll_s(self) -> float:
        return self._rates.supply_s

    @property
    def unit_poll_s(self) -> float:
        return self._rates.unit_s

    def fast(self, on: bool, *, supply_s: float | None = None) -> None:
        """Poll at the fast rates (treatments: valve current, short blocks) or the slow
        ones (waits: settling, where a block every few seconds is plenty); a treatment
        that does not judge the current may read the supply back less often."""
        rates = self.fast_rates if on else self.slow
        if on and supply_s is not None:
            rates = PollRates(rates.logger_s, supply_s, rates.unit_s)
        if on and self._rates is self.slow and self._unit_anchor is not None:
            # The unit's log is recorded from here (see poll_unit): start at "now".
            self._unit_log_since = max(self._unit_log_since, self._unit_ms_now())
        self._rates = rates
        now = self.clock.now()
        self._next_supply = min(self._next_supply, now + self.supply_poll_s)
        self._next_logger = min(self._next_logger, now + self.logger_poll_s)
        self._next_unit = min(self._next_unit, now + self.unit_poll_s)
        self._retick()

    def _retick(self) -> None:
        """The clock steps no longer than the most frequent poll needs."""
        self.clock.tick_s = self._rates.tick_s

    def stop(self) -> None:
        """The last block of every live source, then the journals flushed; never raises
        for a source (a dead one is not asked again: its failure is already recorded)."""
        if self._remove_hook is not None:
            self._remove_hook()
            self._remove_hook = None
        if "logger" not in self.dead:
            try:
                self.fetch_logger()
                if self.scan is not None:
                    self.logger.abort()
            except RigError as exc:
                self._problem(f"final logger fetch failed: {exc}")
        if self.unit_online:
            self._guard("unit", self.poll_unit)
        self.flush()

    def check(self) -> list[str]:
        """Read every source once now (a logger block, a supply read-back, the unit's
        events): the logger and supply failures, including sources already dead. Never
        raises: this is the check after a step that the bench still works, and the
        failures are its answer."""
        found = list(self.dead.values())
        polls = [("logger", self.fetch_logger), ("supply", self.poll_supply)]
        if self.unit_online and self.unit is not None and self._unit_anchor is not None:
            polls.append(("unit", self._poll_events))
        for what, fn in polls:
            if what in self.dead:
                continue
            source = getattr(self, what)
            failure = getattr(source, "link_failure", None) if what in FATAL_SOURCES else None
            if failure:  # it failed in the step's own hands and has not answered since
                self.dead[what] = text = f"{what} stopped answering: {failure}"
                self._problem(text)
                found.append(text)
                continue
            try:
                with steps.muted():
                    fn()
            except RigError as exc:
                text = f"{what} acquisition failed at t={self.clock.now():.3f} s: {exc}"
                self._problem(text)
                if what in FATAL_SOURCES:
                    self.dead[what] = text
                    found.append(text)
                # The unit's events are only recorded here; whether the unit answers is
                # the caller's question (rig.health asks it directly, more than once).
        with contextlib.suppress(RigError):
            self.flush()
        return found

    def unjournaled(self) -> dict[str, int]:
        """Rows held in memory that are not in their journal (nonzero only if a journal
        append failed): the record must hold everything the analysis saw."""
        out = {}
        for name, table in zip(_TABLE_NAMES, self._tables, strict=True):
            if table.stream is None:  # no journal at all (a bare acquisition in a test)
                out[name] = 0
                continue
            journaled = getattr(table.stream, "rows", table._journaled)
            out[name] = len(table.rows) - journaled
        return out

    def acquired(self) -> dict[str, int]:
        """Rows acquired per stream (in memory): the journals must hold as many."""
        return {n: len(t.rows) for n, t in zip(_TABLE_NAMES, self._tables, strict=True)}

    def set_scan(self, scan: ScanPlan) -> None:
        """(Re)start the logger's timed scan; what the old scan had is fetched first."""
        if self.scan is not None:
            self.fetch_logger()
            self.logger.abort()
            self.fetch_logger()
        self.logger.configure_scan(
            list(scan.tc_channels),
            list(scan.volt_channels),
            interval_s=scan.interval_s,
            count=None,
            nplc=scan.nplc,
        )
        self.logger.start()
        self._scan_t0 = self.clock.now()
        self.scan = scan
        self._next_logger = self._scan_t0 + self.logger_poll_s
        self._trace("scan", channels=list(scan.channels), interval_s=scan.interval_s)

    # --- polling ------------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        self.polling = True
        try:
            with steps.muted():  # routine polls: their data is the record, not the trace
                self._poll(now)
        finally:
            self.polling = False

    def _poll(self, now: float) -> None:
        for what in FATAL_SOURCES:
            # A wait that goes on after a source died would wait over a hole in the record
            # (and on a bench that cannot be trusted: a unit in FAULT behind a dead supply
            # never re-arms): every later wait ends at once, with the first failure.
            self._refuse_dead(what)
        if now >= self._next_logger:
            self._next_logger = now + self.logger_poll_s
            self._guard("logger", self.fetch_logger)
        if now >= self._next_supply:
            self._next_supply = now + self.supply_poll_s
            self._guard("supply", self.poll_supply)
        if self.unit_online and self.unit is not None and now >= self._next_unit:
            self._next_unit = now + self.unit_poll_s
            self._guard("unit", self.poll_unit)

    def _guard(self, what: str, fn: Any) -> None:
        try:
            fn()
        except RigError as exc:
            text = f"{what} acquisition failed at t={self.clock.now():.3f} s: {exc}"
            self._problem(text)
            if what in FATAL_SOURCES:
                # The record has a hole from here on: end this source and the step waiting.
                self.dead[what] = text
                raise AcquisitionError(text) from exc
            # The unit keeps its log: the next poll asks again from the same point.

    def _refuse_dead(self, what: str) -> None:
        """Not another I/O timeout for a source that already failed: its failure again."""
        if what in self.dead:
            raise AcquisitionError(
                f"{what} is not read since its acquisition ended: {self.dead[what]}"
            )

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        self._trace("acquisition_problem", detail=text)

    def _trace(self, kind: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.trace({"kind": kind, "t": self.clock.now(), **fields})

    def fetch_logger(self) -> int:
        """Fetch the logger's new readings; this is a block: everything acquired since the
        last one goes to the journal now (append + fsync per stream)."""
        self._refuse_dead("logger")
        readings = self.logger.fetch_new()
        t0 = self._scan_t0
        self.logger_rows.add([(t0 + r.t_s, int(r.channel), float(r.value)) for r in readings])
        self.flush()
        return len(readings)

    def flush(self) -> None:
        """Journal everything new as one block, then say so in the trace (the trace line
        is written after the rows are on disk, so it never claims more than is there)."""
        for table in self._tables:
            table.flush()
        self._trace(
            "block",
            rows={
                "logger": len(self.logger_rows.rows),
                "supply": len(self.supply_rows.rows),
                "unit_log": len(self.unit_log_rows.rows),
                "unit_events": len(self.unit_event_rows.rows),
            },
        )

    def poll_supply(self) -> None:
        self._refuse_dead("supply")
        now = self.clock.now()
        voltage, current = self.supply.measured_v_a  # one exchange for both
        self.supply_rows.add([(now, float(voltage), float(current))])

    def anchor_unit(self, attempts: int = ANCHOR_ATTEMPTS) -> None:
        """Tie the unit's millisecond clock to the rig's (call after every unit reset).

        One ``CLOCK?`` exchange at a time, each timed on its own, so the anchor is the
        midpoint of the exchange that was answered (not of three tries with timeouts
        between them), and up to ``attempts`` of them: a unit whose link garbles a third
        of its replies must still be brought up, so that the plan can judge its link
        (REQ-ID-01, ``identity.link_errors``) instead of the run ending in ERROR.
        """
        failures: list[str] = []
        for _ in range(attempts):
            before = self.clock.now()
            try:
                ms = self.unit.clock_ms(retries=0)
            except UnitTimeout as exc:
                failures.append(str(exc))
                continue
            after = self.clock.now()
            self._unit_anchor = (0.5 * (before + after), ms)
            self._unit_log_since = ms
            self._unit_event_seen = (0, 0)
            self.unit_online = True
            self._next_unit = after + self.unit_poll_s
            self._trace(
                "unit_anchor",
                rig_t=self._unit_anchor[0],
                unit_ms=ms,
                failed_attempts=len(failures),
            )
            return
        raise UnitTimeout(
            f"the unit's clock could not be read in {attempts} exchanges; the last: {failures[-1]}",
            role="unit",
            command="CLOCK?",
        )

    def _unit_ms_now(self) -> int:
        assert self._unit_anchor is not None
        t_rig, ms0 = self._unit_anchor
        return ms0 + int((self.clock.now() - t_rig) * 1000.0)

    def unit_time(self, ms: int) -> float:
        assert self._unit_anchor is not None
        t_rig, ms0 = self._unit_anchor
        return t_rig + (ms - ms0) / 1000.0

    def poll_unit(self) -> None:
        """The unit's events always; its 10 Hz log while polling fast (treatments).

        Between treatments the unit idles and its log is a flat line: paging it
        20 rows at a time would cost a transaction every 2 s of bench time for
        nothing, so the log is recorded from the moment fast polling starts.
        """
        if self._unit_anchor is None:
            return
        if self._rates is self.slow:
            self._poll_events()
            return
        rows = self.unit.all_log(self._unit_log_since)
        if rows:
            self.unit_log_rows.add(
                [(self.unit_time(r.ms), r.ms, r.reading_c, int(r.valve)) for r in rows]
            )
            self._unit_log_since = rows[-1].ms + 1
        self._poll_events()

    def _poll_events(self) -> None:
        last_ms, held = self._unit_event_seen
        events = self.unit.all_events(last_ms)  # oldest first, all with ms >= last_ms
        fresh = events[held:]
        if fresh:
            self.unit_event_rows.add(
                [(self.unit_time(e.ms), e.ms, e.name, e.detail) for e in fresh]
            )
            newest = fresh[-1].ms
            self._unit_event_seen = (newest, sum(1 for e in events if e.ms == newest))

    # --- views for analysis -------------------------------------------------------------------
    def _logger_array(self, t_from: float | None = None, t_to: float | None = None) -> np.ndarray:
        """Logger rows as an (n, 3) array (all, or those within [t_from, t_to]), kept up to
        date incrementally (rows only grow)."""
        rows = self.logger_rows.rows
        cached = self._logger_cache
        if len(cached) < len(rows):
            cached.extend(np.asarray(rows[len(cached) :], dtype=float).reshape(-1, 3))
        return cached.window(t_from, t_to)

    def channel(self, channel: int, t_from: float | None = None, t_to: float | None = None):
        """Time and value arrays of one logger channel, optionally within [t_from, t_to].

        Sorted by time, one sample per instant: when a scan is replaced the old scan's
        last reading and the new one's first can fall on the same instant.
        """
        arr = self._logger_array(t_from, t_to)
        if not arr.size:
            return np.zeros(0), np.zeros(0)
        sel = arr[:, 1] == channel
        t, v = arr[sel, 0], arr[sel, 2]
        t, first = np.unique(t, return_index=True)
        return t, v[first]

    def unit_log(self, t_from: float | None = None, t_to: float | None = None):
        """The unit's own 10 Hz log on the rig's time base: times, readings, valve flags."""
        rows = self.unit_log_rows.rows
        if not rows:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        cached = self._unit_log_cache
        if len(cached) < len(rows):
            fresh = [(r[0], r[2], r[3]) for r in rows[len(cached) :]]
            cached.extend(np.asarray(fresh, dtype=float).reshape(-1, 3))
        arr = cached.window(t_from, t_to).T.copy()  # the caller's own arrays, not views
        return arr[0], arr[1], arr[2]

    def unit_events(self, name: str, t_from: float | None = None) -> list[tuple[float, str]]:
        """(rig time, detail) of the unit's events called ``name``, from ``t_from`` on."""
        return [
            (t, detail)
            for t, _, event, detail in self.unit_event_rows.rows
            if event == name and (t_from is None or t >= t_from)
        ]

    def supply_series(self, t_from: float | None = None, t_to: float | None = None):
        """Time and current arrays of the supply's read-backs, optionally within [t_from, t_to]."""
        rows = self.supply_rows.rows
        if not rows:
            return np.zeros(0), np.zeros(0)
        cached = self._supply_cache
        if len(cached) < len(rows):
            cached.extend(np.asarray(rows[len(cached) :], dtype=float).reshape(-1, 3))
        arr = cached.window(t_from, t_to)
        return arr[:, 0].copy(), arr[:, 2].copy()  # the caller's own arrays, not views


class _TimeRows:
    """Rows of floats whose first column is a time, in an array that grows in place.

    Used for the logger's readings, the unit's 10 Hz log and the supply's read-backs. The
    settling loops ask for the last few seconds of a channel every control period; with
    every reading of the run in one array (10^5 rows by the end of a plan) a mask over all
    of it cost more than the rest of the rig's loop. While the times arrive in order (the
    logger's do: sweeps in time order, channels in scan order) a window is two binary
    searches; should a block ever arrive out of order, windows fall back to the mask, with
    the same result.
    """

    def __init__(self, width: int) -> None:
        self._buf = np.zeros((1024, width))
        self._n = 0
        self.ordered = True

    def __len__(self) -> int:
        return self._n

    def extend(self, fresh: np.ndarray) -> None:
        n, k = self._n, len(fresh)
        if not k:
            return
        if n + k > len(self._buf):
            grown = np.zeros((max(2 * len(self._buf), n + k), self._buf.shape[1]))
            grown[:n] = self._buf[:n]
            self._buf = grown
        self._buf[n : n + k] = fresh
        t = self._buf[max(n - 1, 0) : n + k, 0]
        self.ordered = self.ordered and bool(np.all(t[1:] >= t[:-1]))
        self._n = n + k

    def window(self, t_from: float | None, t_to: float | None) -> np.ndarray:
        """Rows with t_from <= t <= t_to (either bound may be None), in arrival order."""
        rows = self._buf[: self._n]
        if t_from is None and t_to is None:
            return rows
        t = rows[:, 0]
        if self.ordered:
            lo = 0 if t_from is None else int(np.searchsorted(t, t_from, side="left"))
            hi = self._n if t_to is None else int(np.searchsorted(t, t_to, side="right"))
            return rows[lo:hi]
        sel = np.ones(self._n, dtype=bool)
        if t_from is not None:
            sel &= t >= t_from
        if t_to is not None:
            sel &= t <= t_to
        return rows[sel]
