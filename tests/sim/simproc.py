"""The simulated bench as a separate process, for tests (see :mod:`rig.simlink`)."""

from __future__ import annotations

from rig.simlink import SimBenchProcess as SimProcess
from rig.simlink import cryorig_command

__all__ = ["SimProcess", "cryorig_command"]
