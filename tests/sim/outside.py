"""Independent client helpers for tests written as an outside client of the bench.

They deliberately do not use the rig's own code (its drivers or the shared frame
codec): the bench is checked against ``shared/specs`` as written.
"""

from __future__ import annotations


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, bit by bit, straight from its definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def frame(payload: str) -> bytes:
    raw = payload.encode()
    return b"$" + raw + b"*" + f"{crc16(raw):04X}".encode() + b"\r\n"


def addr(resource: str) -> tuple[str, int]:
    """Host and port of a ``TCPIP0::host::port::SOCKET`` or ``socket://host:port`` string."""
    if resource.startswith("TCPIP0::"):
        _, host, port, _ = resource.split("::")
        return host, int(port)
    host, port = resource.removeprefix("socket://").rsplit(":", 1)
    return host, int(port)
