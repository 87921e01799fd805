"""The run's verdict book: why a run is not PASS, in one line that names what failed."""

from __future__ import annotations

from rig.limits import Limit
from rig.measure import LimitFailure, Measurements
from rig.runbook import RunBook


def _failure() -> LimitFailure:
    limits = {
        "shock.time_to_target_band": Limit(
            "shock.time_to_target_band", "REQ-COOL-01", "time to 5 °C", "s", None, 30.0, None
        ),
        "shock.min_surface": Limit(
            "shock.min_surface", "REQ-COOL-01", "minimum surface", "°C", 2.5, None, None
        ),
    }
    m = Measurements(
        tuple(limits), limits, test="t.py::test_shock", now=lambda: 0.0, sink=lambda r: None
    )
    m.record("shock.time_to_target_band", 31.25)
    m.record("shock.min_surface", 1.9)
    try:
        m.conclude()
    except LimitFailure as exc:
        return exc
    raise AssertionError("conclude() passed two values outside their limits")


def test_the_run_s_reason_names_the_measurements_outside_limits() -> None:
    """It used to stop at the colon: "test_shock: FAIL (outside limits:)"."""
    book = RunBook(requirements=("REQ-COOL-01",))
    book.test("test_plans/test_03_treatments.py::test_shock", ("REQ-COOL-01",))
    book.set_outcome("test_plans/test_03_treatments.py::test_shock", "FAIL", str(_failure()))
    reason = book.reason()
    assert reason is not None
    assert reason.startswith("test_shock: FAIL (outside limits: REQ-COOL-01 ")
    assert "shock.time_to_target_band = 31.25 s (limit ≤ 30 s)" in reason
    assert "; REQ-COOL-01 shock.min_surface = 1.9 °C (limit ≥ 2.5 °C))" in reason
    assert "\n" not in reason


def test_a_one_line_reason_stays_as_it_is() -> None:
    book = RunBook()
    book.test("t.py::test_x", ())
    book.set_outcome("t.py::test_x", "ERROR", "call: RigError: the stage did not answer\nmore")
    assert book.reason() == "test_x: ERROR (call: RigError: the stage did not answer)"
