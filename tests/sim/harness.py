"""A unit on a stand-in bench (fixed spot temperature and supply), driven frame by frame."""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.shared.service_frame import decode_frame, encode_frame
from rig.sim.device.unit import BenchWiring, Unit
from rig.sim.noise import NoiseBank
from rig.sim.profile import ParamsModel, ProfileModel, UnitProfile, resolve
from rig.sim.timebase import Scheduler


@dataclass
class StandIn:
    spot_c: float = 33.0
    supply_v: float = 24.0
    jet_log: list[tuple[int, bool]] = field(default_factory=list)
    load_changes: list[int] = field(default_factory=list)


class UnitHarness:
    def __init__(self, seed: int = 1, **params: object) -> None:
        self.sched = Scheduler()
        self.bench = StandIn()
        model = ProfileModel(params=ParamsModel(**params))
        self.profile: UnitProfile = resolve(model, seed, "<test>")
        b = self.bench
        self.unit = Unit(
            self.sched,
            self.profile,
            NoiseBank(seed),
            BenchWiring(
                spot_c=lambda t: b.spot_c,
                supply_v=lambda t: b.supply_v,
                jet=lambda t, f: b.jet_log.append((t, f)),
                load_changed=lambda t: b.load_changes.append(t),
            ),
        )
        self.out: list[bytes] = []
        self.link = self.unit.link("test")
        self.link.send = self.out.append
        self.unit.on_supply_change(0)
        self.advance(1.6)

    def advance(self, seconds: float) -> None:
        self.sched.run_until(self.sched.now_us + round(seconds * 1e6))

    def raw(self, data: bytes) -> list[bytes]:
        self.out.clear()
        self.link.feed(data)
        return list(self.out)

    def cmd(self, payload: str) -> str:
        """Send one frame; return the single reply's payload (asserts exactly one)."""
        replies = self.raw(encode_frame(payload))
        assert len(replies) == 1, f"{payload!r} got {replies!r}"
        return decode_frame(replies[0], max_payload=None).payload

    def replies(self) -> list[str]:
        return [decode_frame(o, max_payload=None).payload for o in self.out]

    @property
    def fw(self):
        assert self.unit.firmware is not None
        return self.unit.firmware
