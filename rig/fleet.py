"""``cryorig fleet``: the rig judged by what it is for — stopping bad units, passing good ones.

N simulated units drawn from the nominal manufacturing spread plus every defect
profile of the catalog go through the real EOL plan (pytest, the plugin, PyVISA,
pyserial, the simulated bench), in parallel across cores. The study reports:

* the confusion table: each defect detected or escaped, and which requirement
  caught it (detected = the unit FAILED on at least one requirement its profile
  says it breaks);
* the false-reject rate on nominal units (a FAIL of a good unit; an ERROR is
  counted apart: it is a retest, not a reject);
* the capability (Cpk) of each key measurement against its limits;
* the EOL cycle time in virtual time with its breakdown per step, next to the
  same steps with fixed conservative waits instead of detected settling.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from decimal import ROUND_FLOOR, Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .sim.profile import catalog, load_profile

KEY_MEASUREMENTS = (
    "shock.time_to_target_band",
    "shock.min_surface",
    "shock.drop_in_30s",
    "shock.rate_30_to_10",
    "hold4.max_deviation",
    "hold10.max_deviation",
    "cutoff.close_latency",
    "safety.min_surface_cutoff",
    "sensor.f01_close_latency",
    "power.uv_close_latency",
    "maxopen.duration",
    "power.idle_current",
    "power.valve_open_current",
)

FIXED_SETTLE_S = 900.0
"""A conservative fixed wait for the phantom to settle (six of its ~150 s time
constants), the comparison the detected settling is measured against."""


@dataclass(frozen=True)
class FleetUnit:
    serial: str
    seed: int
    profile: str | None = None
    name: str = "nominal"
    breaks: tuple[str, ...] = ()
    fixed_settle_s: float | None = None

    @property
    def nominal(self) -> bool:
        return self.profile is None


@dataclass
class UnitResult:
    unit: FleetUnit
    verdict: str
    requirements: dict[str, str]
    failed: list[str]
    run_dir: str | None
    wall_s: float
    virtual_s: float | None
    steps: dict[str, float] = field(default_factory=dict)
    """Virtual seconds spent in each test of the plan."""
    values: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    uncertainties: dict[str, float] = field(default_factory=dict)
    """The standard uncertainty u = U/k of a value (from its record), where the plan gives one."""


def plan_units(n: int, seed: int) -> list[FleetUnit]:
    """N nominal units (seeds seed…seed+N−1) and every catalog defect (seed ``seed``)."""
    units = [FleetUnit(f"SIM-N-{i + 1:04d}", seed + i) for i in range(n)]
    for name, path in catalog().items():
        prof = load_profile(path, seed)
        units.append(FleetUnit(prof.serial, seed, str(path), name, tuple(prof.breaks)))
    return units


_WORKER_BENCH: Any = None


def _worker_bench(out: Path) -> tuple[Any, Path]:
    """This worker's simulated bench, started once and reset for every unit: a fresh
    bench per unit as ``cryorig sim serve`` would give, without a process start."""
    global _WORKER_BENCH
    if _WORKER_BENCH is None:
        import atexit

        from .simlink import SimBenchProcess

        _WORKER_BENCH = SimBenchProcess.start(seed=0)
        atexit.register(_WORKER_BENCH.close)
    out.mkdir(parents=True, exist_ok=True)
    resources = out / f".bench-{os.getpid()}.json"
    resources.write_text(json.dumps(_WORKER_BENCH.resources) + "\n")
    return _WORKER_BENCH, resources


def run_unit(unit: FleetUnit, out: str) -> UnitResult:
    """One unit through the real plan, in this process (the fleet's worker function)."""
    if _STOP is not None and _STOP.is_set():
        return UnitResult(unit, "ERROR", {}, [], None, 0.0, None, reason="study interrupted")
    from rich.console import Console

    from .runner import run_plan

    sim, resources = _worker_bench(Path(out))
    profile_serial = load_profile(unit.profile, unit.seed).serial if unit.profile else None
    sim.reset(unit.seed, unit.profile, None if profile_serial else unit.serial)
    extra = ["--sim-attach", str(resources)]
    if unit.fixed_settle_s is not None:
        extra += ["--fixed-settle", str(unit.fixed_settle_s)]
    outcome = run_plan(
        serial=unit.serial,
        station=None,
        unit_profile=Path(unit.profile) if unit.profile else None,
        seed=unit.seed,
        out=Path(out),
        operator="fleet",
        qa_overrides=[],
        console=Console(file=open(os.devnull, "w"), stderr=False),  # noqa: SIM115
        live=False,
        extra_args=extra,
    )
    result = UnitResult(
        unit=unit,
        verdict=outcome.verdict,
        requirements=outcome.requirements,
        failed=outcome.failed,
        run_dir=outcome.run_dir,
        wall_s=outcome.wall_s,
        virtual_s=outcome.virtual_s,
        reason=outcome.reason,
    )
    if outcome.run_dir:
        result.steps, result.values, result.uncertainties = _from_record(Path(outcome.run_dir))
    return result


def _from_record(
    run_dir: Path,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """A run's virtual time per test, and its numeric measurements with the standard
    uncertainties recorded with them."""
    steps: dict[str, float] = {}
    starts: dict[str, float] = {}
    trace = run_dir / "trace.jsonl"
    for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        kind = e.get("kind")
        if kind == "test_start":
            starts[e["test"]] = e["t"]
        elif kind == "test_end" and e.get("test") in starts:
            name = e["test"].split("::")[-1]
            steps[name] = e["t"] - starts[e["test"]]
    values: dict[str, float] = {}
    uncertainties: dict[str, float] = {}
    for line in (run_dir / "measurements.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        v = m.get("value")
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        values[m["name"]] = float(v)
        # The record holds the expanded U and its k (rig.measure); the study wants u.
        big_u, k = m.get("uncertainty"), m.get("coverage_factor")
        if (
            all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in (big_u, k)
            )
            and k > 0
        ):
            uncertainties[m["name"]] = float(big_u) / float(k)
    return steps, values, uncertainties


def run_fleet(
    units: Sequence[FleetUnit],
    out: Path,
    *,
    workers: int,
    progress: Callable[[UnitResult, int, int], None] | None = None,
) -> list[UnitResult]:
    """Every unit through the plan, ``workers`` at a time (one worker process each).

    Interrupted (Ctrl-C, or an exception from ``progress``), it does not wait for the
    queue: the units not started are cancelled, each worker gets SIGTERM,
    so that the unit on its bench ends ERROR with that bench made safe, as a station's
    run would, and the interrupt goes on once the workers have ended.
    """
    out.mkdir(parents=True, exist_ok=True)
    results: list[UnitResult] = []
    ctx = get_context("spawn")
    stop = ctx.Event()
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_fleet_worker_start, initargs=(stop,)
    )
    try:
        futures = {pool.submit(run_unit, u, str(out)): u for u in units}
        for fut in as_completed(futures):
            u = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # a worker that died: the unit could not be decided
                res = UnitResult(u, "ERROR", {}, [], None, 0.0, None, reason=repr(exc))
            results.append(res)
            if progress is not None:
                progress(res, len(results), len(units))
    except BaseException:
        stop.set()  # units already handed to a worker's queue are not started either
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_workers()
        raise
    pool.shutdown(wait=True)
    return results


WORKER_STOP_S = 60.0
"""How long an interrupted study waits for its workers to make their benches safe."""


def _stop_workers(timeout_s: float = WORKER_STOP_S) -> None:
    """SIGTERM to every worker still alive, then wait for them (killed after
    ``timeout_s``: a worker that cannot end its unit must not hold the study's exit)."""
    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(OSError):
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(5.0)


_STOP: Any = None
"""This worker's copy of the study's stop event (set when the study is interrupted)."""


def _fleet_worker_start(stop: Any = None) -> None:
    """A fleet worker ends when the study's process does (killed included): the unit in
    progress gets SIGTERM, so its run ends ERROR with the bench made safe, as a station's
    would; a worker left behind would otherwise run units for nobody, or wait for ever."""
    from .shared.parent_watch import exit_with_parent

    # SIGINT is left to the study's process (exit_with_parent), which stops the workers
    # with SIGTERM (run_fleet); while a unit is on the bench the plan's own handler
    # takes a terminal's Ctrl-C and ends that unit's run as ERROR.
    global _STOP
    _STOP = stop
    exit_with_parent(graceful=True)


# --- the study ----------------------------------------------------------------------------------
def detection_outcome(verdict: str, caught: list[str]) -> str:
    """What became of a defective unit: ``detected`` (FAILED by a requirement its defect
    breaks) or why not. Only ``escaped`` would ship; the other two are not detections
    either (the acceptance counts all three), but they call for different work: a
    requirement that missed, or a run that could not judge the unit."""
    if verdict == "FAIL":
        return "detected" if caught else "failed other requirements"
    if verdict == "PASS":
        return "escaped"
    return "not judged (ERROR)"


def study_exit_status(summary: dict[str, Any]) -> int:
    """``cryorig fleet``'s exit status: 0 when every defect was detected and every unit
    judged; 1 when a defect was not detected (escaped, or failed only other
    requirements); 2 when that is not so but a unit could not be judged (an ERROR, among
    the defects or the nominal units): the study is incomplete, as ``cryorig run``'s 2
    says of a unit. A study with nominal units in ERROR used to exit 0."""
    outcomes = summary.get("outcomes") or {}
    if any(n for k, n in outcomes.items() if k not in ("detected", "not judged (ERROR)")):
        return 1
    if outcomes.get("not judged (ERROR)") or (summary.get("nominal") or {}).get("errors"):
        return 2
    return 0


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, interpolated between order statistics (numpy's default,
    Hyndman and Fan's type 7). The index ``int(q/100 * (n - 1))`` it replaces rounded
    down: with two units the "95th percentile" of the cycle time was the shorter one,
    below the mean."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def _cpk(values: list[float], low: float | None, high: float | None) -> float | None:
    """Cpk of the finite ``values`` against the limits; None when it cannot be estimated:
    fewer than two values, no limit, or no spread at all (see :func:`_cpk_note`)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return None
    mean = statistics.fmean(finite)
    sd = statistics.stdev(finite)
    if sd == 0:
        return None
    sides = []
    if high is not None:
        sides.append((high - mean) / (3 * sd))
    if low is not None:
        sides.append((mean - low) / (3 * sd))
    return min(sides) if sides else None


def _cpk_note(values: list[float], u: float | None = None, unit: str = "") -> str | None:
    """Why a measurement gets no Cpk, for the reader of the table (None when it gets one).

    Values that are all equal, or that spread less than the measurement's own standard
    uncertainty ``u``, come from a measurement coarser than the process varies (a
    latency counted in sample intervals, in a small study): the process's spread is not
    resolved, and a Cpk of "infinity", or of 300,000 from rounding noise, would claim a
    capability nobody has shown (the measurement-system rule that a capability study
    needs a gauge that tells the parts apart).
    """
    if len(values) < 2:
        return f"{len(values)} value: a Cpk needs at least 2"
    sd = statistics.stdev(values)
    if sd == 0:
        return (
            f"all {len(values)} values equal ({values[0]:g}): no spread seen at the "
            "measurement's resolution, so no Cpk"
        )
    if u is not None and sd < u:
        unit = f" {unit}" if unit else ""
        return (
            f"the values spread less (sd {sd:.2g}{unit}) than the measurement's standard "
            f"uncertainty ({u:.2g}{unit}): the process's spread is not resolved, so no Cpk"
        )
    return None


CPK_CAPABLE = 1.33
"""The usual capability floor for a production characteristic."""


def cpk_text(value: float | None) -> str:
    """A Cpk for a table: two decimals cut, not rounded, so that what is shown never
    exceeds the estimate. A rounded 1.3296 would read "1.33", capable, on a row flagged
    below 1.33."""
    if value is None or not math.isfinite(value):
        return "—"
    # From the shortest repr, so that 1.15 stays 1.15 (1.15 * 100 is 114.999...).
    cut = Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    return f"{cut:.2f}"


CPK_CONFIDENCE_Z = 1.6448536269514722
"""One-sided 95 %: the standard normal's 0.95 quantile."""


def cpk_lower_bound(cpk: float | None, n: int, z: float = CPK_CONFIDENCE_Z) -> float | None:
    """Lower one-sided 95 % confidence bound of a Cpk estimated from ``n`` normal values
    (Bissell 1990: Ĉpk − z·√(1/(9n) + Ĉpk²/(2(n − 1)))). What a capability claim rests
    on: 400 units with Ĉpk 1.01 bound the process's Cpk only above about 0.94, two
    units with Ĉpk 5 not even above 0."""
    if cpk is None or not math.isfinite(cpk) or n < 2:
        return None
    return cpk - z * math.sqrt(1.0 / (9.0 * n) + cpk * cpk / (2.0 * (n - 1)))


def rate_upper_bound(count: int, n: int, confidence: float = 0.95) -> float | None:
    """Exact (Clopper-Pearson) one-sided upper confidence bound of a rate seen ``count``
    times in ``n`` trials. A study with no false reject in 400 units shows a false-reject
    rate below 0.75 % at 95 % confidence, not that it is zero."""
    if n <= 0:
        return None
    if count >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(confidence, count + 1, n - count))


def summarize(
    results: Sequence[UnitResult],
    *,
    limits: Any,
    seed: int,
    wall_s: float,
    workers: int,
    fixed: UnitResult | None = None,
) -> dict[str, Any]:
    nominal = [r for r in results if r.unit.nominal and r.unit.fixed_settle_s is None]
    defects = [r for r in results if not r.unit.nominal]
    confusion = []
    for r in sorted(defects, key=lambda r: r.unit.name):
        caught = [req for req in r.failed if req in r.unit.breaks]
        outcome = detection_outcome(r.verdict, caught)
        confusion.append(
            {
                "profile": r.unit.name,
                "serial": r.unit.serial,
                "breaks": list(r.unit.breaks),
                "verdict": r.verdict,
                "failed": r.failed,
                "detected": outcome == "detected",
                "outcome": outcome,
                "reason": r.reason if r.verdict == "ERROR" else None,
                "caught_by": caught,
                "run_dir": r.run_dir,
            }
        )
    rejected = [r for r in nominal if r.verdict == "FAIL"]
    errored = [r for r in nominal if r.verdict == "ERROR"]
    cpk = []
    for name in KEY_MEASUREMENTS:
        try:
            lim = limits[name]
        except Exception:
            continue
        vals = [r.values[name] for r in nominal if name in r.values]
        finite = [v for v in vals if math.isfinite(v)]
        if not finite:
            continue
        us = [r.uncertainties[name] for r in nominal if name in r.uncertainties]
        note = _cpk_note(finite, statistics.median(us) if us else None, lim.unit)
        estimate = None if note else _cpk(finite, lim.low, lim.high)
        cpk.append(
            {
                "name": name,
                "req": lim.req,
                "unit": lim.unit,
                "n": len(finite),
                "mean": statistics.fmean(finite),
                "sd": statistics.stdev(finite) if len(finite) > 1 else 0.0,
                "low": lim.low,
                "high": lim.high,
                "cpk": estimate,
                "cpk_lower95": cpk_lower_bound(estimate, len(finite)),
                "cpk_note": note,
                "values": finite,
            }
        )
    cycles = [r.virtual_s for r in nominal if r.virtual_s]
    steps: dict[str, list[float]] = {}
    for r in nominal:
        for k, v in r.steps.items():
            steps.setdefault(k, []).append(v)
    mean_cycle = statistics.fmean(cycles) if cycles else None
    cycle = {
        "mean_s": mean_cycle,
        "p95_s": _percentile(cycles, 95.0) if cycles else None,
        "steps": [{"test": k, "mean_s": statistics.fmean(v)} for k, v in steps.items()],
        "fixed_wait_s": fixed.virtual_s if fixed else None,
        "fixed_settle_each_s": fixed.unit.fixed_settle_s if fixed else None,
        "ratio": (mean_cycle / fixed.virtual_s)
        if (fixed and fixed.virtual_s and mean_cycle)
        else None,
        "units_per_hour": 3600.0 / mean_cycle if mean_cycle else None,
    }
    return {
        "units": len(nominal),
        "seed": seed,
        "workers": workers,
        "wall_s": wall_s,
        "confusion": confusion,
        # Defect profiles not detected, whatever the reason (each row's ``outcome`` says).
        "escapes": sum(not c["detected"] for c in confusion),
        "outcomes": dict(Counter(c["outcome"] for c in confusion)),
        "nominal": {
            "units": len(nominal),
            "false_rejects": len(rejected),
            "rate": len(rejected) / len(nominal) if nominal else None,
            "rate_upper95": rate_upper_bound(len(rejected), len(nominal)),
            "errors": len(errored),
            "rejected": [
                {"serial": r.unit.serial, "failed": r.failed, "run_dir": r.run_dir}
                for r in rejected
            ],
            "errored": [
                {"serial": r.unit.serial, "reason": r.reason, "run_dir": r.run_dir} for r in errored
            ],
        },
        "cpk": cpk,
        "cycle": cycle,
        "results": [
            {
                **asdict(r.unit),
                "verdict": r.verdict,
                "failed": r.failed,
                "run_dir": r.run_dir,
                "virtual_s": r.virtual_s,
                "wall_s": r.wall_s,
            }
            for r in results
        ],
    }


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def study(
    n: int,
    seed: int,
    out: Path,
    workers: int,
    progress: Callable[[UnitResult, int, int], None] | None = None,
) -> dict[str, Any]:
    """The whole study: the fleet, the fixed-wait reference unit, the summary."""
    from .limits import load_limits
    from .station import default_limits_file

    units = plan_units(n, seed)
    units.append(
        FleetUnit(
            "SIM-FIXED-0001", seed, fixed_settle_s=FIXED_SETTLE_S, name="fixed-wait reference"
        )
    )
    started = time.monotonic()
    results = run_fleet(units, out, workers=workers, progress=progress)
    wall = time.monotonic() - started
    fixed = next((r for r in results if r.unit.fixed_settle_s is not None), None)
    limits = load_limits(default_limits_file())
    return summarize(results, limits=limits, seed=seed, wall_s=wall, workers=workers, fixed=fixed)
