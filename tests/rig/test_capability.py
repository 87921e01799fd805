"""The fleet study's statistics: Cpk with the lower bound a capability claim rests on, and
the false-reject rate with its upper bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rig.fleet import _cpk, cpk_lower_bound, rate_upper_bound


def test_the_bound_by_hand() -> None:
    # Ĉpk 1.01 from 400 units: 1.01 − 1.6449·√(1/3600 + 1.0201/798) = 1.01 − 0.0649.
    assert cpk_lower_bound(1.01, 400) == pytest.approx(0.94512, abs=1e-5)
    assert cpk_lower_bound(5.0, 2) < 0  # two units bound nothing
    assert cpk_lower_bound(None, 400) is None
    assert cpk_lower_bound(math.inf, 400) is None  # no spread: no bound
    assert cpk_lower_bound(1.5, 1) is None


@pytest.mark.parametrize("n", [50, 400])
def test_the_bound_covers_the_true_cpk_95_percent_of_the_time(n: int) -> None:
    """Monte Carlo: normal samples from a process of known Cpk 1.33 (mean 0.5 sd off
    centre, limits ±4.5 sd); the bound from each sample must lie below 1.33 in 93–97 %
    of 2,000 samples (Bissell's approximation is good to about a percent at these n)."""
    rng = np.random.default_rng(20261129)
    low, high, mu, sd = -4.5, 4.5, 0.5, 1.0
    true_cpk = min(high - mu, mu - low) / (3 * sd)
    assert true_cpk == pytest.approx(4.0 / 3.0)
    covered = 0
    reps = 2000
    for sample in rng.normal(mu, sd, size=(reps, n)):
        estimate = _cpk(sample.tolist(), low, high)
        bound = cpk_lower_bound(estimate, n)
        assert bound is not None and estimate is not None and bound < estimate
        covered += bound <= true_cpk
    assert 0.93 <= covered / reps <= 0.97, covered / reps


def test_the_false_reject_rate_s_upper_bound() -> None:
    # None in 400: (1 − p)^400 = 0.05, p = 1 − 0.05^(1/400) = 0.746 % (the "rule of three").
    assert rate_upper_bound(0, 400) == pytest.approx(1 - 0.05 ** (1 / 400), rel=1e-9)
    # Two in 400: the bound p where seeing two or fewer has probability 5 %.
    p = rate_upper_bound(2, 400)
    assert p is not None
    seen = sum(math.comb(400, k) * p**k * (1 - p) ** (400 - k) for k in range(3))
    assert seen == pytest.approx(0.05, rel=1e-6)
    assert rate_upper_bound(3, 3) == 1.0
    assert rate_upper_bound(0, 0) is None


def test_values_without_spread_have_no_cpk_and_say_why(tmp_path) -> None:
    """A measurement quantised coarser than the process varies (a latency in whole control
    periods, in a small study) shows no spread. Its Cpk is not "infinity", which would
    read as capable in the table and is not JSON; it is missing, with the reason given
    in the terminal, the report and the summary."""
    import io
    import json

    from rich.console import Console

    from reports.eol import render_fleet_report
    from rig.fleet import FleetUnit, UnitResult, summarize
    from rig.fleet_view import print_summary
    from rig.limits import load_limits
    from rig.station import default_limits_file

    assert _cpk([0.04, 0.04, 0.04], None, 0.15) is None
    # mean 0.04333, sd 0.005774: (0.15 - 0.04333) / (3 * 0.005774)
    assert _cpk([0.04, 0.05, 0.04], None, 0.15) == pytest.approx(0.10667 / 0.017321, abs=1e-3)
    results = [
        UnitResult(
            FleetUnit(f"SIM-N-{i}", i),
            "PASS",
            {},
            [],
            None,
            1.0,
            4800.0,
            values={
                "power.idle_current": 0.09,
                "power.valve_open_current": 0.75 + 0.01 * i,
                # as a 3-unit study measured it: one sample interval, rounding noise apart
                "maxopen.duration": 60.0198735712147 + 5e-7 * i,
                "cutoff.close_latency": 0.02 + 0.01 * i,
            },
            uncertainties={"maxopen.duration": 0.00816, "cutoff.close_latency": 0.00409},
        )
        for i in range(3)
    ]
    s = summarize(results, limits=load_limits(default_limits_file()), seed=0, wall_s=1.0, workers=1)
    rows = {c["name"]: c for c in s["cpk"]}
    idle = rows["power.idle_current"]
    assert idle["cpk"] is None and idle["cpk_lower95"] is None
    assert idle["cpk_note"] == (
        "all 3 values equal (0.09): no spread seen at the measurement's resolution, so no Cpk"
    )
    assert rows["power.valve_open_current"]["cpk_note"] is None
    # Spread below the measurement's own standard uncertainty: not resolved, no Cpk (the
    # estimate from these values would be about 300,000).
    assert rows["maxopen.duration"]["cpk"] is None
    assert rows["maxopen.duration"]["cpk_note"] == (
        "the values spread less (sd 5e-07 s) than the measurement's standard uncertainty "
        "(0.0082 s): the process's spread is not resolved, so no Cpk"
    )
    assert rows["cutoff.close_latency"]["cpk"] == pytest.approx((0.2 - 0.03) / (3 * 0.01))
    json.dumps(s, allow_nan=False)  # strict JSON: no Infinity anywhere
    buf = io.StringIO()
    print_summary(Console(file=buf, width=200, color_system=None), s)
    assert f"power.idle_current: {idle['cpk_note']}" in buf.getvalue()
    assert " inf " not in buf.getvalue()
    html = render_fleet_report(s, tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"power.idle_current: {idle['cpk_note']}." in html.replace("&#39;", "'")
    assert ">inf<" not in html


def test_a_cpk_is_shown_cut_never_rounded_up() -> None:
    """A table that flags rows below 1.33 must not show 1.33 on one of them."""
    from rig.fleet import cpk_text

    assert cpk_text(1.3299) == "1.32"
    assert cpk_text(1.33) == "1.33"
    assert cpk_text(1.15) == "1.15"  # not 1.14 (1.15 * 100 is 114.99999999999999)
    assert cpk_text(-0.456) == "-0.46"  # cut downwards, below the estimate
    assert cpk_text(None) == "—" and cpk_text(math.inf) == "—"
