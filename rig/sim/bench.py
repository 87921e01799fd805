"""The whole simulated bench: phantom physics, the unit and the three instruments, wired.

This is the one place that knows how things are connected: which thermocouple
sits where, which supply output feeds the unit (through a power relay the
control channel can open), how the jet couples to the phantom, how the TEC
heats the plate. Instruments and the unit only see the seams in
:mod:`rig.sim.ports` and :class:`rig.sim.device.unit.BenchWiring`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .device.unit import BenchWiring, Unit
from .instruments.arroyo5305 import Arroyo5305
from .instruments.daq970a import Daq970a
from .instruments.e36313a import E36313a
from .noise import NoiseBank
from .physics.materials import STAGE
from .physics.sensors import FirstOrderLag
from .physics.thermal import JET_FOOTPRINT, ThermalModel, default_columns
from .profile import UnitProfile
from .timebase import Scheduler, us_to_seconds_text

UNIT_OUTPUT = 2
"""The supply output that feeds the unit (E36313A output 2: 25 V, 2 A)."""


@dataclass(frozen=True)
class BenchDesign:
    """Fixed properties of the simulated bench (the same for every unit and seed)."""

    ambient_c: float = 22.0
    terminal_block_rise_c: float = 1.2
    """The logger's terminal block runs this much above the room."""
    cjc_offset_c: float = 0.04
    cjc_drift_c_per_h: float = 0.01
    channel_offsets_c: dict[int, float] = field(
        default_factory=lambda: {101: 0.06, 102: -0.05, 103: 0.09, 104: 0.03, 105: -0.02}
    )
    """Systematic errors of each thermocouple (deviation from the reference table);
    the sim station file's calibration corrections are these values' negatives."""
    tc_lag_s: dict[int, float] = field(
        default_factory=lambda: {101: 0.010, 102: 0.010, 103: 0.3, 104: 0.5, 105: 8.0}
    )
    jet_footprint: tuple[float, float, float] = JET_FOOTPRINT
    spot_weights: tuple[float, float] = (0.5, 0.5)
    """Thermopile field of view: weight of the spot's centre and of its edge."""
    depth_tc_m: float = 3.0e-3
    logger_serial: str = "MY58017742"
    supply_serial: str = "MY59001234"
    stage_serial: str = "534017"


DEFAULT_DESIGN = BenchDesign()

_OBS_CENTRE, _OBS_EDGE, _OBS_SURROUND, _OBS_DEPTH, _OBS_PLATE, _OBS_SPOT = range(6)


class PowerRelay:
    """The bench's relay between supply output 2 and the unit (``POWER CUT``)."""

    def __init__(self, bench: SimBench) -> None:
        self.bench = bench
        self.closed = True

    def current_a(self, volts: float, t_us: int) -> float:
        return self.bench.unit.current_a(volts, t_us) if self.closed else 0.0

    def on_supply_change(self, t_us: int) -> None:
        self.bench.unit.on_supply_change(t_us)


class SimBench:
    """Everything on the bench, advanced by one scheduler in virtual time."""

    def __init__(self, profile: UnitProfile, seed: int, design: BenchDesign = DEFAULT_DESIGN):
        self.profile = profile
        self.seed = seed
        self.design = design
        self.sched = Scheduler()
        self.noise = NoiseBank(seed)
        p = profile.params
        self.thermal = ThermalModel(
            columns=default_columns(STAGE, design.jet_footprint),
            jet_htc_w_m2k=p.jet_htc_w_m2k,
            jet_temp_c=p.jet_temp_c,
            ambient_c=design.ambient_c,
        )
        th = self.thermal
        nodes = [
            th.surface_index["centre"],
            th.surface_index["spot_edge"],
            th.surface_index["surround"],
            th.index_at_depth("centre", design.depth_tc_m),
            th.plate_index,
        ]
        rows = np.zeros((len(nodes) + 1, len(th.capacity)))
        rows[np.arange(len(nodes)), nodes] = 1.0
        # What the thermopile sees: the spot's centre and edge, weighted (one dot product).
        rows[_OBS_SPOT] = design.spot_weights[0] * rows[_OBS_CENTRE]
        rows[_OBS_SPOT] += design.spot_weights[1] * rows[_OBS_EDGE]
        self._observer = th.observer(rows)
        self._plate_memo: tuple[tuple[int, int, float, bool] | None, float] = (None, 0.0)
        self._tc_source = {101: _OBS_CENTRE, 102: _OBS_SURROUND, 103: _OBS_DEPTH, 104: _OBS_PLATE}
        self.tcs = {ch: FirstOrderLag(lag, design.ambient_c) for ch, lag in design.tc_lag_s.items()}
        self.relay = PowerRelay(self)
        self.supply = E36313a(self.sched, self.noise, serial=design.supply_serial)
        self.unit = Unit(
            self.sched,
            profile,
            self.noise,
            BenchWiring(
                spot_c=self.spot_c,
                supply_v=self.unit_input_v,
                jet=self.thermal.set_jet,
                load_changed=lambda t: self.supply.load_changed(UNIT_OUTPUT, t),
            ),
        )
        self.supply.attach_load(UNIT_OUTPUT, self.relay)
        self.logger = Daq970a(
            self.sched,
            self,
            self.noise,
            serial=design.logger_serial,
            cjc_offset_c=design.cjc_offset_c,
            cjc_drift_c_per_h=design.cjc_drift_c_per_h,
            channel_offsets_c=dict(design.channel_offsets_c),
        )
        self.stage = Arroyo5305(self.sched, self, self.noise, serial=design.stage_serial)

    # --- time ---------------------------------------------------------------------------------
    @property
    def now_us(self) -> int:
        return self.sched.now_us

    def advance(self, dt_us: int) -> int:
        self.sched.run_until(self.sched.now_us + dt_us)
        return self.sched.now_us

    # --- physics observables -----------------------------------------------------------------
    def _observables(self, t_us: int) -> np.ndarray:
        return self._observer.at(t_us)

    def surface_c(self, t_us: int) -> float:
        return self._observer.node(t_us, _OBS_CENTRE)

    def spot_c(self, t_us: int) -> float:
        return self._observer.node(t_us, _OBS_SPOT)

    def unit_input_v(self, t_us: int) -> float:
        return self.supply.output_voltage(UNIT_OUTPUT, t_us) if self.relay.closed else 0.0

    # --- LoggerTerminals ----------------------------------------------------------------------
    def _tc_input(self, channel: int, t_us: int) -> float:
        src = self._tc_source.get(channel)
        if src is None:  # 105: the room
            return self.design.ambient_c
        return self._observer.node(t_us, src)

    def tc_junction_c(self, channel: int, t_us: int) -> float | None:
        lag = self.tcs.get(channel)
        if lag is None:
            return None
        return lag.sample(t_us, self._tc_input(channel, t_us))

    def dc_volts(self, channel: int, t_us: int) -> float:
        if channel == 110:
            return self.unit.valve_sense_v(t_us)
        return 0.0

    def terminal_block_c(self, t_us: int) -> float:
        return self.design.ambient_c + self.design.terminal_block_rise_c

    # --- StagePlant ---------------------------------------------------------------------------
    def plate_sensor_c(self, t_us: int) -> float:
        # The stage's loop reads the plate, then sets the TEC's current, which reads it again
        # for the cooling capacity: the same instant and the same state, one evaluation.
        th = self.thermal
        key = (t_us, th.t_us, th.tec_power_w, th.jet_on)
        if key != self._plate_memo[0]:
            self._plate_memo = (key, self._observer.node(t_us, _OBS_PLATE))
        return self._plate_memo[1]

    def set_tec_current(self, t_us: int, amps: float) -> None:
        s = STAGE
        u = max(-1.0, min(1.0, amps / s.tec_current_max_a))
        if u >= 0:
            watts = u * s.tec_heating_max_w
        else:
            lift = self.design.ambient_c - self.plate_sensor_c(t_us)
            capacity = min(max(1.0 - lift / s.tec_delta_t_max_k, 0.0), 1.3)
            watts = u * s.tec_cooling_max_w * capacity
        self.thermal.set_tec_power(t_us, watts)

    # --- control channel ----------------------------------------------------------------------
    def power_cut(self, cut: bool) -> None:
        t = self.sched.now_us
        self.relay.closed = not cut
        self.supply.load_changed(UNIT_OUTPUT, t)
        self.unit.on_supply_change(t)

    def true_value(self, name: str) -> str:
        """The simulation's true state for ``TRUE? <name>``; KeyError for unknown names."""
        t = self.sched.now_us
        getter = _TRUE.get(name)
        if getter is None:
            raise KeyError(name)
        value = getter(self, t)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.6f}"
        return str(value)

    def ref_tc_c(self, t_us: int) -> float:
        return self.tcs[101].peek(t_us, self._tc_input(101, t_us))


def _reading(b: SimBench, t: int) -> float:
    fw = b.unit.firmware
    return fw.reading_c if fw is not None else math.nan


_TRUE = {
    "surface_c": lambda b, t: b.surface_c(t),
    "spot_c": lambda b, t: b.spot_c(t),
    "ref_tc_c": lambda b, t: b.ref_tc_c(t),
    "valve_flowing": lambda b, t: b.unit.flowing,
    "supply_v": lambda b, t: b.supply.output_voltage(UNIT_OUTPUT, t),
    "supply_output": lambda b, t: b.supply.is_on(UNIT_OUTPUT),
    "stage_output": lambda b, t: b.stage.output_on,
    "device_state": lambda b, t: b.unit.state_name,
    # Beyond the contract's list, for diagnostics:
    "time": lambda b, t: us_to_seconds_text(t),
    "valve_driven": lambda b, t: b.unit.drive_on,
    "supply_i": lambda b, t: b.supply.output_current(UNIT_OUTPUT, t),
    "plate_c": lambda b, t: b.plate_sensor_c(t),
    "spot_edge_c": lambda b, t: float(b._observables(t)[_OBS_EDGE]),
    "surround_c": lambda b, t: float(b._observables(t)[_OBS_SURROUND]),
    "depth3_c": lambda b, t: float(b._observables(t)[_OBS_DEPTH]),
    "reading_c": _reading,
    "power_relay": lambda b, t: b.relay.closed,
    "jet_htc_w_m2k": lambda b, t: float(b.profile.params.jet_htc_w_m2k),
}

TRUE_NAMES = tuple(_TRUE)
