"""The ``cryorig`` command line."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from calibration.cli import cal_app

# rich_markup_mode=None: a docstring's lines are joined into paragraphs in --help, as
# they read in the source, rather than broken where the source breaks them.
app = typer.Typer(
    help="cryorig: end-of-line test rig and calibration suite for a cryotherapy unit.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
sim_app = typer.Typer(help="The simulated bench.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(sim_app, name="sim")
app.add_typer(cal_app, name="cal")


def _serial_number(value: str | None) -> str | None:
    """``--serial``: refused before anything starts unless it is a serial number
    (:mod:`rig.shared.serial_number`): an empty scan or a character the service port
    cannot carry."""
    from rig.shared.serial_number import serial_problem

    if value is not None and (problem := serial_problem(value)) is not None:
        raise typer.BadParameter(problem)
    return value


def _port_option(what: str) -> Any:
    """A TCP port of the simulated bench: 0 asks for a free one."""
    return typer.Option(min=0, max=65535, help=f"{what} port (0: a free one).")


@sim_app.command(
    "serve", short_help="Serve the whole simulated bench (SCPI on TCP, the unit on a pty)."
)
def sim_serve(
    unit_profile: Annotated[
        Path | None,
        typer.Option(
            "--unit-profile", help="Unit profile YAML (bench.md format); default nominal."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the unit's draw and all noise.")
    ] = 0,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Virtual time follows the wall clock.")
    ] = False,
    serial: Annotated[
        str | None,
        typer.Option(
            "--serial", callback=_serial_number, help="Override the unit's serial number."
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    logger_port: Annotated[int, _port_option("Logger")] = 0,
    supply_port: Annotated[int, _port_option("Supply")] = 0,
    stage_port: Annotated[int, _port_option("Stage")] = 0,
    device_port: Annotated[int, _port_option("Device socket")] = 0,
    control_port: Annotated[int, _port_option("Control")] = 0,
    parent_pid: Annotated[
        int | None, typer.Option(help="Stop serving when this process has gone.")
    ] = None,
) -> None:
    """Serve the whole simulated bench; the first stdout line is the resource JSON."""
    from rig.sim.profile import ProfileError
    from rig.sim.server import ServeOptions, serve

    options = ServeOptions(
        profile_path=unit_profile,
        seed=seed,
        serial=serial,
        realtime=realtime,
        host=host,
        ports={
            "logger": logger_port,
            "supply": supply_port,
            "stage": stage_port,
            "device": device_port,
            "control": control_port,
        },
        parent_pid=parent_pid,
    )
    try:
        serve(options)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot serve the simulated bench: {exc}", err=True)
        raise typer.Exit(2) from None


@sim_app.command("profiles", short_help="List the catalog's defect profiles and what each breaks.")
def sim_profiles() -> None:
    """List the catalog's defect profiles and the requirements each must fail."""
    from rig.sim.profile import catalog, load_profile

    rows = []
    for name, path in catalog().items():
        prof = load_profile(path, 0)
        rows.append((name, ", ".join(prof.breaks) or "-", prof.description or ""))
    # Columns as wide as their longest entry, so every description starts in one column.
    wide_name = max((len(r[0]) for r in rows), default=0)
    wide_breaks = max((len(r[1]) for r in rows), default=0)
    for name, breaks, description in rows:
        typer.echo(f"{name:{wide_name}s}  breaks {breaks:{wide_breaks}s}  {description}")


_Serial = Annotated[
    str,
    typer.Option("--serial", callback=_serial_number, help="Serial number on the unit's label."),
]
_Station = Annotated[
    Path | None,
    typer.Option("--station", help="Station file of a lab bench (default: the simulated bench)."),
]
_Profile = Annotated[
    Path | None,
    typer.Option("--unit-profile", help="Simulated unit profile (bench.md format)."),
]
_Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated unit.")]
_Out = Annotated[Path, typer.Option("--out", help="Where run records go.")]
_Operator = Annotated[str | None, typer.Option("--operator")]
_Override = Annotated[
    list[str] | None,
    typer.Option("--qa-override", help="ITEM:REASON — run despite an overdue calibration."),
]
_Json = Annotated[bool, typer.Option("--json", help="Last stdout line: one JSON object (MES).")]
_NoLive = Annotated[bool, typer.Option("--no-live", help="No live display.")]


def _station_run(
    *,
    plan_name: str | None,
    title: str,
    serial: str,
    station: Path | None,
    unit_profile: Path | None,
    seed: int,
    out: Path,
    operator: str | None,
    qa_override: list[str] | None,
    as_json: bool,
    no_live: bool,
    report: bool,
) -> None:
    import json as _json

    from rich.console import Console

    from rig.publish import Publisher
    from rig.runner import (
        EXIT,
        PLAN_DIR,
        collect_certificate,
        collect_finished,
        collect_report,
        issue_certificate,
        print_verdict,
        render_report,
        run_plan,
    )

    console = Console(stderr=True)
    # The documents' workers warm up while the plan runs, then make the certificate and
    # the report at the same time (rig.publish says why).
    with Publisher(report=report) as publisher:
        outcome = run_plan(
            serial=serial,
            station=station,
            unit_profile=unit_profile,
            seed=seed,
            out=out,
            operator=operator,
            qa_overrides=qa_override or [],
            console=console,
            live=not no_live and console.is_terminal,
            plan=PLAN_DIR / plan_name if plan_name else PLAN_DIR,
            title=title,
            on_test_end=publisher.prerender if report else None,
        )
        interrupted = False
        try:
            try:
                issue_certificate(outcome, station, publisher)
            except Exception as exc:  # the station file's key cannot be read
                outcome.certificate_note = f"certificate not issued: {type(exc).__name__}: {exc}"
            if report:
                render_report(outcome, publisher)
                try:
                    collect_report(outcome, publisher)
                except Exception as exc:  # the verdict stands even if the report cannot be drawn
                    console.print(f"[yellow]report not rendered: {exc}[/yellow]")
            if outcome.certificate_note is None:
                try:
                    collect_certificate(outcome, publisher)
                except Exception as exc:  # the verdict stands; it can be issued later
                    outcome.certificate_note = (
                        f"certificate not issued: {type(exc).__name__}: {exc}"
                    )
        except KeyboardInterrupt:
            # The run is decided and recorded; what the workers are making is finished
            # as they leave (a half-issued certificate would be worse), nothing new starts.
            interrupted = True
    if interrupted:
        collect_finished(outcome, publisher, console, report=report)
    if outcome.certificate_note and outcome.verdict == "PASS":
        # A unit does not leave the line calibrated without its certificate.
        outcome.verdict = "ERROR"
        outcome.reason = outcome.certificate_note
        _record_release_error(outcome, console, report=report and not interrupted)
    print_verdict(console, outcome)
    if as_json:
        data = outcome.mes()
        data["certificate"] = outcome.certificate
        typer.echo(_json.dumps(data))
    global _station_run_done
    _station_run_done = True
    raise typer.Exit(EXIT.get(outcome.verdict, 2))


def _record_release_error(outcome: Any, console: Any, *, report: bool) -> None:
    """The plan passed but the unit is not released: make run.json (and the EOL report
    drawn from it) say ERROR, as the MES line will, with the plan's PASS kept in it."""
    from rig.recording import RecordingError, amend_status
    from rig.runner import render_report

    if not outcome.run_dir:
        return
    try:
        amend_status(outcome.run_dir, "ERROR", outcome.reason)
    except (RecordingError, ValueError) as exc:
        console.print(f"[yellow]run.json not amended to ERROR: {exc}[/yellow]")
        return
    if report and outcome.report:
        try:
            render_report(outcome)
        except Exception as exc:  # the verdict stands even if the report cannot be redrawn
            console.print(f"[yellow]report not redrawn: {exc}[/yellow]")


@app.command("run", short_help="The whole EOL plan on one unit, with its certificate.")
def run(
    serial: _Serial,
    station: _Station = None,
    unit_profile: _Profile = None,
    seed: _Seed = 0,
    out: _Out = Path("runs"),
    operator: _Operator = None,
    qa_override: _Override = None,
    as_json: _Json = False,
    no_live: _NoLive = False,
) -> None:
    """Run the whole end-of-line plan on one unit (calibration included, with its
    certificate): exit 0 PASS, 1 FAIL, 2 ERROR."""
    _station_run(
        plan_name=None,
        title="EOL plan",
        serial=serial,
        station=station,
        unit_profile=unit_profile,
        seed=seed,
        out=out,
        operator=operator,
        qa_override=qa_override,
        as_json=as_json,
        no_live=no_live,
        report=True,
    )


@app.command("calibrate", short_help="Calibrate the skin sensor and issue its certificate.")
def calibrate(
    serial: _Serial,
    station: _Station = None,
    unit_profile: _Profile = None,
    seed: _Seed = 0,
    out: _Out = Path("runs"),
    operator: _Operator = None,
    qa_override: _Override = None,
    as_json: _Json = False,
    no_live: _NoLive = False,
) -> None:
    """Calibrate the unit's skin sensor (as found, adjusted, as left, memory) and issue
    its certificate: exit 0 PASS, 1 FAIL, 2 ERROR; with --json also the certificate's
    paths."""
    _station_run(
        plan_name="test_02_calibration.py",
        title="skin sensor calibration",
        serial=serial,
        station=station,
        unit_profile=unit_profile,
        seed=seed,
        out=out,
        operator=operator,
        qa_override=qa_override,
        as_json=as_json,
        no_live=no_live,
        report=False,
    )


@app.command("fleet", short_help="Nominal units and every catalog defect through the plan.")
def fleet(
    units: Annotated[
        int, typer.Option("--units", min=0, help="Nominal units from the spread.")
    ] = 400,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the first nominal unit.")] = 0,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Parallel units (default: CPU count).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the study goes.")] = Path("fleet"),
    as_json: Annotated[bool, typer.Option("--json", help="Last stdout line: the summary.")] = False,
) -> None:
    """Nominal units plus every catalog defect through the real EOL plan, in parallel:
    detections, false rejects, Cpk, cycle time; printed and saved as HTML. Exit 0 every
    defect detected and every unit judged, 1 a defect not detected, 2 a unit in ERROR."""
    import datetime as dt
    import json as _json

    from rich.console import Console
    from rich.progress import Progress

    from rig.fleet import default_workers, study, study_exit_status
    from rig.fleet_view import print_summary, progress_line

    console = Console(stderr=True)
    if not console.is_terminal:  # a log: wide enough for the tables' names in one line
        console.width = max(console.width, 132)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    where = out / f"fleet-{stamp}-n{units}-s{seed}"
    n_workers = workers or default_workers()
    started = time.monotonic()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"fleet of {units} + catalog on {n_workers} workers", total=None)

        def progress(res, done: int, total: int) -> None:
            if not console.is_terminal:  # a log: a line per unit instead of a bar
                elapsed = time.monotonic() - started
                line = progress_line(
                    res.unit.serial, res.verdict, done, total, elapsed, res.unit.name
                )
                console.print(line, highlight=False, soft_wrap=True)
            bar.update(
                task,
                total=total,
                completed=done,
                description=f"{res.unit.serial:16s} {res.verdict:5s}",
            )

        try:
            summary = study(units, seed, where / "runs", n_workers, progress)
        except KeyboardInterrupt:
            bar.stop()
            console.print(
                f"[bold red]fleet interrupted[/] after {time.monotonic() - started:.0f} s: "
                f"no summary (a part of the fleet is not the study); the units' runs so far, "
                f"the one in progress on each worker recorded as ERROR with its bench made "
                f"safe, are in {where / 'runs'}"
            )
            raise typer.Exit(2) from None
    (where / "summary.json").write_text(_json.dumps(summary, indent=2, default=str))
    from reports.eol import render_fleet_report

    report = render_fleet_report(summary, where / "report.html")
    print_summary(console, summary)
    console.print(f"report: {report}")
    if as_json:
        brief = {k: summary[k] for k in ("units", "seed", "escapes", "outcomes", "wall_s")}
        brief["false_rejects"] = summary["nominal"]["false_rejects"]
        brief["nominal_errors"] = summary["nominal"]["errors"]
        brief["false_reject_rate"] = summary["nominal"]["rate"]
        brief["false_reject_rate_upper95"] = summary["nominal"]["rate_upper95"]
        brief["cycle_mean_s"] = summary["cycle"]["mean_s"]
        brief["report"] = str(report)
        typer.echo(_json.dumps(brief))
    raise typer.Exit(study_exit_status(summary))


@app.command("verify", short_help="Check a certificate's hashes and signature.")
def verify(
    path: Annotated[
        Path, typer.Argument(help="Certificate PDF or HTML, its manifest, or a directory with one.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", help="The laboratory's Ed25519 public key (PEM) that must sign."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Where the run's data files are (moved runs).")
    ] = None,
) -> None:
    """Recompute every hash of a certificate's manifest and check its signature: exit 0 when
    all match, 1 when anything differs or the signature is bad, 2 on bad input."""
    import json as _json

    from reports.verify import VerifyError, report_lines
    from reports.verify import verify as verify_certificate

    try:
        result = verify_certificate(path, run_dir=run_dir, public_key=public_key)
    except VerifyError as exc:
        if as_json:
            typer.echo(_json.dumps({"ok": False, "error": str(exc)}))
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(_json.dumps(result.as_dict()))
    else:
        typer.echo("\n".join(report_lines(result)))
    raise typer.Exit(0 if result.ok else 1)


@app.command("certificate", short_help="Issue, or correct, a run's calibration certificate.")
def certificate(
    run_dir: Annotated[Path, typer.Argument(help="Run directory holding calibration.json.")],
    replaces: Annotated[
        str | None, typer.Option("--replaces", help="Certificate ID this one corrects.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the replaced certificate is withdrawn.")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Ed25519 private key (PEM) for the manifest."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where it goes (default RUN_DIR/certificate).")
    ] = None,
    issued: Annotated[
        str | None, typer.Option("--issued", help="Date of issue, YYYY-MM-DD (default today).")
    ] = None,
) -> None:
    """Issue a run's calibration certificate (PDF, HTML, manifest), or a correction of one:
    exit 0 issued, 1 refused (overdue reference, incomplete record, already issued), 2 bad input."""
    import datetime as dt

    from reports.certificate import CertificateError, CertificateRefused, issue_certificate

    try:
        date = dt.date.fromisoformat(issued) if issued else None
    except ValueError:
        typer.echo(f"error: --issued {issued!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None
    try:
        paths = issue_certificate(
            run_dir,
            issued=date,
            out_dir=out,
            signing_key=signing_key,
            replaces=replaces,
            reason=reason,
        )
    except CertificateRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except CertificateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"certificate {paths.certificate_id}: {paths.pdf} ({paths.pages} pages)")
    typer.echo(f"  html {paths.html}")
    typer.echo(f"  manifest {paths.manifest}")


_station_run_done = False
"""Set when a station run has finished: record, report and certificate on disk and fsynced,
the bench safe, the simulated bench stopped, the workers gone."""


def main() -> None:
    try:
        app(prog_name="cryorig")
    except SystemExit as exc:
        if not _station_run_done:
            raise
        # After a station run the interpreter's teardown (freeing pandas, pyarrow, pyvisa,
        # the rig's modules) costs the line 0.7 s per unit and has nothing left to save:
        # every file was fsynced when written and every instrument session closed by the
        # plan's fixtures. Only the standard streams may still hold output.
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
