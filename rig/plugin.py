"""The cryorig pytest plugin: options, fixtures, markers, verdicts, safe state.

Registered through the ``pytest11`` entry point (and by the root ``conftest.py``
when the package is not installed). Test plans ask for the ``bench`` fixture (or
``logger``, ``supply``, ``stage``, ``unit``, ``clock``, ``station``) and declare
what they verify::

    @pytest.mark.requirement("REQ-ST-01")
    @measures("selftest.result")
    def test_selftest(unit, measurements): ...

Options: ``--rig sim|lab``, ``--station FILE``, ``--serial SN``,
``--unit-profile FILE``, ``--seed N``, ``--out DIR``, ``--operator NAME``,
``--qa-override ITEM:REASON`` (repeatable), ``--retest-of RUN_ID``; on the simulated
bench only, ``--sim-fault TEST@SECONDS=WHAT`` (repeatable, :mod:`rig.faultinject`)
and ``--sim-io-timeout S``.

On the simulated bench the plugin starts and stops the simulator itself. Every
way out of a session (end, failure, exception, Ctrl-C, SIGTERM) leaves the bench
safe and the run recorded: PASS only if every test passed, FAIL if a limit
failed, ERROR if anything could not decide. After every test the bench is checked
(:mod:`rig.health`): an instrument that stopped answering during a step makes that
step an ERROR, whatever it measured, and ends the run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .runbook import ERROR, FAIL, PASS, RunBook

if TYPE_CHECKING:
    from .bench import Bench, RigOptions
    from .faultinject import FaultInjector, FaultSpec
    from .measure import Measurements
    from .protocols import Protocols

# The heavy parts (pandas, pyvisa, pydantic models) are imported only when a session
# actually uses the bench: every pytest run loads this plugin, most never need them.

_KEY = pytest.StashKey["RigSession"]()


class RigTerminated(KeyboardInterrupt):
    """SIGTERM: unwind like Ctrl-C so every finally and fixture teardown runs."""


class RigSession:
    """Run-wide state of one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.book = RunBook()
        self.bench: Bench | None = None
        self.terminated: str | None = None
        """Why a stop signal ended the run (set by the first one, :func:`_on_stop_signal`)."""
        self.late_signals = 0
        self.bringup_error: str | None = None
        self.bringup_run_dir: str | None = None
        """The run record of a bring-up that failed after it was opened (else None)."""
        self._options: RigOptions | None = None
        self.faults: tuple[FaultSpec, ...] = ()
        """``--sim-fault`` specs, parsed (and refused in the lab) at configure time."""
        self.injector: FaultInjector | None = None

    def options(self) -> RigOptions:
        from .bench import RigOptions, parse_overrides

        if self._options is None:
            opt = self.config.getoption
            station = opt("cryorig_station")
            profile = opt("cryorig_unit_profile")
            self._options = RigOptions(
                rig=opt("cryorig_rig"),
                station=Path(station) if station else None,
                serial=opt("cryorig_serial"),
                unit_profile=Path(profile) if profile else None,
                seed=opt("cryorig_seed"),
                out=Path(opt("cryorig_out")),
                operator=opt("cryorig_operator"),
                qa_overrides=parse_overrides(opt("cryorig_qa_override")),
                retest_of=opt("cryorig_retest_of"),
                sim_attach=Path(attach) if (attach := opt("cryorig_sim_attach")) else None,
                fixed_settle_s=opt("cryorig_fixed_settle"),
            )
        return self._options


def _label_serial(text: str) -> str:
    """``--serial``: the label's serial number, refused unless the station can carry it
    (:mod:`rig.shared.serial_number`); an empty one is not "no serial"."""
    from .shared.serial_number import serial_problem

    problem = serial_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _seed(text: str) -> int:
    """``--seed``: a whole number ≥ 0 (it seeds numpy's generators, which refuse less)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (a seed is 0 or more)")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("cryorig", "cryorig end-of-line rig")
    g.addoption(
        "--rig",
        dest="cryorig_rig",
        choices=("sim", "lab"),
        default="sim",
        help="simulated bench (default) or a lab bench described by --station",
    )
    g.addoption(
        "--station",
        dest="cryorig_station",
        default=None,
        metavar="FILE",
        help="station file (required with --rig lab)",
    )
    g.addoption(
        "--serial",
        dest="cryorig_serial",
        default=None,
        type=_label_serial,
        metavar="SN",
        help="serial number on the unit's label (default SIM-0001 on the sim)",
    )
    g.addoption(
        "--unit-profile",
        dest="cryorig_unit_profile",
        default=None,
        metavar="FILE",
        help="simulated unit profile (bench.md format); default a nominal unit",
    )
    g.addoption(
        "--seed",
        dest="cryorig_seed",
        type=_seed,
        default=0,
        help="seed of the simulated unit and its noise",
    )
    g.addoption(
        "--out",
        dest="cryorig_out",
        default="runs",
        metavar="DIR",
        help="where run records go (default ./runs)",
    )
    g.addoption("--operator", dest="cryorig_operator", default=None)
    g.addoption(
        "--qa-override",
        dest="cryorig_qa_override",
        action="append",
        default=[],
        metavar="ITEM:REASON",
        help="run although ITEM's calibration is overdue; recorded as a deviation",
    )
    g.addoption("--retest-of", dest="cryorig_retest_of", default=None, metavar="RUN_ID")
    g.addoption(
        "--fixed-settle",
        dest="cryorig_fixed_settle",
        type=float,
        default=None,
        metavar="S",
        help="settle the phantom by a fixed wait of S seconds instead of detecting it "
        "(the cycle-time reference)",
    )
    g.addoption(
        "--sim-attach",
        dest="cryorig_sim_attach",
        default=None,
        metavar="FILE",
        help="use a simulated bench already serving (FILE: its JSON resource line)",
    )
    g.addoption(
        "--sim-fault",
        dest="cryorig_sim_fault",
        action="append",
        default=[],
        metavar="TEST@SECONDS=WHAT",
        help="simulated bench only: break WHAT (<logger|supply|stage|device>:<drop|stall|"
        "corrupt[:rate]|delay:ms> or power:off) SECONDS of virtual time after the first "
        "test whose node ID contains TEST starts (repeatable)",
    )
    g.addoption(
        "--sim-io-timeout",
        dest="cryorig_sim_io_timeout",
        type=float,
        default=None,
        metavar="S",
        help="simulated bench only: the instruments' I/O timeout after bring-up, instead "
        "of the station's (a query to a stalled instrument then costs S)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids): the requirement IDs (REQ-…) a test verifies"
    )
    config.addinivalue_line(
        "markers", "measures(*names): the limits-file measurements a test takes"
    )
    session = RigSession(config)
    config.stash[_KEY] = session
    _check_sim_options(config, session)


STOP_SIGNALS: dict[int, tuple[str, type[KeyboardInterrupt]]] = {
    signal.SIGINT: ("interrupted by the operator (Ctrl-C)", KeyboardInterrupt),
    signal.SIGTERM: ("terminated by SIGTERM", RigTerminated),
}
"""The signals that stop a run: the reason each puts in the record, and what it raises."""


def _on_stop_signal(session: RigSession, signum: int, frame: Any) -> None:
    """The first stop signal unwinds the run (every ``finally`` and teardown runs, the
    bench is made safe, the record is closed as ERROR with this reason). A second one
    while that is under way is noted and ignored: interrupting the safe state would
    leave the stage or the supply on. The record's reason is set here, not from the
    exception, because cleanup that fails while unwinding replaces the exception."""
    why, raised = STOP_SIGNALS[signum]
    if session.terminated:
        session.late_signals += 1
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(
                f"\ncryorig: already stopping ({session.terminated}); the bench is being "
                "made safe and the run recorded, please wait\n"
            )
        return
    session.terminated = why
    raise raised(why)


@contextlib.contextmanager
def _stop_signals(session: RigSession) -> Iterator[None]:
    """Our handlers while a bench is in use (bring-up to the record's close), the
    previous ones after: a session without a bench, as the rig's own test suite runs,
    keeps pytest's Ctrl-C, and an in-process run (the fleet's workers) leaves nothing
    behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signum: signal.signal(signum, functools.partial(_on_stop_signal, session))
        for signum in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _session(config: pytest.Config) -> RigSession:
    return config.stash[_KEY]


def _check_sim_options(config: pytest.Config, session: RigSession) -> None:
    """The simulated bench's own options, checked before anything is collected or energized:
    a lab run must not carry them (nothing there to inject through, and its record must
    not look like one that had faults injected), and a bad fault spec is a usage error."""
    specs = config.getoption("cryorig_sim_fault", default=None) or []
    timeout = config.getoption("cryorig_sim_io_timeout", default=None)
    if not specs and timeout is None:
        return
    if config.getoption("cryorig_rig", default="sim") != "sim":
        given = "--sim-fault" if specs else "--sim-io-timeout"
        raise pytest.UsageError(
            f"{given} works on the simulated bench only (--rig sim): a lab bench has no "
            "control channel to inject faults through, and a lab run must not carry them"
        )
    if timeout is not None and not 0.05 <= timeout <= 120:
        raise pytest.UsageError(f"--sim-io-timeout {timeout:g}: expected 0.05 to 120 s")
    from .faultinject import FaultSpecError, parse_fault_spec

    try:
        session.faults = tuple(parse_fault_spec(text) for text in specs)
    except FaultSpecError as exc:
        raise pytest.UsageError(str(exc)) from None


# --- collection: declarations checked before anything is energized ---------------------------
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    declared = [it for it in items if it.get_closest_marker("measures")]
    if not declared:
        return
    from .instruments.errors import RigError
    from .limits import LimitsError, load_limits
    from .protocols import ProtocolError, Protocols
    from .station import StationError, default_limits_file, load_station

    rs = _session(config)
    try:
        opts = rs.options()
        if opts.rig == "lab":
            if opts.station is None:
                raise pytest.UsageError("--station FILE is required with --rig lab")
            if not opts.serial:
                raise pytest.UsageError(
                    "--serial SN is required with --rig lab (the label scanned on the unit)"
                )
            station = load_station(opts.station)
            limits = load_limits(station.limits_path, expect_version=station.limits.version)
        else:
            limits = load_limits(default_limits_file())
        Protocols().load_all()
    except (StationError, LimitsError, ProtocolError, RigError) as exc:
        raise pytest.UsageError(str(exc)) from None
    rs.book.requirements = tuple(limits.requirements())
    problems = []
    for item in declared:
        reqs = _requirements(item)
        for name in item.get_closest_marker("measures").args:
            if name not in limits.limits:
                problems.append(f"{item.nodeid}: measurement {name!r} is not in {limits.path}")
            elif reqs and limits.limits[name].req not in reqs:
                problems.append(
                    f"{item.nodeid}: measurement {name!r} verifies {limits.limits[name].req}, "
                    f"which the test's requirement marker {reqs} does not name"
                )
    if problems:
        raise pytest.UsageError("\n".join(problems))


def _requirements(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def rig_options(pytestconfig: pytest.Config) -> RigOptions:
    return _session(pytestconfig).options()


@pytest.fixture(scope="session")
def bench(pytestconfig: pytest.Config) -> Iterator[Bench]:
    """The assembled bench: instruments identified, unit powered, acquisition running."""
    from .bench import BRINGUP_RUN_DIR, Bench

    rs = _session(pytestconfig)
    with _stop_signals(rs):
        try:
            options = rs.options()
            if rs.faults and options.rig != "sim":  # refused at configure; never energize
                raise RuntimeError("--sim-fault works on the simulated bench only")
            b = Bench.bring_up(options)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            # Nothing was decided: one clear message (the run record, if one was opened,
            # is already closed as ERROR with the same reason) and exit status 2.
            rs.bringup_error = f"{type(exc).__name__}: {exc}"
            rs.bringup_run_dir = getattr(exc, BRINGUP_RUN_DIR, None)
            pytest.exit(f"cryorig: bench bring-up failed: {exc}", returncode=2)
        rs.bench = b
        try:
            _sim_extras(rs, b)
            yield b
        finally:
            _finish(rs)


def _sim_extras(rs: RigSession, b: Bench) -> None:
    """``--sim-io-timeout`` and ``--sim-fault`` on a bench that is up (the simulated one)."""
    timeout = rs.config.getoption("cryorig_sim_io_timeout")
    if timeout is not None:
        for inst in (b.logger, b.supply, b.stage):
            inst.adapter.timeout_s = timeout
    if rs.faults and b.sim is not None:
        from .faultinject import FaultInjector

        def trace(event: dict[str, Any]) -> None:
            if not b.recorder.finished:
                b.recorder.trace(event)

        rs.injector = FaultInjector(b.sim, b.clock, rs.faults, trace)
        b.recorder.annotate(sim_faults=rs.injector.record())


def _finish(rs: RigSession) -> None:
    b = rs.bench
    if b is None:
        return
    if rs.injector is not None:  # no fault fires while the bench is made safe
        rs.injector.close()
        with contextlib.suppress(Exception):
            b.recorder.annotate(sim_faults=rs.injector.record())
        rs.injector = None
    if rs.terminated:
        rs.book.aborted = rs.terminated
        # Signals after the first, while the run unwound, were noted, not obeyed: the
        # record says how many came up to here, the start of the final safe state (the
        # trace closes inside it), so a reviewer sees the operator pressed again.
        _trace(
            b,
            {
                "kind": "stop_signal",
                "t": b.clock.now(),
                "reason": rs.terminated,
                "ignored_while_stopping": rs.late_signals,
            },
        )
    status = rs.book.status()
    counts = {
        "tests": len(rs.book.tests),
        "passed": sum(t.final == PASS for t in rs.book.tests.values()),
        "failed": sum(t.final == FAIL for t in rs.book.tests.values()),
        "errors": sum(t.final == ERROR for t in rs.book.tests.values()),
    }
    requirements = rs.book.requirement_verdicts()
    b.shutdown(status, rs.book.reason(), requirements, counts)
    if b.record_failure is not None:  # the outcome must say it, whatever the steps showed
        closing = f"the run record could not be written in full: {b.record_failure}"
        rs.book.aborted = f"{rs.book.aborted}; {closing}" if rs.book.aborted else closing


@pytest.fixture(scope="session")
def clock(bench: Bench):
    return bench.clock


@pytest.fixture(scope="session")
def station(bench: Bench):
    return bench.station


@pytest.fixture(scope="session")
def logger(bench: Bench):
    return bench.logger


@pytest.fixture(scope="session")
def supply(bench: Bench):
    return bench.supply


@pytest.fixture(scope="session")
def stage(bench: Bench):
    return bench.stage


@pytest.fixture(scope="session")
def unit(bench: Bench):
    return bench.unit


@pytest.fixture(scope="session")
def protocols(bench: Bench) -> Protocols:
    return bench.protocols


@pytest.fixture
def measurements(request: pytest.FixtureRequest, bench: Bench) -> Measurements:
    from .measure import Measurements

    mark = request.node.get_closest_marker("measures")
    names = tuple(mark.args) if mark else ()
    m = Measurements(
        names,
        bench.limits,
        test=request.node.nodeid,
        now=bench.clock.now,
        sink=bench.recorder.measurement,
    )
    request.node.stash[_MEAS] = m
    return m


_MEAS = pytest.StashKey["Measurements"]()


# --- verdicts -------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    rs = _session(item.config)
    b = rs.bench
    if b is not None:
        _trace(b, {"kind": "test_start", "test": item.nodeid, "t": b.clock.now()})
        if rs.injector is not None:
            rs.injector.test_started(item.nodeid)
    outcome = yield
    if b is not None:
        if rs.injector is not None:
            rs.injector.test_ended(item.nodeid)
        _trace(b, {"kind": "test_end", "test": item.nodeid, "t": b.clock.now()})
        if _bench_failed(rs, item, outcome):
            return
    m = item.stash.get(_MEAS, None)
    if m is None:
        return
    if outcome.excinfo is None:
        try:
            m.conclude()
        except Exception as exc:
            outcome.force_exception(exc)


def _bench_failed(rs: RigSession, item: pytest.Item, outcome: Any) -> bool:
    """Check the bench after a step (:mod:`rig.health`); if it failed, the step is an
    ERROR naming what failed (whatever it measured) and the run ends here."""
    from .health import BenchFault, check_bench

    b = rs.bench
    excinfo = outcome.excinfo
    leaving = (KeyboardInterrupt, SystemExit, pytest.skip.Exception)
    if b is None or rs.terminated or (excinfo and issubclass(excinfo[0], leaving)):
        return False  # Ctrl-C, SIGTERM, a skip: the way out, not a question for the bench
    try:
        problems = check_bench(b)
    except Exception as exc:  # the check itself must not hide the step's own outcome
        problems = [f"the check of the bench failed: {type(exc).__name__}: {exc}"]
    check = {"kind": "bench_check", "test": item.nodeid, "t": b.clock.now(), "problems": problems}
    _trace(b, check)
    if not problems:
        return False
    text = "the bench failed during this step: " + "; ".join(problems)
    original = excinfo[1] if excinfo else None
    from .measure import LimitFailure

    if original is not None and not isinstance(original, LimitFailure):
        first = (str(original).splitlines() or [""])[0]
        if not any(first in p or p in first for p in problems):
            text += f" (the step itself ended with {type(original).__name__}: {first})"
    fault = BenchFault(text)
    if original is not None:  # shown where the step was when it broke
        fault = fault.with_traceback(original.__traceback__)
    outcome.force_exception(fault)
    item.session.shouldstop = f"cryorig: the bench failed during {item.nodeid}"
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    rs = _session(item.config)
    if (
        item.get_closest_marker("requirement") is None
        and item.get_closest_marker("measures") is None
    ):
        return
    book_entry = rs.book.test(item.nodeid, _requirements(item))
    m = item.stash.get(_MEAS, None)
    if m is not None:
        book_entry.measurement_verdicts = m.verdicts()
    if rs.terminated and call.when == "call":
        _stopped_in(rs, item, call)
        return
    if report.skipped:
        rs.book.skip(item.nodeid)
        return
    if report.passed:
        if call.when == "call":
            rs.book.set_outcome(item.nodeid, PASS)
        return
    from .measure import LimitFailure

    exc = call.excinfo.value if call.excinfo else None
    if call.when == "call" and isinstance(exc, LimitFailure):
        rs.book.set_outcome(item.nodeid, FAIL, str(exc))
    else:
        reason = f"{call.when}: {type(exc).__name__}: {exc}" if exc else call.when
        rs.book.set_outcome(item.nodeid, ERROR, reason)
    _trace_outcome(rs, item, call.when, str(exc))


def _stopped_in(rs: RigSession, item: pytest.Item, call: pytest.CallInfo) -> None:
    """A stop signal came during this test and the test still reported (cleanup raised
    while unwinding and replaced the interrupt, or something swallowed it): whatever it
    shows, it decided nothing, and no further test may start."""
    exc = call.excinfo.value if call.excinfo else None
    shown = exc is not None and not isinstance(exc, KeyboardInterrupt)
    detail = f" (then {type(exc).__name__}: {exc})" if shown else ""
    rs.book.set_outcome(item.nodeid, ERROR, f"call: {rs.terminated}{detail}")
    item.session.shouldstop = f"cryorig: {rs.terminated}"
    _trace_outcome(rs, item, call.when, f"{rs.terminated}{detail}")


def _trace_outcome(rs: RigSession, item: pytest.Item, when: str, detail: str) -> None:
    """The test's verdict in the book, and why, into the run's trace (while it is open)."""
    if rs.bench is not None and not rs.bench.recorder.finished:
        _trace(
            rs.bench,
            {
                "kind": "test_outcome",
                "test": item.nodeid,
                "when": when,
                "verdict": rs.book.tests[item.nodeid].final,
                "detail": detail[:2000],
            },
        )


def _trace(b: Bench, event: dict[str, Any]) -> None:
    """A trace event from a hook: if the record cannot take it (a full disk), the
    recorder remembers the failure, the bench check after the step ends the run on it,
    and the hook goes on (an exception here would hide the step's own outcome)."""
    from .recording import RecordingError

    with contextlib.suppress(RecordingError):
        b.recorder.trace(event)


EXIT_STATUS = {PASS: 0, FAIL: 1, ERROR: 2}
"""pytest's exit status follows the run's verdict, as ``cryorig run``'s does."""


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The bench fixture's teardown normally closed the run already; this catches a
    # session that ended before teardown could run (e.g. an error in another fixture).
    rs = _session(session.config)
    if rs.bench is not None and not rs.bench._closed:
        if exitstatus not in (0, 1):
            rs.book.aborted = rs.book.aborted or f"pytest exit status {exitstatus}"
        _finish(rs)
    if rs.bench is not None and exitstatus in (0, 1, 2):
        session.exitstatus = EXIT_STATUS[rs.book.status()]
    elif rs.bringup_error is not None:
        session.exitstatus = 2


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rs = _session(config)
    b = rs.bench
    if b is None:
        return
    tr = terminalreporter
    status = rs.book.status()
    tr.section("cryorig")
    tr.write_line(f"run {b.recorder.run_id}: {status}  ({b.recorder.dir})")
    if status != PASS:
        tr.write_line(f"reason: {b.recorder.meta.get('reason') or rs.book.reason()}")
    for fault in b.recorder.meta.get("sim_faults") or []:
        when = fault["injected_t"]
        done = f"injected at t={when:.3f} s" if when is not None else "NOT injected (see trace)"
        tr.write_line(f"sim fault {fault['spec']}: {fault['fault']}, {done}")
    for req, verdict in rs.book.requirement_verdicts().items():
        if verdict != "NOT_RUN":
            tr.write_line(f"  {req:12s} {verdict}")
    failed = rs.book.failed_requirements()
    if failed:
        tr.write_line(f"failed requirements: {', '.join(failed)}")
