"""``cryorig cal fit``: the CSV contract, its errors (exit 2) and the JSON keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calibration.fit import fit_line, t_interval
from rig.cli import app

runner = CliRunner()

X = [2.1, 4.05, 10.2, 20.1, 33.3, 40.2]
Y = [2.0, 4.01, 10.0, 19.95, 33.0, 39.9]
U = [0.03, 0.03, 0.04, 0.04, 0.05, 0.05]


def _csv(tmp_path: Path, text: str, name: str = "points.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _points(tmp_path: Path, weighted: bool = False) -> Path:
    if weighted:
        lines = ["indicated_c,reference_c,u_reference_c"]
        lines += [f"{x},{y},{u}" for x, y, u in zip(X, Y, U, strict=True)]
    else:
        lines = ["indicated_c,reference_c"] + [f"{x},{y}" for x, y in zip(X, Y, strict=True)]
    return _csv(tmp_path, "\n".join(lines) + "\n")


KEYS = {
    "gain",
    "offset_c",
    "u_gain",
    "u_offset_c",
    "correlation",
    "residual_sd_c",
    "dof",
    "n",
    "weighted",
    "predictions",
}


def test_json_output_has_the_contracted_keys_and_the_fit(tmp_path: Path) -> None:
    res = runner.invoke(app, ["cal", "fit", str(_points(tmp_path)), "--at", "2", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    f = fit_line(X, Y)
    assert out["gain"] == pytest.approx(f.gain, rel=1e-15)
    assert out["offset_c"] == pytest.approx(f.offset_c, rel=1e-15)
    assert (out["dof"], out["n"], out["weighted"], out["chi2"], out["u_dof"]) == (
        4,
        6,
        False,
        None,
        4.0,
    )
    (pred,) = out["predictions"]
    assert {"at_c", "corrected_c", "u_c", "k", "U_c"} <= set(pred)
    corrected, u_c = f.predict(2.0)
    assert (pred["at_c"], pred["corrected_c"], pred["u_c"]) == (2.0, corrected, u_c)
    assert pred["k"] == pytest.approx(t_interval(1.0, 4)[0])
    assert pred["U_c"] == pytest.approx(pred["k"] * u_c)


def test_weighted_json_and_several_predictions(tmp_path: Path) -> None:
    path = _points(tmp_path, weighted=True)
    args = ["cal", "fit", str(path), "--json", "--at", "-1.5", "--at", "40"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["weighted"] is True
    assert out["chi2"] == pytest.approx(fit_line(X, Y, U).chi2)
    assert out["u_dof"] is None  # infinite: JSON has no infinity
    assert [p["at_c"] for p in out["predictions"]] == [-1.5, 40.0]
    assert out["predictions"][0]["k"] == pytest.approx(1.959963984540054)


def test_no_predictions_gives_an_empty_list(tmp_path: Path) -> None:
    res = runner.invoke(app, ["cal", "fit", str(_points(tmp_path)), "--json"])
    assert json.loads(res.stdout)["predictions"] == []


def test_table_output_is_readable(tmp_path: Path) -> None:
    res = runner.invoke(app, ["cal", "fit", str(_points(tmp_path)), "--at", "2"])
    assert res.exit_code == 0, res.output
    for text in ("gain", "offset", "residual sd", "corrected", "ordinary"):
        assert text in res.stdout
    assert f"{fit_line(X, Y).gain:.6f}" in res.stdout


def test_table_warns_when_chi_square_fails(tmp_path: Path) -> None:
    lines = ["indicated_c,reference_c,u_reference_c"]
    lines += [f"{x},{y},0.001" for x, y in zip(X, Y, strict=True)]
    res = runner.invoke(app, ["cal", "fit", str(_csv(tmp_path, "\n".join(lines)))])
    assert res.exit_code == 0, res.output
    assert "warning: chi-square test fails" in res.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("indicated_c,reference_c\n2,2\n4,abc\n10,10\n", ":3: column 'reference_c': value 'abc'"),
        ("indicated_c,reference_c\n2,2\n4,4\n1O,10\n", ":4: column 'indicated_c': value '1O'"),
        ("indicated_c,reference_c\n2,2\n4,\n10,10\n", ":3: column 'reference_c': value ''"),
        ("indicated_c,reference_c\n2,2\n4,nan\n10,10\n", ":3: column 'reference_c': value 'nan'"),
        ("indicated_c\n2\n4\n10\n", ":1: missing column 'reference_c'"),
        ("reference_c,indicated_c,nominal_c\n1,1,1\n", ":1: unknown column 'nominal_c'"),
        ("indicated_c,reference_c,u_reference\n1,1,1\n", ":1: unknown column 'u_reference'"),
        ("indicated_c,reference_c,indicated_c\n", ":1: column 'indicated_c' appears twice"),
        ("indicated_c,reference_c\n2,2\n4,4,4\n", ":3: 3 cells for the header's 2 columns"),
        (
            "indicated_c,reference_c,u_reference_c\n2,2,0.1\n4,4,0\n10,10,0.1\n",
            ":3: column 'u_reference_c': value '0'",
        ),
        ("indicated_c,reference_c\n2,2\n4,4\n", ": 2 point(s)"),
        ("indicated_c,reference_c\n2,2\n2,4\n2,5\n", "indicated: all 3 values equal"),
        ("", ": empty; expected a header line"),
    ],
)
def test_bad_files_exit_2_naming_file_line_column_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _csv(tmp_path, text)
    res = runner.invoke(app, ["cal", "fit", str(path), "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith("error: ")
    assert expected in res.stderr
    assert str(path) in res.stderr


def test_blank_lines_and_column_order_do_not_matter(tmp_path: Path) -> None:
    lines = ["reference_c , indicated_c", ""] + [f"{y},{x}" for x, y in zip(X, Y, strict=True)]
    res = runner.invoke(app, ["cal", "fit", str(_csv(tmp_path, "\n".join(lines))), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["gain"] == pytest.approx(fit_line(X, Y).gain, rel=1e-15)


def test_missing_file_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["cal", "fit", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    assert "nope.csv: cannot read" in res.stderr


def test_cli_module_imports_nothing_heavy() -> None:
    """``cryorig --help`` must stay fast: rig.cli imports calibration.cli at start-up."""
    code = (
        "import sys, calibration.cli; "
        "print(sorted(m for m in ('numpy', 'scipy', 'GTC') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
