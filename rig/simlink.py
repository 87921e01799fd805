"""Start the simulated bench as its own process and drive its control channel.

The rig talks to the simulated bench exactly as to a real one (PyVISA, pyserial);
the only extra is this control channel, which moves virtual time in lockstep with
the rig's clock, reads the simulation's true state for checks, and injects faults.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path


class SimControlError(RuntimeError):
    """The control channel answered ``ERR …`` or went away."""


def cryorig_command() -> list[str]:
    """The installed ``cryorig`` script next to this interpreter, else ``python -m rig.cli``."""
    script = Path(sys.executable).with_name("cryorig")
    if script.exists():
        return [str(script)]
    found = shutil.which("cryorig")
    if found:
        return [found]
    return [sys.executable, "-m", "rig.cli"]


class SimBenchProcess:
    """A running ``cryorig sim serve``; use as a context manager or call :meth:`close`."""

    def __init__(self, *args: str, timeout: float = 30.0) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.args = args
        self.proc = subprocess.Popen(
            [*cryorig_command(), "sim", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.wait(timeout)
            self._close_pipes()
            raise SimControlError(
                f"simulated bench did not start (exit {self.proc.returncode}): {err.strip()}"
            )
        self.resources: dict[str, str] = json.loads(line)
        host, port = self.resources["control"].rsplit(":", 1)
        self._ctl = socket.create_connection((host, int(port)), timeout=timeout)
        self._ctl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rx = self._ctl.makefile("rb")

    @classmethod
    def start(
        cls,
        *,
        profile: str | Path | None = None,
        seed: int = 0,
        serial: str | None = None,
    ) -> SimBenchProcess:
        args = ["--seed", str(seed)]
        if profile is not None:
            args += ["--unit-profile", str(profile)]
        if serial is not None:
            args += ["--serial", serial]
        return cls(*args)

    # --- control channel --------------------------------------------------------------------
    def control(self, line: str | bytes) -> str:
        raw = line if isinstance(line, bytes) else line.encode()
        try:
            self._ctl.sendall(raw + b"\n")
            reply = self._rx.readline()
        except OSError as exc:
            raise SimControlError(f"control channel failed: {exc}") from exc
        if not reply:
            raise SimControlError("control channel closed")
        return reply.decode("ascii").rstrip("\n")

    def _ok(self, line: str) -> str:
        reply = self.control(line)
        if reply.startswith("ERR"):
            raise SimControlError(f"{line!r}: {reply}")
        return reply

    def advance(self, seconds: float) -> float:
        return float(self._ok(f"ADVANCE {seconds:.6f}").split()[1])

    def time(self) -> float:
        return float(self._ok("TIME?"))

    def true(self, name: str) -> str:
        return self._ok(f"TRUE? {name}")

    def true_f(self, name: str) -> float:
        return float(self.true(name))

    def fault(self, resource: str, kind: str, arg: str | float | None = None) -> None:
        self._ok(f"FAULT {resource} {kind}" + ("" if arg is None else f" {arg}"))

    def power(self, on: bool) -> None:
        self._ok("POWER RESTORE" if on else "POWER CUT")

    # --- lifecycle --------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def close(self) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, SimControlError):
                self.control("QUIT")
        with contextlib.suppress(OSError):
            self._rx.close()
            self._ctl.close()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)
        finally:
            self._close_pipes()

    def __enter__(self) -> SimBenchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
