"""Framing of the device's service port, shared by the rig's driver and the simulated unit.

A frame is ``$<payload>*<CRC>\\r\\n`` (see ``shared/specs/service-port.md``). Both ends
of the link need exactly the same codec, so it lives here, in the one module the
simulator may import from the rest of the rig.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD = 200
"""Longest payload the unit accepts, in bytes."""

_CRC_TABLE: list[int] = []


def _build_table() -> None:
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        _CRC_TABLE.append(crc & 0xFFFF)


_build_table()


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR.

    The catalogue check value is ``crc16_ccitt_false(b"123456789") == 0x29B1``.
    """
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def is_payload_byte(byte: int) -> bool:
    """Printable ASCII except the two framing characters ``$`` and ``*``."""
    return 0x20 <= byte <= 0x7E and byte not in (0x24, 0x2A)


class FrameError(ValueError):
    """A line that is not a valid service-port frame; the message says why."""


def encode_frame(payload: str) -> bytes:
    """Wrap a payload into a complete frame, CRC and line ending included."""
    raw = payload.encode("ascii")
    for byte in raw:
        if not is_payload_byte(byte):
            raise FrameError(f"payload byte 0x{byte:02X} is not allowed in a frame")
    return b"$" + raw + b"*" + f"{crc16_ccitt_false(raw):04X}".encode() + b"\r\n"


@dataclass(frozen=True, slots=True)
class Frame:
    payload: str


def decode_frame(line: bytes, *, max_payload: int | None = MAX_PAYLOAD) -> Frame:
    """Check and unwrap one frame. ``line`` may or may not still carry ``\\r\\n``.

    Raises :class:`FrameError` naming the first thing wrong: start marker, CRC
    separator, payload characters or length, CRC digits, CRC value.
    """
    if line.endswith(b"\r\n"):
        line = line[:-2]
    elif line.endswith(b"\n"):
        raise FrameError("line ends in LF without CR")
    if not line.startswith(b"$"):
        raise FrameError("frame does not start with '$'")
    star = line.rfind(b"*")
    if star < 0:
        raise FrameError("no '*' before the CRC")
    raw = line[1:star]
    crc_text = line[star + 1 :]
    if max_payload is not None and len(raw) > max_payload:
        raise FrameError(f"payload of {len(raw)} bytes exceeds {max_payload}")
    for byte in raw:
        if not is_payload_byte(byte):
            raise FrameError(f"payload byte 0x{byte:02X} is not allowed")
    if len(crc_text) != 4 or any(c not in b"0123456789ABCDEF" for c in crc_text):
        raise FrameError(f"CRC field {crc_text!r} is not four upper-case hex digits")
    expected = crc16_ccitt_false(raw)
    if int(crc_text, 16) != expected:
        raise FrameError(f"CRC {crc_text.decode()} does not match {expected:04X}")
    return Frame(raw.decode("ascii"))
