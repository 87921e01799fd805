"""The station's bench, assembled for one run: checks first, then energize, always end safe.

Order of bring-up, so that bad input never energizes anything:

1. protocols and limits validated (file, field, value in every error);
2. on the simulated bench, the simulator started and its station made from its
   resource line; in the lab, the station file loaded;
3. calibration status checked (overdue blocks unless QA overrode it with a reason);
4. the run record opened (everything from here on is recorded);
5. instruments opened and identified against the station file (model, serial),
   error queues checked, the supply output confirmed OFF;
6. only then: supply output on, stage on, acquisition started.

Every way out (normal end, test failure, exception, Ctrl-C, SIGTERM) goes
through :meth:`Bench.shutdown`, which puts the bench in its safe state (valve
closed, supply output off, stage off) and closes the run record.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .acquisition import Acquisition, PollRates, ScanPlan
from .analysis.signals import Stability, slope_per_s, stability
from .clock import Clock, LockstepClock, WallClock
from .instruments import steps
from .instruments.connect import open_logger, open_stage, open_supply
from .instruments.cryo_unit import CryoUnitPort
from .instruments.errors import IdentityMismatch, InstrumentError, RigError, UnitCommandError
from .limits import LimitSet, load_limits
from .protocols import BenchProtocol, Precondition, Protocols, ScanSettings
from .recording import RecordingError, RunMetadata, RunRecorder, software_identity
from .simlink import SimBenchProcess, SimControl
from .station import (
    Station,
    StationError,
    load_station,
    require_calibrated,
    sim_station,
    station_record,
)

STAGE_MIN_C = -15.0
STAGE_MAX_C = 55.0
"""The stage's setpoint range as the rig drives it: inside the stage's own −20…60 °C,
below 0 °C because the 2 °C calibration point needs the plate there (docs/sim.md)."""
SAFE_SETTLE_S = 0.5
"""How long the safe state is given to take effect before it is checked."""
BRINGUP_RUN_DIR = "cryorig_run_dir"
"""Attribute set on an exception that ended a bring-up after the run record was opened:
the record's directory (the run is recorded as ERROR; the station's summary names it)."""


@dataclass
class RigOptions:
    """What the operator (or the line's MES) said about this run."""

    rig: str = "sim"
    station: Path | None = None
    serial: str | None = None
    unit_profile: Path | None = None
    seed: int = 0
    out: Path = Path("runs")
    operator: str | None = None
    qa_overrides: dict[str, str] = field(default_factory=dict)
    retest_of: str | None = None
    fixed_settle_s: float | None = None
    """Settle the phantom by a fixed wait instead of detecting it (the reference plan
    that the cycle-time study compares detected settling with)."""
    sim_attach: Path | None = None
    """A simulated bench already serving (its JSON resource line in this file): the run
    attaches to it instead of starting one, and leaves it serving afterwards."""
    today: _dt.date = field(default_factory=_dt.date.today)

    def label_serial(self) -> str:
        if self.serial:
            return self.serial
        if self.rig == "sim":
            return "SIM-0001"
        raise RigError("--serial is required on a lab bench (the label scanned on the unit)")


def parse_overrides(values: list[str]) -> dict[str, str]:
    """``ROLE:REASON`` strings from ``--qa-override`` into a mapping."""
    out: dict[str, str] = {}
    for v in values:
        role, sep, reason = v.partition(":")
        if not sep or not role.strip():
            raise RigError(f"--qa-override {v!r}: expected ITEM:REASON (e.g. supply:QA-0042 …)")
        out[role.strip()] = reason
    return out


class SafeStateError(RigError):
    """The bench could not be confirmed safe."""


@dataclass
class Bench:
    options: RigOptions
    station: Station
    limits: LimitSet
    protocols: Protocols
    bench_protocol: BenchProtocol
    clock: Clock
    recorder: RunRecorder
    sim: SimControl | None
    logger: Any
    supply: Any
    stage: Any
    unit: Any = None
    acq: Acquisition | None = None
    label_serial: str = ""
    stage_setpoint_c: float | None = None
    safe_report: dict[str, Any] = field(default_factory=dict)
    record_failure: str | None = None
    """Why the run record could not be written in full (a full disk), after shutdown."""
    _closed: bool = False
    _unsubscribe: Any = None

    # --- assembly -------------------------------------------------------------------------
    @classmethod
    def bring_up(cls, options: RigOptions, protocols: Protocols | None = None) -> Bench:
        protocols = protocols or Protocols()
        all_protocols = protocols.load_all()
        bench_protocol: BenchProtocol = all_protocols["bench"]
        label = options.label_serial()
        sim: SimControl | None = None
        try:
            if options.rig == "sim":
                if options.sim_attach is not None:
                    sim = SimControl.attach(options.sim_attach)
                else:
                    profile_serial = _profile_serial(options.unit_profile)
                    sim = SimBenchProcess.start(
                        profile=options.unit_profile,
                        seed=options.seed,
                        serial=None if profile_serial else label,
                    )
                station = sim_station(sim.resources, options.today)
            else:
                if options.station is None:
                    raise RigError("--station is required with --rig lab")
                station = load_station(options.station)
            report = require_calibrated(station, options.today, options.qa_overrides)
            limits = load_limits(station.limits_path, expect_version=station.limits.version)
            recorder = RunRecorder.create(
                RunMetadata(
                    unit_serial=label,
                    station=station.station,
                    site=station.site,
                    operator=options.operator or os.environ.get("USER") or "unknown",
                    seed=options.seed if options.rig == "sim" else None,
                    limits={
                        "file": str(limits.path),
                        "version": limits.version,
                        "sha256": limits.sha256,
                    },
                    profile=str(options.unit_profile) if options.unit_profile else None,
                    retest_of=options.retest_of,
                    instruments=station_record(station, report),
                    deviations=[d.as_dict() for d in report.deviations],
                    software=software_identity().as_dict(),
                    extra={"rig": options.rig, "protocols": _versions(all_protocols)},
                ),
                options.out,
            )
        except BaseException:
            if sim is not None:
                sim.close()
            raise
        clock: Clock = LockstepClock(sim) if sim is not None else WallClock()
        # Every bench action the plan takes goes into the run's trace (routine
        # acquisition polls excepted, they are in the samples themselves).
        bench = cls(
            options=options,
            station=station,
            limits=limits,
            protocols=protocols,
            bench_protocol=bench_protocol,
            clock=clock,
            recorder=recorder,
            sim=sim,
            logger=None,
            supply=None,
            stage=None,
            label_serial=label,
        )
        bench._unsubscribe = steps.subscribe(bench._on_step)
        try:
            bench._open_instruments()
            bench._energize()
        except BaseException as exc:
            bench.shutdown("ERROR", f"bring-up failed: {_describe(exc)}")
            # The run was recorded (as ERROR, with what was acquired): say where.
            setattr(exc, BRINGUP_RUN_DIR, str(bench.recorder.dir))
            raise
        return bench

    def _on_step(self, event: dict[str, Any]) -> None:
        if event.get("phase") == "start" or (self.acq is not None and self.acq.polling):
            return
        if not self.recorder.finished:
            self.recorder.trace({"kind": "step", "t": self.clock.now(), **event})

    def _trace(self, kind: str, **fields: Any) -> None:
        self.recorder.trace({"kind": kind, "t": self.clock.now(), **fields})

    def _open_instruments(self) -> None:
        st = self.station
        ins = st.instruments
        self.recorder.save_station(_station_yaml(st))
        self.recorder.attach("limits.yaml", self.limits.path.read_bytes())
        self.logger = self._connect("logger", open_logger, ins.logger)
        self.supply = self._connect("supply", open_supply, ins.supply, channel=ins.supply.output)
        self.stage = self._connect("stage", open_stage, ins.stage)
        # Start from a known, de-energized state before anything is switched on.
        if not self.supply.safe_off():
            raise SafeStateError("the supply output could not be confirmed OFF at bring-up")
        self._trace(
            "instruments_open",
            logger=ins.logger.serial,
            supply=ins.supply.serial,
            stage=ins.stage.serial,
        )

    def _connect(self, role: str, opener: Any, cfg: Any, **extra: Any) -> Any:
        """Open one instrument; a wrong resource or identity is an error in the station
        file, reported with its file, field and value before anything is energized."""
        src = self.station.source
        try:
            return opener(
                cfg.resource,
                clock=self.clock,
                expect_model=cfg.model,
                expect_serial=cfg.serial,
                timeout_s=cfg.timeout_s,
                **extra,
            )
        except IdentityMismatch as exc:
            raise StationError(
                [
                    f"{src}: field 'instruments.{role}.{exc.field}' value {exc.expected!r}: the "
                    f"instrument at {cfg.resource} reports {exc.field} {exc.found!r}"
                ]
            ) from exc
        except InstrumentError as exc:
            raise StationError(
                [
                    f"{src}: field 'instruments.{role}.resource' value {cfg.resource!r}: "
                    f"cannot use the {role} there: {exc}"
                ]
            ) from exc

    def _energize(self) -> None:
        bp = self.bench_protocol
        supply = self.supply
        supply.current_limit_a = bp.supply.current_limit_a
        supply.voltage_setpoint_v = bp.supply.voltage_v
        supply.ocp_enabled = bp.supply.ocp
        self._check_errors(supply, "supply configuration")
        self.stage.set_temperature_mode()
        acq = bp.acquisition
        self.acq = Acquisition(
            self.clock,
            self.recorder,
            logger=self.logger,
            supply=supply,
            slow=PollRates(acq.slow.logger_s, acq.slow.supply_s, acq.slow.unit_s),
            fast=PollRates(acq.fast.logger_s, acq.fast.supply_s, acq.fast.unit_s),
        )
        self.acq.start(_plan(acq))
        supply.output_enabled = True
        self._trace("energized", voltage_v=bp.supply.voltage_v)
        # The port is opened now; the unit's identity is judged by the plan (REQ-ID-01),
        # so a wrong or mislabelled unit FAILS rather than stopping the run.
        self.unit = CryoUnitPort.open(
            self.station.instruments.device.resource, clock=self.clock, role="unit"
        )
        self.acq.unit = self.unit
        booted = self.clock.wait_until(self._unit_answers, bp.boot_timeout_s, poll_s=0.1)
        if not booted:
            raise RigError(
                f"the unit did not answer on {self.station.instruments.device.resource} within "
                f"{bp.boot_timeout_s:g} s of power-up"
            )
        self.acq.anchor_unit()

    def _unit_answers(self) -> bool:
        try:
            self.unit.state()
        except RigError:
            return False
        return True

    def power_cycle(self, off_s: float, boot_timeout_s: float) -> None:
        """Switch the unit's supply off and on again; wait until it answers, re-anchor its clock."""
        self.acq.unit_online = False
        self.supply.output_enabled = False
        self.clock.sleep(off_s)
        self.acq.poll_supply()  # the record shows the unit really was unpowered
        self.supply.output_enabled = True
        if not self.clock.wait_until(self._unit_answers, boot_timeout_s, poll_s=0.1):
            raise RigError(f"the unit did not answer within {boot_timeout_s:g} s of power-up")
        self.acq.anchor_unit()

    def ensure_idle(self, timeout_s: float = 180.0) -> None:
        """Back to IDLE from wherever the unit is: stop cooling, leave service, or
        acknowledge (a CUTOFF only re-arms once the spot is above 8 °C, so keep trying)."""
        state = self.unit.state()
        if state.state in ("SHOCK", "HOLD", "SERVICE"):
            self.unit.stop()

        def acked() -> bool:
            if self.unit.state().state not in ("CUTOFF", "FAULT"):
                return True
            try:
                self.unit.ack()
            except UnitCommandError as exc:
                if exc.code != "E4":
                    raise
                return False
            return True

        self.clock.wait_until(acked, timeout_s, poll_s=1.0)
        final = self.unit.state().state
        if final != "IDLE":
            raise RigError(
                f"the unit did not return to IDLE within {timeout_s:g} s (it is {final})"
            )

    def surface_min(self, t_from: float, t_to: float) -> float:
        t, ref = self.reference_surface(t_from, t_to)
        if t.size == 0:
            raise RigError(f"no reference surface samples between {t_from:.1f} and {t_to:.1f} s")
        return float(ref.min())

    def valve_sense(self, t_from: float, t_to: float):
        ch, entry = self.station.channel("valve_sense")
        t, v = self.acq.channel(ch, t_from, t_to)
        return t, v, entry.threshold_v

    @staticmethod
    def _check_errors(inst: Any, context: str) -> None:
        errs = inst.errors()
        if errs:
            raise RigError(f"{context}: instrument reported {errs}")

    # --- steps the plans use ----------------------------------------------------------------
    def set_stage(self, setpoint_c: float) -> None:
        self.stage.setpoint_c = round(setpoint_c, 2)
        if self.stage_setpoint_c is None:
            self.stage.output_enabled = True
        self.stage_setpoint_c = round(setpoint_c, 2)

    def ref_channel(self) -> tuple[int, Any]:
        return self.station.channel("ref_surface")

    def corrected(self, channel: int, values: np.ndarray) -> np.ndarray:
        entry = self.station.channel_map()[channel]
        correction = getattr(entry, "correction_c", 0.0)
        return np.asarray(values, dtype=float) + correction

    def reference_surface(self, t_from: float | None = None, t_to: float | None = None):
        ch, _ = self.ref_channel()
        t, v = self.acq.channel(ch, t_from, t_to)
        return t, self.corrected(ch, v)

    def plate_for_surface(self, surface_c: float) -> float:
        """The plate setpoint that holds the phantom's surface at ``surface_c`` in still air.

        In steady state the surface sits between the plate and the room:
        surface = g·plate + (1 − g)·ambient, with g the bench protocol's
        ``surface_to_plate_gain`` (the phantom's conduction against natural convection
        on its top). The ambient is channel 105's median over the last minute (the
        protocol's ``ambient_c`` before any has been read).
        """
        sp = self.bench_protocol.stage
        ambient = sp.ambient_c
        with contextlib.suppress(KeyError):
            ch, entry = self.station.channel("ambient")
            now = self.clock.now()
            t, v = self.acq.channel(ch, now - 60.0, now) if self.acq is not None else ([], [])
            if len(t):
                ambient = float(np.median(v)) + getattr(entry, "correction_c", 0.0)
        g = sp.surface_to_plate_gain
        return (surface_c - (1.0 - g) * ambient) / g

    def condition_surface(self, pre: Precondition) -> float:
        """Bring the reference surface to ``pre.surface_c`` and wait until it is settled
        (band and slope over a window, detected from the data); the surface then."""
        if self.options.fixed_settle_s is not None:
            return self._fixed_settle(pre, self.plate_for_surface(pre.surface_c))
        return self.settle_surface(
            pre.surface_c,
            band_c=pre.tolerance_c,
            slope_c_per_min=pre.stable_slope_c_per_min,
            window_s=pre.stable_window_s,
            timeout_s=pre.settle_timeout_s,
        ).mean

    def settle_surface(
        self,
        target_c: float,
        *,
        band_c: float,
        slope_c_per_min: float,
        window_s: float,
        timeout_s: float,
        also_stable: Callable[[float, float], bool] | None = None,
        on_period: Callable[[float], None] | None = None,
    ) -> Stability:
        """Drive the reference surface to ``target_c`` through the stage and wait until it
        is settled: over the last ``window_s`` its mean within ``band_c`` of the target,
        every reading within the band (widened by twice the noise), and its slope within
        ``slope_c_per_min`` (and ``also_stable(t_from, t_to)``, e.g. the unit's own
        reading, agrees).

        Cascade control: the TEC controller holds the plate; this loop moves the plate's
        setpoint around the one that holds the surface there (:meth:`plate_for_surface`)
        by a proportional term on the surface's error and a derivative term on its
        slope, limited to ``boost_c`` either side. No integral action: the phantom's own
        lag (minutes) makes it overshoot, and the steady error a proportional loop
        leaves is the hold setpoint's error divided by 1 + gain × g. Measured on the
        simulated bench: PD (7, 4) settles a SHOCK recovery in about 210 s and a HOLD
        4 °C recovery in about 240 s, P alone in 340 and 380 s; a 20 °C step takes
        300–400 s, set by the TEC's power (the plate slews at about 0.2 °C/s).
        ``on_period(now)`` is called once per control period (e.g. to poll the unit).
        """
        sp = self.bench_protocol.stage
        nominal = self.plate_for_surface(target_c)
        start = self.clock.now()
        deadline = start + timeout_s
        last = Stability(False, float("nan"), float("nan"), float("nan"))
        while self.clock.now() < deadline:
            now = self.clock.now()
            t, ref = self.reference_surface(now - sp.slope_window_s, now)
            if t.size:
                recent = ref[t >= now - sp.control_period_s]
                error = target_c - float(np.median(recent if recent.size else ref))
                slope = slope_per_s(t, ref) * 60.0 if t.size >= 3 and t[-1] > t[0] else 0.0
                wanted = nominal + sp.surface_gain * error - sp.slope_gain * slope
                wanted = min(max(wanted, STAGE_MIN_C, nominal - sp.boost_c), nominal + sp.boost_c)
                wanted = min(wanted, STAGE_MAX_C)
                if self.stage_setpoint_c is None or abs(wanted - self.stage_setpoint_c) >= 0.05:
                    self.set_stage(wanted)
            self.clock.sleep(sp.control_period_s)
            now = self.clock.now()
            if on_period is not None:
                on_period(now)
            t, ref = self.reference_surface(now - window_s, now)
            if t.size < 10 or t[0] > now - window_s + 1.0:
                continue
            last = stability(
                t, ref, target=target_c, band=band_c, max_slope_per_min=slope_c_per_min
            )
            if last.settled and (also_stable is None or also_stable(now - window_s, now)):
                self._trace(
                    "settled",
                    target_c=target_c,
                    surface_c=last.mean,
                    slope_c_per_min=last.slope_per_min,
                    waited_s=now - start,
                    setpoint_c=self.stage_setpoint_c,
                )
                return last
        raise RigError(
            f"the phantom surface did not settle at {target_c} ± {band_c} °C within "
            f"{timeout_s:g} s (last: {last.mean:.2f} °C, {last.slope_per_min:+.2f} °C/min)"
        )

    def _fixed_settle(self, pre: Precondition, nominal: float) -> float:
        """The plate at its hold setpoint and a fixed wait, as a plan without settling
        detection would do; then the same check that the surface is there."""
        wait = float(self.options.fixed_settle_s or 0.0)
        self.set_stage(nominal)
        self.clock.sleep(wait)
        now = self.clock.now()
        t, ref = self.reference_surface(now - pre.stable_window_s, now)
        st = stability(
            t,
            ref,
            target=pre.surface_c,
            band=pre.tolerance_c,
            max_slope_per_min=pre.stable_slope_c_per_min,
        )
        self._trace("fixed_settle", waited_s=wait, surface_c=st.mean, settled=st.settled)
        if not st.settled:
            raise RigError(
                f"after a fixed {wait:g} s wait the surface is {st.mean:.2f} °C "
                f"({st.slope_per_min:+.2f} °C/min), not {pre.surface_c} ± {pre.tolerance_c} °C"
            )
        return st.mean

    def wait_surface_above(self, level_c: float, timeout_s: float) -> float:
        """Wait until the reference surface is at least ``level_c`` (recovering after a
        treatment, with the stage boosted meanwhile); the surface then."""
        sp = self.bench_protocol.stage
        now = self.clock.now()
        t, ref = self.reference_surface(now - 2.0, now)
        if t.size and float(ref[-1]) >= level_c:
            return float(ref[-1])
        nominal = self.stage_setpoint_c
        if nominal is not None:
            self.set_stage(min(nominal + sp.boost_c, STAGE_MAX_C))
        try:
            deadline = now + timeout_s
            while self.clock.now() < deadline:
                self.clock.sleep(sp.boost_check_s)
                now = self.clock.now()
                t, ref = self.reference_surface(now - sp.boost_check_s, now)
                if t.size and float(np.median(ref)) >= level_c:
                    return float(np.median(ref))
        finally:
            if nominal is not None:
                self.set_stage(nominal)
        raise RigError(f"the phantom surface did not recover above {level_c} °C in {timeout_s} s")

    @contextlib.contextmanager
    def scan(self, settings: ScanSettings) -> Iterator[None]:
        """Run the logger at another scan (e.g. 50 Hz during a treatment), then restore."""
        assert self.acq is not None
        self.acq.set_scan(_plan(settings))
        self.acq.fast(True, supply_s=settings.supply_s)
        try:
            yield
        finally:
            self.acq.fast(False)
            self.acq.set_scan(_plan(self.bench_protocol.acquisition))

    @contextlib.contextmanager
    def background_scan(self, settings: ScanSettings) -> Iterator[None]:
        """Run the logger at another scan at the slow read-back rates (e.g. the
        calibration's 1 PLC scan of every thermocouple), then restore the bench's own."""
        assert self.acq is not None
        self.acq.set_scan(_plan(settings))
        try:
            yield
        finally:
            self.acq.set_scan(_plan(self.bench_protocol.acquisition))

    @contextlib.contextmanager
    def fast_polling(self) -> Iterator[None]:
        """Read the supply back at the fast rate for a while (e.g. an idle-current window)."""
        assert self.acq is not None
        self.acq.fast(True)
        try:
            yield
        finally:
            self.acq.fast(False)

    def supply_current(self, t_from: float, t_to: float) -> np.ndarray:
        """Supply current read back within [t_from, t_to]; none at all is a rig ERROR."""
        assert self.acq is not None
        _, current = self.acq.supply_series(t_from, t_to)
        if current.size == 0:
            raise RigError(
                f"no supply current read back between t={t_from:.2f} s and t={t_to:.2f} s"
            )
        return current

    def wait_cooling_end(self, timeout_s: float, *, poll_s: float = 0.5) -> str:
        """Wait until the unit is no longer cooling (valve closed and not in a treatment);
        its state then (SERVICE after service cooling that timed out, CUTOFF, FAULT …).

        Polled every ``poll_s`` (``STATE?``): the end is only where the recording's tail
        starts; every judged moment comes from the logger's scan, not from this poll."""
        seen: dict[str, str] = {}

        def done() -> bool:
            st = self.unit.state()
            seen["state"] = st.state
            return st.state not in ("SHOCK", "HOLD") and not st.valve_open

        if not self.clock.wait_until(done, timeout_s, poll_s=poll_s):
            raise RigError(
                f"the unit was still cooling after {timeout_s:g} s ({seen.get('state')})"
            )
        return seen["state"]

    def wait_unit_state(self, states: tuple[str, ...], timeout_s: float) -> str:
        """Wait (polling STATE?) until the unit is in one of ``states``; its state then."""
        seen: dict[str, str] = {}

        def done() -> bool:
            seen["state"] = self.unit.state().state
            return seen["state"] in states

        if not self.clock.wait_until(done, timeout_s, poll_s=0.25):
            raise RigError(
                f"the unit stayed in {seen.get('state')} for {timeout_s:g} s; expected {states}"
            )
        return seen["state"]

    # --- the way out --------------------------------------------------------------------------
    def make_safe(self) -> dict[str, Any]:
        """Valve closed, supply output off, stage off; each step tried whatever failed before.

        An instrument whose link failed during the run (it stopped answering, its connection
        dropped) gets one reconnect before it is commanded: a dropped session is dead for
        good, and one that timed out may still deliver the late reply to the query that
        timed out, which the confirming query would take for its own. One attempt only:
        the safe state must not wait on an instrument that is gone. What cannot be
        confirmed is named with its cause in ``errors`` (a stalled supply cannot switch
        itself off), and the rest is made safe all the same.
        """
        report: dict[str, Any] = {}
        errors: dict[str, str] = {}
        if self.unit is not None:
            try:
                self.unit.stop()
                report["unit_stop"] = True
            except Exception as exc:  # the supply switch-off below closes the valve anyway
                report["unit_stop"] = f"failed: {_describe(exc)}"
                errors["unit"] = f"STOP not confirmed: {_describe(exc)}"
        reconnected: dict[str, Any] = {}
        for role, inst in (("supply", self.supply), ("stage", self.stage)):
            if inst is None:
                report[f"{role}_off"] = None
                continue
            failure = getattr(inst, "link_failure", None)
            if failure:
                try:
                    inst.reconnect()
                    reconnected[role] = True
                except Exception as exc:
                    reconnected[role] = f"failed: {_describe(exc)}"
            off = bool(inst.safe_off())
            report[f"{role}_off"] = off
            if not off:
                why = getattr(inst, "safe_off_error", None) or "not confirmed off"
                if failure:
                    why += f" (its link had failed before: {failure})"
                errors[role] = why
        if reconnected:
            report["reconnected"] = reconnected
        if errors:
            report["errors"] = errors
        # Let the bench follow: the valve closes tens of milliseconds after its drive
        # drops (on the simulated bench, virtual time must move for that to happen).
        with contextlib.suppress(Exception):
            self.clock.sleep(SAFE_SETTLE_S, step_s=SAFE_SETTLE_S, hooks=False)
        if self.sim is not None and self.sim.alive():
            with contextlib.suppress(Exception):
                report["sim_true"] = {
                    name: self.sim.true(name)
                    for name in ("valve_flowing", "supply_output", "stage_output", "device_state")
                }
        self.safe_report = report
        return report

    def shutdown(
        self,
        status: str,
        reason: str | None = None,
        requirements: dict[str, str] | None = None,
        counts: dict[str, Any] | None = None,
    ) -> None:
        """Stop acquisition (keeping every sample), make safe, close the record, stop the sim.

        The record must hold everything the analysis saw: rows acquired into memory but
        not in their journal (a journal append that failed) make the run ERROR, and
        ``counts.acquired`` in run.json says how many rows each stream acquired, to be
        compared with ``counts.samples`` (the journals) and the Parquet copies.
        """
        if self._closed:
            return
        self._closed = True
        problems: list[str] = []
        counts = dict(counts or {})
        if self.acq is not None:
            with contextlib.suppress(Exception):
                self.acq.stop()
            problems.extend(self.acq.problems)
            counts["acquired"] = self.acq.acquired()
            lost = {k: n for k, n in self.acq.unjournaled().items() if n}
            if lost:
                status = "ERROR"
                text = f"samples acquired but not journaled: {lost}"
                problems.append(text)
                reason = (reason + "; " if reason else "") + text
        report = self.make_safe()
        unconfirmed = self._unconfirmed(report)
        if unconfirmed:
            status = "ERROR"
            reason = (reason + "; " if reason else "") + unconfirmed
        if self._unsubscribe is not None:
            self._unsubscribe()
        try:
            # The bench is safe whatever the disk does: a record that cannot be written
            # (a full disk) is said in the outcome (record_failure), never raised from
            # here, where it would end the run in a traceback with no verdict.
            with contextlib.suppress(RecordingError):
                self.recorder.trace({"kind": "safe_state", "t": self.clock.now(), **report})
                if problems:
                    self.recorder.trace({"kind": "acquisition_problems", "items": problems})
            failure = self.recorder.write_failure
            if failure is not None and status != "ERROR":
                status = "ERROR"
                text = f"the run record cannot be written: {failure}"
                reason = (reason + "; " if reason else "") + text
            try:
                self.recorder.finish(status, reason, requirements or {}, counts)
            except RecordingError as exc:
                failure = failure or str(exc)
            self.record_failure = failure
        finally:
            for inst in (self.unit, self.logger, self.supply, self.stage):
                if inst is not None:
                    with contextlib.suppress(Exception):
                        inst.close()
            if self.sim is not None:
                self.sim.close()

    @staticmethod
    def _unconfirmed(report: dict[str, Any]) -> str | None:
        """The safe state's gaps in words, each with its cause, and what was confirmed."""
        errors = report.get("errors", {})
        gaps = [
            f"{role} output not confirmed off: {errors.get(role, 'no answer')}"
            for role in ("supply", "stage")
            if report.get(f"{role}_off") is False
        ]
        if not gaps:
            return None
        done = [f"{r} output off" for r in ("supply", "stage") if report.get(f"{r}_off") is True]
        if report.get("unit_stop") is True:
            done.append("unit stopped (valve closed)")
        tail = f" (confirmed: {', '.join(done)})" if done else ""
        return "safe state not confirmed: " + "; ".join(gaps) + tail


def _plan(s: ScanSettings) -> ScanPlan:
    return ScanPlan(tuple(s.channels_tc), tuple(s.channels_v), s.interval_s, s.nplc)


def _versions(protocols: dict[str, Any]) -> dict[str, str]:
    return {name: f"{p.id} {p.version}" for name, p in protocols.items()}


def _profile_serial(path: Path | None) -> str | None:
    """The serial a profile file sets, if any (validating the file before anything starts)."""
    if path is None:
        return None
    from .sim.profile import ProfileError, parse_profile

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from exc
    return parse_profile(text, str(path)).serial


def _station_yaml(station: Station) -> str:
    from .station import station_to_yaml

    return station_to_yaml(station)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
