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


def main() -> None:
    app(prog_name="cryorig")


if __name__ == "__main__":
    sys.exit(main())
