"""Station files: a bad file is refused with file, field and value; calibration gates the run."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rig.limits import load_limits
from rig.sim.bench import DEFAULT_DESIGN
from rig.sim.physics.sensors import type_t_emf_uv, type_t_shifted_c
from rig.station import (
    CalibrationOverdue,
    DcvChannel,
    StationError,
    TcChannel,
    calibration_status,
    load_station,
    require_calibrated,
    sim_station,
    station_record,
    station_to_yaml,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "stations" / "example-lab.yaml"
SIM_TEMPLATE = ROOT / "stations" / "sim.yaml"
TODAY = dt.date(2026, 5, 1)
RESOURCES = {
    "logger": "TCPIP0::127.0.0.1::41001::SOCKET",
    "supply": "TCPIP0::127.0.0.1::41002::SOCKET",
    "stage": "TCPIP0::127.0.0.1::41003::SOCKET",
    "device": "/dev/pts/7",
    "device_url": "socket://127.0.0.1:41004",
    "control": "127.0.0.1:41005",
}


REPO_LIMITS = Path(__file__).resolve().parents[2] / "test_plans" / "limits" / "eol-limits.yaml"


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the repository layout: stations/ next to test_plans/limits/ (placeholder)."""
    (tmp_path / "test_plans" / "limits").mkdir(parents=True)
    version = _raw(REPO_LIMITS)["version"]
    (tmp_path / "test_plans" / "limits" / "eol-limits.yaml").write_text(f"version: '{version}'\n")
    (tmp_path / "stations").mkdir()
    for p in (EXAMPLE, SIM_TEMPLATE):
        shutil.copy(p, tmp_path / "stations" / p.name)
    return tmp_path


@pytest.fixture
def example(lab: Path) -> Path:
    return lab / "stations" / "example-lab.yaml"


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(path: Path, raw: dict[str, Any]) -> Path:
    out = path.with_name("station-under-test.yaml")
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return out


def _problems(path: Path) -> list[str]:
    with pytest.raises(StationError) as info:
        load_station(path)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def _one_problem(example: Path, mutate: Any) -> str:
    raw = copy.deepcopy(_raw(example))
    mutate(raw)
    path = _write(example, raw)
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: "), problems[0]
    return problems[0]


# --- valid files -------------------------------------------------------------------------------
def test_example_lab_station_loads(example: Path) -> None:
    st = load_station(example)
    assert st.station == "EOL-01"
    assert st.limits_path == (example.parent.parent / "test_plans/limits/eol-limits.yaml").resolve()
    assert st.limits_path.is_absolute()
    assert st.instruments.logger.model == "DAQ970A"
    assert st.instruments.supply.output == 2
    assert st.instruments.supply.corrections.voltage(24.0) == pytest.approx(24.00108)
    number, ref = st.channel("ref_surface")
    assert number == 101 and isinstance(ref, TcChannel)
    assert ref.calibration is not None and ref.expanded_u_c == pytest.approx(0.10)
    number, valve = st.channel("valve_sense")
    assert number == 110 and isinstance(valve, DcvChannel) and valve.source_v(2.4) == 24.0
    assert list(st.channel_map()) == [101, 102, 103, 104, 105, 110]
    with pytest.raises(KeyError, match="ref_surface"):
        st.channel("humidity")


def test_the_repository_example_references_the_repository_limits_file() -> None:
    assert _raw(EXAMPLE)["limits"] == {
        "file": "../test_plans/limits/eol-limits.yaml",
        "version": _raw(REPO_LIMITS)["version"],
    }


def test_supply_corrections_default_to_identity(example: Path) -> None:
    raw = _raw(example)
    del raw["instruments"]["supply"]["corrections"]
    st = load_station(_write(example, raw))
    c = st.instruments.supply.corrections
    assert (c.voltage(24.0), c.current(0.5), c.u_voltage_v, c.u_current_a) == (24.0, 0.5, 0, 0)


# --- each bad case names file, field and value -------------------------------------------------
def test_unknown_key(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["instruments"]["logger"].update(colour="red"))
    assert "'instruments.logger.colour'" in msg and "'red'" in msg and "unknown key" in msg


def test_unknown_instrument_role(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["instruments"].update(scope={"resource": "x"}))
    assert "'instruments.scope'" in msg and "unknown key" in msg


def test_missing_instrument_role(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["instruments"].pop("stage"))
    assert "'instruments.stage'" in msg and "<missing>" in msg


def test_missing_channel_role(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"].pop(110))
    assert "'channels'" in msg and "'valve_sense' is missing" in msg
    assert "101: 'ref_surface'" in msg  # the value: the roles the file does give


def test_duplicate_role(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][103].update(role="ref_surface"))
    assert "'channels.103.role'" in msg and "'ref_surface'" in msg and "channel 101" in msg


def test_wrong_type(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["instruments"]["logger"].update(timeout_s="fast"))
    assert "'instruments.logger.timeout_s'" in msg and "'fast'" in msg and "number" in msg


def test_numbers_as_strings_and_booleans_are_refused(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][102].update(u_c="0.1"))
    assert "'channels.102.u_c'" in msg and "'0.1'" in msg
    msg = _one_problem(example, lambda r: r["channels"][102].update(k=True))
    assert "'channels.102.k'" in msg and "True" in msg


def test_unquoted_limits_version(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["limits"].update(version=1.0))
    assert "'limits.version'" in msg and "1.0" in msg and "quote" in msg


def test_channel_out_of_slot(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"].update({99: r["channels"].pop(105)}))
    assert "'channels.99'" in msg and "= 99" in msg and "101–120" in msg


def test_negative_uncertainty(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][102].update(u_c=-0.1))
    assert "'channels.102.u_c'" in msg and "-0.1" in msg


def test_zero_coverage_factor(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][104].update(k=0.0))
    assert "'channels.104.k'" in msg and "0.0" in msg


def test_correction_beyond_5_c(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][101].update(correction_c=-6.5))
    assert "'channels.101.correction_c'" in msg and "-6.5" in msg


def test_due_before_calibrated(example: Path) -> None:
    msg = _one_problem(
        example,
        lambda r: r["instruments"]["logger"]["calibration"].update(due=dt.date(2026, 1, 1)),
    )
    assert "'instruments.logger.calibration.due'" in msg and "2026-01-01" in msg
    assert "before the calibration date 2026-04-12" in msg


def test_bad_kind(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][102].update(kind="pt100"))
    assert "'channels.102.kind'" in msg and "'pt100'" in msg and "tc_t" in msg


def test_thermocouple_keys_on_a_voltage_channel(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["channels"][110].update(u_c=0.1))
    assert "'channels.110.u_c'" in msg and "unknown key" in msg


def test_bad_resource_type(example: Path) -> None:
    msg = _one_problem(
        example,
        lambda r: r["instruments"]["device"].update(resource="TCPIP0::10.0.0.5::5025::SOCKET"),
    )
    assert "'instruments.device.resource'" in msg and "TCPIP0::10.0.0.5::5025::SOCKET" in msg
    msg = _one_problem(example, lambda r: r["instruments"]["logger"].update(resource="/dev/ttyS0"))
    assert "'instruments.logger.resource'" in msg and "'/dev/ttyS0'" in msg and "VISA" in msg
    msg = _one_problem(example, lambda r: r["instruments"]["supply"].update(resource=5025))
    assert "'instruments.supply.resource'" in msg and "5025" in msg


def test_limits_file_missing(example: Path) -> None:
    msg = _one_problem(example, lambda r: r["limits"].update(file="../limits/nope.yaml"))
    assert "'limits.file'" in msg and "'../limits/nope.yaml'" in msg and "no such file" in msg


def test_every_problem_is_reported_at_once(example: Path) -> None:
    raw = _raw(example)
    raw["channels"][102]["u_c"] = -1.0
    raw["instruments"]["stage"]["serial"] = ""
    raw["bench_colour"] = "blue"
    problems = _problems(_write(example, raw))
    assert len(problems) == 3
    assert any("'channels.102.u_c'" in p for p in problems)
    assert any("'instruments.stage.serial'" in p for p in problems)
    assert any("'bench_colour'" in p for p in problems)


def test_yaml_syntax_error_names_file_and_line(example: Path) -> None:
    text = example.read_text(encoding="utf-8").splitlines()
    bad_line = next(i for i, t in enumerate(text) if t.startswith("  supply:"))
    text[bad_line] = "  supply: [unclosed"
    bad = example.with_name("broken.yaml")
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    (msg,) = _problems(bad)
    assert msg.startswith(f"{bad}:") and "not valid YAML" in msg
    line = int(msg[len(str(bad)) + 1 :].split(":")[0])
    assert bad_line + 1 <= line <= bad_line + 3


def test_a_date_that_does_not_exist_names_file_line_and_value(example: Path) -> None:
    text = example.read_text(encoding="utf-8").splitlines()
    bad_line = next(i for i, t in enumerate(text) if t.strip().startswith("due:"))
    text[bad_line] = text[bad_line].split("due:")[0] + "due: 2027-02-30"
    bad = example.with_name("no-such-day.yaml")
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    (msg,) = _problems(bad)
    assert msg.startswith(f"{bad}:{bad_line + 1}:") and "not valid YAML" in msg
    assert "'2027-02-30' is not a date" in msg


def test_duplicate_yaml_key_is_refused(example: Path) -> None:
    text = example.read_text(encoding="utf-8").replace("  102:", "  101:", 1)
    bad = example.with_name("dup.yaml")
    bad.write_text(text, encoding="utf-8")
    (msg,) = _problems(bad)
    assert "duplicate key 101" in msg and str(bad) in msg


def test_unreadable_or_empty_file(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path / "absent.yaml")
    assert "absent.yaml" in msg
    (tmp_path / "empty.yaml").write_text("")
    (msg,) = _problems(tmp_path / "empty.yaml")
    assert "empty" in msg
    (tmp_path / "list.yaml").write_text("- a\n")
    (msg,) = _problems(tmp_path / "list.yaml")
    assert "list.yaml" in msg and "mapping" in msg


# --- calibration -------------------------------------------------------------------------------
def _with_supply_due(example: Path, due: dt.date) -> Path:
    raw = _raw(example)
    raw["instruments"]["supply"]["calibration"]["calibrated"] = due - dt.timedelta(days=365)
    raw["instruments"]["supply"]["calibration"]["due"] = due
    return _write(example, raw)


def test_calibration_rows_cover_instruments_and_calibrated_channels(example: Path) -> None:
    report = calibration_status(load_station(example), dt.date(2026, 6, 1))
    assert [r.item for r in report.rows] == ["logger", "supply", "stage", "channels.101"]
    row = report.row("logger")
    assert row.certificate == "KS-2026-04-1187"
    assert row.laboratory == "Keysight Technologies Calibration Center"
    assert row.field == "instruments.logger.calibration.due"
    assert row.days_left == (dt.date(2027, 4, 12) - dt.date(2026, 6, 1)).days
    assert {r.status for r in report.rows} == {"OK"} and report.ok and not report.deviations


def test_due_soon(example: Path) -> None:
    st = load_station(_with_supply_due(example, dt.date(2026, 6, 20)))
    report = require_calibrated(st, dt.date(2026, 6, 1))
    assert report.row("supply").status == "DUE_SOON" and report.row("supply").days_left == 19
    assert report.row("logger").status == "OK"
    # the due day itself is still usable; 30 days left is DUE_SOON, 31 is OK
    assert calibration_status(st, dt.date(2026, 6, 20)).row("supply").status == "DUE_SOON"
    assert calibration_status(st, dt.date(2026, 5, 21)).row("supply").status == "DUE_SOON"
    assert calibration_status(st, dt.date(2026, 5, 20)).row("supply").status == "OK"


def test_overdue_calibration_blocks_the_run(example: Path) -> None:
    path = _with_supply_due(example, dt.date(2026, 6, 20))
    st = load_station(path)
    with pytest.raises(CalibrationOverdue) as info:
        require_calibrated(st, dt.date(2026, 6, 25))
    (msg,) = info.value.problems
    assert isinstance(info.value, StationError)
    assert str(path) in msg
    assert "'instruments.supply.calibration.due'" in msg and "2026-06-20" in msg
    assert "overdue by 5 days" in msg
    assert calibration_status(st, dt.date(2026, 6, 25)).row("supply").status == "OVERDUE"


def test_override_with_a_reason_passes_and_is_a_deviation(example: Path) -> None:
    st = load_station(_with_supply_due(example, dt.date(2026, 6, 20)))
    reason = "QA-0042: cal booked for Monday, J. Doe"
    report = require_calibrated(st, dt.date(2026, 6, 25), {"supply": reason})
    row = report.row("supply")
    assert row.status == "OVERRIDDEN" and row.override == reason
    assert len(report.deviations) == 1
    dev = report.deviations[0]
    assert (dev.item, dev.reason, dev.kind) == ("supply", reason, "calibration overdue")
    record = station_record(st, report)
    assert record["deviations"] == [dev.as_dict()]
    assert record["instruments"]["supply"]["calibration"]["status"] == "OVERRIDDEN"


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_with_an_empty_reason_is_an_error(example: Path, reason: str) -> None:
    st = load_station(_with_supply_due(example, dt.date(2026, 6, 20)))
    with pytest.raises(CalibrationOverdue) as info:
        require_calibrated(st, dt.date(2026, 6, 25), {"supply": reason})
    assert "empty reason" in str(info.value)
    assert "'instruments.supply.calibration.due'" in str(info.value)


def test_override_of_an_item_that_is_not_overdue_is_an_error(example: Path) -> None:
    st = load_station(example)
    with pytest.raises(StationError) as info:
        require_calibrated(st, dt.date(2026, 6, 1), {"logger": "QA-0001: just in case"})
    assert not isinstance(info.value, CalibrationOverdue)
    assert "'logger'" in str(info.value) and "not overdue" in str(info.value)
    with pytest.raises(StationError, match="no such calibrated item"):
        require_calibrated(st, dt.date(2026, 6, 1), {"scope": "QA-0001"})


def test_channel_calibration_can_be_overdue_and_overridden(example: Path) -> None:
    st = load_station(example)  # channel 101 due 2026-10-14
    with pytest.raises(CalibrationOverdue, match=r"'channels\.101\.calibration\.due' = 2026-10-14"):
        require_calibrated(st, dt.date(2026, 10, 20))
    report = require_calibrated(st, dt.date(2026, 10, 20), {"channels.101": "QA-0050: J. Doe"})
    assert report.row("channels.101").status == "OVERRIDDEN"


def test_certificate_dated_after_today_is_refused(example: Path) -> None:
    with pytest.raises(StationError, match="after today"):
        require_calibrated(load_station(example), dt.date(2026, 3, 1))


# --- the simulated bench's station -------------------------------------------------------------
def test_sim_station_matches_the_simulated_bench(tmp_path: Path) -> None:
    st = sim_station(RESOURCES, TODAY)
    ins = st.instruments
    assert ins.logger.serial == DEFAULT_DESIGN.logger_serial
    assert ins.supply.serial == DEFAULT_DESIGN.supply_serial
    assert ins.stage.serial == DEFAULT_DESIGN.stage_serial
    assert (ins.logger.model, ins.supply.model, ins.stage.model) == ("DAQ970A", "E36313A", "5305")
    assert ins.logger.resource == RESOURCES["logger"]
    assert ins.device.resource == RESOURCES["device"]
    assert st.limits_path.name == "eol-limits.yaml"
    assert st.limits_path.parent.parts[-2:] == ("test_plans", "limits")
    assert st.limits.version == load_limits(st.limits_path).version
    report = require_calibrated(st, TODAY)
    assert {r.status for r in report.rows} == {"OK"}
    logger = report.row("logger")
    assert logger.certificate == "SIM-CAL-LOGGER-2026"
    assert logger.laboratory == "cryorig simulated calibration laboratory"
    assert logger.calibrated == TODAY - dt.timedelta(days=90)
    assert logger.due == TODAY + dt.timedelta(days=275)
    _, ref = st.channel("ref_surface")
    assert isinstance(ref, TcChannel) and ref.expanded_u_c == pytest.approx(0.10)
    assert report.row("channels.101").certificate == "SIM-CAL-REF_SURFACE-2026"
    for role in ("uniformity", "depth_3mm", "plate", "ambient"):
        _, ch = st.channel(role)
        assert isinstance(ch, TcChannel) and ch.expanded_u_c == pytest.approx(0.15)


def test_sim_corrections_cancel_the_simulated_logger_error() -> None:
    """Reproduce the emulator's conversion (daq970a._measure_temperature, noise-free, at the
    start of a scan) and check that corrected readings equal the junction temperature."""
    st = sim_station(RESOURCES, TODAY)
    d = DEFAULT_DESIGN
    block = d.ambient_c + d.terminal_block_rise_c
    cjc_uv = type_t_emf_uv(block + d.cjc_offset_c) - type_t_emf_uv(block)
    for number, offset in d.channel_offsets_c.items():
        ch = st.channel_map()[number]
        assert isinstance(ch, TcChannel)
        for tj in (2.0, 4.0, 10.0, 22.0, 33.0, 40.0):
            reading = type_t_shifted_c(tj, cjc_uv) + offset
            assert abs(ch.correct(reading) - tj) < 0.003, (number, tj)
            assert abs(ch.correct(reading) - tj) < 0.1 * ch.u_c


def test_sim_station_round_trips_through_yaml(tmp_path: Path) -> None:
    limits = tmp_path / "eol-limits.yaml"
    limits.write_text("version: '1.0.0'\n")
    st = sim_station(RESOURCES, TODAY, limits_file=limits)
    path = tmp_path / "elsewhere" / "station.yaml"
    path.parent.mkdir()
    path.write_text(station_to_yaml(st), encoding="utf-8")
    back = load_station(path)
    assert back.model_dump() == st.model_dump()
    assert back.limits_path == limits.resolve()
    assert station_to_yaml(back).splitlines()[1:] == station_to_yaml(st).splitlines()[1:]


def test_sim_station_needs_the_resource_line() -> None:
    with pytest.raises(StationError, match="device_url"):
        sim_station({k: v for k, v in RESOURCES.items() if k != "device_url"}, TODAY)


def test_sim_template_agrees_with_sim_station(lab: Path) -> None:
    """stations/sim.yaml documents sim_station(); keep the two from drifting apart."""
    template = load_station(lab / "stations" / "sim.yaml")
    built = sim_station(RESOURCES, TODAY, limits_file=template.limits_path)
    skip = {"description": True, "limits": {"file"}}
    assert template.model_dump(exclude=skip) == built.model_dump(exclude=skip)
    assert template.limits_path == built.limits_path
