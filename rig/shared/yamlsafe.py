"""Safe YAML loading through libyaml's C parser when PyYAML was built with it.

Every run reads its limits, protocols and unit profile again (they are versioned files:
an edit between two runs must count), and a fleet study does so for each of hundreds of
units. PyYAML's pure-Python parser takes some 0.3 s a run for these files; the C parser
a tenth of that. Only the parser differs: the safe constructor and resolver are the same
Python classes, so the same text gives the same values (YAML 1.1 booleans, ints, dates),
and a syntax error still carries its line and column (``problem_mark``).
"""

from __future__ import annotations

from typing import IO, Any

import yaml

SafeLoader: type[yaml.constructor.SafeConstructor] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader, or PyYAML's own where it was built without libyaml. The two
share only the safe constructor (``CSafeLoader`` is not a ``SafeLoader`` subclass)."""


def safe_load(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """``yaml.safe_load`` on the fastest safe loader available."""
    return yaml.load(stream, Loader=SafeLoader)
