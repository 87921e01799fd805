"""Test doubles for drivers: an exact-protocol adapter, a fake clock, a fake serial port.

``expected_protocol`` (after PyMeasure's) pins a driver's conversation down to
the byte: the exact commands, in order, and the replies the instrument gives.
That is how a driver is checked against its programming guide without a bench.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rig.clock import Clock

Pair = tuple[str | None, str | None]
T = TypeVar("T")


class ProtocolAdapter:
    """An :class:`~rig.instruments.adapters.Adapter` that replays an exact conversation.

    ``pairs`` are ``(command, reply)``: ``(cmd, None)`` a write with no reply,
    ``(cmd, reply)`` a query (or a write whose reply is read next), and
    ``(None, reply)`` a read with no write before it. Any other command than the
    next expected one fails the test at once, with both in the message.
    """

    def __init__(
        self, pairs: Sequence[Pair], *, role: str = "test", resource_name: str = "protocol"
    ) -> None:
        self._pairs: deque[Pair] = deque(pairs)
        self._total = len(pairs)
        self._pending: str | None = None
        self.role = role
        self.resource_name = resource_name
        self.written: list[str] = []
        self._timeout_s = 5.0
        self.closed = False

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self._timeout_s = value

    def _position(self) -> str:
        return f"exchange {self._total - len(self._pairs) + 1} of {self._total}"

    def write(self, command: str) -> None:
        assert self._pending is None, (
            f"wrote {command!r} while the reply {self._pending!r} was still unread"
        )
        assert self._pairs, f"unexpected write {command!r}: the conversation is over"
        expected, reply = self._pairs[0]
        assert command == expected, f"{self._position()}: wrote {command!r}, expected {expected!r}"
        self._pairs.popleft()
        self.written.append(command)
        self._pending = reply

    def read(self) -> str:
        if self._pending is not None:
            reply, self._pending = self._pending, None
            return reply
        assert self._pairs, "unexpected read: the conversation is over"
        expected, reply = self._pairs[0]
        assert expected is None and reply is not None, (
            f"{self._position()}: read, but the next exchange is the write {expected!r}"
        )
        self._pairs.popleft()
        return reply

    def query(self, command: str) -> str:
        self.write(command)
        assert self._pending is not None, f"query {command!r}: the expected exchange has no reply"
        return self.read()

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        assert self._pending is None, f"reply {self._pending!r} was never read"
        assert not self._pairs, f"exchanges never happened: {list(self._pairs)!r}"


@contextlib.contextmanager
def expected_protocol(cls: Callable[..., T], pairs: Sequence[Pair], **kwargs: Any) -> Iterator[T]:
    """Build ``cls(adapter, **kwargs)`` on a :class:`ProtocolAdapter` and check it is used up.

    ::

        with expected_protocol(E36313aOutput, [("OUTP? (@2)", "1")]) as supply:
            assert supply.output_enabled is True
    """
    adapter = ProtocolAdapter(pairs, role=kwargs.get("role", "test"))
    yield cls(adapter, **kwargs)
    adapter.assert_done()


class FakeClock(Clock):
    """Virtual time that moves only when something waits on it (no bench, no wall time)."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def _step(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@dataclass(frozen=True)
class Later:
    """A scripted reply that becomes readable ``after_s`` of clock time after the write."""

    after_s: float
    data: bytes


Reply = bytes | Later | None | Callable[[bytes], "bytes | Later | None"]


class FakeSerial:
    """A pyserial-like port whose replies are scripted per written frame.

    ``replies`` has one item per write: the bytes that become readable after that
    write, a :class:`Later` (readable once ``clock`` has moved on), ``None`` for
    no answer at all, or a function of the written bytes returning one of those.
    ``read_until`` behaves like pyserial's: up to and including the terminator,
    else whatever is there (``b""`` when nothing); ``read(n)`` returns up to n bytes.
    """

    def __init__(self, replies: Sequence[Reply] = (), *, clock: Clock | None = None) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.clock = clock
        self.written: list[bytes] = []
        self.rx = bytearray()
        self._later: list[tuple[float, bytes]] = []
        self.timeout: float | None = 0.02
        self.is_open = True
        self.input_resets = 0

    def write(self, data: bytes) -> int:
        assert self.is_open, "write on a closed port"
        self.written.append(bytes(data))
        assert self.replies, f"unexpected frame {data!r}: no reply scripted"
        reply = self.replies.popleft()
        if callable(reply):
            reply = reply(bytes(data))
        if isinstance(reply, Later):
            assert self.clock is not None, "Later replies need the fake port's clock"
            self._later.append((self.clock.now() + reply.after_s, reply.data))
        elif reply is not None:
            self.rx.extend(reply)
        return len(data)

    def _release(self) -> None:
        if self.clock is None:
            return
        now = self.clock.now()
        due = [item for item in self._later if item[0] <= now + 1e-9]
        self._later = [item for item in self._later if item[0] > now + 1e-9]
        for _, data in sorted(due, key=lambda item: item[0]):
            self.rx.extend(data)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        self._release()
        end = self.rx.find(expected)
        n = len(self.rx) if end < 0 else end + len(expected)
        if size is not None:
            n = min(n, size)
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes of what has arrived (never waits: the clock is fake)."""
        self._release()
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    @property
    def in_waiting(self) -> int:
        self._release()
        return len(self.rx)

    def reset_input_buffer(self) -> None:
        self._release()
        self.input_resets += 1
        self.rx.clear()

    def close(self) -> None:
        self.is_open = False

    @property
    def payloads(self) -> list[str]:
        """The written frames' payloads (between ``$`` and ``*``)."""
        return [w[1 : w.rindex(b"*")].decode() for w in self.written]
