"""How values read in a report: rounding, special floats, verdict classes, times.

Kept apart from the templates so the rules are testable and the same in every
report: a value is never shown with more digits than it carries (an uncertainty
fixes the last digit) and never with fewer than a limit needs to be compared.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import jinja2

__all__ = [
    "SIGNIFICANT",
    "format_duration",
    "format_number",
    "format_uncertainty",
    "format_value",
    "is_missing",
    "verdict_class",
]

SIGNIFICANT = 4
"""Digits shown of a value without an uncertainty: more than any limit of the plan has."""
_SPECIAL = {"inf": "∞", "+inf": "∞", "-inf": "−∞", "infinity": "∞", "-infinity": "−∞", "nan": "NaN"}
_VERDICTS = {"PASS", "FAIL", "ERROR", "INCOMPLETE", "NOT_RUN", "RUNNING"}


def is_missing(value: Any) -> bool:
    """None, NaN (pandas' missing cell) or an empty string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _decimals_for(uncertainty: float) -> int:
    """Decimals that show an uncertainty with two significant digits."""
    return max(0, 1 - math.floor(math.log10(abs(uncertainty))))


def format_number(value: float, uncertainty: float | None = None) -> str:
    """A float for a table: to the uncertainty's last digit when one is given, else to
    :data:`SIGNIFICANT` significant digits, in plain notation where that is readable."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    if uncertainty is not None and math.isfinite(uncertainty) and uncertainty > 0:
        return f"{value:.{_decimals_for(uncertainty)}f}"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 6 or magnitude < -3:
        return f"{value:.{SIGNIFICANT - 1}e}"
    return f"{value:.{max(0, SIGNIFICANT - 1 - magnitude)}f}"


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        return _as_float(value.item())
    return None


def format_value(value: Any, uncertainty: Any = None) -> str:
    """A measured value of any recorded type (float, bool, text; the recorder writes
    non-finite floats as the text ``inf``/``nan``)."""
    if is_missing(value) and not isinstance(value, float):
        return "—"
    number = _as_float(value)
    if number is not None:
        u = _as_float(uncertainty)
        return format_number(number, u)
    if isinstance(value, str) and value.strip().lower() in _SPECIAL:
        return _SPECIAL[value.strip().lower()]
    return str(value)


def format_uncertainty(uncertainty: Any, unit: str = "", k: Any = None) -> str:
    """``± U unit (k = 2)`` with two significant digits, or empty when none was given."""
    u = _as_float(uncertainty)
    if u is None or not math.isfinite(u) or u <= 0:
        return ""
    text = f"± {u:.{_decimals_for(u)}f}"
    kf = _as_float(k)
    suffix = f" (k = {kf:.3g})" if kf is not None and math.isfinite(kf) else ""
    return f"{text} {unit}".rstrip() + suffix


def verdict_class(verdict: Any) -> str:
    """CSS class of a verdict (``pass``, ``fail``, …); anything unknown is ``unknown``."""
    v = str(verdict).upper() if verdict is not None else ""
    return v.lower().replace("_", "-") if v in _VERDICTS else "unknown"


def parse_time(text: Any) -> dt.datetime | None:
    """An ISO time from run.json (``…Z``), None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_duration(seconds: float | None) -> str:
    """``1 h 02 min 05 s`` / ``4 min 12 s`` / ``4.6 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


@functools.cache
def environment(*, strict: bool) -> jinja2.Environment:
    """The Jinja2 environment of the reports' templates, one per process and mode.

    Templates are package data, loaded through the package so an installed rig finds
    them; autoescape is on because serials, names, reasons and notes come from outside.
    ``strict``: an undefined name is an error (a certificate must not print a blank
    where an item belongs); otherwise it renders empty (a report of a damaged run still
    renders). Cached, so a template is compiled once per process: a warmed-up worker's
    first report does not compile it again.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["verdict_class"] = verdict_class
    return env
