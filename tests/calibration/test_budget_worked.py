"""docs/calibration-budget.md and the code agree, to every digit the page writes.

The page's fenced JSON block is the input; its budget table and totals table are the
expected results. A number written with d decimals must match the code within half a
unit in its last digit (so "0.0028868" means 0.00288675…0.00288685). Editing the page
or the code without the other fails here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from calibration.budget import Layer, PointInputs, error_estimate, point_budget
from calibration.decision import decide
from calibration.record import Budget, Decision

DOC = Path(__file__).resolve().parents[2] / "docs" / "calibration-budget.md"


def _after(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    at = text.find(f"<!-- {marker}")
    assert at >= 0, f"{DOC.name}: marker {marker!r} not found"
    return text[at:]


def _inputs() -> tuple[PointInputs, float]:
    block = re.search(r"```json\n(.*?)\n```", _after("worked-example-inputs"), re.S)
    assert block, "no JSON block after the inputs marker"
    data = json.loads(block.group(1))
    point = dict(data["point"])
    point["layers"] = tuple(Layer(*layer) for layer in point["layers"])
    return PointInputs(**point), float(data["tolerance_c"])


def _table(marker: str) -> list[list[str]]:
    lines = _after(marker).splitlines()[1:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append(cells)
    _header, rule, *body = rows
    assert set("".join(rule)) <= {"-", ":"}, "a markdown table has a rule under its header"
    return body


def _written(cell: str) -> tuple[float, float]:
    """A number as written (units stripped) and half a unit in its last written digit."""
    token = cell.split()[0].replace("−", "-").replace("+", "")
    if token == "∞":
        return math.inf, 0.0
    m = re.fullmatch(r"-?\d+(?:\.(\d+))?(?:e(-?\d+))?", token)
    assert m, f"not a number: {cell!r}"
    decimals = len(m.group(1) or "")
    exponent = int(m.group(2) or 0)
    return float(token), 0.5 * 10.0 ** (exponent - decimals)


def _check(name: str, got: float, cell: str) -> None:
    want, tol = _written(cell)
    if want == 0.0 and "." not in cell:
        assert got == 0.0, f"{name}: code {got!r}, page {cell!r}"
        return
    assert abs(got - want) <= tol * (1 + 1e-9), f"{name}: code {got!r}, page {cell!r}"


@pytest.fixture(scope="module")
def worked() -> tuple[PointInputs, float, Budget, Decision]:
    inputs, tolerance = _inputs()
    budget = point_budget(inputs)
    return inputs, tolerance, budget, decide(error_estimate(inputs), budget, tolerance)


def test_the_page_lists_every_row_in_the_codes_order(worked) -> None:
    _, _, budget, _ = worked
    assert [row[0] for row in _table("worked-example-budget")] == [r.symbol for r in budget.rows]


def test_every_row_matches_the_page(worked) -> None:
    _, _, budget, _ = worked
    by_symbol = {r.symbol: r for r in budget.rows}
    for symbol, _name, typ, dist, a, u, c, contrib, u2, nu in _table("worked-example-budget"):
        row = by_symbol[symbol]
        assert (row.type, row.distribution) == (typ, dist), symbol
        if a == "—":
            assert row.half_width is None, symbol
        else:
            assert row.half_width is not None, symbol
            _check(f"{symbol} a", row.half_width, a)
        _check(f"{symbol} u", row.standard_uncertainty, u)
        assert row.sensitivity == _written(c)[0], symbol
        _check(f"{symbol} |c|u", row.contribution_c, contrib)
        _check(f"{symbol} u²", row.contribution_c**2, u2)
        if nu == "∞":
            assert row.dof is None, symbol
        else:
            assert row.dof == _written(nu)[0], symbol
        assert row.estimate == 0.0


def test_totals_and_decision_match_the_page(worked) -> None:
    inputs, tolerance, budget, decision = worked
    totals = {row[0]: row[2] for row in _table("worked-example-totals")}
    numbers = {
        "Σuᵢ²": sum(r.contribution_c**2 for r in budget.rows),
        "u_c": budget.combined_standard_uncertainty_c,
        "ν_eff": budget.effective_dof,
        "k": budget.coverage_factor,
        "U": budget.expanded_uncertainty_c,
        "E": error_estimate(inputs),
        "T": tolerance,
        "w": decision.guard_band_c,
        "A": decision.acceptance_limit_c,
        "PFA": decision.probability_false_accept,
        "PFR": decision.probability_false_reject,
        "TUR": decision.test_uncertainty_ratio,
    }
    assert set(totals) == set(numbers) | {"result", "TUR < 4"}
    for name, value in numbers.items():
        assert value is not None, name
        _check(name, value, totals[name])
    assert decision.result == totals["result"]
    assert decision.tur_below_4 == {"yes": True, "no": False}[totals["TUR < 4"]]


def test_the_number_reader_is_strict() -> None:
    """The digits rule itself: one more unit in the last digit is outside."""
    _check("x", 0.0028868, "0.0028868")
    _check("x", 0.00288684, "0.0028868")
    with pytest.raises(AssertionError):
        _check("x", 0.0028870, "0.0028868")
    _check("x", 8.33333e-6, "8.3333e-6")
    with pytest.raises(AssertionError):
        _check("x", 8.3336e-6, "8.3333e-6")
    assert _written("−1") == (-1.0, 0.5)
    assert _written("0.12274 °C") == (0.12274, pytest.approx(5e-6))
