"""EOL step 9 — what can only be judged over the whole plan."""

from __future__ import annotations

import pytest

from rig.measure import measures


@pytest.mark.requirement("REQ-PWR-01")
@measures("power.peak_current")
def test_peak_current(bench, measurements):
    """The highest supply current read back over the whole plan."""
    measurements["power.peak_current"] = float(bench.supply_current(0.0, bench.clock.now()).max())


@pytest.mark.requirement("REQ-ID-01")
@measures("identity.link_errors_plan")
def test_link_over_the_plan(unit, measurements):
    """Every reply the unit garbled over the whole plan (a bad frame, or its own ERR E1):
    the 20 identity queries of step 1 let a link that corrupts one reply in fifty by
    two times in three, the thousands of exchanges of the plan do not. Silence while
    the unit boots is expected and not counted."""
    measurements["identity.link_errors_plan"] = unit.stats["framing_errors"]
