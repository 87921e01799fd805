"""The ``cryorig`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="cryorig: end-of-line test rig and calibration suite for a cryotherapy unit.",
    no_args_is_help=True,
    add_completion=False,
)
sim_app = typer.Typer(help="The simulated bench.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")


@sim_app.command("serve")
def sim_serve(
    unit_profile: Annotated[
        Path | None,
        typer.Option(
            "--unit-profile", help="Unit profile YAML (bench.md format); default nominal."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the unit's draw and all noise.")] = 0,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Virtual time follows the wall clock.")
    ] = False,
    serial: Annotated[
        str | None, typer.Option("--serial", help="Override the unit's serial number.")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    logger_port: Annotated[int, typer.Option(help="Logger port (0: a free one).")] = 0,
    supply_port: Annotated[int, typer.Option(help="Supply port (0: a free one).")] = 0,
    stage_port: Annotated[int, typer.Option(help="Stage port (0: a free one).")] = 0,
    device_port: Annotated[int, typer.Option(help="Device socket port (0: a free one).")] = 0,
    control_port: Annotated[int, typer.Option(help="Control port (0: a free one).")] = 0,
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


@sim_app.command("profiles")
def sim_profiles() -> None:
    """List the catalog's defect profiles and the requirements each must fail."""
    from rig.sim.profile import catalog, load_profile

    for name, path in catalog().items():
        prof = load_profile(path, 0)
        typer.echo(
            f"{name:28s} breaks {', '.join(prof.breaks) or '-':28s} {prof.description or ''}"
        )


@app.command("run")
def run(
    serial: Annotated[str, typer.Option("--serial", help="Serial number on the unit's label.")],
    station: Annotated[
        Path | None,
        typer.Option(
            "--station", help="Station file of a lab bench (default: the simulated bench)."
        ),
    ] = None,
    unit_profile: Annotated[
        Path | None,
        typer.Option("--unit-profile", help="Simulated unit profile (bench.md format)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated unit.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Where run records go.")] = Path("runs"),
    operator: Annotated[str | None, typer.Option("--operator")] = None,
    qa_override: Annotated[
        list[str] | None,
        typer.Option("--qa-override", help="ITEM:REASON — run despite an overdue calibration."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Last stdout line: one JSON object for the MES.")
    ] = False,
    no_live: Annotated[bool, typer.Option("--no-live", help="No live display.")] = False,
) -> None:
    """Run the whole end-of-line plan on one unit: exit 0 PASS, 1 FAIL, 2 ERROR."""
    import json as _json

    from rich.console import Console

    from rig.runner import EXIT, print_verdict, render_report, run_plan

    console = Console(stderr=True)
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
    )
    try:
        outcome.report = render_report(outcome)
    except Exception as exc:  # the verdict stands even if the report cannot be drawn
        console.print(f"[yellow]report not rendered: {exc}[/yellow]")
    print_verdict(console, outcome)
    if as_json:
        data = outcome.mes()
        typer.echo(_json.dumps(data))
    raise typer.Exit(EXIT.get(outcome.verdict, 2))


@app.command("fleet")
def fleet(
    units: Annotated[int, typer.Option("--units", help="Nominal units from the spread.")] = 400,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first nominal unit.")] = 0,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Parallel units (default: CPU count).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the study goes.")] = Path("fleet"),
    as_json: Annotated[bool, typer.Option("--json", help="Last stdout line: the summary.")] = False,
) -> None:
    """Nominal units plus every catalog defect through the real EOL plan, in parallel:
    detections, false rejects, Cpk, cycle time; printed and saved as HTML."""
    import datetime as dt
    import json as _json

    from rich.console import Console
    from rich.progress import Progress

    from rig.fleet import default_workers, study
    from rig.fleet_view import print_summary

    console = Console(stderr=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    where = out / f"fleet-{stamp}-n{units}-s{seed}"
    n_workers = workers or default_workers()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"fleet of {units} + catalog on {n_workers} workers", total=None)

        def progress(res, done: int, total: int) -> None:
            bar.update(
                task,
                total=total,
                completed=done,
                description=f"{res.unit.serial:16s} {res.verdict:5s}",
            )

        summary = study(units, seed, where / "runs", n_workers, progress)
    (where / "summary.json").write_text(_json.dumps(summary, indent=2, default=str))
    from reports.eol import render_fleet_report

    report = render_fleet_report(summary, where / "report.html")
    print_summary(console, summary)
    console.print(f"report: {report}")
    if as_json:
        brief = {k: summary[k] for k in ("units", "seed", "escapes", "wall_s")}
        brief["false_reject_rate"] = summary["nominal"]["rate"]
        brief["cycle_mean_s"] = summary["cycle"]["mean_s"]
        brief["report"] = str(report)
        typer.echo(_json.dumps(brief))
    raise typer.Exit(0 if summary["escapes"] == 0 else 1)


def main() -> None:
    app(prog_name="cryorig")


if __name__ == "__main__":
    sys.exit(main())
