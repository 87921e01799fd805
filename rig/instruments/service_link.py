"""Transactions on the unit's service port: framing, sequence numbers, retries, timing.

The rules (``shared/specs/service-port.md``, ``docs/sim.md``):

* every command is one frame (:func:`rig.shared.service_frame.encode_frame`) and
  gets exactly one reply frame; replies are decoded without the 200-byte limit,
  which is the unit's *receive* buffer (twenty ``LOG?`` rows exceed it);
* a command that changes state (SHOCK, HOLD, STOP, ACK, SERVICE, SVC, CAL,
  REBOOT) carries ``#<n>`` from a per-link counter (0–65535, wrapping); a retry
  reuses the same ``n``, so the unit answers it from its cache instead of
  executing the command twice;
* at most two retries, on a framing error (a reply with a bad CRC or bad
  framing, or the unit's ``ERR E1``) or on no complete answer within 250 ms of
  rig clock time; ``ERR <code> <text>`` otherwise is the unit's decision and is
  raised at once (:class:`UnitCommandError`), never retried;
* waiting is on the rig's clock: read what has arrived (a short wall-clock
  read), and while the reply is incomplete ``clock.sleep(0.01)`` until the
  deadline. In lockstep that sleep is what moves virtual time, so a reply that
  falls due later (``SELFTEST``) arrives. With a virtual clock the first read
  waits up to 5 ms of wall time; if the answer is not complete by then (a busy
  machine, or a unit that is silent) the link sends :meth:`Clock.barrier`, which
  has the bench serve the frame before any time moves, and reads again. Either
  way no virtual time has passed, so the unit answers at the instant it was asked
  however slowly the bench is scheduled. After each ``ADVANCE`` whatever fell due
  is already in the receive buffer, so later polls only look at what is there.

Before each frame the receive buffer is flushed, so a late reply to an earlier
attempt cannot be taken for the answer to this one.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Protocol

from rig.clock import Clock
from rig.shared.service_frame import FrameError, decode_frame, encode_frame

from .errors import InstrumentError, UnitCommandError, UnitProtocolError, UnitTimeout

try:
    import termios

    PORT_ERRORS: tuple[type[Exception], ...] = (OSError, termios.error)
    """What a failing port raises: pyserial's SerialException is an OSError, but on a
    posix port a flush or a timeout change calls termios, whose error is not one (a pty
    whose other end has gone answers ``termios.error: (5, 'Input/output error')``)."""
except ImportError:  # not posix: pyserial raises SerialException only
    PORT_ERRORS = (OSError,)

SEQUENCED = frozenset({"SHOCK", "HOLD", "STOP", "ACK", "SERVICE", "SVC", "CAL", "REBOOT"})
"""Command words that change state and so carry ``#<n>``."""

ANSWER_TIMEOUT_S = 0.25
MAX_RETRIES = 2
POLL_S = 0.01
READ_TIMEOUT_S = 0.02
PROMPT_READ_S = 0.005
"""Lockstep: how long the first read waits before the link asks the bench for a barrier."""
SEQ_MODULO = 65536


class SerialLike(Protocol):
    """The part of a pyserial port the link uses."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class UnitUnconfirmed(UnitTimeout):
    """A command that must not be resent blindly got no valid answer (see REBOOT)."""


def is_sequenced(command: str) -> bool:
    return command.split(" ", 1)[0] in SEQUENCED


class ServiceLink:
    """One host end of the service port: frames out, frames in, with the rules above."""

    def __init__(
        self,
        port: SerialLike,
        *,
        clock: Clock,
        role: str = "unit",
        resource: str = "",
        first_seq: int | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.clock = clock
        self.role = role
        self.resource = resource
        # A fresh session must not start with the number the unit last saw from a
        # previous one (it compares by number only and would answer from its
        # cache without executing), so by default the counter starts at random.
        self._seq = secrets.randbelow(SEQ_MODULO) if first_seq is None else first_seq % SEQ_MODULO
        self.read_timeout_s = read_timeout_s
        self.port.timeout = read_timeout_s
        self.stats: dict[str, int] = {"frames": 0, "retries": 0, "framing_errors": 0, "timeouts": 0}

    # --- sequence numbers -----------------------------------------------------------------------
    def next_seq(self) -> int:
        n = self._seq
        self._seq = (self._seq + 1) % SEQ_MODULO
        return n

    # --- transactions ---------------------------------------------------------------------------
    def transact(
        self,
        command: str,
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        retries: int = MAX_RETRIES,
        resend_unanswered: bool = True,
        count_timeouts: bool = True,
    ) -> str:
        """Send ``command`` (with ``#<n>`` if it changes state); return the fields after ``OK``.

        ``resend_unanswered=False`` is for a command whose execution cannot be
        told from its absence once the unit has reset (REBOOT: the cache is lost,
        a resend would reboot again): only ``ERR E1`` (the unit says it did not
        understand) is retried; silence or a garbled reply raises
        :class:`UnitUnconfirmed` for the caller to verify.
        """
        payload = f"{command} #{self.next_seq()}" if is_sequenced(command) else command
        frame = encode_frame(payload)
        problems: list[str] = []
        for attempt in range(retries + 1):
            if attempt:
                self.stats["retries"] += 1
            line = self._attempt(payload, frame, answer_timeout_s)
            if line is None:
                if count_timeouts:
                    self.stats["timeouts"] += 1
                problems.append(f"no answer within {answer_timeout_s:g} s")
                if not resend_unanswered:
                    raise self._unconfirmed(payload, problems)
                continue
            try:
                reply = decode_frame(line[line.rfind(b"$") :], max_payload=None).payload
            except FrameError as exc:
                self.stats["framing_errors"] += 1
                problems.append(f"bad reply frame {line!r}: {exc}")
                if not resend_unanswered:
                    raise self._unconfirmed(payload, problems) from None
                continue
            if reply.startswith("ERR E1"):
                self.stats["framing_errors"] += 1
                problems.append(f"unit reported {reply!r}")
                continue
            return self._result(payload, reply)
        raise UnitTimeout(
            f"{self.role} ({self.resource}): {payload!r}: no valid answer in "
            f"{retries + 1} attempts: " + _summary(problems),
            role=self.role,
            resource=self.resource,
            command=payload,
        )

    def _unconfirmed(self, payload: str, problems: list[str]) -> UnitUnconfirmed:
        return UnitUnconfirmed(
            f"{self.role} ({self.resource}): {payload!r}: not confirmed: " + _summary(problems),
            role=self.role,
            resource=self.resource,
            command=payload,
        )

    def _result(self, payload: str, reply: str) -> str:
        if reply == "OK":
            return ""
        if reply.startswith("OK "):
            return reply[3:]
        if reply.startswith("ERR "):
            code, _, text = reply[4:].partition(" ")
            raise UnitCommandError(code, text, payload, role=self.role)
        raise UnitProtocolError(payload, reply, "neither OK nor ERR", role=self.role)

    def _attempt(self, payload: str, frame: bytes, answer_timeout_s: float) -> bytes | None:
        """Send the frame once; the reply line, or None if none is complete by the deadline."""
        try:
            self.port.reset_input_buffer()
            self.port.write(frame)
        except PORT_ERRORS as exc:
            raise InstrumentError.about(self.role, self.resource, payload, _cause(exc)) from exc
        self.stats["frames"] += 1
        deadline = self.clock.now() + answer_timeout_s
        virtual = self.clock.virtual
        try:
            if virtual:
                # The bench usually answers within a fraction of a millisecond; if not
                # (busy, or the unit is silent), the barrier makes it serve the frame
                # at this instant before anything else, then its answer is read.
                # Either way the answer is the one of this virtual instant.
                buf = bytearray(self._read_chunk(PROMPT_READ_S))
                if not buf.endswith(b"\n"):
                    self.clock.barrier()
                    buf += self._read_chunk(self.read_timeout_s)
            else:
                buf = bytearray(self._read_chunk(self.read_timeout_s))
            while not buf.endswith(b"\n"):
                if self.clock.now() >= deadline - 1e-9:
                    return None
                # No tick hooks: acquisition must not start a transaction inside this one.
                self.clock.sleep(POLL_S, step_s=POLL_S, hooks=False)
                if not virtual or self.port.in_waiting:
                    buf += self._read_chunk(self.read_timeout_s)
        except PORT_ERRORS as exc:
            raise InstrumentError.about(self.role, self.resource, payload, _cause(exc)) from exc
        return bytes(buf)

    def _read_chunk(self, first_byte_s: float) -> bytes:
        """Whatever has arrived up to the end of the line, waiting at most ``first_byte_s``
        of wall time for the first byte. Reading byte by byte (``read_until``) costs one
        select per byte on a ``socket://`` port; this costs two per reply. The port's
        timeout is only changed when it differs (on a posix port each change is a
        ``tcsetattr``)."""
        if self.port.timeout != first_byte_s:
            self.port.timeout = first_byte_s
        data = self.port.read(1)
        while data and not data.endswith(b"\n"):
            waiting = self.port.in_waiting
            if not waiting:
                break
            data += self.port.read(waiting)
        return data

    def close(self) -> None:
        with contextlib.suppress(*PORT_ERRORS):
            self.port.close()


def _cause(exc: Exception) -> str:
    """An OSError says its own cause; termios's error is a bare (errno, text) pair."""
    if isinstance(exc, OSError):
        return str(exc)
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int):
        return f"the port failed: {args[1]} (errno {args[0]})"
    return f"the port failed: {exc}"


def _summary(problems: list[str]) -> str:
    """The attempts' problems, a repeated one said once with its count (three identical
    "no answer within 0.25 s" tell less than "no answer within 0.25 s (3 times)")."""
    counted: dict[str, int] = {}
    for problem in problems:
        counted[problem] = counted.get(problem, 0) + 1
    return "; ".join(p if n == 1 else f"{p} ({n} times)" for p, n in counted.items())
