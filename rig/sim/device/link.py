"""The unit's UART receiver: bytes in, complete lines (or framing errors) out.

Rules (``service-port.md``, with the choices made where it is silent):

* ``$`` always starts a new frame; anything unterminated before it is dropped
  silently (it cannot be part of a valid frame, and this is what lets the unit
  recover from line noise without answering it).
* A line ended by ``\\n`` is a frame attempt: it is decoded, and a bad one is
  answered with ``ERR E1 framing``. An empty line (a stray CR LF) is ignored.
* Input that does not end within the buffer's size is a framing error once its
  line ends; nothing beyond the buffer is stored.
* Partial input is discarded after 500 ms of silence (virtual time), evaluated
  when the next byte arrives, which is when it matters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rig.shared.service_frame import MAX_PAYLOAD, Frame, FrameError, decode_frame

SILENCE_DISCARD_US = 500_000
_BUFFER_LIMIT = MAX_PAYLOAD + 8  # '$' + payload + '*' + 4 CRC digits + CR LF


@dataclass(frozen=True, slots=True)
class FramingError:
    reason: str


Received = Frame | FramingError


class UartReceiver:
    """Accumulates bytes from one link and hands each complete frame to ``on_frame``."""

    def __init__(self, on_frame: Callable[[Received], None]) -> None:
        self._on_frame = on_frame
        self._buf = bytearray()
        self._overflow = False
        self._last_rx_us: int | None = None

    def reset(self) -> None:
        self._buf.clear()
        self._overflow = False
        self._last_rx_us = None

    def feed(self, data: bytes, t_us: int) -> None:
        if (
            self._last_rx_us is not None
            and (self._buf or self._overflow)
            and t_us - self._last_rx_us > SILENCE_DISCARD_US
        ):
            self._buf.clear()
            self._overflow = False
        self._last_rx_us = t_us
        start = 0
        n = len(data)
        while start < n:
            search_from = start
            if data[start] == 0x24:  # '$' always starts a new frame
                self._buf.clear()
                self._overflow = False
                search_from = start + 1
            nl = data.find(b"\n", search_from)
            dollar = data.find(b"$", search_from)
            if dollar != -1 and (nl == -1 or dollar < nl):
                self._append(data[start:dollar])
                start = dollar
                continue
            end = nl + 1 if nl != -1 else n
            self._append(data[start:end])
            start = end
            if nl != -1:
                self._complete()

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            return
        if len(self._buf) + len(chunk) > _BUFFER_LIMIT:
            self._overflow = True
            self._buf.clear()
            return
        self._buf.extend(chunk)

    def _complete(self) -> None:
        line = bytes(self._buf)
        overflow = self._overflow
        self._buf.clear()
        self._overflow = False
        if overflow:
            self._on_frame(FramingError("frame longer than the receive buffer"))
            return
        if line in (b"\n", b"\r\n"):
            return
        try:
            self._on_frame(decode_frame(line))
        except FrameError as exc:
            self._on_frame(FramingError(str(exc)))
