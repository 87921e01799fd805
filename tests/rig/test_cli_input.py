"""Numbers on the command line are checked before anything starts, naming the option.

A negative seed reached numpy inside the simulated bench ("ValueError: expected
non-negative integer" under a traceback, or as `cryorig run`'s reason), a port above
65535 reached bind(), `fleet --units -5` ran the catalog as if asked for 0 units,
`--workers 0` meant "all cores" and `--workers -1` ended in a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.cli import app
from rig.simlink import SimBenchProcess, SimControlError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "option", "bound"),
    [
        (["run", "--serial", "SIM-1", "--seed", "-1"], "--seed", "greater than or equal to 0"),
        (["calibrate", "--serial", "SIM-1", "--seed", "-1"], "--seed", "greater than or equal"),
        (["sim", "serve", "--seed", "-3"], "--seed", "greater than or equal to 0"),
        (["sim", "serve", "--control-port", "70000"], "--control-port", "less than or equal"),
        (["fleet", "--units", "-5"], "--units", "greater than or equal to 0"),
        (["fleet", "--workers", "0"], "--workers", "greater than or equal to 1"),
        (["fleet", "--seed", "-1"], "--seed", "greater than or equal to 0"),
    ],
)
def test_a_number_out_of_range_is_a_usage_error(args: list[str], option: str, bound: str) -> None:
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert bound in result.output


@pytest.mark.parametrize(
    ("command", "serial"),
    [
        (["run"], ""),  # an empty scan: the sim's default unit once PASSed as serial ""
        (["run"], "SIM 0001"),
        (["calibrate"], "É-ü"),  # the simulated unit could not frame its ID? reply
        (["run", "--json"], "A,B"),  # a comma splits the ID? reply's fields
        (["sim", "serve"], "X" * 33),
    ],
)
def test_a_serial_the_station_cannot_carry_is_a_usage_error(
    command: list[str], serial: str, tmp_path: Path
) -> None:
    args = [*command, "--serial", serial]
    if command[0] != "sim":
        args += ["--out", str(tmp_path)]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--serial': {serial!r} is not a serial number" in result.output
    assert not list(tmp_path.iterdir()), "a run was recorded"


def test_the_plan_s_serial_option_refuses_an_empty_label(tmp_path: Path) -> None:
    plan = [sys.executable, "-m", "pytest", "test_plans", "--rig", "sim", "--serial", ""]
    proc = subprocess.run(
        [*plan, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert "argument --serial: '' is not a serial number" in proc.stderr
    assert not list(tmp_path.iterdir()), "a run was recorded"


def test_the_plan_s_seed_option_refuses_a_negative_seed(tmp_path: Path) -> None:
    plan = [sys.executable, "-m", "pytest", "test_plans", "--rig", "sim", "--seed", "-2"]
    proc = subprocess.run(
        [*plan, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr  # pytest's usage error
    assert "argument --seed: -2 is negative" in proc.stderr
    assert not list(tmp_path.iterdir()), "a run was recorded"


def test_the_control_channel_refuses_a_negative_seed() -> None:
    with SimBenchProcess("--seed", "0") as sim:
        with pytest.raises(SimControlError, match="seed -1 is negative"):
            sim.reset(-1)
        sim.reset(1)  # the bench still serves
        assert sim.time() == 0.0


def test_the_control_channel_refuses_a_serial_the_unit_cannot_carry() -> None:
    with SimBenchProcess("--seed", "0") as sim:
        # The channel decodes bytes as Latin-1 and answers in ASCII: É is 0xC3 0x89 in UTF-8.
        with pytest.raises(SimControlError, match=r"override: '\\xc3\\x89-\\xc3\\xbc' is not a"):
            sim.reset(0, None, "É-ü")
        sim.reset(0, None, "SIM-0002")
