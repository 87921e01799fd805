"""Shared helpers for the instrument emulator tests.

``expect`` is the expected-protocol helper: it feeds commands one line at a time
and compares each reply exactly (a string), by pattern (a compiled regex) or
asserts that no reply came (None).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from rig.sim.instruments.line import LineInstrument, Wait

Expected = str | re.Pattern[str] | None
Exchange = tuple[str, Expected]


def send(instrument: LineInstrument, line: str) -> tuple[list[str], Wait | None]:
    """Execute one line; return the responses and the Wait (if any)."""
    replies: list[str] = []
    wait = instrument.execute(line, replies.append)
    return replies, wait


def ask(instrument: LineInstrument, line: str) -> str:
    """Execute one line that must answer at once with exactly one response."""
    replies, wait = send(instrument, line)
    assert wait is None, f"{line!r} unexpectedly waits"
    assert len(replies) == 1, f"{line!r}: expected one reply, got {replies!r}"
    return replies[0]


def expected_protocol(instrument: LineInstrument, exchanges: Sequence[Exchange]) -> None:
    """Assert a conversation: each command gives exactly its expected reply (or none)."""
    for command, expected in exchanges:
        replies, wait = send(instrument, command)
        assert wait is None, f"{command!r} unexpectedly waits"
        assert len(replies) <= 1, f"{command!r}: several responses {replies!r}"
        got = replies[0] if replies else None
        if isinstance(expected, re.Pattern):
            assert got is not None and expected.fullmatch(got), f"{command!r}: got {got!r}"
        else:
            assert got == expected, f"{command!r}: expected {expected!r}, got {got!r}"


@pytest.fixture
def expect() -> Callable[[LineInstrument, Sequence[Exchange]], None]:
    return expected_protocol


@pytest.fixture
def query() -> Callable[[LineInstrument, str], str]:
    return ask


@pytest.fixture
def send_line() -> Callable[[LineInstrument, str], tuple[list[str], Wait | None]]:
    return send
