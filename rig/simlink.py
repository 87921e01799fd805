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


class SimControl:
    """A client of a running simulated bench's control channel."""

    def __init__(self, resources: dict[str, str], timeout: float = 30.0) -> None:
        self.resources = dict(resources)
        host, port = self.resources["control"].rsplit(":", 1)
        try:
            self._ctl = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as exc:
            raise SimControlError(
                f"cannot reach the simulated bench's control channel {host}:{port}: {exc}"
            ) from exc
        self._ctl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rx = self._ctl.makefile("rb")

    @classmethod
    def attach(cls, resource_file: str | Path) -> SimControl:
        """Attach to a bench already serving; ``resource_file`` holds its JSON resource line."""
        path = Path(resource_file)
        try:
            resources = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        except (OSError, IndexError, ValueError) as exc:
            raise SimControlError(f"{path}: not a simulated bench's resource line: {exc}") from exc
        return cls(resources)

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

    def reset(
        self, seed: int, profile: str | Path | None = None, serial: str | None = None
    ) -> None:
        """A fresh bench with a new unit in the same process (see the server's RESET)."""
        self._ok(f"RESET {seed} {profile or '-'} {serial or '-'}")

    def alive(self) -> bool:
        try:
            self.control("TIME?")
        except SimControlError:
            return False
        return True

    def disconnect(self) -> None:
        with contextlib.suppress(OSError):
            self._rx.close()
            self._ctl.close()

    def close(self) -> int:
        """An attached bench is not ours to stop: just let go of it."""
        self.disconnect()
        return 0

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SimBenchProcess(SimControl):
    """A ``cryorig sim serve`` started (and stopped) by us."""

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
        super().__init__(json.loads(line), timeout)

    @classmethod
    def start(
        cls,
        *,
        profile: str | Path | None = None,
        seed: int = 0,
        serial: str | None = None,
    ) -> SimBenchProcess:
        args = ["--seed", str(seed), "--parent-pid", str(os.getpid())]
        if profile is not None:
            args += ["--unit-profile", str(profile)]
        if serial is not None:
            args += ["--serial", serial]
        return cls(*args)

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
        self.disconnect()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)
        finally:
            self._close_pipes()
