"""The control channel: fault injection, power relay, realtime mode, determinism."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
import serial

from tests.sim.outside import addr, frame
from tests.sim.simproc import SimProcess

pytestmark = pytest.mark.timeout(300)


class Line:
    """A raw line client (the instruments are plain sockets)."""

    def __init__(self, resource: str, term: bytes = b"\n") -> None:
        self.sock = socket.create_connection(addr(resource), timeout=2)
        self.term = term
        self.buf = b""

    def send(self, text: str) -> None:
        with contextlib.suppress(OSError):  # the peer is gone: line() says so
            self.sock.sendall(text.encode() + self.term)

    def line(self, timeout: float = 2.0) -> bytes | None:
        self.sock.settimeout(timeout)
        while self.term not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionError:
                return b"<closed>"
            if not chunk:
                return b"<closed>"
            self.buf += chunk
        line, self.buf = self.buf.split(self.term, 1)
        return line

    def query(self, text: str, timeout: float = 2.0) -> bytes | None:
        self.send(text)
        return self.line(timeout)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def sim():
    with SimProcess("--seed", "2") as s:
        sup = Line(s.resources["supply"])
        assert sup.query("VOLT 24,(@2);CURR 1.5,(@2);OUTP ON,(@2);*OPC?") == b"1"
        sup.close()
        s.advance(2.0)
        yield s


def test_stall_then_clear(sim: SimProcess) -> None:
    c = Line(sim.resources["logger"])
    assert c.query("*IDN?").startswith(b"Keysight")
    assert sim.control("FAULT logger stall") == "OK"
    assert c.query("*IDN?", timeout=0.5) is None  # connection open, nobody answers
    assert sim.control("FAULT logger clear") == "OK"
    assert c.query("*IDN?").startswith(b"Keysight")
    c.close()


def test_drop_closes_and_refuses_until_clear(sim: SimProcess) -> None:
    c = Line(sim.resources["supply"])
    assert c.query("*IDN?").startswith(b"Keysight")
    assert sim.control("FAULT supply drop") == "OK"
    assert c.line(timeout=2.0) == b"<closed>"
    again = Line(sim.resources["supply"])
    assert again.query("*IDN?", timeout=1.0) in (b"<closed>", None)
    assert sim.control("FAULT supply clear") == "OK"
    fresh = Line(sim.resources["supply"])
    assert fresh.query("*IDN?").startswith(b"Keysight")
    for x in (c, again, fresh):
        x.close()


def test_delay_is_wall_clock(sim: SimProcess) -> None:
    c = Line(sim.resources["stage"], b"\r\n")
    assert sim.control("FAULT stage delay 300") == "OK"
    t0 = time.monotonic()
    assert c.query("*IDN?").startswith(b"Arroyo 5305")
    assert time.monotonic() - t0 >= 0.29
    assert sim.control("FAULT stage clear") == "OK"
    t0 = time.monotonic()
    assert c.query("*IDN?").startswith(b"Arroyo 5305")
    assert time.monotonic() - t0 < 0.2
    c.close()


def test_corrupt_changes_replies(sim: SimProcess) -> None:
    c = Line(sim.resources["logger"])
    good = c.query("*IDN?")
    assert sim.control("FAULT logger corrupt 1.0") == "OK"
    bad = [c.query("*IDN?") for _ in range(10)]
    assert all(b != good and len(b) == len(good) for b in bad)
    assert sim.control("FAULT logger corrupt 0.5") == "OK"
    mixed = [c.query("*IDN?") for _ in range(60)]
    assert 10 < sum(m == good for m in mixed) < 50
    assert sim.control("FAULT logger clear") == "OK"
    assert c.query("*IDN?") == good
    c.close()


def test_device_faults_and_power_relay(sim: SimProcess) -> None:
    port = serial.serial_for_url(sim.resources["device_url"], timeout=0.5)
    port.write(frame("ID?"))
    assert port.readline().startswith(b"$OK INSTANTCRYO")
    assert sim.control("FAULT device corrupt 1.0") == "OK"
    port.write(frame("ID?"))
    line = port.readline()
    assert line.endswith(b"\r\n") and line != frame("OK INSTANTCRYO,IC-1,SIM-0001,2.3.1")
    assert sim.control("FAULT device stall") == "OK"
    port.write(frame("ID?"))
    assert port.readline() == b""
    assert sim.control("FAULT device clear") == "OK"
    port.write(frame("ID?"))
    assert port.readline().startswith(b"$OK INSTANTCRYO")

    assert sim.control("POWER CUT") == "OK"
    sim.advance(0.1)
    assert sim.true("device_state") == "OFF"
    assert sim.true("power_relay") == "0"
    port.write(frame("ID?"))
    assert port.readline() == b""  # nothing answers without power
    assert float(sim.true("supply_i")) < 0.001
    assert sim.control("POWER RESTORE") == "OK"
    sim.advance(0.5)
    assert sim.true("device_state") == "BOOT"
    sim.advance(1.2)
    assert sim.true("device_state") == "IDLE"
    port.write(frame("ID?"))
    assert port.readline().startswith(b"$OK INSTANTCRYO")
    port.close()

    tty = serial.Serial(sim.resources["device"], 115200, timeout=0.5)
    tty.reset_input_buffer()
    assert sim.control("FAULT device drop") == "OK"
    tty.write(frame("ID?"))
    assert tty.readline() == b""
    with pytest.raises((ConnectionError, OSError)):
        s = socket.create_connection(addr(sim.resources["device_url"]), timeout=1)
        s.sendall(frame("ID?"))
        s.settimeout(1)
        if not s.recv(100):
            raise ConnectionError("closed")
    assert sim.control("FAULT device clear") == "OK"
    tty.write(frame("ID?"))
    assert tty.readline().startswith(b"$OK INSTANTCRYO")
    tty.close()


def test_realtime_mode_follows_the_wall_clock() -> None:
    with SimProcess("--realtime") as s:
        t0, w0 = float(s.control("TIME?")), time.monotonic()
        time.sleep(0.5)
        t1, w1 = float(s.control("TIME?")), time.monotonic()
        assert abs((t1 - t0) - (w1 - w0)) < 0.1
        assert s.control("ADVANCE 10").startswith("OK ")  # a jump is still allowed
        assert float(s.control("TIME?")) >= t1 + 10


def _scripted_run(chunks: list[float]) -> tuple[str, str, str]:
    with SimProcess("--seed", "9") as s:
        log = Line(s.resources["logger"])
        sup = Line(s.resources["supply"])
        stage = Line(s.resources["stage"], b"\r\n")
        assert sup.query("VOLT 24,(@2);CURR 1.5,(@2);OUTP ON,(@2);*OPC?") == b"1"
        stage.send("TEC:T 35")
        stage.send("TEC:OUT 1")
        assert stage.query("ERRSTR?") == b"0"
        log.send("CONF:TEMP TC,T,(@101:104);:TEMP:NPLC 0.2,(@101:104)")
        log.send("ROUT:SCAN (@101:104);:FORM:READ:TIME ON")
        log.send("TRIG:SOUR TIM;TIM 0.05;COUN 400;:INIT")
        assert log.query("SYST:ERR?").startswith(b"+0")
        for c in chunks:
            s.advance(c)
        data = log.query("FETC?", timeout=10)
        assert data is not None
        surface = s.true("surface_c")
        current = sup.query("MEAS:CURR? (@2)")
        for x in (log, sup, stage):
            x.close()
        return data.decode(), surface, (current or b"").decode()


def test_same_seed_same_bytes_whatever_the_advance_chunks() -> None:
    a = _scripted_run([21.0])
    b = _scripted_run([0.05] * 100 + [16.0])
    assert a == b
    assert len(a[0].split(",")) == 2 * 400 * 4


def _clock_ms(line: bytes) -> int:
    assert line.startswith(b"$OK "), line
    return int(line[4:].split(b"*")[0])


@pytest.mark.parametrize("key", ["device_url", "device"])
def test_advance_serves_what_arrived_before_it(sim: SimProcess, key: str) -> None:
    """A frame already received when an ADVANCE is read is served before time moves.

    ``ADVANCE 600`` keeps the bench busy for a few hundred milliseconds of wall time
    (the unit's firmware ticks at 10 Hz); meanwhile ``ADVANCE 5`` reaches the control
    channel and then ``CLOCK?`` the unit, so the event loop finds both waiting, the
    control line first. Served in arrival order across connections (the drain) the
    frame is answered 600 s on; read after the second advance it would be 605 s on.
    Over the pty the reply must also be readable as soon as the advance is answered.
    """
    port = serial.serial_for_url(sim.resources[key], timeout=2)
    try:
        port.write(frame("CLOCK?"))
        before = _clock_ms(port.readline())
        ctl = socket.create_connection(addr("socket://" + sim.resources["control"]), timeout=10)
        try:
            ctl.sendall(b"ADVANCE 600\n")
            time.sleep(0.05)  # the bench is inside the first advance now
            ctl.sendall(b"ADVANCE 5\n")
            port.write(frame("CLOCK?"))
            replies = b""
            while replies.count(b"\n") < 2:
                replies += ctl.recv(4096)
        finally:
            ctl.close()
        assert [r.split()[0] for r in replies.splitlines()] == [b"OK", b"OK"], replies
        assert port.in_waiting > 0, "the reply was not readable when the advance was answered"
        after = _clock_ms(port.readline())
    finally:
        port.close()
    assert after - before == 600_000
