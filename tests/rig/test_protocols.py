"""Protocol files are checked before anything is energized, naming file, field and value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rig.protocols import PROTOCOL_DIR, ProtocolError, load_protocol


def _cutoff_with(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copytree(PROTOCOL_DIR, tmp_path / "protocols")
    path = tmp_path / "protocols" / "cutoff.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_plan_s_cutoff_protocol_probes_just_below_the_rearm_temperature() -> None:
    p = load_protocol("cutoff")
    low, high = p.rearm_probe_c
    assert p.threshold_c < low < high < p.rearm_c
    assert p.rearm_c - high <= 0.5  # "just below": a unit that re-arms lower is caught


@pytest.mark.parametrize("band", ["[7.8, 7.0]", "[7.0, 8.5]", "[1.0, 7.0]"])
def test_a_probe_band_outside_threshold_and_rearm_is_refused(tmp_path: Path, band: str) -> None:
    path = _cutoff_with(tmp_path, "rearm_probe_c: [7.0, 7.8]", f"rearm_probe_c: {band}")
    with pytest.raises(ProtocolError) as err:
        load_protocol("cutoff", path.parent)
    msg = str(err.value)
    assert str(path) in msg and "field 'rearm_probe_c'" in msg, msg
    assert "between threshold_c (2.0) and rearm_c (8.0)" in msg
