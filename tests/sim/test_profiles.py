"""Unit profiles: the YAML contract of bench.md, the nominal spread, the defect catalog."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from rig.sim.profile import (
    SPREADS,
    ProfileError,
    catalog,
    draw_nominal,
    load_profile,
)

DEFECT_CLASSES = {
    "slow valve": ["slow-valve"],
    "weak jet": ["weak-jet"],
    "strong jet": ["strong-jet"],
    "drifted cutoff threshold": ["drifted-cutoff"],
    "sluggish sensor": ["sluggish-sensor"],
    "sensor too far off to adjust": ["sensor-out-of-adjustment", "sensor-offset-beyond-adjustment"],
    "high idle current": ["high-idle-current"],
    "dead undervoltage monitor": ["dead-undervoltage-monitor"],
    "failing calibration memory": ["failing-calibration-memory"],
    "noisy link": ["noisy-link"],
}


def write(tmp_path: Path, text: str, name: str = "unit.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_empty_params_is_a_nominal_unit_and_same_seed_same_unit(tmp_path: Path) -> None:
    p = write(tmp_path, "serial: SIM-X-1\nparams: {}\n")
    a, b = load_profile(p, 11), load_profile(p, 11)
    assert a.params == b.params
    assert a.serial == "SIM-X-1" and a.firmware == "2.3.1"
    assert load_profile(None, 11).params == a.params
    assert load_profile(p, 12).params != a.params


def test_setting_one_parameter_leaves_the_others_drawn_the_same(tmp_path: Path) -> None:
    p = write(tmp_path, "params:\n  valve_close_delay_ms: 260\n")
    nominal = asdict(load_profile(None, 5).params)
    defect = asdict(load_profile(p, 5).params)
    assert defect.pop("valve_close_delay_ms") == 260
    nominal.pop("valve_close_delay_ms")
    assert defect == nominal


def test_nominal_spread_matches_bench_md() -> None:
    draws = [draw_nominal(seed) for seed in range(2000)]
    for name in ("sensor_gain", "sensor_offset_c", "valve_close_delay_ms", "jet_temp_c"):
        values = np.array([d[name] for d in draws])
        spread = SPREADS[name]
        assert values.mean() == pytest.approx(spread.nominal, abs=4 * spread.sigma / np.sqrt(2000))
        assert values.std() == pytest.approx(spread.sigma, rel=0.08)
    assert {d["cutoff_threshold_c"] for d in draws} == {2.0}
    assert {d["control_period_ms"] for d in draws} == {20}


@pytest.mark.parametrize(
    "text,field,value",
    [
        ("params:\n  sensor_lagg_s: 1\n", "params.sensor_lagg_s", "1"),
        ("params:\n  sensor_lag_s: -1\n", "params.sensor_lag_s", "-1"),
        ("params:\n  sensor_gain: fast\n", "params.sensor_gain", "'fast'"),
        ("params:\n  jet_temp_c: -200\n", "params.jet_temp_c", "-200"),
        ("params:\n  control_period_ms: 20.5\n", "params.control_period_ms", "20.5"),
        ("params:\n  nvm_fault: maybe\n", "params.nvm_fault", "'maybe'"),
        ("params:\n  selftest_fault: F09\n", "params.selftest_fault", "'F09'"),
        ("params:\n  link_error_rate: 1.5\n", "params.link_error_rate", "1.5"),
        ("params:\n  valve_current_a: true\n", "params.valve_current_a", "True"),
        ("params:\n  jet_htc_w_m2k: .nan\n", "params.jet_htc_w_m2k", "nan"),
        ("serial: 'has space'\n", "serial", "'has space'"),
        ('serial: "SIM-9\\n"\n', "serial", "'SIM-9\\n'"),  # '$' once let the newline by
        ("serial: 'É-1'\n", "serial", "'É-1'"),
        ("firmware: two\n", "firmware", "'two'"),
        ("breaks: [SAFE-01]\n", "breaks", "['SAFE-01']"),
        ("colour: red\n", "colour", "'red'"),
    ],
)
def test_bad_profiles_name_file_field_and_value(
    tmp_path: Path, text: str, field: str, value: str
) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        load_profile(p, 0)
    msg = str(err.value)
    assert str(p) in msg and f"'{field}'" in msg and value in msg, msg


@pytest.mark.parametrize("serial", ["", " ", "É-ü", "A,B", "X" * 33])
def test_a_serial_override_must_be_a_serial_number(serial: str) -> None:
    with pytest.raises(ProfileError, match=r"serial number override: .* is not a serial number"):
        load_profile(None, 0, serial)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml", 0)
    bad = write(tmp_path, "params: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML") as err:
        load_profile(bad, 0)
    assert str(bad) in str(err.value) and "line" in str(err.value)
    with pytest.raises(ProfileError, match="a profile is a mapping"):
        load_profile(write(tmp_path, "- 1\n- 2\n", "list.yaml"), 0)


def test_none_and_null_mean_no_selftest_fault(tmp_path: Path) -> None:
    for text in ("params:\n  selftest_fault: none\n", "params:\n  selftest_fault: null\n"):
        assert load_profile(write(tmp_path, text), 0).params.selftest_fault is None


def test_catalog_covers_every_defect_class_and_names_what_it_breaks() -> None:
    cat = catalog()
    for cls, names in DEFECT_CLASSES.items():
        assert any(n in cat for n in names), f"no catalog profile for {cls}"
    serials = set()
    for name, path in cat.items():
        prof = load_profile(path, 0)
        assert prof.breaks, f"{name} does not say what it breaks"
        assert prof.explicit, f"{name} sets no parameter"
        assert prof.description
        serials.add(prof.serial)
    assert len(serials) == len(cat), "catalog serial numbers must be unique"
