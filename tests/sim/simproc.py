"""Start ``cryorig sim serve`` as a separate process and talk to its control channel.

Only the standard library is used here: the tests that use this are written
the way an outside client of the simulated bench would be, against the
interface in ``shared/specs/bench.md``, not against the rig's own code.
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


def cryorig_command() -> list[str]:
    """The installed ``cryorig`` script next to this interpreter, else ``python -m rig.cli``."""
    script = Path(sys.executable).with_name("cryorig")
    if script.exists():
        return [str(script)]
    found = shutil.which("cryorig")
    if found:
        return [found]
    return [sys.executable, "-m", "rig.cli"]


class SimProcess:
    """A running simulated bench; use as a context manager."""

    def __init__(self, *args: str, timeout: float = 30.0) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
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
            raise RuntimeError(f"simulator did not start (rc={self.proc.returncode}): {err}")
        self.resources: dict[str, str] = json.loads(line)
        host, port = self.resources["control"].rsplit(":", 1)
        self._ctl = socket.create_connection((host, int(port)), timeout=timeout)
        self._ctl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rx = self._ctl.makefile("rb")

    def control(self, line: str | bytes) -> str:
        raw = line if isinstance(line, bytes) else line.encode()
        self._ctl.sendall(raw + b"\n")
        reply = self._rx.readline()
        if not reply:
            raise ConnectionError("control channel closed")
        return reply.decode("ascii").rstrip("\n")

    def advance(self, seconds: float) -> float:
        reply = self.control(f"ADVANCE {seconds:.6f}")
        assert reply.startswith("OK "), reply
        return float(reply.split()[1])

    def time(self) -> float:
        return float(self.control("TIME?"))

    def true(self, name: str) -> str:
        return self.control(f"TRUE? {name}")

    def true_f(self, name: str) -> float:
        return float(self.true(name))

    def close(self) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.control("QUIT")
        try:
            self._rx.close()
            self._ctl.close()
        except OSError:
            pass
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
