"""``python -m reports eol RUN_DIR [--out FILE]``, ``python -m reports fleet JSON --out FILE``.

A command line so a report can be (re)made for any run directory after the fact,
e.g. for a run that was killed before the station could render it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from .eol import render_eol_report, render_fleet_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    eol = sub.add_parser("eol", help="render a run's end-of-line report")
    eol.add_argument("run_dir", type=Path)
    eol.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/report.html")
    fleet = sub.add_parser("fleet", help="render a fleet study from its JSON summary")
    fleet.add_argument("summary", type=Path)
    fleet.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Render the requested report and print where it went."""
    args = _parser().parse_args(argv)
    if args.command == "eol":
        path = render_eol_report(args.run_dir, out=args.out)
    else:
        summary = json.loads(args.summary.read_text(encoding="utf-8"))
        path = render_fleet_report(summary, args.out)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
