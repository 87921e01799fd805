"""Every defect in the catalog is stopped, by the requirement it breaks (issue: "The full
end-of-line plan"): the acceptance's "0 escapes", kept in CI rather than shown once by a
fleet study.

Each catalog profile goes through the whole EOL plan exactly as ``cryorig fleet`` sends
it (pytest, the plugin, PyVISA, pyserial, the simulated bench; two units at a time), and
must end FAIL with at least one of the requirements its profile says it breaks among the
failed ones. A PASS is an escape; an ERROR or a FAIL on other requirements only is not a
detection either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.fleet import default_workers, detection_outcome, plan_units, run_fleet
from rig.sim.profile import catalog

pytestmark = pytest.mark.timeout(1200)


def test_every_catalog_defect_fails_on_the_requirement_it_breaks(tmp_path: Path) -> None:
    units = plan_units(0, seed=0)
    assert {u.name for u in units} == set(catalog())
    assert all(u.breaks for u in units), "a catalog profile that names no requirement"
    results = run_fleet(units, tmp_path, workers=min(2, default_workers()))
    assert len(results) == len(units)
    outcomes = {}
    for r in results:
        caught = [q for q in r.failed if q in r.unit.breaks]
        outcomes[r.unit.name] = (
            detection_outcome(r.verdict, caught),
            r.verdict,
            r.failed,
            r.reason,
        )
    missed = {name: o for name, o in outcomes.items() if o[0] != "detected"}
    assert not missed, missed
    by_name = {r.unit.name: r for r in results}
    # The sensor that lags lets the true surface over-cool while the unit's own reading
    # still shows the cutoff in time: the reference thermocouple is what fails it.
    assert "REQ-SAFE-02" in by_name["sluggish-sensor"].failed
    # A unit that cannot be adjusted fails REQ-SENS-01 (a verdict, not an ERROR), and one
    # whose memory loses the coefficients fails REQ-CAL-01.
    assert by_name["sensor-out-of-adjustment"].requirements["REQ-SENS-01"] == "FAIL"
    assert by_name["failing-calibration-memory"].requirements["REQ-CAL-01"] == "FAIL"
    # A sensor whose readings scatter ten times nominal adjusts out on average, but the
    # budget takes one reading's scatter: REQ-SENS-01, and nothing else.
    assert by_name["noisy-sensor"].failed == ["REQ-SENS-01"]
    # Each failed unit's reason (run.json, the MES line, the report's banner) names the
    # measurements outside limits, not only "outside limits:".
    for r in results:
        if r.verdict == "FAIL":
            assert r.reason and "(outside limits:)" not in r.reason, (r.unit.name, r.reason)
            assert any(f"{q} " in r.reason for q in r.failed), (r.unit.name, r.reason)
