"""The drivers on the simulated bench, in lockstep: one bench process for the module.

Each test leaves the bench usable for the next (faults cleared, unit powered
where it needs to be); :func:`ensure_powered` makes the order irrelevant.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rig.clock import LockstepClock
from rig.instruments.arroyo5305 import Arroyo5305Stage
from rig.instruments.connect import open_logger, open_stage, open_supply, open_unit
from rig.instruments.cryo_unit import CryoUnitPort
from rig.instruments.daq970a import Daq970aLogger
from rig.instruments.e36313a import E36313aOutput
from rig.instruments.errors import IdentityMismatch, InstrumentError, UnitTimeout
from rig.instruments.interfaces import (
    BenchSupply,
    CalRecord,
    CryoUnit,
    TecStage,
    ThermocoupleLogger,
)
from rig.simlink import SimBenchProcess

pytestmark = pytest.mark.timeout(120)

LOGGER_SN, SUPPLY_SN, STAGE_SN, UNIT_SN = "MY58017742", "MY59001234", "534017", "SIM-0001"


@dataclass
class Bench:
    sim: SimBenchProcess
    clock: LockstepClock
    logger: Daq970aLogger
    supply: E36313aOutput
    stage: Arroyo5305Stage
    _unit: CryoUnitPort | None = None

    @property
    def unit(self) -> CryoUnitPort:
        ensure_powered(self)
        if self._unit is None:
            self._unit = open_unit(
                self.sim.resources["device"], clock=self.clock, expect_serial=UNIT_SN
            )
        return self._unit


def ensure_powered(b: Bench) -> None:
    """Supply output 2 at 24 V, 1.5 A and the unit booted."""
    if b.sim.true("device_state") in ("OFF", "BOOT"):
        b.supply.voltage_setpoint_v = 24.0
        b.supply.current_limit_a = 1.5
        b.supply.output_enabled = True
        b.clock.sleep(2.0)


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    with SimBenchProcess("--seed", "4") as sim:
        clock = LockstepClock(sim)
        res = sim.resources
        logger = open_logger(res["logger"], clock=clock, expect_serial=LOGGER_SN)
        supply = open_supply(res["supply"], clock=clock, expect_serial=SUPPLY_SN)
        stage = open_stage(res["stage"], clock=clock, expect_serial=STAGE_SN)
        b = Bench(sim, clock, logger, supply, stage)
        try:
            yield b
        finally:
            for resource in ("logger", "supply", "stage", "device"):
                sim.fault(resource, "clear")
            for driver in (logger, supply, stage, b._unit):
                if driver is not None:
                    driver.close()


def test_identify_every_instrument(bench: Bench) -> None:
    ids = [bench.logger.identify(), bench.supply.identify(), bench.stage.identify()]
    assert [(i.maker, i.model, i.serial) for i in ids] == [
        ("Keysight Technologies", "DAQ970A", LOGGER_SN),
        ("Keysight Technologies", "E36313A", SUPPLY_SN),
        ("Arroyo", "5305", STAGE_SN),
    ]
    unit = bench.unit.identify()
    assert (unit.maker, unit.model, unit.serial, unit.firmware) == (
        "INSTANTCRYO",
        "IC-1",
        UNIT_SN,
        "2.3.1",
    )
    assert isinstance(bench.logger, ThermocoupleLogger)
    assert isinstance(bench.supply, BenchSupply)
    assert isinstance(bench.stage, TecStage)
    assert isinstance(bench.unit, CryoUnit)


def test_wrong_serial_is_an_identity_mismatch(bench: Bench) -> None:
    res = bench.sim.resources
    with pytest.raises(IdentityMismatch) as err:
        open_logger(res["logger"], clock=bench.clock, expect_serial="MY00000000")
    assert (err.value.field, err.value.expected, err.value.found) == (
        "serial",
        "MY00000000",
        LOGGER_SN,
    )
    assert "logger" in str(err.value) and "MY00000000" in str(err.value)
    with pytest.raises(IdentityMismatch, match="model is 'E36313A', expected 'E36312A'"):
        open_supply(res["supply"], clock=bench.clock, expect_model="E36312A", expect_serial=None)
    ensure_powered(bench)
    with pytest.raises(IdentityMismatch) as err:
        open_unit(res["device_url"], clock=bench.clock, expect_serial="IC1-000")
    assert (err.value.role, err.value.field, err.value.found) == ("unit", "serial", UNIT_SN)


def test_supply_powers_the_unit_and_idle_current_is_low(bench: Bench) -> None:
    supply = bench.supply
    assert supply.safe_off()
    bench.clock.sleep(0.5)
    assert bench.sim.true("device_state") == "OFF"
    supply.voltage_setpoint_v = 24.0
    supply.current_limit_a = 1.5
    supply.ocp_enabled = False
    supply.output_enabled = True
    assert supply.output_enabled and supply.voltage_setpoint_v == 24.0
    bench.clock.sleep(2.0)
    assert bench.unit.identify().serial == UNIT_SN
    assert abs(supply.measured_voltage_v - 24.0) < 0.05
    idle = supply.measured_current_a
    assert 0.03 < idle < 0.150
    assert supply.tripped is False


def test_stage_reaches_its_setpoint(bench: Bench) -> None:
    stage = bench.stage
    stage.set_temperature_mode()
    stage.setpoint_c = 30.0
    stage.output_enabled = True
    assert stage.setpoint_c == 30.0 and stage.output_enabled
    start = stage.temperature_c
    bench.clock.sleep(120.0, step_s=5.0)
    now = stage.temperature_c
    assert abs(now - 30.0) < 1.0, f"stage {start:.2f} -> {now:.2f} °C"
    assert abs(stage.tec_current_a) < 5.0


def test_scan_during_a_shock_sees_the_valve_and_the_cooling(bench: Bench) -> None:
    unit, logger = bench.unit, bench.logger
    assert unit.state().state == "IDLE"
    logger.configure_scan([101], [110], 0.02)
    logger.start()
    bench.clock.sleep(0.5)
    unit.shock(4, 30)
    bench.clock.sleep(3.0)
    assert logger.points() > 0
    readings = logger.fetch_new()
    logger.abort()
    unit.stop()
    readings += logger.fetch_new()
    ref = [(r.t_s, r.value) for r in readings if r.channel == 101]
    valve = [(r.t_s, r.value) for r in readings if r.channel == 110]
    assert 170 <= len(ref) <= 180 and abs(len(valve) - len(ref)) <= 1  # 50 Hz for 3.5 s
    assert all(v < 0.1 for t, v in valve if t < 0.45)
    assert max(v for _, v in valve) > 1.2
    opened = next(t for t, v in valve if v > 1.2)
    assert 0.45 <= opened <= 0.6
    before = [v for t, v in ref if t < opened]
    after = [v for t, v in ref if t > opened + 2.5]
    assert after and max(after) < min(before) - 2.0, "reference surface did not fall"
    assert logger.fetch_new() == []


def test_one_shot_temperature_reading(bench: Bench) -> None:
    t0 = bench.clock.now()
    value = bench.logger.read_temperature(105)
    assert 20.0 < value < 25.0  # room air
    assert bench.clock.now() > t0
    bench.logger.check_no_errors("after one-shot")


def test_selftest_passes_in_lockstep(bench: Bench) -> None:
    t0 = bench.clock.now()
    assert bench.unit.selftest() is None
    assert 1.1 <= bench.clock.now() - t0 <= 1.3


def test_reboot_then_identify(bench: Bench) -> None:
    unit = bench.unit
    before = dict(unit.stats)
    unit.reboot()
    assert unit.identify().serial == UNIT_SN
    assert unit.clock_ms() < 2000  # counts from the reboot (1.5 s boot included)
    assert unit.state().state == "IDLE"
    assert unit.stats["timeouts"] == before["timeouts"]
    names = [e.name for e in unit.all_events(0)]
    assert names[:2] == ["boot", "state"]


def test_calibration_write_in_service_mode_reads_back(bench: Bench) -> None:
    unit = bench.unit
    rec = CalRecord(1.0125, -0.35, dt.date(2024, 5, 6), "RIG-CAL-0001")
    unit.enter_service()
    try:
        assert unit.state().state == "SERVICE"
        unit.write_calibration(rec)
        assert unit.calibration() == rec
    finally:
        unit.leave_service()
    assert unit.state().state == "IDLE"
    assert "cal_write" in [e.name for e in unit.all_events(0)]


def test_safe_off_every_instrument(bench: Bench) -> None:
    bench.stage.output_enabled = True
    ensure_powered(bench)
    assert bench.supply.safe_off() is True
    assert bench.stage.safe_off() is True
    assert bench.sim.true("supply_output") == "0"
    assert bench.sim.true("stage_output") == "0"
    bench.clock.sleep(0.2)
    assert bench.sim.true("device_state") == "OFF"


def test_stalled_logger_times_out_naming_role_and_command(bench: Bench) -> None:
    res = bench.sim.resources["logger"]
    logger = open_logger(res, clock=bench.clock, expect_serial=LOGGER_SN, timeout_s=1.0)
    try:
        bench.sim.fault("logger", "stall")
        t0 = time.monotonic()
        with pytest.raises(InstrumentError) as err:
            _ = logger.points()
        elapsed = time.monotonic() - t0
    finally:
        bench.sim.fault("logger", "clear")
    assert 0.9 <= elapsed <= 1.6
    text = str(err.value)
    assert text.startswith(f"logger ({res}): 'DATA:POIN?': ") and "Timeout" in text
    assert logger.identify().serial == LOGGER_SN  # back to normal after the fault
    logger.close()


def test_corrupting_link_is_survived_through_retries(bench: Bench) -> None:
    unit = bench.unit
    before = dict(unit.stats)
    bench.sim.fault("device", "corrupt", 0.5)
    try:
        # At rate 0.5 one ID? in eight fails all three attempts; the bench's fault
        # stream is deterministic (seeded, drawn only for this resource's replies in
        # corrupt mode), and these three succeed, the third after a retry.
        for _ in range(3):
            assert unit.identify().serial == UNIT_SN
    finally:
        bench.sim.fault("device", "clear")
    retries = unit.stats["retries"] - before["retries"]
    framing = unit.stats["framing_errors"] - before["framing_errors"]
    assert retries >= 1 and framing == retries
    assert unit.stats["frames"] - before["frames"] == 3 + retries


def test_stalled_unit_times_out_after_exactly_three_attempts(bench: Bench) -> None:
    unit = bench.unit
    before = dict(unit.stats)
    t0 = bench.clock.now()
    bench.sim.fault("device", "stall")
    try:
        with pytest.raises(UnitTimeout, match="3 attempts"):
            unit.state()
    finally:
        bench.sim.fault("device", "clear")
    delta = {k: unit.stats[k] - before[k] for k in before}
    assert delta == {"frames": 3, "retries": 2, "framing_errors": 0, "timeouts": 3}
    assert bench.clock.now() - t0 == pytest.approx(0.75, abs=0.011)
    assert unit.identify().serial == UNIT_SN
