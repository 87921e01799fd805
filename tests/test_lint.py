"""The code base stays ruff-clean (lint is part of the test run, so CI enforces it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    exe = str(ruff) if ruff.exists() else shutil.which("ruff")
    assert exe, "ruff is part of the [test] extra"
    proc = subprocess.run([exe, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_time_sleep_in_rig_code() -> None:
    """One clock for everything: rig code never sleeps on the wall clock directly."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "rig").rglob("*.py")
        if "time.sleep(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
