"""Validators for declarative instrument properties.

A value is checked on the host, before anything is written, so that a typo in a
test plan (25.8 V instead of 24.8 V) is an immediate, explicit ``ValueError``
instead of an instrument error-queue entry found later, or worse, a setting the
instrument clamps silently. Each validator returns the value to send and raises
``ValueError`` whose message says what is allowed; the property adds its own name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol


class Validator(Protocol):
    def __call__(self, value: Any) -> Any:
        """Return the value to send, or raise ``ValueError`` saying what is allowed."""
        ...


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class InRange:
    """A finite real number in ``[lo, hi]`` (bools are refused: ``True`` is not 1 V)."""

    lo: float
    hi: float

    def __call__(self, value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise ValueError(
                f"{value!r} is outside the allowed range {_fmt(self.lo)} to {_fmt(self.hi)}"
            )
        return value


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (compared with ``==``; strings case-sensitively)."""

    values: tuple[Any, ...]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.values:
            allowed = ", ".join(repr(v) for v in self.values)
            raise ValueError(f"{value!r} is not one of the allowed values {allowed}")
        return value


@dataclass(frozen=True)
class OnOff:
    """A switch: only ``True``/``False``.

    The words sent depend on the instrument (``ON``/``OFF`` for SCPI, ``1``/``0``
    for the Arroyo): the validator keeps the bool and the driver's
    :attr:`~rig.instruments.base.Instrument.BOOL_WORDS` formats it.
    """

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not allowed: use True or False")
        return value


def in_range(lo: float, hi: float) -> InRange:
    if not lo <= hi:
        raise ValueError(f"empty range {lo}..{hi}")
    return InRange(float(lo), float(hi))


def one_of(*values: Any) -> OneOf:
    return OneOf(tuple(values))


on_off = OnOff()
