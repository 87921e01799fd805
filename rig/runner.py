"""``cryorig run``: the station's one command — the whole EOL plan on one unit.

It runs the test plans with pytest underneath (the same plugin, the same record),
shows each step with live temperatures and a progress bar, ends with a large
PASS / FAIL / ERROR and the failing requirements, renders the HTML EOL report,
and exits 0 / 1 / 2. With ``--json`` the last line of stdout is one JSON object
for the line's MES. A retest of a unit whose last run did not pass is linked to
that run.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.align import Align
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .runbook import ERROR, FAIL, PASS, reason_lines

if TYPE_CHECKING:
    from .publish import CertificateResult, Publisher

PLAN_DIR = Path(__file__).resolve().parents[1] / "test_plans"
EXIT = {PASS: 0, FAIL: 1, ERROR: 2}
COLOURS = {PASS: "bold white on green", FAIL: "bold white on red", ERROR: "bold black on yellow"}

_BIG = {
    "P": ["████ ", "█   █", "████ ", "█    ", "█    "],
    "A": [" ███ ", "█   █", "█████", "█   █", "█   █"],
    "S": [" ████", "█    ", " ███ ", "    █", "████ "],
    "F": ["█████", "█    ", "████ ", "█    ", "█    "],
    "I": ["█████", "  █  ", "  █  ", "  █  ", "█████"],
    "L": ["█    ", "█    ", "█    ", "█    ", "█████"],
    "E": ["█████", "█    ", "████ ", "█    ", "█████"],
    "R": ["████ ", "█   █", "████ ", "█  █ ", "█   █"],
    "O": [" ███ ", "█   █", "█   █", "█   █", " ███ "],
}


def big_word(word: str) -> str:
    """The verdict in block letters: an operator reads it from across the line."""
    return "\n".join("  ".join(_BIG[c][row] for c in word) for row in range(5))


@dataclass
class RunOutcome:
    serial: str
    verdict: str
    requirements: dict[str, str]
    failed: list[str]
    run_dir: str | None
    retest_of: str | None
    report: str | None = None
    certificate: dict[str, str] | None = None
    """Paths of the calibration certificate (pdf, html, manifest) when one was issued."""
    certificate_note: str | None = None
    """Why no certificate was issued, when the run calibrated but none was."""
    reason: str | None = None
    wall_s: float = 0.0
    virtual_s: float | None = None
    tests: list[dict[str, Any]] = field(default_factory=list)

    def mes(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "verdict": self.verdict,
            "requirements": self.requirements,
            "failed": self.failed,
            "run_dir": self.run_dir,
            "retest_of": self.retest_of,
            "reason": self.reason if self.verdict != PASS else None,
        }


def previous_run(out: Path, serial: str) -> tuple[str, str] | None:
    """(run id, status) of the newest earlier run of ``serial`` under ``out``."""
    if not out.is_dir():
        return None
    best: tuple[str, str] | None = None
    for meta in out.glob("*/run.json"):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("unit_serial") != serial:
            continue
        run_id = data.get("run_id") or meta.parent.name
        status = data.get("status", "RUNNING")
        status = "INCOMPLETE" if status == "RUNNING" else status
        if best is None or run_id > best[0]:
            best = (run_id, status)
    return best


class LiveView:
    """A pytest plugin that draws the run with Rich instead of pytest's own output."""

    def __init__(
        self,
        console: Console,
        serial: str,
        enabled: bool = True,
        title: str = "EOL plan",
        on_test_end: Callable[[str], None] | None = None,
    ) -> None:
        self.console = console
        self.on_test_end = on_test_end
        """Called with the run directory after each test (e.g. to draw its figures)."""
        self.serial = serial
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(title, total=1)
        self.title = title
        self.step = "bringing the bench up"
        self.results: list[tuple[str, str]] = []
        self.temps: dict[str, float] = {}
        self.t_virtual = 0.0
        self.live: Live | None = None
        self._last_draw = 0.0
        self._hooked = False
        self.session: Any = None

    # --- rendering ----------------------------------------------------------------------------
    def _panel(self) -> Group:
        t = Table.grid(padding=(0, 2))
        t.add_row("unit", self.serial, "bench time", f"{self.t_virtual:8.1f} s")
        labels = (("ref", "ref surface"), ("plate", "plate"), ("reading", "unit reading"))
        for key, label in labels:
            v = self.temps.get(key)
            t.add_row(label, "—" if v is None else f"{v:6.2f} °C", "", "")
        steps = Table.grid(padding=(0, 1))
        for name, verdict in self.results[-8:]:
            style = {"PASS": "green", "FAIL": "red", "ERROR": "yellow"}.get(verdict, "white")
            steps.add_row(Text(verdict, style=style), name)
        steps.add_row(Text("…", style="cyan"), self.step)
        return Group(self.progress, Panel(Group(t, steps), title=f"cryorig: {self.title}"))

    def _draw(self, force: bool = False) -> None:
        if self.live is None:
            return
        now = time.monotonic()
        if force or now - self._last_draw > 0.1:
            self._last_draw = now
            self.live.update(self._panel())

    # --- pytest hooks ---------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
        if self.enabled:
            self.live = Live(self._panel(), console=self.console, refresh_per_second=8)
            self.live.start()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.progress.update(self.task, total=len(items))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.step = nodeid.split("::")[-1].removeprefix("test_").replace("_", " ")
        self._draw(force=True)

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        from .plugin import _session

        rs = _session(item.config)
        if self.live is not None and rs.bench is not None and not self._hooked:
            rs.bench.clock.on_tick(lambda now, b=rs.bench: self._on_tick(b, now))
            self._hooked = True

    def _on_tick(self, bench: Any, now: float) -> None:
        self.t_virtual = now
        if time.monotonic() - self._last_draw < 0.1:  # redraws are what cost: 10 a second
            return
        acq = bench.acq
        if acq is not None:
            _, ref = bench.reference_surface(now - 2.0, now)
            if ref.size:
                self.temps["ref"] = float(ref[-1])
            _, plate = acq.channel(104, now - 5.0, now)
            if plate.size:
                self.temps["plate"] = float(plate[-1])
            _, reading, _ = acq.unit_log(now - 5.0, now)
            if reading.size:
                self.temps["reading"] = float(reading[-1])
        self._draw()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            verdict = "PASS" if report.passed else ("SKIP" if report.skipped else "FAIL")
            if report.failed and report.when == "call":
                text = str(report.longrepr)
                verdict = "FAIL" if "LimitFailure" in text else "ERROR"
            elif report.failed:
                verdict = "ERROR"
            self.results.append((report.nodeid.split("::")[-1], verdict))
            self.progress.advance(self.task)
            self._draw(force=True)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        if self.on_test_end is None or self.session is None:
            return
        from .plugin import _session

        rs = _session(self.session.config)
        if rs is not None and rs.bench is not None:
            self.on_test_end(str(rs.bench.recorder.dir))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.step = "done"
        self._draw(force=True)
        if self.live is not None:
            self.live.stop()
            self.live = None


def run_plan(
    *,
    serial: str,
    station: Path | None,
    unit_profile: Path | None,
    seed: int,
    out: Path,
    operator: str | None,
    qa_overrides: list[str],
    plan: Path = PLAN_DIR,
    console: Console | None = None,
    live: bool = True,
    extra_args: list[str] | None = None,
    title: str = "EOL plan",
    on_test_end: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run the EOL plan on one unit and return its outcome (nothing printed at the end)."""
    console = console or Console(stderr=True)
    previous = previous_run(out, serial)
    retest_of = previous[0] if previous and previous[1] != PASS else None
    args = [
        str(plan),
        "-q",
        "-p",
        "no:cacheprovider",
        "--assert=plain",  # the plan's verdicts come from its measurements, not from asserts
        "-p",
        "no:unraisableexception",  # its gc.collect() at exit costs 0.2 s per run
        "-p",
        "no:hypothesispytest",  # the software's own fuzz tests' plugin: 0.16 s of imports
        "--rig",
        "lab" if station else "sim",
        "--serial",
        serial,
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    if station:
        args += ["--station", str(station)]
    if unit_profile:
        args += ["--unit-profile", str(unit_profile)]
    if operator:
        args += ["--operator", operator]
    if retest_of:
        args += ["--retest-of", retest_of]
    for ov in qa_overrides:
        args += ["--qa-override", ov]
    args += extra_args or []
    view = LiveView(console, serial, enabled=live, title=title, on_test_end=on_test_end)
    started = time.monotonic()
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = pytest.main(args, plugins=[view])
    wall = time.monotonic() - started
    return _outcome(view, code, serial, retest_of, wall, captured.getvalue())


def _outcome(
    view: LiveView, code: int, serial: str, retest_of: str | None, wall: float, output: str
) -> RunOutcome:
    from .plugin import _session

    session = view.session
    rs = _session(session.config) if session is not None else None
    bench = rs.bench if rs is not None else None
    if bench is None:
        reason = (rs.bringup_error if rs is not None else None) or _last_lines(output)
        run_dir = rs.bringup_run_dir if rs is not None else None
        # Every requirement the plan covers, NOT_RUN (none when the plan was not even
        # collected): the MES reads each REQ ID whatever became of the run.
        requirements = rs.book.requirement_verdicts() if rs is not None else {}
        return RunOutcome(
            serial, ERROR, requirements, [], run_dir, retest_of, reason=reason, wall_s=wall
        )
    verdict = rs.book.status()
    if code not in (0, 1, 2) and verdict == PASS:  # interrupted, internal error
        verdict = ERROR
    return RunOutcome(
        serial=serial,
        verdict=verdict,
        requirements=rs.book.requirement_verdicts(),
        failed=rs.book.failed_requirements(),
        run_dir=str(bench.recorder.dir),
        retest_of=retest_of,
        reason=rs.book.reason(),
        wall_s=wall,
        virtual_s=bench.clock.now(),
        tests=[
            {"test": t.nodeid, "verdict": t.final, "reason": t.reason}
            for t in rs.book.tests.values()
        ],
    )


def _last_lines(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:]) or "the plan did not run"


def render_report(outcome: RunOutcome, publisher: Publisher | None = None) -> None:
    """Render the run's EOL report (with a ``publisher``: hand it to its worker and return
    at once; ``collect_report`` waits)."""
    if outcome.run_dir is None:
        return
    if publisher is not None:
        publisher.submit_report(outcome.run_dir)
        return
    from .publish import report

    outcome.report = report(outcome.run_dir)


def signing_key(station: Path | None) -> Path | None:
    """The station's certificate signing key (None: the sim bench, or no key set)."""
    if station is None:
        return None
    from .station import load_station

    lab = load_station(station).laboratory
    if lab is None or not lab.signing_key:
        return None
    return (station.parent / lab.signing_key).resolve()


def issue_certificate(
    outcome: RunOutcome, station: Path | None, publisher: Publisher | None = None
) -> None:
    """Issue the calibration certificate of a run that calibrated the unit.

    Issued whenever the calibration completed, whatever its conformity (a certificate
    states a FAIL as clearly as a PASS); never for a calibration that did not complete
    or whose references were not within their calibration (reports.certificate refuses
    those, and the reason is kept in ``certificate_note``). With a ``publisher`` the work
    is handed to its worker and this returns at once; ``collect_certificate`` waits.
    """
    if outcome.run_dir is None:
        return
    key = signing_key(station)
    if publisher is not None:
        publisher.submit_certificate(outcome.run_dir, key)
        return
    from .publish import issue

    _apply(outcome, issue(outcome.run_dir, str(key) if key else None))


def collect_certificate(outcome: RunOutcome, publisher: Publisher) -> None:
    """Wait for the certificate handed to ``publisher`` and record what came of it."""
    _apply(outcome, publisher.certificate_result())


def collect_report(outcome: RunOutcome, publisher: Publisher) -> None:
    """Wait for the report handed to ``publisher``."""
    outcome.report = publisher.report_result()


def collect_finished(
    outcome: RunOutcome, publisher: Publisher, console: Console, *, report: bool
) -> None:
    """After Ctrl-C while the documents were made (the workers have finished what they
    had started): take what is done, and say how to make the rest from the record
    (``report``: the command makes an EOL report; ``cryorig calibrate`` does not)."""
    run_dir = outcome.run_dir or "RUN_DIR"
    if outcome.certificate is None and outcome.certificate_note is None:
        done = publisher.certificate_if_done()
        if done is not None:
            _apply(outcome, done)
        else:
            outcome.certificate_note = (
                "interrupted (Ctrl-C) before the certificate was issued; issue it with "
                f"cryorig certificate {run_dir}"
            )
    if report and outcome.report is None:
        outcome.report = publisher.report_if_done()
        if outcome.report is None and outcome.run_dir is not None:
            console.print(
                f"[yellow]report not made (interrupted); make it with "
                f"python -m reports {run_dir}[/yellow]"
            )


def _apply(outcome: RunOutcome, result: CertificateResult) -> None:
    if result.refused is not None:
        outcome.certificate_note = f"no certificate issued: {result.refused}"
    elif result.paths is not None:
        outcome.certificate = result.paths


def print_verdict(console: Console, outcome: RunOutcome) -> None:
    colour = COLOURS.get(outcome.verdict, "bold")
    banner = Align.center(Text(big_word(outcome.verdict)))
    console.print(Panel(banner, style=colour, title=f"unit {outcome.serial}"))
    if outcome.requirements:
        table = Table(title="requirements", show_header=True)
        table.add_column("requirement")
        table.add_column("verdict")
        for req, v in outcome.requirements.items():
            style = {"PASS": "green", "FAIL": "bold red", "ERROR": "yellow"}.get(v, "dim")
            table.add_row(req, Text(v, style=style))
        console.print(table)
    if outcome.failed:
        console.print(Text(f"failed requirements: {', '.join(outcome.failed)}", style="bold red"))
        # What failed and by how much, for the technician who decides on rework: each
        # failed test's measurements outside their limits, as the test reported them.
        for t in outcome.tests:
            if t.get("verdict") == "FAIL" and t.get("reason"):
                name = str(t.get("test", "")).split("::")[-1]
                lines = reason_lines(str(t["reason"]))
                console.print(Text(f"  {name}: {lines[0]}", style="red"), soft_wrap=True)
                for line in lines[1:]:
                    console.print(Text(f"    {line}", style="red"), soft_wrap=True)
    if outcome.verdict == ERROR and outcome.reason:
        console.print(Text(f"could not decide: {outcome.reason}", style="yellow"))
    if outcome.retest_of:
        console.print(f"retest of run {outcome.retest_of}")
    where = outcome.run_dir or "(no run record: nothing was energized)"
    console.print(f"record: {where}")
    if outcome.report:
        console.print(f"report: {outcome.report}")
    if outcome.certificate:
        console.print(f"certificate {outcome.certificate['id']}: {outcome.certificate['pdf']}")
    elif outcome.certificate_note:
        console.print(Text(outcome.certificate_note, style="yellow"))
    virt = f", {outcome.virtual_s:.0f} s of bench time" if outcome.virtual_s else ""
    console.print(f"{outcome.wall_s:.1f} s{virt}")
