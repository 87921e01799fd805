"""What the socket server sees of an emulated instrument: lines in, response lines out.

Every emulator (SCPI or not) is driven one input line at a time. Most replies are
known at once; a reply that depends on virtual time that has not passed yet (a
``FETCh?`` before the last sweep) is a :class:`Wait` that the instrument finishes
later from inside a scheduler event, so that in lockstep a reply appears exactly
when ``ADVANCE`` moves time past the moment it falls due, never earlier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Wait:
    """A reply (or a piece of work) that falls due later in virtual time.

    The server only uses :attr:`done` and :meth:`add_done_callback`; instruments
    also use :attr:`result` to pass the text of a deferred query reply between their
    own layers. Finishing twice is a no-op, so an abort racing the normal end
    cannot answer a query twice.
    """

    __slots__ = ("_callbacks", "done", "result")

    def __init__(self) -> None:
        self.done = False
        self.result: str | None = None
        self._callbacks: list[Callable[[], None]] = []

    def add_done_callback(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the wait is done (at once if it already is)."""
        if self.done:
            fn()
        else:
            self._callbacks.append(fn)

    def finish(self, result: str | None = None) -> None:
        """Mark done with an optional reply text and run the callbacks in order."""
        if self.done:
            return
        self.done = True
        self.result = result
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn()


def finished(result: str | None = None) -> Wait:
    """A :class:`Wait` that is already done (handy where a reply may or may not wait)."""
    wait = Wait()
    wait.finish(result)
    return wait


def then(wait: Wait, fn: Callable[[str | None], str | None]) -> Wait:
    """A new :class:`Wait` finished with ``fn(wait.result)`` once ``wait`` is done.

    ``fn`` runs at the virtual time ``wait`` finishes, so it sees the state then.
    """
    out = Wait()
    wait.add_done_callback(lambda: out.finish(fn(wait.result)))
    return out


class LineInstrument(Protocol):
    """The interface the socket server drives (one instance per emulated instrument)."""

    input_terminators: bytes
    """Bytes that end an input line (a CR LF pair ends only one line)."""

    output_terminator: bytes
    """Appended by the server to every response message."""

    def execute(self, line: str, respond: Callable[[str], None]) -> Wait | None:
        """Handle one input line (without terminator); call ``respond`` per response
        message, in order. Returns a :class:`Wait` when the line's reply falls due
        later in virtual time: the server feeds no further lines of that connection
        until it is done."""
        ...


class LineSplitter:
    """Cuts a byte stream into input lines by an instrument's ``input_terminators``.

    A helper for the socket server. When both CR and LF terminate lines (the TEC
    controller), a CR LF pair ends only one line, even when the pair is split
    across two reads. Bytes decode as latin-1, so any input yields text.
    """

    def __init__(self, terminators: bytes) -> None:
        self._terminators = frozenset(terminators)
        self._crlf_pair = {0x0D, 0x0A} <= self._terminators
        self._buffer = bytearray()
        self._after_cr = False

    def feed(self, data: bytes) -> list[str]:
        """Add received bytes; return the lines completed by them, in order."""
        lines: list[str] = []
        for byte in data:
            if byte not in self._terminators:
                self._buffer.append(byte)
                self._after_cr = False
            elif byte == 0x0A and self._after_cr and self._crlf_pair:
                self._after_cr = False  # the LF of a CR LF pair: the line already ended
            else:
                lines.append(self._buffer.decode("latin-1"))
                self._buffer.clear()
                self._after_cr = byte == 0x0D
        return lines

    @property
    def pending(self) -> int:
        """Bytes received of a line not yet terminated (the server may cap this)."""
        return len(self._buffer)
