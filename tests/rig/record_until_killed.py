"""Helper process for the SIGKILL test: records blocks forever until it is killed.

Usage: ``python record_until_killed.py <output root>``. Prints the run directory,
then, after each block is appended (and fsynced), the number of blocks appended so
far. The parent kills it with SIGKILL and checks that everything printed is on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROWS_PER_BLOCK = 40
COLUMNS = ("t", "ch101", "ch110", "state")
MAX_BLOCKS = 200_000  # a bound in case the parent never kills us


def block_rows(k: int) -> list[tuple[float, float, float, str]]:
    """Block ``k``'s rows: floats that need all 17 digits, to check exact round trips."""
    rows = []
    for i in range(ROWS_PER_BLOCK):
        n = k * ROWS_PER_BLOCK + i
        rows.append((n * 0.002, 33.0 - n / 3.0, (n % 7) * 0.1 + 1e-9, "OPEN" if n % 2 else "SHUT"))
    return rows


def main(root: str) -> None:
    from rig.recording import RunMetadata, RunRecorder

    rec = RunRecorder.create(RunMetadata(unit_serial="SIM-KILL-01", seed=7), Path(root))
    stream = rec.stream("logger", COLUMNS)
    print(rec.dir, flush=True)
    for k in range(MAX_BLOCKS):
        stream.append(block_rows(k))
        rec.measurement(
            {
                "name": f"block-{k}",
                "req": "REQ-COOL-01",
                "value": k * 0.5,
                "unit": "s",
                "low": None,
                "high": 30.0,
                "verdict": "PASS",
                "test": "tests/helper::block",
                "t": k * 0.08,
            }
        )
        rec.trace({"event": "block", "k": k})
        print(k + 1, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
