"""Safe YAML loading through libyaml's C parser when PyYAML was built with it.

Every run reads its limits, protocols and unit profile again (they are versioned files:
an edit between two runs must count), and a fleet study does so for each of hundreds of
units. PyYAML's pure-Python parser takes some 0.3 s a run for these files; the C parser
a tenth of that. Only the parser differs: the safe constructor and resolver are the same
Python classes, so the same text gives the same values (YAML 1.1 booleans, ints, dates),
and a syntax error still carries its line and column (``problem_mark``).

A date that does not exist (``due: 2027-02-30``) is a YAML error too, with its line and
its text: PyYAML's timestamp constructor raises a bare ``ValueError`` ("day is out of
range for month") that no loader here catches, so a station file with one ended
``cryorig run`` in a traceback instead of an error naming the file, the line and the
value.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

_Fastest: type[yaml.constructor.SafeConstructor] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeLoader(_Fastest):  # type: ignore[misc,valid-type]
    """libyaml's safe loader, or PyYAML's own where it was built without libyaml (the two
    share only the safe constructor: ``CSafeLoader`` is not a ``SafeLoader`` subclass),
    with dates that do not exist refused as YAML errors."""


def _timestamp(loader: SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a date ({exc})", node.start_mark
        ) from None


SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def safe_load(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """``yaml.safe_load`` on the fastest safe loader available."""
    return yaml.load(stream, Loader=SafeLoader)
