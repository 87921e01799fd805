"""Serve the simulated bench as a real one: SCPI over TCP, the unit on a pty and a socket.

One process, one asyncio loop, one virtual clock. Every instrument listens on
its own loopback port and speaks its line protocol raw; the unit's service
port is both a pty (a path pyserial opens like ``/dev/ttyUSB0``) and a TCP
socket (pyserial's ``socket://`` URL). A control channel moves virtual time
(``ADVANCE``), reads the simulation's true state and injects faults. The
interface is specified in ``shared/specs/bench.md`` ("The simulated bench's
interface"); ``docs/sim.md`` records the choices made where it is silent.

Lockstep: virtual time moves only on ``ADVANCE``; a reply that depends on
virtual time is sent from inside the advance, at the moment it falls due. Before
time moves, ``ADVANCE`` serves whatever has already arrived on the instrument and
device connections (:meth:`BenchServer.pending_input`): a command a client finished
writing before it asked for the advance then acts at the instant it was sent, however
late the event loop would otherwise have read it (a loaded machine), so a run is the
same run whatever the machine's load. (The interface promises no more than
bench.md says: ``ADVANCE`` does not wait for bytes still in flight.)
Realtime (``--realtime``): virtual time follows the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import select
import signal
import sys
import termios
import traceback
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .bench import SimBench
from .device.unit import Link
from .instruments.line import LineSplitter
from .noise import RandomStream
from .profile import ProfileError, UnitProfile, load_profile
from .timebase import US_PER_S, seconds_to_us, us_to_seconds_text

RESOURCES = ("logger", "supply", "stage", "device")
MAX_ADVANCE_US = 86_400 * US_PER_S
"""One ADVANCE moves at most a day: a typo must not freeze the bench for hours."""
_MAX_LINE = 1 << 20
DRAIN_ROUNDS = 8
"""Event-loop passes an ``ADVANCE`` waits at most for input already received to be
served (each pass reads every readable connection; one is enough unless a client
keeps writing)."""
PTY_DELIVERY_LIMIT_S = 0.05
"""How long an ``ADVANCE`` waits at most for its replies to reach the pty's other end."""


@dataclass
class ServeOptions:
    profile_path: Path | None = None
    seed: int = 0
    serial: str | None = None
    realtime: bool = False
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    """Fixed ports by role (logger, supply, stage, device, control); 0 or absent: a free one."""
    parent_pid: int | None = None
    """Stop serving when this process is gone (the rig that started the bench was killed)."""


@dataclass
class FaultMode:
    """What the control channel's ``FAULT`` set on one resource."""

    kind: str | None = None  # drop, stall, delay, corrupt
    delay_s: float = 0.0
    rate: float = 0.0

    def text(self) -> str:
        return self.kind or "none"


def corrupt_line(data: bytes, rng: RandomStream, keep_tail: int) -> bytes:
    """Replace one byte (outside the line terminator) with another printable one."""
    body = bytearray(data[: len(data) - keep_tail] if keep_tail else data)
    if not body:
        return data
    pos = rng.integers(0, len(body))
    new = 0x21 + rng.integers(0, 94)
    if new == body[pos]:
        new = 0x21 + (new - 0x21 + 1) % 94
    body[pos] = new
    return bytes(body) + (data[len(data) - keep_tail :] if keep_tail else b"")


class FaultyWriter:
    """Writes replies through the resource's present fault: delayed, corrupted or not at all."""

    def __init__(
        self,
        server: BenchServer,
        resource: str,
        write: Callable[[bytes], None],
        terminator_len: int,
    ) -> None:
        self.server = server
        self.resource = resource
        self._write = write
        self._term = terminator_len
        self._release_at = 0.0

    def __call__(self, data: bytes) -> None:
        fault = self.server.faults[self.resource]
        if fault.kind in ("drop", "stall"):
            return
        if fault.kind == "corrupt" and fault.rate > 0:
            rng = self.server.fault_rng(self.resource)
            if rng.uniform() < fault.rate:
                data = corrupt_line(data, rng, self._term)
        if fault.kind == "delay" and fault.delay_s > 0:
            loop = self.server.loop
            when = max(loop.time() + fault.delay_s, self._release_at)
            self._release_at = when
            loop.call_at(when, self._safe_write, data)
            return
        self._safe_write(data)

    def _safe_write(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            self._write(data)


class InstrumentConnection(asyncio.Protocol):
    """One client of a line-protocol instrument, served strictly in order."""

    def __init__(self, server: BenchServer, resource: str) -> None:
        self.server = server
        self.resource = resource
        self.instrument = server.instruments[resource]
        self.transport: asyncio.Transport | None = None
        self._splitter = LineSplitter(self.instrument.input_terminators)
        self._lines: deque[str] = deque()
        self._waiting = False
        term = self.instrument.output_terminator
        self._term = term
        self._writer: FaultyWriter | None = None
        self.fd: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.server.faults[self.resource].kind == "drop":
            transport.abort()
            return
        self._writer = FaultyWriter(self.server, self.resource, transport.write, len(self._term))
        self.fd = _fileno(transport)
        self.server.connections[self.resource].add(self)
        with contextlib.suppress(OSError, AttributeError):
            import socket

            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections[self.resource].discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.server.faults[self.resource].kind in ("drop", "stall"):
            return
        self.server.sync_realtime()
        self._split(data)
        self._pump()

    def _split(self, data: bytes) -> None:
        self._lines.extend(self._splitter.feed(data))
        if self._splitter.pending > _MAX_LINE:  # an endless line: hand it over, too long
            self._lines.extend(self._splitter.feed(self.instrument.input_terminators[-1:]))

    def _respond(self, text: str) -> None:
        if self.transport is not None and self._writer is not None:
            self._writer(text.encode("latin-1", "replace") + self._term)

    def _pump(self) -> None:
        while self._lines and not self._waiting:
            line = self._lines.popleft()
            wait = self.instrument.execute(line, self._respond)
            if wait is not None and not wait.done:
                self._waiting = True
                wait.add_done_callback(self._resume)

    def _resume(self) -> None:
        self._waiting = False
        self._pump()

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class DeviceSocketConnection(asyncio.Protocol):
    """A ``socket://`` client of the unit's service port."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._writer: FaultyWriter | None = None
        self.fd: int | None = None

    @property
    def link(self):
        """The present unit's socket link (a RESET puts another unit on the bench)."""
        link = self.server.bench.unit.link("socket")
        if self._writer is not None:
            link.send = self._writer
        return link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.server.faults["device"].kind == "drop":
            transport.abort()
            return
        self.transport = transport
        self.fd = _fileno(transport)
        self.server.connections["device"].add(self)
        self._writer = FaultyWriter(self.server, "device", transport.write, 2)
        self.link.send = self._writer

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections["device"].discard(self)
        if self.transport is not None:
            self._writer = None
            self.server.bench.unit.link("socket").send = lambda data: None
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.server.faults["device"].kind in ("drop", "stall"):
            return
        self.server.sync_realtime()
        self.server.feed_unit(self.link, data)

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class PtyPort:
    """The unit's service port as a pseudo-terminal: the path a serial client opens."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        attrs = termios.tcgetattr(self.slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._out = bytearray()
        self._unconfirmed = False
        self._writer = FaultyWriter(server, "device", self._write, 2)

    @property
    def link(self):
        """The present unit's pty link (a RESET puts another unit on the bench)."""
        link = self.server.bench.unit.link("pty")
        link.send = self._writer
        return link

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):
                return
            raise
        if not data or self.server.faults["device"].kind in ("drop", "stall"):
            return
        self.server.sync_realtime()
        self.server.feed_unit(self.link, data)

    def _write(self, data: bytes) -> None:
        self._out.extend(data)
        self._unconfirmed = True
        self._flush()

    def track_delivery(self) -> None:
        """From now on, until :meth:`confirm_delivery`, remember whether anything is
        written (an ``ADVANCE`` begins; what was written before it the client reads on
        its own time)."""
        self._unconfirmed = False

    def confirm_delivery(self, limit_s: float = PTY_DELIVERY_LIMIT_S) -> None:
        """Wait (at most ``limit_s`` of wall time) until what was written since
        :meth:`track_delivery` is readable at the client's end.

        A pty hands bytes from one end to the other in a kernel worker, not in the
        write: on a loaded machine they can take milliseconds to show up. A lockstep
        client that asks ``ADVANCE`` and then looks at the port must find every reply
        that fell due inside the advance, so the advance is not answered before they
        are there. (If the client reads them before this looks, the wait ends at the
        limit: slower, never wrong.)
        """
        if not self._unconfirmed:
            return
        self._unconfirmed = False
        with contextlib.suppress(OSError, ValueError):
            select.select([self.slave], [], [], limit_s)

    def _flush(self) -> None:
        while self._out:
            try:
                n = os.write(self.master, self._out)
            except BlockingIOError:
                # Nobody is draining the pty: keep the newest 64 KiB, as a UART FIFO would not.
                del self._out[: max(0, len(self._out) - 65536)]
                self.server.loop.call_later(0.01, self._flush)
                return
            except OSError:
                self._out.clear()
                return
            del self._out[:n]

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(Exception):
            loop.remove_reader(self.master)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class ControlConnection(asyncio.Protocol):
    """The control channel: one reply line per command line, strictly in order.

    An ``ADVANCE`` while input waits unread on an instrument or the unit is held (the
    connection stops reading) until the event loop has served that input; the lines
    after it wait their turn.
    """

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._held = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self._buf.extend(data)
        if not self._held:
            self._serve()

    def _serve(self) -> None:
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > _MAX_LINE:
                    self._buf.clear()
                    self._send("ERR line too long")
                return
            # Blank means ASCII white space only (as a client's bytes.strip() sees it):
            # any other line, even one of Unicode separators alone, gets a reply.
            line = bytes(self._buf[:nl]).strip().decode("latin-1")
            del self._buf[: nl + 1]
            if not line:
                continue
            word = line.split(None, 1)  # empty for a line of Unicode separators alone
            if word and word[0].upper() == "ADVANCE":
                if self.server.pty is not None:
                    self.server.pty.track_delivery()
                if self.server.pending_input():
                    self._hold(line)
                    return
            reply = self.server.control(line)
            self._send(reply)
            if self.server.stopping:
                return

    def _hold(self, line: str) -> None:
        """Serve ``line`` once the input already received elsewhere has been served."""
        self._held = True
        if self.transport is not None:
            self.transport.pause_reading()
        self.server.loop.create_task(self._after_drain(line))

    async def _after_drain(self, line: str) -> None:
        try:
            await self.server.drain()
            self._send(self.server.control(line))
        finally:
            self._held = False
            if self.transport is not None and not self.server.stopping:
                self.transport.resume_reading()
                self._serve()

    def _send(self, text: str) -> None:
        if self.transport is not None:
            self.transport.write(text.encode("ascii", "backslashreplace") + b"\n")


class BenchServer:
    """Owns the bench, its listeners and the control channel's commands."""

    def __init__(self, bench: SimBench, options: ServeOptions) -> None:
        self.bench = bench
        self.options = options
        self.instruments = {
            "logger": bench.logger,
            "supply": bench.supply,
            "stage": bench.stage,
        }
        self.faults: dict[str, FaultMode] = {r: FaultMode() for r in RESOURCES}
        self.connections: dict[str, set] = {r: set() for r in RESOURCES}
        self._fault_rngs: dict[str, RandomStream] = {}
        self.loop: asyncio.AbstractEventLoop = asyncio.get_event_loop()
        self.servers: dict[str, asyncio.base_events.Server] = {}
        self.pty: PtyPort | None = None
        self.stopping = False
        self.failure: str | None = None
        """Why the simulation cannot go on (an exception inside it), until ``RESET``."""
        self._stopped = asyncio.Event()
        self._wall_start = 0.0
        self._virtual_start_us = 0

    def fault_rng(self, resource: str) -> RandomStream:
        rng = self._fault_rngs.get(resource)
        if rng is None:
            rng = self._fault_rngs[resource] = self.bench.noise.stream(f"fault.{resource}")
        return rng

    async def start(self) -> dict[str, str]:
        self.loop = asyncio.get_running_loop()
        host = self.options.host
        ports = self.options.ports
        for resource in ("logger", "supply", "stage"):
            self.servers[resource] = await self.loop.create_server(
                lambda r=resource: InstrumentConnection(self, r), host, ports.get(resource, 0)
            )
        self.servers["device"] = await self.loop.create_server(
            lambda: DeviceSocketConnection(self), host, ports.get("device", 0)
        )
        self.servers["control"] = await self.loop.create_server(
            lambda: ControlConnection(self), host, ports.get("control", 0)
        )
        self.pty = PtyPort(self)
        self.pty.start(self.loop)
        self._wall_start = self.loop.time()
        self._virtual_start_us = self.bench.now_us
        if self.options.realtime:
            self.loop.create_task(self._realtime_clock())
        if self.options.parent_pid is not None:
            self.loop.create_task(self._watch_parent(self.options.parent_pid))

        def port(name: str) -> int:
            return self.servers[name].sockets[0].getsockname()[1]

        return {
            "logger": f"TCPIP0::{host}::{port('logger')}::SOCKET",
            "supply": f"TCPIP0::{host}::{port('supply')}::SOCKET",
            "stage": f"TCPIP0::{host}::{port('stage')}::SOCKET",
            "device": self.pty.path,
            "device_url": f"socket://{host}:{port('device')}",
            "control": f"{host}:{port('control')}",
        }

    # --- time -------------------------------------------------------------------------------
    def _input_fds(self) -> list[int]:
        fds = [c.fd for r in RESOURCES for c in self.connections[r] if c.fd is not None]
        if self.pty is not None:
            fds.append(self.pty.master)
        return fds

    def pending_input(self) -> bool:
        """Bytes received on an instrument or unit connection and not yet read."""
        fds = self._input_fds()
        if not fds:
            return False
        try:
            return bool(select.select(fds, [], [], 0)[0])
        except (OSError, ValueError):  # a connection closing under us: nothing to serve
            return False

    async def drain(self) -> None:
        """Let the event loop serve the input already received (one pass takes the
        callbacks of every readable connection; the second runs them)."""
        for _ in range(DRAIN_ROUNDS):
            if not self.pending_input():
                return
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    def sync_realtime(self) -> None:
        """In realtime mode, bring virtual time up to the wall clock before acting."""
        if not self.options.realtime or self.stopping:
            return
        target = self._virtual_start_us + int((self.loop.time() - self._wall_start) * US_PER_S)
        if target > self.bench.now_us:
            self.bench.sched.run_until(target)

    async def _watch_parent(self, pid: int) -> None:
        while not self.stopping:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                self.request_stop()
                with contextlib.suppress(OSError):  # stderr may be a pipe nobody reads now
                    print(f"parent process {pid} is gone: stopping", file=sys.stderr)
                return
            except PermissionError:
                pass
            await asyncio.sleep(0.5)

    async def _realtime_clock(self) -> None:
        while not self.stopping:
            self.sync_realtime()
            await asyncio.sleep(0.002)

    # --- control channel ------------------------------------------------------------------------
    def control(self, line: str) -> str:
        parts = line.split()
        if not parts:
            return f"ERR unknown command {line!a}"
        cmd = parts[0].upper()
        args = parts[1:]
        try:
            handler = _CONTROL.get(cmd)
            if handler is None:
                return f"ERR unknown command {parts[0]!a}"
            return handler(self, args)
        except ValueError as exc:
            return f"ERR {exc}"
        except Exception as exc:  # a bug must not take the bench down; say so and go on
            self.fail(cmd, exc)
            return f"ERR internal error: {type(exc).__name__}: {exc}"

    def fail(self, where: str, exc: Exception) -> None:
        """An exception inside the simulation: print it, and refuse to move time until
        ``RESET``. The state it left is not physics any more (an event half run, a
        reply never framed), and a client waiting on it would only see silence: the
        unit's link once went quiet and the rig timed out for a minute instead."""
        traceback.print_exc(file=sys.stderr)
        if self.failure is None:
            self.failure = f"{where}: {type(exc).__name__}: {exc}"

    def feed_unit(self, link: Link, data: bytes) -> None:
        """Bytes from a client of the unit's service port, into the unit."""
        try:
            link.feed(data)
        except Exception as exc:
            self.fail("the unit's service port", exc)

    def _time(self, args: list[str]) -> str:
        _expect(args, 0, "TIME?")
        self.sync_realtime()
        return us_to_seconds_text(self.bench.now_us)

    def _advance(self, args: list[str]) -> str:
        _expect(args, 1, "ADVANCE <s>")
        dt_us = seconds_to_us(args[0])
        if dt_us > MAX_ADVANCE_US:
            raise ValueError(f"at most {MAX_ADVANCE_US // US_PER_S} s per ADVANCE")
        if self.failure is not None:
            raise ValueError(
                f"the simulation failed inside ({self.failure}); time stays until RESET"
            )
        self.sync_realtime()
        now_us = self.bench.advance(dt_us)
        if self.pty is not None:
            self.pty.confirm_delivery()
        return "OK " + us_to_seconds_text(now_us)

    def _true(self, args: list[str]) -> str:
        _expect(args, 1, "TRUE? <name>")
        self.sync_realtime()
        try:
            return self.bench.true_value(args[0])
        except KeyError:
            raise ValueError(f"unknown name {args[0]!a}") from None

    def _fault(self, args: list[str]) -> str:
        if len(args) < 2:
            raise ValueError("usage: FAULT <resource> <kind> [<arg>]")
        resource, kind = args[0].lower(), args[1].lower()
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {args[0]!a}")
        mode = FaultMode()
        if kind == "clear":
            _expect(args, 2, "FAULT <resource> clear")
        elif kind in ("drop", "stall"):
            _expect(args, 2, f"FAULT <resource> {kind}")
            mode.kind = kind
        elif kind == "delay":
            _expect(args, 3, "FAULT <resource> delay <ms>")
            mode.kind = "delay"
            mode.delay_s = _number(args[2], 0.0, 600_000.0) / 1000.0
        elif kind == "corrupt":
            _expect(args, 3, "FAULT <resource> corrupt <rate>")
            mode.kind = "corrupt"
            mode.rate = _number(args[2], 0.0, 1.0)
        else:
            raise ValueError(f"unknown fault kind {args[1]!a}")
        self.faults[resource] = mode
        if mode.kind == "drop":
            for conn in list(self.connections[resource]):
                conn.drop()
        return "OK"

    def _power(self, args: list[str]) -> str:
        _expect(args, 1, "POWER CUT|RESTORE")
        what = args[0].upper()
        if what not in ("CUT", "RESTORE"):
            raise ValueError(f"POWER takes CUT or RESTORE, not {args[0]!a}")
        self.sync_realtime()
        self.bench.power_cut(what == "CUT")
        return "OK"

    def _reset(self, args: list[str]) -> str:
        """``RESET <seed> [<profile file>|- [<serial>]]``: a fresh bench in this process.

        Everything restarts as ``cryorig sim serve`` would start it (virtual time 0,
        phantom at room temperature, instruments at power-on, a new unit) while the
        ports, the pty and this control connection stay; instrument and device
        connections are closed, as a bench power cycle would drop them. Used to put
        the next unit on the bench without starting a process (the fleet study).
        """
        if not 1 <= len(args) <= 3:
            raise ValueError("usage: RESET <seed> [<profile file>|- [<serial>|-]]")
        try:
            seed = int(args[0])
        except ValueError:
            raise ValueError(f"seed {args[0]!a} is not an integer") from None
        if seed < 0:
            raise ValueError(f"seed {seed} is negative (a seed is 0 or more)")
        path = None if len(args) < 2 or args[1] == "-" else Path(args[1])
        serial = None if len(args) < 3 or args[2] == "-" else args[2]
        try:
            profile = load_profile(path, seed, serial)
        except ProfileError as exc:
            raise ValueError(str(exc).replace("\n", "; ")) from None
        for resource in RESOURCES:
            for conn in list(self.connections[resource]):
                conn.drop()
        self.faults = {r: FaultMode() for r in RESOURCES}
        self._fault_rngs.clear()
        self.bench = SimBench(profile, seed)
        self.failure = None
        self.instruments = {
            "logger": self.bench.logger,
            "supply": self.bench.supply,
            "stage": self.bench.stage,
        }
        self._wall_start = self.loop.time()
        self._virtual_start_us = 0
        return "OK"

    def _quit(self, args: list[str]) -> str:
        self.request_stop()
        return "OK"

    # --- lifecycle --------------------------------------------------------------------------
    def request_stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self.loop.call_soon(self._stopped.set)

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def close(self) -> None:
        for srv in self.servers.values():
            srv.close()
        for conns in self.connections.values():
            for conn in list(conns):
                conn.drop()
        for srv in self.servers.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1.0)
        if self.pty is not None:
            self.pty.close(self.loop)


def _fileno(transport: asyncio.BaseTransport) -> int | None:
    sock = transport.get_extra_info("socket")
    try:
        return None if sock is None else sock.fileno()
    except OSError:
        return None


def _expect(args: list[str], n: int, usage: str) -> None:
    if len(args) != n:
        raise ValueError(f"usage: {usage}")


def _number(text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!a}") from None
    if not (low <= value <= high):
        raise ValueError(f"{text} is outside {low:g}..{high:g}")
    return value


_CONTROL: dict[str, Callable[[BenchServer, list[str]], str]] = {
    "TIME?": BenchServer._time,
    "ADVANCE": BenchServer._advance,
    "TRUE?": BenchServer._true,
    "FAULT": BenchServer._fault,
    "POWER": BenchServer._power,
    "RESET": BenchServer._reset,
    "QUIT": BenchServer._quit,
}


async def _serve(options: ServeOptions, profile: UnitProfile, out: TextIO) -> None:
    bench = SimBench(profile, options.seed)
    server = BenchServer(bench, options)
    resources = await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_stop)
    out.write(json.dumps(resources) + "\n")
    out.flush()
    try:
        await server.wait_stopped()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()


def serve(options: ServeOptions, out: TextIO = sys.stdout) -> None:
    """Load the profile (errors before anything is served), then serve until stopped."""
    profile = load_profile(options.profile_path, options.seed, options.serial)
    asyncio.run(_serve(options, profile, out))
