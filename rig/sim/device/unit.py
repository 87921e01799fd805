"""The unit under test as hardware: power input, valve coil, thermopile, UART, firmware.

The unit is an electrical load on the bench supply (constant-power electronics
plus a resistive valve coil with its L/R rise), a valve whose jet follows the
coil drive after the mechanical delays of its profile, and a thermopile that
sees the spot through its lag, gain, offset and noise. Its firmware
(:mod:`.firmware`) lives only while the supply holds the input above the
brown-out level; a reset (``REBOOT`` or power loss) discards everything but
the calibration memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rig.shared.service_frame import encode_frame

from ..noise import NoiseBank
from ..physics.sensors import FirstOrderLag
from ..profile import UnitProfile
from ..timebase import EventHandle, Scheduler
from .firmware import BOOT_US, Firmware, Nvm
from .link import FramingError, Received, UartReceiver

BROWN_OUT_OFF_V = 9.5
BROWN_OUT_ON_V = 10.5
NOMINAL_SUPPLY_V = 24.0
COIL_TAU_US = 4_000
DRIVER_DROP_V = 0.15
VALVE_SENSE_DIVIDER = 10.0
POWER_SETTLE_US = 10_000


@dataclass
class BenchWiring:
    """How the unit is connected to the rest of the bench."""

    spot_c: Callable[[int], float]
    """True temperature of the sensor's spot (field-of-view weighted)."""
    supply_v: Callable[[int], float]
    """Voltage at the unit's power input (0 when the power relay is open)."""
    jet: Callable[[int, bool], None]
    """The jet starts or stops flowing at the given time."""
    load_changed: Callable[[int], None]
    """The unit's current demand changed (tell the supply)."""


class Link:
    """One host connection to the service port (pty or socket), with its own receiver."""

    def __init__(self, unit: Unit, name: str) -> None:
        self.unit = unit
        self.name = name
        self.send: Callable[[bytes], None] = lambda data: None
        self.receiver = UartReceiver(self._on_frame)

    def feed(self, data: bytes) -> None:
        self.unit.receive(self, data)

    def _on_frame(self, item: Received) -> None:
        self.unit.frame_received(self, item)


class Unit:
    def __init__(
        self,
        sched: Scheduler,
        profile: UnitProfile,
        noise: NoiseBank,
        wiring: BenchWiring,
    ) -> None:
        self.sched = sched
        self.profile = profile
        self.p = profile.params
        self.wiring = wiring
        self._sensor_noise = noise.stream("unit.sensor")
        self._fw_noise = noise.stream("unit.firmware")
        self._link_noise = noise.stream("unit.link")
        self.nvm = Nvm(failing=bool(self.p.nvm_fault))
        self.thermopile = FirstOrderLag(
            self.p.sensor_lag_s, wiring.spot_c(sched.now_us), sched.now_us
        )
        self.links: dict[str, Link] = {}
        self.firmware: Firmware | None = None
        self.powered = False
        self.boot_done_us: int | None = None
        self._pending: list[tuple[Link, Received]] = []
        self.drive_on = False
        self._moving: EventHandle | None = None
        """The valve's pending open or close, until it takes effect."""
        self.drive_on_us = 0
        self.flowing = False
        self._reboot_requested: int | None = None
        self._open_delay_us = round(self.p.valve_open_delay_ms * 1000)
        self._close_delay_us = round(self.p.valve_close_delay_ms * 1000)
        self._idle_power_w = self.p.idle_current_a * NOMINAL_SUPPLY_V
        self._coil_r = (
            NOMINAL_SUPPLY_V / self.p.valve_current_a if self.p.valve_current_a > 0 else math.inf
        )

    # --- links --------------------------------------------------------------------------------
    def link(self, name: str) -> Link:
        lk = self.links.get(name)
        if lk is None:
            lk = self.links[name] = Link(self, name)
        return lk

    def receive(self, link: Link, data: bytes) -> None:
        if not self.powered:
            return  # the MCU is dark: bytes go nowhere
        link.receiver.feed(data, self.sched.now_us)

    def frame_received(self, link: Link, item: Received) -> None:
        if self.firmware is None:
            self._pending.append((link, item))  # held by the bridge until boot completes
            return
        self._execute(link, item)

    def _execute(self, link: Link, item: Received) -> None:
        fw = self.firmware
        if fw is None:
            return
        t = self.sched.now_us
        if isinstance(item, FramingError):
            self._reply(link, "ERR E1 framing")
            return
        fw.handle(item.payload, t, lambda text: self._reply(link, text))
        if self._reboot_requested is not None:
            when = self._reboot_requested
            self._reboot_requested = None
            self._reset(when, reboot=True)

    def _reply(self, link: Link, text: str) -> None:
        frame = encode_frame(text)
        rate = self.p.link_error_rate
        if rate > 0 and self._link_noise.uniform() < rate:
            frame = self._corrupt(frame)
        link.send(frame)

    def _corrupt(self, frame: bytes) -> bytes:
        body = bytearray(frame[:-2])
        pos = self._link_noise.integers(0, len(body))
        old = body[pos]
        new = 0x21 + self._link_noise.integers(0, 94)
        if new == old:
            new = 0x21 + (new - 0x21 + 1) % 94
        body[pos] = new
        return bytes(body) + b"\r\n"

    # --- power --------------------------------------------------------------------------------
    def on_supply_change(self, t_us: int) -> None:
        """The supply's output trajectory changed: look now and once it has settled."""
        self._check_power(t_us)
        self.sched.at(t_us + POWER_SETTLE_US, self._check_power)

    def _check_power(self, t_us: int) -> None:
        v = self.wiring.supply_v(t_us)
        if self.powered and v < BROWN_OUT_OFF_V:
            self._power_off(t_us)
        elif not self.powered and v >= BROWN_OUT_ON_V:
            self._power_on(t_us)

    def _power_on(self, t_us: int) -> None:
        self.powered = True
        self._boot(t_us)
        self.wiring.load_changed(t_us)

    def _power_off(self, t_us: int) -> None:
        self.powered = False
        self._halt(t_us)
        self.boot_done_us = None
        for lk in self.links.values():
            lk.receiver.reset()
        self.wiring.load_changed(t_us)

    def _halt(self, t_us: int) -> None:
        if self.firmware is not None:
            self.firmware.power_lost(t_us)
            self.firmware = None
        if self.drive_on:
            self.set_valve_drive(t_us, False)
        self._pending.clear()

    def _boot(self, t_us: int) -> None:
        boot_started = t_us
        self.boot_done_us = t_us + BOOT_US

        def done(t: int) -> None:
            if not self.powered or self.boot_done_us != t or self.firmware is not None:
                return
            self.firmware = Firmware(
                self.sched,
                self,
                self.profile,
                self.nvm,
                boot_started,
                self._fw_noise,
                self._request_reboot,
            )
            self.firmware.start(t)
            pending, self._pending = self._pending, []
            for link, item in pending:
                self._execute(link, item)

        self.sched.at(self.boot_done_us, done)

    def _request_reboot(self, t_us: int) -> None:
        self._reboot_requested = t_us

    def _reset(self, t_us: int, *, reboot: bool) -> None:
        self._halt(t_us)
        for lk in self.links.values():
            lk.receiver.reset()
        if reboot and self.powered:
            self._boot(t_us)

    # --- hardware seen by the firmware ------------------------------------------------------
    def read_raw_sensor(self, t_us: int) -> float | None:
        seen = self.thermopile.sample(t_us, self.wiring.spot_c(t_us))
        p = self.p
        return (
            p.sensor_gain * seen + p.sensor_offset_c + self._sensor_noise.normal(p.sensor_noise_c)
        )

    def supply_monitor_v(self, t_us: int) -> float:
        return self.wiring.supply_v(t_us)

    def set_valve_drive(self, t_us: int, on: bool) -> None:
        if on == self.drive_on:
            return
        self.drive_on = on
        if on:
            self.drive_on_us = t_us
        # The valve follows its latest command. A command that comes before the last one
        # took effect replaces it: drive off then on again within the close delay (a HOLD's
        # PWM does this) leaves the valve open, it never got to close. Scheduling both
        # transitions instead let a slow close land after the reopening, and the jet
        # stayed off with the drive on (a nominal unit with a 42 ms close and a 22 ms open
        # delay lost its jet mid-HOLD).
        if self._moving is not None:
            self._moving.cancel()
            self._moving = None
        if on != self.flowing:
            delay = self._open_delay_us if on else self._close_delay_us
            self._moving = self.sched.at(t_us + delay, lambda t, flowing=on: self._flow(t, flowing))
        self.wiring.load_changed(t_us)

    def _flow(self, t_us: int, flowing: bool) -> None:
        self._moving = None
        if flowing != self.flowing:
            self.flowing = flowing
            self.wiring.jet(t_us, flowing)

    # --- the unit as an electrical load ----------------------------------------------------
    def current_a(self, volts: float, t_us: int) -> float:
        if not self.powered or volts < BROWN_OUT_OFF_V:
            return max(volts, 0.0) / 2000.0  # input bleed resistor only
        current = self._idle_power_w / volts
        if self.drive_on:
            rise = 1.0 - math.exp(-(t_us - self.drive_on_us) / COIL_TAU_US)
            current += (volts / self._coil_r) * max(rise, 0.0)
        return current

    def valve_sense_v(self, t_us: int) -> float:
        """Coil drive voltage through the bench's 10:1 divider (logger channel 110)."""
        if not self.drive_on:
            return 0.0
        return max(self.wiring.supply_v(t_us) - DRIVER_DROP_V, 0.0) / VALVE_SENSE_DIVIDER

    @property
    def state_name(self) -> str:
        if not self.powered:
            return "OFF"
        if self.firmware is None:
            return "BOOT"
        return self.firmware.state
