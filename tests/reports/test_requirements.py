"""The report's requirement titles cover every requirement of the product's spec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.requirements import REQUIREMENTS, UNKNOWN_TITLE, requirement_title

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "specs" / "device-requirements.md"
TABLE_ROW = re.compile(r"^\|\s*(REQ-[A-Z]+-\d+)\s*\|", re.MULTILINE)


def spec_ids(text: str) -> list[str]:
    """The IDs in the first column of the spec's requirement table."""
    return TABLE_ROW.findall(text)


def test_table_rows_are_parsed() -> None:
    text = (
        "| ID | requirement |\n|---|---|\n"
        "| REQ-AB-01 | x |\n| REQ-CD-12 | y |\n"
        "REQ-EF-01 mentioned in prose\n"
    )
    assert spec_ids(text) == ["REQ-AB-01", "REQ-CD-12"]


@pytest.mark.skipif(not SPEC.exists(), reason=f"{SPEC} is not beside this checkout")
def test_every_spec_requirement_has_a_title() -> None:
    ids = spec_ids(SPEC.read_text(encoding="utf-8"))
    assert ids, "no requirement table found in the spec"
    assert sorted(set(ids) - set(REQUIREMENTS)) == []
    assert sorted(set(REQUIREMENTS) - set(ids)) == []


def test_unknown_requirement_says_so() -> None:
    assert requirement_title("REQ-COOL-01").startswith("SHOCK")
    assert requirement_title("REQ-NEW-99") == UNKNOWN_TITLE
