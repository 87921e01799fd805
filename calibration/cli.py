"""``cryorig cal``: the calibration suite's analysis commands.

Imported by :mod:`rig.cli` at start-up, so this module imports nothing heavy: numpy,
scipy and GTC are imported inside the commands.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from calibration.fit import LineFit

cal_app = typer.Typer(
    help="Calibration analysis (no instruments).", no_args_is_help=True, rich_markup_mode=None
)

REQUIRED_COLUMNS = ("indicated_c", "reference_c")
OPTIONAL_COLUMNS = ("u_reference_c",)


class PointsFileError(ValueError):
    """A points file that cannot be used; the message names the file, line, column, value."""


@dataclass(frozen=True)
class Points:
    indicated: list[float]
    reference: list[float]
    u_reference: list[float] | None


def read_points(path: Path) -> Points:
    """Read ``indicated_c,reference_c[,u_reference_c]`` from a CSV file with a header row.

    Unknown columns are refused rather than ignored: a misspelt ``u_reference_c``
    ignored would silently turn a weighted fit into an unweighted one. Blank lines
    are skipped; every other cell must be a finite number (and ``u_reference_c``
    positive). Line numbers count from 1 at the header, as an editor shows them.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PointsFileError(f"{path}: cannot read: {exc}") from None
    rows = csv.reader(text.splitlines())
    header: list[str] | None = None
    columns: dict[str, list[float]] = {}
    for line_no, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            _check_header(path, line_no, header)
            columns = {name: [] for name in header}
            continue
        if len(row) != len(header):
            raise PointsFileError(
                f"{path}:{line_no}: {len(row)} cells for the header's {len(header)} columns"
            )
        for name, cell in zip(header, row, strict=True):
            columns[name].append(_number(path, line_no, name, cell))
    if header is None:
        raise PointsFileError(
            f"{path}: empty; expected a header line {','.join(REQUIRED_COLUMNS)}[,u_reference_c]"
        )
    n = len(columns["indicated_c"])
    if n < 3:
        raise PointsFileError(f"{path}: {n} point(s); a line fit with residual dof needs >= 3")
    return Points(
        indicated=columns["indicated_c"],
        reference=columns["reference_c"],
        u_reference=columns.get("u_reference_c"),
    )


def _check_header(path: Path, line_no: int, header: list[str]) -> None:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for name in header:
        if name not in known:
            raise PointsFileError(
                f"{path}:{line_no}: unknown column {name!r} (accepted: {', '.join(known)})"
            )
    for name in set(header):
        if header.count(name) > 1:
            raise PointsFileError(f"{path}:{line_no}: column {name!r} appears twice")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise PointsFileError(f"{path}:{line_no}: missing column {name!r} in the header")


def _number(path: Path, line_no: int, column: str, cell: str) -> float:
    try:
        v = float(cell.strip())
    except ValueError:
        raise PointsFileError(
            f"{path}:{line_no}: column {column!r}: value {cell!r} is not a number"
        ) from None
    if not math.isfinite(v):
        raise PointsFileError(f"{path}:{line_no}: column {column!r}: value {cell!r} is not finite")
    if column == "u_reference_c" and v <= 0.0:
        raise PointsFileError(
            f"{path}:{line_no}: column {column!r}: value {cell!r}; a standard uncertainty "
            "must be > 0"
        )
    return v


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@cal_app.command("fit", short_help="Fit a calibration from your own paired readings (CSV).")
def fit(
    points: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header: indicated_c,reference_c and optionally u_reference_c;"
            " any other column is refused.",
            show_default=False,
        ),
    ],
    at: Annotated[
        list[float] | None,
        typer.Option("--at", help="Predict the corrected value and its u at this indication."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit reference = gain × indicated + offset (weighted if u_reference_c is given).

    Exit status 0 on success, 2 if the file cannot be used.
    """
    import json

    from calibration.fit import fit_line, t_interval

    try:
        data = read_points(points)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        result = fit_line(data.indicated, data.reference, data.u_reference)
    except ValueError as exc:  # e.g. all indications equal: the file is readable, not usable
        raise _fail(f"{points}: {exc}") from None

    predictions = []
    for x in at or []:
        corrected, u_c = result.predict(x)
        k, big_u = t_interval(u_c, result.u_dof)
        predictions.append({"at_c": x, "corrected_c": corrected, "u_c": u_c, "k": k, "U_c": big_u})

    if as_json:
        out = {
            "gain": result.gain,
            "offset_c": result.offset_c,
            "u_gain": result.u_gain,
            "u_offset_c": result.u_offset_c,
            "correlation": result.correlation,
            "residual_sd_c": result.residual_sd_c,
            "dof": result.dof,
            "n": result.n,
            "weighted": result.weighted,
            "chi2": result.chi2,
            "chi2_p_value": result.chi2_p_value,
            "u_dof": None if math.isinf(result.u_dof) else result.u_dof,
            "predictions": predictions,
        }
        typer.echo(json.dumps(out))
        return
    _print_table(points, result, predictions)


def _print_table(points: Path, result: LineFit, predictions: list[dict[str, float]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    kind = "weighted (1/u²)" if result.weighted else "ordinary"
    table = Table(
        title=f"{points.name}: {kind} least squares, reference = gain × indicated + offset"
    )
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("standard uncertainty", justify="right")
    table.add_row("gain", f"{result.gain:.6f}", f"{result.u_gain:.6f}")
    table.add_row("offset", f"{result.offset_c:+.4f} °C", f"{result.u_offset_c:.4f} °C")
    table.add_row("correlation r(gain, offset)", f"{result.correlation:+.4f}", "")
    table.add_row("residual sd", f"{result.residual_sd_c:.4f} °C", "")
    table.add_row("points n / residual dof", f"{result.n} / {result.dof}", "")
    if result.chi2 is not None:
        table.add_row(
            "chi-square / dof (p)",
            f"{result.chi2:.3f} / {result.dof} ({result.chi2_p_value:.3g})",
            "",
        )
    console.print(table)
    if result.chi2_p_value is not None and result.chi2_p_value < 0.05:
        console.print(
            "[yellow]warning: chi-square test fails (p < 0.05): the stated u_reference_c do not "
            "explain the scatter; the uncertainties above are NOT rescaled.[/yellow]"
        )
    if predictions:
        dof = "∞" if math.isinf(result.u_dof) else f"{result.u_dof:g}"
        pt = Table(title=f"the fitted line (U for 95 % from Student t, ν = {dof})")
        for name in ("at (°C)", "corrected (°C)", "u (°C)", "k", "U (°C)"):
            pt.add_column(name, justify="right")
        for p in predictions:
            pt.add_row(
                f"{p['at_c']:g}",
                f"{p['corrected_c']:.4f}",
                f"{p['u_c']:.4f}",
                f"{p['k']:.3f}",
                f"{p['U_c']:.4f}",
            )
        console.print(pt)
