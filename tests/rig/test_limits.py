"""Limit.judge and the plan's limits file: what a value needs to pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.limits import FAIL, PASS, Limit, load_limits

ROOT = Path(__file__).resolve().parents[2]
LATENCY = Limit(
    "cutoff.close_latency", "REQ-SAFE-01", "latency", "s", None, 0.2, None,
    guard="expanded_uncertainty",
)  # fmt: skip


def test_a_guarded_latency_passes_only_with_its_u_inside_the_limit() -> None:
    """0.195 s measured with U = 8 ms could be 0.203 s: not shown to meet 200 ms."""
    assert LATENCY.judge(0.030, 0.0082) == PASS
    assert LATENCY.judge(0.1918, 0.0082) == PASS
    assert LATENCY.judge(0.195, 0.0082) == FAIL
    assert LATENCY.judge(0.200, 0.0) == PASS  # inclusive bound, nothing to guard


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), None, True])
def test_no_value_never_passes_and_needs_no_uncertainty(value: object) -> None:
    """A valve that never closed has latency inf and no U; -inf under a high-only limit
    used to pass."""
    assert LATENCY.judge(value, None) == FAIL
    unguarded = Limit("x", "REQ-SAFE-01", "x", "s", None, 0.2, None)
    assert unguarded.judge(value) == FAIL


def test_a_guarded_limit_refuses_a_value_without_its_u() -> None:
    with pytest.raises(ValueError, match="needs the expanded uncertainty"):
        LATENCY.judge(0.03, None)


def test_the_plan_guards_every_safety_timing_limit() -> None:
    """REQ-SAFE-01/03/04 and REQ-PWR-02 timings: conformity shown with U, as the
    calibration's as-left errors are (limits 1.4.0)."""
    limits = load_limits(ROOT / "test_plans" / "limits" / "eol-limits.yaml")
    guarded = {n for n, lim in limits.limits.items() if lim.guard == "expanded_uncertainty"}
    timing = {
        "cutoff.close_latency",
        "sensor.f01_close_latency",
        "sensor.f02_close_latency",
        "power.uv_close_latency",
        "maxopen.duration",
    }
    assert timing <= guarded
