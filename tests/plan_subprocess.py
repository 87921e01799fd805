"""How the tests run a test plan in a pytest subprocess (the way a station runs it)."""

from __future__ import annotations

FAST = [
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",  # its plugin alone costs a second per run here
    "--assert=plain",  # rewriting recompiles the whole rig per run (no bytecode cache here)
]
"""Arguments that keep a plan subprocess lean; none changes what the plan does."""
