"""EOL step 1 — the unit itself: identity, power, self test.

No cooling here: these run first, while the phantom warms to 33 °C for the
treatments. Each test is a step of the procedure the QA engineer signs; the
numbers it is judged against are in ``limits/eol-limits.yaml``.
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.instruments.errors import UnitTimeout
from rig.measure import measures

IDENTITY_QUERIES = 20


@pytest.mark.requirement("REQ-ID-01")
@measures(
    "identity.response_time",
    "identity.serial_matches_label",
    "identity.firmware_approved",
    "identity.model",
    "identity.link_errors",
)
def test_identity(bench, unit, measurements):
    """Ask the unit who it is, 20 times: compare with the scanned label and the approved
    firmware, take the slowest answer, and count every reply that had to be asked for
    again (corrupted or missing): each identity query must be answered."""
    before = dict(unit.stats)
    answers = []
    unanswered = 0
    for _ in range(IDENTITY_QUERIES):
        try:
            answers.append(unit.identify())
        except UnitTimeout:
            unanswered += 1
    after = unit.stats
    resent = (after["framing_errors"] - before["framing_errors"]) + (
        after["timeouts"] - before["timeouts"]
    )
    measurements["identity.link_errors"] = max(resent, unanswered)
    if not answers:
        raise UnitTimeout(f"none of {IDENTITY_QUERIES} identity queries was answered")
    ident = answers[0]
    measurements["identity.response_time"] = max(a.response_s for a in answers)
    measurements["identity.serial_matches_label"] = ident.serial == bench.label_serial
    measurements["identity.firmware_approved"] = ident.firmware in bench.limits.approved_firmware
    measurements["identity.model"] = f"{ident.maker} {ident.model}"


@pytest.mark.requirement("REQ-PWR-01")
@measures("power.idle_current")
def test_idle_current(bench, unit, clock, measurements):
    """With the unit idle at 24 V, the supply's current read-back over a few seconds."""
    assert unit.state().state == "IDLE"
    window = bench.bench_protocol.idle_current_window_s
    t0 = clock.now()
    with bench.fast_polling():
        clock.sleep(window)
    measurements["power.idle_current"] = float(np.median(bench.supply_current(t0, clock.now())))


@pytest.mark.requirement("REQ-ST-01")
@measures("selftest.result")
def test_selftest(unit, measurements):
    """The unit's built-in self test."""
    code = unit.selftest()
    measurements["selftest.result"] = "PASS" if code is None else f"FAIL {code}"
