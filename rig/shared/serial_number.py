"""The unit's serial number: one rule for the label, the profile and the service port.

The serial scanned from a unit's label names its run directory, its certificate and
the MES record, and must equal what the unit answers to ``ID?``, a field of an ASCII
frame separated by commas. A label the station cannot carry all that way is refused
before anything is energized: an empty scan once gave a PASS for serial ``""`` (the
simulated bench put its default unit on the bench), and a non-ASCII one left the
simulated unit unable to frame its identity reply.
"""

from __future__ import annotations

import re

SERIAL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")
SERIAL_RULE = (
    "1 to 32 characters: letters, digits, '.', '_', '/' or '-', starting with a letter or digit"
)


def serial_problem(text: str) -> str | None:
    """Why ``text`` is not a serial number (None when it is one)."""
    if SERIAL_PATTERN.fullmatch(text):
        return None
    return f"{text!r} is not a serial number ({SERIAL_RULE})"
