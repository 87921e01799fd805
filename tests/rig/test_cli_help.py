"""`cryorig --help` as an operator reads it."""

from __future__ import annotations

from typer.testing import CliRunner

from rig.cli import app


def test_every_command_has_a_whole_one_line_summary() -> None:
    """The command list showed docstrings cut at the terminal's width ("…(calibration...")
    and, with Rich markup, broken where the source lines break."""
    result = CliRunner().invoke(app, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    listing = result.output.split("Commands:")[1].splitlines()
    rows = [line.split(None, 1) for line in listing if line.strip()]
    names = [name for name, _ in rows]
    assert names == ["run", "calibrate", "fleet", "verify", "certificate", "sim", "cal"]
    for name, summary in rows:
        assert not summary.endswith("..."), (name, summary)
        assert summary.endswith("."), (name, summary)


def test_a_command_s_help_reads_as_one_paragraph() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert (
        "Run the whole end-of-line plan on one unit (calibration included, with its "
        "certificate): exit 0 PASS, 1 FAIL, 2 ERROR." in " ".join(result.output.split())
    )
    assert "calibration included, with its\n" not in result.output


def test_the_catalog_listing_is_a_table() -> None:
    """`cryorig sim profiles` padded names to 28 characters and the requirements to 28:
    the longer ones pushed their descriptions out of line."""
    from rig.sim.profile import catalog, load_profile

    result = CliRunner().invoke(app, ["sim", "profiles"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    names = list(catalog())
    assert [line.split()[0] for line in lines] == names
    starts = set()
    for line, name in zip(lines, names, strict=True):
        description = load_profile(catalog()[name], 0).description
        assert description and line.endswith(description)
        starts.add(line.index(description))
    assert len(starts) == 1, starts
