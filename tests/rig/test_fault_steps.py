"""A fault at any step of the EOL plan ends the run as ERROR, the bench safe, every sample kept.

For every test of the plan, collected from ``test_plans`` when this module is
collected (a step added later is covered without touching this file), and for each
kind of fault the requirement names:

* ``no_answer``: an instrument stops answering (``stall``, or its connection
  ``drop``\\ s). The instrument rotates with the step's place in the plan
  (logger, supply, stage, device, logger …), stall for the first four steps, drop
  for the next four, and so on: every instrument is seen both ways, also in steps
  that never command it (the check after the step must catch those);
* ``corrupt``: every reply of an instrument has a byte replaced (``corrupt 1``),
  rotating device, stage, logger, supply; where the step goes on for less than
  ``CORRUPT_MIN_S`` after the fault, the logger and supply are replaced by the device
  and the stage: a garbled byte that lands on a digit of a number still reads as a
  number (SCPI replies carry no checksum; about one garbled reading in ten), so those
  two are only caught for certain over the many replies of a step that goes on,
  while a unit frame has a CRC and a stage reply is a short code;
* ``power``: the unit loses its power (the control channel's ``POWER CUT``).

No step is skipped: a step that touches nothing on the bench (``test_peak_current``
reads what was acquired) is still followed by the plugin's check of the bench
(``rig/health.py``), so a fault that strikes while it runs still ends the run as
ERROR; the fault then strikes as the step starts (it takes no virtual time).

Each case is a plan run of its own (``pytest test_plans/…::test_x --sim-fault …``,
exactly what an operator runs) that selects only the target step, attached to a
simulated bench this module starts (and RESETs between runs), so the bench's true
state can be read after the run is over.

When the fault strikes: a nominal run of the same step alone, same seed, same
options, comes first; its trace gives the step's timeline. The fault strikes in the
middle of the step's first treatment (the logger scanning faster than the bench's own
scan: the valve is open, where the safe state matters most), else in the middle of
the step, else (a step that takes no virtual time) as the step starts. The nominal
run is also the control: the step must not be an ERROR without the fault.

The runs use ``--sim-io-timeout 1``: a stalled SCPI instrument then costs one second
per query that waits on it instead of the station's five, which is what keeps the
whole module within a few minutes; nothing checked depends on the timeout's length.
Runs go two at a time (the machine's two cores), each on its own simulated bench.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from rig.faultinject import FaultSpecError, parse_fault_spec
from rig.recording import _read_stream_csv, load_run
from rig.simlink import SimBenchProcess
from rig.station import sim_station, station_to_yaml
from tests.plan_subprocess import FAST

ROOT = Path(__file__).resolve().parents[2]
PLAN = "test_plans"
SEED = 0
SERIAL = "SIM-0001"
IO_TIMEOUT_S = 1.0
WORKERS = 2
RUN_TIMEOUT_S = 180
FAULT_KINDS = ("no_answer", "corrupt", "power")
NO_ANSWER = ("logger", "supply", "stage", "device")
CORRUPT = ("device", "stage", "logger", "supply")
CORRUPT_SHORT = {"logger": "device", "supply": "stage"}
"""Stand-ins where the step ends soon after the fault (see the module docstring)."""
CORRUPT_MIN_S = 10.0
ROLE = {"logger": "logger", "supply": "supply", "stage": "stage", "device": "unit"}
"""The name the rig gives each control-channel resource in its messages."""
STREAMS = ("logger", "supply", "unit_log", "unit_events")

pytestmark = pytest.mark.timeout(900)


# --- the plan's steps ---------------------------------------------------------------------------
def collect_plan() -> tuple[list[str], str | None]:
    """The plan's test node IDs, in plan order, as pytest collects them (or why not)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", *FAST, PLAN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    steps = [ln.strip() for ln in proc.stdout.splitlines() if "::" in ln and not ln[:1].isspace()]
    if proc.returncode != 0 or not steps:
        return [], f"collecting {PLAN} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return steps, None


STEPS, COLLECT_ERROR = collect_plan()


@dataclass(frozen=True)
class Case:
    step: str
    index: int
    kind: str

    @property
    def name(self) -> str:
        return self.step.split("::")[-1]


CASES = [Case(step, i, kind) for i, step in enumerate(STEPS) for kind in FAULT_KINDS]


def fault_target(case: Case, short: bool) -> tuple[str, str]:
    """(resource, WHAT of the spec) for a case; ``short``: the step ends soon after the
    fault (less than ``CORRUPT_MIN_S`` later)."""
    if case.kind == "power":
        return "power", "power:off"
    if case.kind == "no_answer":
        resource = NO_ANSWER[case.index % len(NO_ANSWER)]
        how = "stall" if (case.index // len(NO_ANSWER)) % 2 == 0 else "drop"
        return resource, f"{resource}:{how}"
    resource = CORRUPT[case.index % len(CORRUPT)]
    if short:
        resource = CORRUPT_SHORT.get(resource, resource)
    return resource, f"{resource}:corrupt:1"


# --- running the plan ---------------------------------------------------------------------------
@dataclass
class Timeline:
    """A step's times in its nominal run (virtual seconds)."""

    start: float
    end: float
    treatment: tuple[float, float] | None

    def fault_offset(self) -> float:
        """Seconds after the step starts: mid-treatment, else mid-step, else at once."""
        if self.treatment is not None:
            a, b = self.treatment
            return round((a + b) / 2 - self.start, 3)
        return round((self.end - self.start) / 2, 3)


@dataclass
class PlanRun:
    args: list[str]
    returncode: int
    output: str
    wall_s: float
    true_state: dict[str, str]
    run_dir: Path | None
    spec: str | None = None
    resource: str | None = None

    @property
    def text(self) -> str:
        return f"$ pytest {' '.join(self.args)}\n(exit {self.returncode})\n{self.output[-6000:]}"


class Benches:
    """Simulated benches, one per worker, reset to a fresh bench for each run."""

    def __init__(self, root: Path, n: int) -> None:
        self.free: queue.Queue[tuple[SimBenchProcess, Path]] = queue.Queue()
        self.all: list[SimBenchProcess] = []
        for i in range(n):
            sim = SimBenchProcess("--seed", str(SEED), "--serial", SERIAL)
            self.all.append(sim)
            attach = root / f"bench-{i}.json"
            attach.write_text(json.dumps(sim.resources) + "\n")
            self.free.put((sim, attach))

    def run(self, out: Path, step: str, extra: list[str]) -> PlanRun:
        sim, attach = self.free.get()
        try:
            sim.reset(SEED, None, SERIAL)
            args = [step, *FAST, "--rig", "sim", "--sim-attach", str(attach)]
            args += ["--out", str(out), "--sim-io-timeout", str(IO_TIMEOUT_S), *extra]
            t0 = time.monotonic()
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", *args],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=RUN_TIMEOUT_S,
                )
                code, output = proc.returncode, proc.stdout + proc.stderr
            except subprocess.TimeoutExpired as exc:
                code, output = -1, f"hung for {RUN_TIMEOUT_S} s: {exc.stdout!r}"
            wall = time.monotonic() - t0
            names = ("valve_flowing", "valve_driven", "supply_output", "stage_output")
            true_state = {n: sim.true(n) for n in (*names, "device_state")}
        finally:
            self.free.put((sim, attach))
        runs = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
        run_dir = runs[0] if len(runs) == 1 else None
        return PlanRun(args, code, output, wall, true_state, run_dir)

    def close(self) -> None:
        for sim in self.all:
            sim.close()


def timeline(run: PlanRun) -> Timeline:
    assert run.run_dir is not None, run.text
    trace = load_run(run.run_dir).trace
    start = next(e["t"] for e in trace if e["kind"] == "test_start")
    end = next(e["t"] for e in trace if e["kind"] == "test_end")
    scans = [(e["t"], e["interval_s"]) for e in trace if e["kind"] == "scan"]
    base = scans[0][1] if scans else math.inf
    treatment = None
    for i, (t, interval) in enumerate(scans):
        if start <= t <= end and interval < base:
            later = [s for s, _ in scans[i + 1 :]]
            treatment = (t, min([*later, end]) if later else end)
            break
    return Timeline(start, end, treatment)


@dataclass
class Results:
    nominal: dict[str, PlanRun] = field(default_factory=dict)
    timelines: dict[str, Timeline] = field(default_factory=dict)
    faulted: dict[Case, PlanRun] = field(default_factory=dict)
    wall_s: float = 0.0


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Every selected case's runs, two at a time: each step's nominal run, then its faults."""
    wanted = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_fault_at_step"
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    root = tmp_path_factory.mktemp("faults")
    res = Results()
    t0 = time.monotonic()
    benches = Benches(root, WORKERS)
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            steps = list(dict.fromkeys(c.step for c in wanted))
            nominal = {
                s: pool.submit(benches.run, root / f"nominal-{i}", s, [])
                for i, s in enumerate(steps)
            }
            pending = {}
            for s, future in nominal.items():
                res.nominal[s] = run = future.result()
                if run.run_dir is None or run.returncode not in (0, 1):
                    continue  # the test of each case reports it
                res.timelines[s] = tl = timeline(run)
                for case in (c for c in wanted if c.step == s):
                    short = tl.end - tl.start - tl.fault_offset() < CORRUPT_MIN_S
                    resource, what = fault_target(case, short)
                    spec = f"{case.step}@{tl.fault_offset():g}={what}"
                    out = root / f"{case.name}-{case.kind}"
                    pending[case] = (
                        spec,
                        resource,
                        pool.submit(benches.run, out, case.step, ["--sim-fault", spec]),
                    )
            for case, (spec, resource, future) in pending.items():
                run = future.result()
                run.spec, run.resource = spec, resource
                res.faulted[case] = run
    finally:
        benches.close()
    res.wall_s = time.monotonic() - t0
    return res


# --- the matrix ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{c.kind}" for c in CASES])
def test_fault_at_step(case: Case, results: Results) -> None:
    nominal = results.nominal[case.step]
    assert nominal.run_dir is not None and nominal.returncode in (0, 1), (
        f"{case.step} run alone without any fault did not decide (it must PASS or FAIL, "
        f"or an ERROR with the fault proves nothing):\n{nominal.text}"
    )
    run = results.faulted[case]
    text = f"fault {run.spec}:\n{run.text}"
    assert run.returncode != -1, f"the run hung: {text}"
    assert run.run_dir is not None, f"no run record: {text}"
    data = load_run(run.run_dir)

    # The fault struck inside the step.
    injected = [e for e in data.trace if e["kind"] == "fault_injected"]
    if not injected:
        # Say why: the fault's moment comes from the nominal run of the same step, so a
        # step that ends sooner here means the two runs of one seed were not the same run.
        tl = results.timelines[case.step]
        ended = next((e["t"] for e in data.trace if e["kind"] == "test_end"), None)
        text = (
            f"the step's nominal run took {tl.end - tl.start:.2f} s of bench time, this one "
            f"ended at {ended} (started {tl.start}): lockstep runs of one seed differ\n{text}"
        )
    assert len(injected) == 1, f"the fault was not injected exactly once: {text}"
    t_fault = injected[0]["t"]
    start = next(e["t"] for e in data.trace if e["kind"] == "test_start")
    end = next(e["t"] for e in data.trace if e["kind"] == "test_end")
    assert start <= t_fault <= end, f"fault at t={t_fault}, outside the step [{start}, {end}]"
    at_s = parse_fault_spec(run.spec or "").at_s
    assert t_fault == pytest.approx(start + at_s, abs=1e-3), "not at its moment"

    # ERROR, never PASS or FAIL, with exit status 2 and a message naming what broke.
    assert run.returncode == 2, text
    assert data.status == "ERROR", text
    assert data.meta["sim_faults"][0]["injected_t"] == t_fault
    reason = data.meta["reason"] or ""
    if run.resource == "power":
        assert "the unit has lost its power" in reason, reason
    else:
        role = ROLE[run.resource]
        assert f"{role} (" in reason, f"the reason does not name the {role}: {reason}"
    verdicts = {v for k, v in data.meta["requirements"].items() if v != "NOT_RUN"}
    assert verdicts == {"ERROR"}, data.meta["requirements"]

    _assert_safe(run, data)
    _assert_every_sample_kept(run, data, t_fault)


def _assert_safe(run: PlanRun, data: Any) -> None:
    """The bench's true state after the run; only the faulted instrument may be unconfirmed,
    and then the run must say so."""
    true = run.true_state
    assert true["valve_flowing"] == "0" and true["valve_driven"] == "0", true
    safe = next(e for e in data.trace if e["kind"] == "safe_state")
    reason = data.meta["reason"] or ""
    for role in ("supply", "stage"):
        if true[f"{role}_output"] == "0" and safe[f"{role}_off"] is True:
            continue
        assert run.resource == role, (
            f"the {role} is not confirmed off (true state {true}) although it was not the "
            f"instrument at fault: {safe}"
        )
        assert safe[f"{role}_off"] is False and role in safe["errors"], safe
        assert f"safe state not confirmed: {role} output not confirmed off" in reason, reason
        if safe.get("reconnected", {}).get(role) is None:
            assert "corrupt" in (run.spec or ""), f"no reconnect was tried: {safe}"


def _assert_every_sample_kept(run: PlanRun, data: Any, t_fault: float) -> None:
    counts = data.meta["counts"]
    assert set(counts["acquired"]) == set(STREAMS), counts["acquired"]
    for name in STREAMS:  # what acquisition held in memory is what its journal holds
        assert counts["acquired"][name] == counts["samples"][name], counts
    samples = Path(data.path) / "samples"
    for path in sorted(samples.glob("*.csv")):  # and every journal has its whole copy
        journal = _read_stream_csv(path)
        copy = pq.read_table(path.with_suffix(".parquet")).to_pandas()
        assert len(journal) == len(copy) == counts["samples"][path.stem], path.name
        if len(journal):
            pd.testing.assert_frame_equal(journal, copy, check_dtype=False)
    # Every block the rig announced is in the journal, to the row.
    blocks = [e for e in data.trace if e["kind"] == "block"]
    logger = _read_stream_csv(samples / "logger.csv")
    assert blocks and len(logger) >= blocks[-1]["rows"]["logger"]
    # The journal reaches the fault: when the logger is what failed, up to its last block
    # before the fault (what it scanned after that never reached the rig), which is at
    # most one slow block interval old (or no block was due yet: the scan starts at 0);
    # past the fault otherwise (the rig kept fetching until the run ended).
    last = float(logger["t_s"].max()) if len(logger) else 0.0
    if run.resource == "logger":
        assert last >= t_fault - _slow_block_s() - 1.0, (last, t_fault)
    else:
        assert last >= t_fault - 1.0, (last, t_fault)


def _slow_block_s() -> float:
    from rig.protocols import Protocols

    return float(Protocols().load_all()["bench"].acquisition.slow.logger_s)


def test_plan_collected() -> None:
    assert not COLLECT_ERROR, COLLECT_ERROR
    assert len(STEPS) >= 10, STEPS


def test_matrix_wall_time(results: Results) -> None:
    """Reported (-rP) rather than asserted: the machine is shared."""
    runs = [*results.nominal.values(), *results.faulted.values()]
    slowest = max(runs, key=lambda r: r.wall_s) if runs else None
    print(
        f"{len(results.faulted)} fault runs and {len(results.nominal)} nominal runs in "
        f"{results.wall_s:.1f} s ({WORKERS} at a time); slowest "
        f"{slowest.wall_s if slowest else 0:.1f} s: {slowest.args[:1] if slowest else ''}"
    )
    for case, run in results.faulted.items():
        print(
            f"  {case.name:32s} {case.kind:10s} {run.spec.split('=')[-1]:22s} {run.wall_s:5.1f} s"
        )


# --- the option itself ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,resource,kind,arg,at",
    [
        ("test_shock@120=supply:stall", "supply", "stall", None, 120.0),
        ("test_plans/t.py::test_x[a=1]@0.5=device:corrupt", "device", "corrupt", 1.0, 0.5),
        ("test_x@3=logger:corrupt:0.25", "logger", "corrupt", 0.25, 3.0),
        ("test_x@3=stage:delay:1500", "stage", "delay", 1500.0, 3.0),
        ("test_x@0=power:off", "power", "off", None, 0.0),
    ],
)
def test_fault_spec_parses(text: str, resource: str, kind: str, arg: float | None, at: float):
    spec = parse_fault_spec(text)
    assert (spec.resource, spec.kind, spec.arg, spec.at_s) == (resource, kind, arg, at)
    assert spec.test == text.rpartition("=")[0].rpartition("@")[0]


@pytest.mark.parametrize(
    "text,needle",
    [
        ("test_shock=supply:stall", "TEST@SECONDS=WHAT"),
        ("test_shock@soon=supply:stall", "not a number of seconds"),
        ("test_shock@-1=supply:stall", ">= 0"),
        ("test_shock@1=heater:stall", "'heater' is not one of"),
        ("test_shock@1=supply:melt", "'melt' is not one of"),
        ("test_shock@1=supply:corrupt:2", "not in (0, 1]"),
        ("test_shock@1=supply:delay", "delay in ms"),
        ("test_shock@1=power:on", "power:off"),
    ],
)
def test_bad_fault_spec_is_refused(text: str, needle: str) -> None:
    with pytest.raises(FaultSpecError) as err:
        parse_fault_spec(text)
    assert needle in str(err.value) and repr(text) in str(err.value)


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.hooks: list[Any] = []
        self.wakes: list[float] = []

    def now(self) -> float:
        return self.t

    def on_advance(self, hook: Any) -> Any:
        self.hooks.append(hook)
        return lambda: self.hooks.remove(hook)

    def wake_at(self, t: float) -> None:
        self.wakes.append(t)

    def advance(self, dt: float) -> None:
        self.t += dt
        for hook in list(self.hooks):
            hook(self.t)


class _Sim:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def fault(self, resource: str, kind: str, arg: Any = None) -> None:
        self.calls.append((resource, kind, arg))

    def power(self, on: bool) -> None:
        self.calls.append(("power", on))


def test_injector_fires_once_inside_its_test_only() -> None:
    from rig.faultinject import FaultInjector

    clock, sim, trace = _Clock(), _Sim(), []
    specs = tuple(
        parse_fault_spec(s)
        for s in ("test_b@2=stage:stall", "test_a@0=power:off", "test_c@9=logger:drop", "zz@1=x:y")
        if not s.startswith("zz")
    )
    inj = FaultInjector(sim, clock, specs, trace.append)
    inj.test_started("p.py::test_a")
    assert sim.calls == [("power", False)]  # at 0 s: before the step's first command
    inj.test_ended("p.py::test_a")
    inj.test_started("p.py::test_b")
    assert clock.wakes == [2.0]
    clock.advance(1.5)
    assert len(sim.calls) == 1
    clock.advance(0.5)
    clock.advance(5.0)
    assert sim.calls[1:] == [("stage", "stall", None)]  # once, at its moment
    inj.test_ended("p.py::test_b")
    inj.test_started("p.py::test_c")
    clock.advance(3.0)
    inj.test_ended("p.py::test_c")  # ended before 9 s: never fires
    inj.test_started("p.py::test_b")  # a second match: already used
    clock.advance(10.0)
    inj.close()
    assert len(sim.calls) == 2
    kinds = [(e["kind"], e.get("t")) for e in trace]
    assert kinds == [("fault_injected", 0.0), ("fault_injected", 2.0), ("fault_not_injected", 10.0)]
    assert "before the fault was due" in trace[-1]["why"]
    assert [r["injected_t"] for r in inj.record()] == [2.0, 0.0, None]


def test_lockstep_clock_lands_on_a_wake_and_runs_advance_hooks_inside_transactions() -> None:
    from rig.clock import LockstepClock

    class Control:
        def __init__(self) -> None:
            self.t = 0.0
            self.steps: list[float] = []

        def time(self) -> float:
            return self.t

        def advance(self, seconds: float) -> float:
            self.steps.append(round(seconds, 6))
            self.t = round(self.t + seconds, 6)
            return self.t

    control = Control()
    clock = LockstepClock(control)
    seen: list[float] = []
    ticks: list[float] = []
    remove = clock.on_advance(seen.append)
    clock.on_tick(ticks.append)
    clock.wake_at(2.3)
    clock.sleep(5.0, step_s=5.0)
    assert control.steps == [2.3, 2.7] and seen == [2.3, 5.0] and ticks == [2.3, 5.0]
    clock.sleep(0.02, step_s=0.01, hooks=False)  # a driver inside its own transaction
    assert seen[-2:] == [5.01, 5.02] and ticks == [2.3, 5.0]
    remove()
    clock.sleep(1.0, step_s=1.0)
    assert seen[-1] == 5.02 and control.steps[-1] == 1.0


def test_sim_fault_is_refused_on_a_lab_bench(tmp_path: Path) -> None:
    """Refused before anything is collected, let alone energized (exit status 4)."""
    with SimBenchProcess("--seed", "6") as sim:
        station = tmp_path / "station.yaml"
        data = yaml.safe_load(station_to_yaml(sim_station(sim.resources, dt.date.today())))
        station.write_text(yaml.safe_dump(data, sort_keys=False))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                PLAN,
                *FAST,
                "--rig",
                "lab",
                "--station",
                str(station),
                "--serial",
                SERIAL,
                "--out",
                str(tmp_path / "runs"),
                "--sim-fault",
                "test_shock@1=supply:stall",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode == 4, text
        assert "--sim-fault works on the simulated bench only" in text, text
        assert sim.true("supply_output") == "0" and sim.true("stage_output") == "0"
        assert float(sim.true("supply_v")) < 0.1
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def attached_bench(tmp_path: Path) -> Iterator[Any]:
    from rig.bench import Bench, RigOptions

    with SimBenchProcess("--seed", str(SEED), "--serial", SERIAL) as sim:
        attach = tmp_path / "bench.json"
        attach.write_text(json.dumps(sim.resources) + "\n")
        bench = Bench.bring_up(RigOptions(rig="sim", sim_attach=attach, out=tmp_path / "runs"))
        try:
            yield bench, sim
        finally:
            bench.shutdown("ERROR", "test teardown")


def test_make_safe_reconnects_a_dropped_instrument_once(attached_bench: Any) -> None:
    """A link that dropped and came back: the safe state reconnects and confirms the supply
    off; one that stays down is named, and everything else is still made safe."""
    from rig.acquisition import AcquisitionError

    bench, sim = attached_bench
    sim.fault("supply", "drop")
    with pytest.raises(AcquisitionError, match=r"supply \("):
        bench.clock.sleep(6.0)  # the next supply read-back fails: the waiting step errors
    assert bench.supply.link_failure
    sim.fault("supply", "clear")
    sim.fault("stage", "drop")
    bench.stage.adapter.failure = "stage link dropped (set by the test)"
    report = bench.make_safe()
    assert report["reconnected"]["supply"] is True and report["supply_off"] is True
    assert "stage" in report["reconnected"]  # tried once (the bench closes it at once)
    assert report["stage_off"] is False and "stage (" in report["errors"]["stage"]
    assert report["unit_stop"] is True
    assert sim.true("supply_output") == "0" and sim.true("valve_flowing") == "0"
    sim.fault("stage", "clear")
