"""Measurements declared with their limits, units and requirement, as OpenHTF's ``@measures``.

A test declares what it measures by name; each name is an entry of the limits
file (value bounds, unit, requirement ID), checked before anything is energized.
The test then reads like the procedure a QA engineer signs::

    @pytest.mark.requirement("REQ-PWR-01")
    @measures("power.idle_current")
    def test_idle_current(bench, measurements):
        measurements["power.idle_current"] = bench.idle_current()

Every value is judged and recorded as it is set; after the test the plugin fails
it if any declared measurement failed its limits or was never taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pytest

from .limits import ERROR, FAIL, PASS, Limit, LimitSet
from .runbook import worst


def measures(*names: str) -> pytest.MarkDecorator:
    """Declare the measurements a test takes (names of the limits file)."""
    return pytest.mark.measures(*names)


@dataclass(frozen=True)
class MeasuredValue:
    name: str
    req: str
    value: Any
    unit: str
    low: float | None
    high: float | None
    expect: Any
    limit_text: str
    verdict: str
    test: str
    t: float
    uncertainty: float | None = None
    """The expanded uncertainty U of the value (about 95 %), at ``coverage_factor``."""
    notes: str | None = None
    coverage_factor: float | None = None
    """k of ``uncertainty`` (U = k·u): given whenever an uncertainty is."""

    def as_record(self) -> dict[str, Any]:
        rec = asdict(self)
        v = rec["value"]
        if isinstance(v, float) and not math.isfinite(v):
            rec["value"] = str(v)
        return rec


class LimitFailure(AssertionError):
    """Measurements outside their limits: the unit FAILS (not an ERROR of the rig)."""


class MeasurementMissing(RuntimeError):
    """A declared measurement was never taken: the test could not decide (ERROR)."""


class Measurements:
    """The declared measurements of one test, judged and recorded as they are set."""

    def __init__(
        self,
        names: tuple[str, ...],
        limits: LimitSet,
        *,
        test: str,
        now: Callable[[], float],
        sink: Callable[[dict[str, Any]], None],
    ) -> None:
        self.limits = {n: limits[n] for n in names}
        self.test = test
        self._now = now
        self._sink = sink
        self.results: dict[str, MeasuredValue] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.results

    def __setitem__(self, name: str, value: Any) -> None:
        self.record(name, value)

    def __getitem__(self, name: str) -> MeasuredValue:
        return self.results[name]

    def limit(self, name: str) -> Limit:
        return self._declared(name)

    def _declared(self, name: str) -> Limit:
        try:
            return self.limits[name]
        except KeyError:
            raise KeyError(
                f"{self.test}: measurement {name!r} is not declared with @measures"
            ) from None

    def record(
        self,
        name: str,
        value: Any,
        *,
        uncertainty: float | None = None,
        coverage_factor: float | None = None,
        notes: str | None = None,
    ) -> MeasuredValue:
        """Record a value against its declared limit. ``uncertainty`` is its expanded
        uncertainty U, and ``coverage_factor`` the k it was expanded with: one meaning
        for every record, since a guarded limit, the report's ± and the fleet study's
        resolution rule (u = U/k) all read it."""
        lim = self._declared(name)
        if (uncertainty is None) != (coverage_factor is None):
            raise ValueError(
                f"{self.test}: {name}: an uncertainty is recorded with its coverage factor "
                f"(U = {uncertainty!r}, k = {coverage_factor!r})"
            )
        if coverage_factor is not None and not (
            math.isfinite(coverage_factor) and coverage_factor >= 1.0
        ):
            raise ValueError(f"{self.test}: {name}: coverage factor k = {coverage_factor!r}")
        if hasattr(value, "item"):  # numpy scalars
            value = value.item()
        result = MeasuredValue(
            name=name,
            req=lim.req,
            value=value,
            unit=lim.unit,
            low=lim.low,
            high=lim.high,
            expect=lim.expect,
            limit_text=lim.text(),
            verdict=lim.judge(value, uncertainty),
            test=self.test,
            t=self._now(),
            uncertainty=uncertainty,
            notes=notes,
            coverage_factor=coverage_factor,
        )
        self.results[name] = result
        self._sink(result.as_record())
        return result

    def missing(self) -> list[str]:
        return [n for n in self.limits if n not in self.results]

    def failures(self) -> list[MeasuredValue]:
        return [r for r in self.results.values() if r.verdict == FAIL]

    def conclude(self) -> None:
        """Raise if the test did not show the unit good: failures first, then gaps."""
        failed = self.failures()
        if failed:
            lines = [
                f"{r.req} {r.name} = {_fmt(r.value)}{' ' + r.unit if r.unit else ''}"
                # A guarded limit fails values inside it when U is large: say what U was.
                + (
                    ""
                    if r.uncertainty is None
                    else f", U = {_fmt(r.uncertainty)}{' ' + r.unit if r.unit else ''}"
                    f" (k = {_fmt(r.coverage_factor)})"
                )
                + f" (limit {r.limit_text})"
                for r in failed
            ]
            raise LimitFailure("outside limits:\n  " + "\n  ".join(lines))
        gaps = self.missing()
        if gaps:
            raise MeasurementMissing(f"declared but not measured: {', '.join(gaps)}")

    def verdicts(self) -> dict[str, str]:
        """Requirement ID → PASS/FAIL/ERROR over this test's declared measurements."""
        out: dict[str, str] = {}
        for name, lim in self.limits.items():
            r = self.results.get(name)
            v = r.verdict if r is not None else ERROR
            out[lim.req] = worst(out.get(lim.req, PASS), v)
        # A failed measurement decides its requirement even when later ones of the same
        # requirement were never taken (e.g. no as-left points for a unit that could not
        # be adjusted): FAIL, not ERROR.
        for r in self.results.values():
            if r.verdict == FAIL:
                out[r.req] = FAIL
        return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
