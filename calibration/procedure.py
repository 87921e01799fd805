"""The skin-sensor calibration, run on the bench: as found, adjustment, as left, memory.

A comparison calibration of the unit's skin sensor against the bench's reference
surface thermocouple (channel 101, its system certificate in the station file), at
the plateaus of ``test_plans/protocols/calibration.yaml`` set by the phantom stage:

1. **As found**: at each plateau, wait until the reference and the unit's raw reading
   are stable (band and slope, from the data), then take a window of paired readings:
   the unit's raw (``RAW?``) and corrected (``TEMP?``) readings against the logger's
   scan of every thermocouple at the same rate.
2. **Adjustment**: a least-squares line reference = gain × raw + offset through the
   plateau means (:func:`calibration.fit.fit_line`). Outside what the unit's memory
   accepts (gain 0.9–1.1, offset ±3 °C) the unit cannot be adjusted: REQ-SENS-01
   fails with that reason and nothing is written. Otherwise the coefficients go to
   the unit with ``CAL … <date> <cert_id>`` in service mode and are read back.
3. **As left** at every plateau with the new coefficients, each point's error judged
   with its GUM budget (:mod:`calibration.budget`) under the guarded-acceptance rule
   (:mod:`calibration.decision`).
4. **Memory** (REQ-CAL-01): a power cycle through the supply, ``CAL?``; a ``REBOOT``,
   ``CAL?``: both must read back what was written. A unit that could not be adjusted
   has its present coefficients written back under this calibration's ID, so its
   memory is verified all the same.

Every paired reading goes to the run's ``samples/calibration.csv`` journal as it is
taken; ``calibration.json`` (a :class:`calibration.record.CalibrationRecord`) is
rewritten after each phase, so an aborted calibration leaves what it had found.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.budget import Layer, PointInputs, error_estimate, point_budget, years_between
from calibration.decision import RULE, decide
from calibration.fit import LineFit, fit_line
from calibration.record import (
    CalibrationRecord,
    CalPoint,
    Coefficients,
    MemoryCheck,
    PointWindow,
    ReferenceInstrument,
)
from rig.analysis.signals import slope_per_s
from rig.instruments.errors import RigError
from rig.instruments.interfaces import CalRecord
from rig.protocols import CalibrationProtocol

METHOD_ID = "CRYORIG-CAL-SKIN"

STREAM_COLUMNS = ("t_s", "phase", "nominal_c", "kind", "raw_c", "indicated_c")
"""``samples/calibration.csv``: every reading of the unit the calibration took (``kind``
``settle`` while waiting for stability, ``window`` in a point's window)."""


class CalibrationError(RigError):
    """The calibration could not be carried out (a bench or station problem: ERROR)."""


@dataclass
class _Readings:
    """The unit's readings of one phase, as taken (rig clock seconds)."""

    t: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    indicated: list[float] = field(default_factory=list)

    def between(self, t_from: float, t_to: float) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(self.t)
        sel = (t >= t_from) & (t <= t_to)
        return t[sel], np.asarray(self.raw)[sel]


def certificate_id(prefix: str, run_id: str, today: dt.date) -> str:
    """``<prefix>-<yyyymmdd>-<run suffix>``: unique per run, at most 32 plain characters
    (the unit stores it with its coefficients)."""
    cid = f"{prefix}-{today:%Y%m%d}-{run_id[-6:].upper()}"
    if len(cid) > 32:
        raise CalibrationError(f"certificate ID {cid!r} is longer than the unit's 32 characters")
    return cid


def _coeffs(rec: CalRecord) -> Coefficients:
    return Coefficients(
        gain=rec.gain, offset_c=rec.offset_c, date=rec.date.isoformat(), cert_id=rec.cert_id
    )


def summarise_window(w: dict[str, np.ndarray], settle_s: float) -> PointWindow:
    """One plateau's paired readings as the record keeps them.

    ``w`` holds equal-length arrays: ``t``, the unit's ``raw`` and ``indicated``
    readings, and the corrected logger channels ``ref`` (101), ``uniformity``,
    ``depth_3mm``, ``plate`` and ``ambient`` paired with them. Besides each mean and
    spread it keeps the spread of the paired differences ``indicated − ref``, the
    budget's repeatability input: the plateau's slow movement, common to unit and
    reference, cancels in it, and the unit's own scatter does not.
    """

    def sd(x: np.ndarray) -> float:
        return float(np.std(x, ddof=1))

    return PointWindow(
        t_start_s=float(w["t"][0]),
        t_end_s=float(w["t"][-1]),
        n=int(w["t"].size),
        reference_c=float(np.mean(w["ref"])),
        reference_sd_c=sd(w["ref"]),
        indicated_c=float(np.mean(w["indicated"])),
        indicated_sd_c=sd(w["indicated"]),
        difference_sd_c=sd(w["indicated"] - w["ref"]),
        raw_c=float(np.mean(w["raw"])),
        raw_sd_c=sd(w["raw"]),
        uniformity_c=float(np.mean(w["uniformity"])),
        depth_c=float(np.mean(w["depth_3mm"])),
        plate_c=float(np.mean(w["plate"])),
        ambient_c=float(np.mean(w["ambient"])),
        settle_s=settle_s,
    )


class SkinSensorCalibration:
    """One calibration of one unit on an assembled :class:`rig.bench.Bench`.

    ``record_measurement(name, value, uncertainty=None, coverage_factor=None, notes=None)``
    receives the verdict-bearing results (the test's :class:`rig.measure.Measurements`),
    so the EOL verdict and the certificate come from the same numbers.
    """

    def __init__(
        self,
        bench: Any,
        protocol: CalibrationProtocol,
        *,
        record_measurement: Callable[..., Any],
        today: dt.date | None = None,
    ) -> None:
        self.bench = bench
        self.p = protocol
        self.measure = record_measurement
        self.today = today or bench.options.today
        station = bench.station
        if station.phantom is None:
            raise CalibrationError(
                f"{station.source}: field 'phantom' is missing: the calibration's budget "
                "needs the phantom's layers"
            )
        if station.laboratory is None:
            raise CalibrationError(
                f"{station.source}: field 'laboratory' is missing: a calibration needs the "
                "laboratory that issues its certificate"
            )
        self.ref_ch, self.ref_entry = station.channel("ref_surface")
        if getattr(self.ref_entry, "calibration", None) is None:
            raise CalibrationError(
                f"{station.source}: field 'channels.{self.ref_ch}.calibration' is missing: "
                "the reference channel needs its system calibration certificate"
            )
        self.roles = {role: station.channel(role)[0] for role in ("uniformity", "depth_3mm")}
        self.roles["plate"] = station.channel("plate")[0]
        self.roles["ambient"] = station.channel("ambient")[0]
        self.cert_id = certificate_id(
            station.laboratory.certificate_prefix, bench.recorder.run_id, self.today
        )
        self.stream = bench.recorder.stream("calibration", STREAM_COLUMNS)
        self.record: CalibrationRecord | None = None
        self.started = bench.clock.now()

    # --- the procedure ----------------------------------------------------------------------
    def run(self) -> CalibrationRecord:
        b = self.bench
        unit = b.unit
        ident = unit.identify()
        if ident.serial != b.label_serial:
            # The certificate names the unit that answered; the run, the MES line and
            # the operator name the label. They must be one unit.
            raise CalibrationError(
                f"the unit on the bench answers serial {ident.serial!r} to ID?, the label "
                f"scanned is {b.label_serial!r}: no calibration, and no certificate, for a "
                "unit that is not the one named (the wrong unit on the fixture, or a "
                "mis-scan)"
            )
        as_found = unit.calibration()
        self.record = self._new_record(ident, as_found)
        self._save()
        with b.background_scan(self.p.acquisition):
            for nominal in self.p.as_found_order_c:
                self._point("as_found", nominal, fit=None)
            fit = self._adjust(as_found)
            if fit is not None:
                for nominal in self.p.as_left_order_c:
                    self._point("as_left", nominal, fit=fit)
        self._memory(as_found, adjusted=fit is not None)
        self._update(virtual_duration_s=b.clock.now() - self.started)
        self._update(complete=True, requirements=requirement_results(self.record))
        return self.record

    def _point(self, phase: str, nominal: float, fit: LineFit | None) -> None:
        b = self.bench
        pl = self.p.plateau
        readings = _Readings()
        t_start = b.clock.now()

        def poll(now: float) -> None:
            raw = b.unit.raw_c()
            readings.t.append(now)
            readings.raw.append(raw)
            readings.indicated.append(float("nan"))
            self.stream.append([(now, phase, nominal, "settle", raw, "")])

        def unit_stable(t_from: float, t_to: float) -> bool:
            t, raw = readings.between(t_from, t_to)
            if t.size < 3:
                return False
            return abs(slope_per_s(t, raw) * 60.0) <= pl.slope_c_per_min

        if b.options.fixed_settle_s is not None:
            b.set_stage(b.plate_for_surface(nominal))
            b.clock.sleep(self.p.fixed_settle_s)
        else:
            b.settle_surface(
                nominal,
                band_c=pl.band_c,
                slope_c_per_min=pl.slope_c_per_min,
                window_s=pl.stable_window_s,
                timeout_s=pl.settle_timeout_s,
                also_stable=unit_stable,
                on_period=poll,
            )
        settle_s = b.clock.now() - t_start
        window = self._window(phase, nominal)
        w = summarise_window(window, settle_s)
        if b.options.fixed_settle_s is not None and abs(w.reference_c - nominal) > pl.band_c:
            raise CalibrationError(
                f"after a fixed {self.p.fixed_settle_s:g} s wait the reference surface is "
                f"{w.reference_c:.2f} °C, not {nominal} ± {pl.band_c} °C"
            )
        inputs = self._inputs(w, fit)
        budget = point_budget(inputs)
        error = error_estimate(inputs)
        decision = decide(error, budget, tolerance_c=self.p.tolerance_c)
        point = CalPoint(
            phase=phase,
            nominal_c=nominal,
            window=w,
            error_c=error,
            budget=budget,
            decision=decision,
        )
        self._update(points=[*self.record.points, point])
        b._trace(
            "calibration_point",
            phase=phase,
            nominal_c=nominal,
            reference_c=w.reference_c,
            error_c=error,
            U_c=budget.expanded_uncertainty_c,
            result=decision.result,
        )
        if phase == "as_left":
            self.measure(
                f"sens.as_left_error_{round(nominal):02d}c",
                round(error, 4),
                uncertainty=budget.expanded_uncertainty_c,
                coverage_factor=budget.coverage_factor,
                notes=(
                    f"reference {w.reference_c:.3f} °C, "
                    f"U = {budget.expanded_uncertainty_c:.3f} °C "
                    f"(k = {budget.coverage_factor:.2f}), "
                    f"PFA {decision.probability_false_accept:.2e}"
                ),
            )

    def _window(self, phase: str, nominal: float) -> dict[str, np.ndarray]:
        """``readings`` paired readings at the protocol's interval: the unit's raw and
        corrected readings now, the logger's scan of the same instants."""
        b = self.bench
        pl = self.p.plateau
        t, raw, ind = [], [], []
        rows = []
        for _ in range(pl.readings):
            b.clock.sleep(pl.reading_interval_s)
            now = b.clock.now()
            r = b.unit.raw_c()
            i = b.unit.temperature_c()
            t.append(now)
            raw.append(r)
            ind.append(i)
            rows.append((now, phase, nominal, "window", r, i))
        self.stream.append(rows)
        b.acq.fetch_logger()
        tt = np.asarray(t)
        out: dict[str, np.ndarray] = {"t": tt, "raw": np.asarray(raw), "indicated": np.asarray(ind)}
        t_from = tt[0] - pl.reading_interval_s
        for key, ch in (("ref", self.ref_ch), *((k, c) for k, c in self.roles.items())):
            lt, lv = b.acq.channel(ch, t_from, tt[-1] + 1e-6)
            if lt.size == 0:
                raise CalibrationError(
                    f"no logger reading of channel {ch} between t={t_from:.1f} and {tt[-1]:.1f} s"
                )
            # Each unit reading is paired with the logger's latest scan at or before it.
            idx = np.clip(np.searchsorted(lt, tt, side="right") - 1, 0, lt.size - 1)
            out[key] = b.corrected(ch, lv[idx])
        return out

    def _inputs(self, w: PointWindow, fit: LineFit | None) -> PointInputs:
        station = self.bench.station
        ph = station.phantom
        cal = self.ref_entry.calibration
        fit_u = fit_dof = None
        if w.difference_sd_c is None:  # summarise_window always sets it; schema 1.0 lacked it
            raise CalibrationError("the point's window has no spread of paired differences")
        if fit is not None:
            _, fit_u = fit.predict(w.raw_c)
            fit_dof = fit.u_dof if math.isfinite(fit.u_dof) else None
        return PointInputs(
            indicated_c=w.indicated_c,
            reference_c=w.reference_c,
            difference_sd_c=w.difference_sd_c,
            n=w.n,
            t102_c=w.uniformity_c,
            t103_c=w.depth_c,
            t104_c=w.plate_c,
            cert_expanded_c=self.ref_entry.u_c * self.ref_entry.k,
            cert_k=self.ref_entry.k,
            drift_c_per_year=self.ref_entry.drift_c_per_year or 0.0,
            years_since_cal=years_between(cal.calibrated, self.today),
            cjc_half_width_c=station.instruments.logger.cjc_stability_c,
            layers=tuple(Layer(x.thickness_mm, x.conductivity_w_mk) for x in ph.layers),
            junction_depth_mm=ph.ref_junction_depth_mm,
            depth_103_mm=ph.depth_channel_mm,
            contact_resistance_m2k_w=ph.contact_resistance_m2k_w,
            resolution_c=self.p.resolution_c,
            fit_u_c=fit_u,
            fit_dof=fit_dof,
        )

    def _adjust(self, as_found: CalRecord) -> LineFit | None:
        """Fit through the as-found plateaus; write the coefficients if the unit takes them."""
        b = self.bench
        pts = self.record.phase("as_found")
        raw = [p.window.raw_c for p in pts]
        ref = [p.window.reference_c for p in pts]
        fit = fit_line(raw, ref)
        gain = round(fit.gain, 6)
        offset = round(fit.offset_c, 4)
        g_lo, g_hi = self.p.gain_range
        o_lo, o_hi = self.p.offset_range_c
        reasons = []
        if not g_lo <= gain <= g_hi:
            reasons.append(f"gain {gain:.4f} outside {g_lo}–{g_hi}")
        if not o_lo <= offset <= o_hi:
            reasons.append(f"offset {offset:+.3f} °C outside {o_lo:+g}…{o_hi:+g} °C")
        reason = "; ".join(reasons)
        from GTC import reporting

        k = float(reporting.k_factor(fit.u_dof, 95))  # Student t, ν = n − 2 (∞ weighted)
        self.measure(
            "sens.fit_gain",
            gain,
            uncertainty=k * fit.u_gain,
            coverage_factor=k,
            notes="not adjustable: " + reason if reasons else None,
        )
        self.measure(
            "sens.fit_offset",
            offset,
            uncertainty=k * fit.u_offset_c,
            coverage_factor=k,
            notes="not adjustable: " + reason if reasons else None,
        )
        self._update(fit=fit.to_record(), adjustable=not reasons, adjustment_reason=reason)
        b._trace("calibration_fit", gain=gain, offset_c=offset, adjustable=not reasons)
        if reasons:
            return None
        written = CalRecord(gain=gain, offset_c=offset, date=self.today, cert_id=self.cert_id)
        self._write(written)
        return fit

    def _write(self, rec: CalRecord) -> None:
        unit = self.bench.unit
        unit.enter_service()
        try:
            unit.write_calibration(rec)
        finally:
            unit.leave_service()
        back = unit.calibration()
        self.measure("calmem.readback_identical", back == rec)
        self._update(
            memory=MemoryCheck(
                written=_coeffs(rec),
                read_back=_coeffs(back),
                after_power_cycle=None,
                after_reboot=None,
                result="NOT_RUN",
            )
        )

    def _memory(self, as_found: CalRecord, *, adjusted: bool) -> None:
        """REQ-CAL-01: what was written survives a power cycle and a REBOOT."""
        b = self.bench
        if not adjusted:
            # Not adjustable: the memory is still verified, with the present coefficients
            # written back under this calibration's ID.
            self._write(CalRecord(as_found.gain, as_found.offset_c, self.today, self.cert_id))
        mem = self.record.memory
        assert mem is not None
        written = CalRecord(mem.written.gain, mem.written.offset_c, self.today, mem.written.cert_id)
        b.power_cycle(self.p.power_off_s, self.p.boot_timeout_s)
        after_cycle = b.unit.calibration()
        b.unit.reboot()
        b.acq.anchor_unit()
        after_reboot = b.unit.calibration()
        survives_cycle = after_cycle == written
        survives_reboot = after_reboot == written
        self.measure("calmem.survives_power_cycle", survives_cycle)
        self.measure("calmem.survives_reboot", survives_reboot)
        ok = mem.read_back == mem.written and survives_cycle and survives_reboot
        self._update(
            memory=mem.model_copy(
                update={
                    "after_power_cycle": _coeffs(after_cycle),
                    "after_reboot": _coeffs(after_reboot),
                    "result": "PASS" if ok else "FAIL",
                    "reason": "" if ok else "coefficients read back differ from those written",
                }
            )
        )

    # --- the record ---------------------------------------------------------------------------
    def _new_record(self, ident: Any, as_found: CalRecord) -> CalibrationRecord:
        b = self.bench
        st = b.station
        lab = st.laboratory
        logger = st.instruments.logger
        refcal = self.ref_entry.calibration
        u_ref = self.ref_entry.u_c * self.ref_entry.k
        references = [
            ReferenceInstrument(
                role="reference surface thermometer (system)",
                description=(
                    f"thin-foil type T surface thermocouple on logger channel {self.ref_ch}, "
                    "calibrated together with the channel as one system"
                ),
                model=f"type T foil thermocouple + {logger.model} channel {self.ref_ch}",
                serial=f"{logger.serial}/{self.ref_ch}",
                certificate=refcal.certificate,
                laboratory=refcal.laboratory,
                calibrated=refcal.calibrated.isoformat(),
                due=refcal.due.isoformat(),
                uncertainty=f"U = {u_ref:.2f} °C, k = {self.ref_entry.k:g}",
            ),
            ReferenceInstrument(
                role="data logger",
                description=f"{logger.model} with multiplexer, reference-junction compensation",
                model=logger.model,
                serial=logger.serial,
                certificate=logger.calibration.certificate,
                laboratory=logger.calibration.laboratory,
                calibrated=logger.calibration.calibrated.isoformat(),
                due=logger.calibration.due.isoformat(),
            ),
        ]
        meta = b.recorder.meta
        return CalibrationRecord(
            certificate_id=self.cert_id,
            unit_serial=ident.serial,
            unit_identity={
                "maker": ident.maker,
                "model": ident.model,
                "serial": ident.serial,
                "firmware": ident.firmware,
            },
            unit_condition=(
                "new unit from production, received at the end-of-line station; answered on "
                f"its service port; coefficients as found {as_found.gain:.6f} / "
                f"{as_found.offset_c:+.4f} °C ({as_found.date.isoformat()}, {as_found.cert_id})"
            ),
            method={
                "id": METHOD_ID,
                "title": self.p.title,
                "version": self.p.version,
                "summary": (
                    "Comparison at plateaus set by a temperature-controlled skin phantom: the "
                    "unit's skin sensor against a calibrated thin-foil surface thermocouple at "
                    "the centre of the sensor's spot; stability detected from the data (slope "
                    f"≤ {self.p.plateau.slope_c_per_min} °C/min over "
                    f"{self.p.plateau.stable_window_s:g} s); {self.p.plateau.readings} paired "
                    f"readings at {self.p.plateau.reading_interval_s:g} s; least-squares "
                    "adjustment of gain and offset; uncertainty per JCGM 100 (GUM)."
                ),
            },
            run_id=b.recorder.run_id,
            station=st.station,
            operator=str(meta.get("operator", "unknown")),
            laboratory={
                "name": lab.name,
                "address": lab.address,
                "accreditation": lab.accreditation,
                "location": st.site,
            },
            customer={"name": lab.customer.name, "address": lab.customer.address},
            authorised_by={"name": lab.authorised_by.name, "role": lab.authorised_by.role},
            received=self.today.isoformat(),
            calibrated=self.today.isoformat(),
            references=references,
            environment={"humidity": "not measured"},
            order_c=[*self.p.as_found_order_c, *self.p.as_left_order_c],
            as_found_coefficients=_coeffs(as_found),
            decision_rule=dict(RULE),
            deviations=[
                f"{d.get('kind', 'deviation')}: {d.get('item', '?')}: {d.get('reason', '')}"
                for d in meta.get("deviations", [])
            ]
            + (
                [f"fixed settling waits of {self.p.fixed_settle_s:g} s instead of detection"]
                if b.options.fixed_settle_s is not None
                else []
            ),
        )

    def _update(self, **changes: Any) -> None:
        assert self.record is not None
        if "points" in changes or "complete" in changes:
            changes["environment"] = self._environment()
        self.record = self.record.model_copy(update=changes)
        self._save()

    def _environment(self) -> dict[str, float | str]:
        amb = [p.window.ambient_c for p in self.record.points]
        env: dict[str, float | str] = {"humidity": "not measured"}
        if amb:
            env.update(
                ambient_mean_c=round(float(np.mean(amb)), 2),
                ambient_min_c=round(float(np.min(amb)), 2),
                ambient_max_c=round(float(np.max(amb)), 2),
            )
        return env

    def _save(self) -> None:
        assert self.record is not None
        self.bench.recorder.document("calibration.json", self.record.model_dump_json(indent=1))


def requirement_results(record: CalibrationRecord) -> dict[str, str]:
    """REQ-SENS-01 and REQ-CAL-01 as the record shows them (the certificate's summary)."""
    left = record.phase("as_left")
    if not record.adjustable:
        sens = "FAIL"
    elif not left or len(left) < len(record.phase("as_found")):
        sens = "ERROR"
    else:
        sens = "PASS" if all(p.decision.result == "PASS" for p in left) else "FAIL"
    cal = record.memory.result if record.memory is not None else "NOT_RUN"
    return {"REQ-SENS-01": sens, "REQ-CAL-01": cal}
