"""Arbitrary bytes on every port of the running simulated bench.

No input may crash the server, and none may leave a port unable to answer the
next valid command. The instruments' own parsers are fuzzed in-process in
``tests/sim/instruments/test_instr_fuzz.py``; here the bytes go through the
real sockets and pty, framing and line splitting included.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import serial
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.sim.outside import addr, frame
from tests.sim.simproc import SimProcess

pytestmark = pytest.mark.timeout(600)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess("--seed", "5") as s:
        host, port = addr(s.resources["supply"])
        with socket.create_connection((host, port), timeout=5) as c:
            c.sendall(b"VOLT 24,(@2);CURR 1.5,(@2);OUTP ON,(@2);*OPC?\n")
            assert c.recv(100).startswith(b"1")
        s.advance(2.0)  # the unit boots
        yield s
        assert s.proc.poll() is None, "the simulator died during fuzzing"


def _read_until(sock: socket.socket, needle: bytes, sim: SimProcess) -> bytes:
    """Read until ``needle`` appears; advance virtual time if a reply is waiting on it."""
    sock.settimeout(0.3)
    data = b""
    deadline = time.monotonic() + 10
    while needle not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {needle!r} after fuzz input; got {data[-300:]!r}")
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            sim.advance(1.0)  # a time-dependent query in the fuzz input may hold the line
            continue
        if not chunk:
            raise AssertionError(f"connection closed; got {data[-300:]!r}")
        data += chunk
    return data


@pytest.mark.parametrize(
    "resource,terminator,identity",
    [
        ("logger", b"\n", b"Keysight Technologies,DAQ970A,"),
        ("supply", b"\n", b"Keysight Technologies,E36313A,"),
        ("stage", b"\r\n", b"Arroyo 5305 "),
    ],
)
@FUZZ
@given(junk=st.binary(max_size=400))
def test_instrument_ports_survive_arbitrary_bytes(
    sim: SimProcess, resource: str, terminator: bytes, identity: bytes, junk: bytes
) -> None:
    with socket.create_connection(addr(sim.resources[resource]), timeout=5) as c:
        c.sendall(junk + terminator)
        c.sendall(b"*CLS" + terminator + b"*IDN?" + terminator)
        _read_until(c, identity, sim)


@FUZZ
@given(junk=st.binary(max_size=600))
def test_device_socket_survives_arbitrary_bytes(sim: SimProcess, junk: bytes) -> None:
    with socket.create_connection(addr(sim.resources["device_url"]), timeout=5) as c:
        c.sendall(junk)
        c.sendall(b"\r\n" + frame("ID?"))
        _read_until(c, b"$OK INSTANTCRYO,IC-1,", sim)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(junk=st.binary(max_size=300))
def test_device_pty_survives_arbitrary_bytes(sim: SimProcess, junk: bytes) -> None:
    port = serial.Serial(sim.resources["device"], 115200, timeout=0.3)
    try:
        port.reset_input_buffer()
        port.write(junk + b"\r\n" + frame("ID?"))
        data = b""
        deadline = time.monotonic() + 10
        while b"$OK INSTANTCRYO,IC-1," not in data:
            assert time.monotonic() < deadline, data[-300:]
            chunk = port.read(4096)
            if not chunk:
                sim.advance(1.0)
            data += chunk
    finally:
        port.close()


@FUZZ
@given(
    junk=st.binary(max_size=200).filter(
        lambda b: b"QUIT" not in b.upper() and b"RESET" not in b.upper()
    )
)
@example(junk=b"\x1c\nTIME?\n\x85 \x0b\n")  # Unicode separators alone once went unanswered
def test_control_channel_answers_every_line(sim: SimProcess, junk: bytes) -> None:
    lines = [ln for ln in junk.split(b"\n") if ln.strip()]
    for line in lines:
        reply = sim.control(line)  # the reply is one line of ASCII, whatever came in
        assert reply, line
    assert sim.control("TIME?")[0].isdigit()
