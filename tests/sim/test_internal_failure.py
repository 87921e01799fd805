"""An exception inside the simulation stops its time, loudly, until RESET.

A unit whose serial number it could not frame (``É-ü``, before the label was checked)
raised inside the pty's read callback: asyncio printed it, the unit never answered,
and ``cryorig run`` waited on timeouts for a minute before it blamed the bench's
control channel. Now the first ``ADVANCE`` after such an exception says what it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from rig.sim.bench import SimBench
from rig.sim.profile import load_profile
from rig.sim.server import BenchServer, ServeOptions


class _BrokenLink:
    """A unit link whose frame handling has a bug."""

    def feed(self, data: bytes) -> None:
        raise RuntimeError(f"frame handler bug on {data!r}")


@pytest.fixture
def server() -> Iterator[BenchServer]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield BenchServer(SimBench(load_profile(None, 0), 0), ServeOptions())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_an_exception_on_the_unit_s_link_stops_time_and_says_why(
    server: BenchServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert server.control("ADVANCE 1") == "OK 1.000000"
    server.feed_unit(_BrokenLink(), b"ID?")  # type: ignore[arg-type]
    assert "RuntimeError: frame handler bug" in capsys.readouterr().err  # the traceback
    reply = server.control("ADVANCE 1")
    assert reply == (
        "ERR the simulation failed inside (the unit's service port: RuntimeError: "
        "frame handler bug on b'ID?'); time stays until RESET"
    )
    assert server.control("TIME?") == "1.000000"  # it still answers, and time stayed
    assert server.control("ADVANCE 0.5").startswith("ERR the simulation failed inside")


def test_reset_puts_a_working_bench_back(server: BenchServer) -> None:
    server.feed_unit(_BrokenLink(), b"ID?")  # type: ignore[arg-type]
    assert server.control("ADVANCE 1").startswith("ERR")
    assert server.control("RESET 3") == "OK"
    assert server.failure is None
    assert server.control("ADVANCE 1") == "OK 1.000000"


def test_an_exception_inside_an_advance_keeps_time_stopped(
    server: BenchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(dt_us: int) -> int:
        raise ZeroDivisionError("event bug")

    monkeypatch.setattr(server.bench, "advance", bug)
    assert server.control("ADVANCE 1") == "ERR internal error: ZeroDivisionError: event bug"
    monkeypatch.undo()
    assert server.control("ADVANCE 1") == (
        "ERR the simulation failed inside (ADVANCE: ZeroDivisionError: event bug); "
        "time stays until RESET"
    )
