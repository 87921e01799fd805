"""EOL step 9 — what can only be judged over the whole plan."""

from __future__ import annotations

import pytest

from rig.measure import measures


@pytest.mark.requirement("REQ-PWR-01")
@measures("power.peak_current")
def test_peak_current(bench, measurements):
    """The highest supply current read back over the whole plan."""
    measurements["power.peak_current"] = float(bench.supply_current(0.0, bench.clock.now()).max())
