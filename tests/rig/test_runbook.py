"""The run's verdict book: why a run is not PASS, in one line that names what failed."""

from __future__ import annotations

import signal
import types

import pytest

from rig.limits import Limit
from rig.measure import LimitFailure, Measurements
from rig.plugin import _on_stop_signal
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


def test_a_guarded_failure_inside_the_tolerance_gives_its_u() -> None:
    """0.03 °C inside ±0.5 °C fails a guarded limit when U = 0.63 °C: the line says so."""
    lim = Limit(
        "sens.as_left_error_02c", "REQ-SENS-01", "as-left error", "°C", -0.5, 0.5, None,
        guard="expanded_uncertainty",
    )  # fmt: skip
    m = Measurements(
        (lim.name,), {lim.name: lim}, test="t.py::test_cal", now=lambda: 0.0, sink=lambda r: None
    )
    m.record(lim.name, 0.0305, uncertainty=0.631, coverage_factor=1.97)
    with pytest.raises(LimitFailure) as info:
        m.conclude()
    assert (
        "REQ-SENS-01 sens.as_left_error_02c = 0.0305 °C, U = 0.631 °C (k = 1.97) "
        "(limit -0.5–0.5 °C, guard band U)" in str(info.value)
    )


def test_an_uncertainty_is_recorded_with_its_coverage_factor() -> None:
    """U and k travel together: a guarded limit, the report's ± and the fleet's u = U/k
    read the same field, which once held u for latencies and U for the calibration."""
    lim = Limit("cutoff.close_latency", "REQ-SAFE-01", "latency", "s", None, 0.2, None)
    records: list[dict] = []
    m = Measurements(
        (lim.name,), {lim.name: lim}, test="t.py::test_c", now=lambda: 0.0, sink=records.append
    )
    with pytest.raises(ValueError, match="with its coverage factor"):
        m.record(lim.name, 0.03, uncertainty=0.008)
    with pytest.raises(ValueError, match=r"coverage factor k = 0\.5"):
        m.record(lim.name, 0.03, uncertainty=0.008, coverage_factor=0.5)
    m.record(lim.name, 0.03, uncertainty=0.008, coverage_factor=2.0)
    assert records[-1]["uncertainty"] == 0.008 and records[-1]["coverage_factor"] == 2.0


def test_a_one_line_reason_stays_as_it_is() -> None:
    book = RunBook()
    book.test("t.py::test_x", ())
    book.set_outcome("t.py::test_x", "ERROR", "call: RigError: the stage did not answer\nmore")
    assert book.reason() == "test_x: ERROR (call: RigError: the stage did not answer)"


def test_a_test_that_never_reported_is_an_error_not_a_pass() -> None:
    """Ctrl-C inside a test: pytest re-raises the interrupt before the call's report, so
    the book has only the setup's entry. It used to count as PASS, the run as PASS with
    its requirements ERROR, and closing the record refused that (a traceback, exit 1,
    run.json left RUNNING)."""
    book = RunBook(requirements=("REQ-ID-01", "REQ-CAL-01", "REQ-COOL-01"))
    book.test("p.py::test_identity", ("REQ-ID-01",))
    book.set_outcome("p.py::test_identity", "PASS")
    entry = book.test("p.py::test_calibration", ("REQ-CAL-01",))
    entry.measurement_verdicts = {"REQ-CAL-01": "ERROR"}  # nothing measured yet
    assert book.requirement_verdicts() == {
        "REQ-CAL-01": "ERROR",
        "REQ-COOL-01": "NOT_RUN",
        "REQ-ID-01": "PASS",
    }
    assert book.status() == "ERROR"
    assert book.reason() == "test_calibration: ERROR (did not finish)"
    book.aborted = "interrupted by the operator (Ctrl-C)"
    assert book.reason() == (
        "interrupted by the operator (Ctrl-C); test_calibration: ERROR (did not finish)"
    )


def test_a_skipped_test_verifies_nothing() -> None:
    book = RunBook(requirements=("REQ-ID-01", "REQ-ST-01"))
    book.test("p.py::test_identity", ("REQ-ID-01",))
    book.set_outcome("p.py::test_identity", "PASS")
    book.test("p.py::test_selftest", ("REQ-ST-01",))
    book.skip("p.py::test_selftest")
    assert book.requirement_verdicts() == {"REQ-ID-01": "PASS", "REQ-ST-01": "NOT_RUN"}
    assert book.status() == "PASS" and book.reason() is None
    assert book.tests["p.py::test_selftest"].final == "NOT_RUN"


def test_a_second_stop_signal_does_not_interrupt_the_safe_state() -> None:
    """The first Ctrl-C unwinds the run; one more while the bench is made safe must not
    cut that short (the stage or the supply would stay on): it is noted, not raised."""
    session = types.SimpleNamespace(terminated=None, late_signals=0)
    with pytest.raises(KeyboardInterrupt, match="interrupted by the operator"):
        _on_stop_signal(session, signal.SIGINT, None)  # type: ignore[arg-type]
    assert session.terminated == "interrupted by the operator (Ctrl-C)"
    _on_stop_signal(session, signal.SIGINT, None)  # type: ignore[arg-type]
    _on_stop_signal(session, signal.SIGTERM, None)  # type: ignore[arg-type]
    assert session.late_signals == 2
    assert session.terminated == "interrupted by the operator (Ctrl-C)"
