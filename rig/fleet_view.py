"""The fleet study on the terminal (Rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .fleet import CPK_CAPABLE, cpk_text


def _f(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "—"
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_line(
    serial: str, verdict: str, done: int, total: int, elapsed_s: float, name: str = "nominal"
) -> str:
    """One finished unit, for a log (no terminal, so no progress bar): a study runs for
    half an hour, and its log should show it is alive, which units failed as they come,
    and when it will end (the time left at the mean rate so far)."""
    eta = _clock(elapsed_s / done * (total - done)) if done else "—"
    unit = serial if name == "nominal" else f"{serial} ({name})"
    return (
        f"[{done:>{len(str(total))}}/{total}] {unit} {verdict}  "
        f"{_clock(elapsed_s)} elapsed, about {eta} left"
    )


def print_summary(console: Console, s: dict[str, Any]) -> None:
    # Cells fold rather than end in "…": a log is 80 columns wide, and a measurement cut
    # to "shock.t…" could be any of three.
    t = Table(title="defect detection")
    for col in ("profile", "breaks", "verdict", "caught by", "detected"):
        t.add_column(col, overflow="fold")
    for c in s["confusion"]:
        ok = c["detected"]
        t.add_row(
            c["profile"],
            ", ".join(c["breaks"]),
            c["verdict"],
            ", ".join(c["caught_by"]) or ", ".join(c["failed"]) or "—",
            Text("yes" if ok else c.get("outcome", "no"), style="green" if ok else "bold red"),
        )
    console.print(t)
    for c in s["confusion"]:
        if c.get("reason"):
            console.print(Text(f"{c['profile']} not judged: {c['reason']}", style="yellow"))
    n = s["nominal"]
    rate, upper = n["rate"], n.get("rate_upper95")
    bound = "" if upper is None else f", ≤ {100 * upper:.2f} % at 95 % confidence"
    console.print(
        f"nominal units: {n['units']}, false rejects: {n['false_rejects']} "
        f"({_f(100 * rate if rate is not None else None, '.2f')} %{bound}), errors: {n['errors']}"
    )
    cp = Table(title="capability (nominal units)")
    cp.add_column("measurement", overflow="fold")
    cp.add_column("REQ", no_wrap=True)
    for col in ("n", "mean", "sd"):
        cp.add_column(col, justify="right", no_wrap=True)
    cp.add_column("limits", overflow="fold")
    for col in ("Cpk", "≥95%"):
        cp.add_column(col, justify="right", no_wrap=True)
    for c in s["cpk"]:
        lim = f"{_f(c['low'])} … {_f(c['high'])} {c['unit']}"
        cpk = c["cpk"]
        style = "green" if cpk is not None and cpk >= CPK_CAPABLE else "yellow"
        cp.add_row(
            c["name"],
            c["req"],
            str(c["n"]),
            _f(c["mean"], ".4g"),
            _f(c["sd"], ".3g"),
            lim,
            Text(cpk_text(cpk), style=style),
            cpk_text(c.get("cpk_lower95")),
        )
    console.print(cp)
    for c in s["cpk"]:
        if c.get("cpk_note"):
            console.print(Text(f"{c['name']}: {c['cpk_note']}", style="yellow"))
    cy = s["cycle"]
    ct = Table(title="EOL cycle time (virtual)")
    ct.add_column("step", overflow="fold")
    ct.add_column("mean s", justify="right")
    for st in cy["steps"]:
        ct.add_row(st["test"], _f(st["mean_s"], ".0f"))
    console.print(ct)
    console.print(
        f"cycle: mean {_f(cy['mean_s'], '.0f')} s, p95 {_f(cy['p95_s'], '.0f')} s; "
        f"fixed-wait plan {_f(cy['fixed_wait_s'], '.0f')} s; ratio {_f(cy['ratio'], '.2f')}; "
        f"{_f(cy['units_per_hour'], '.1f')} units/h"
    )
    console.print(
        f"wall time {s['wall_s']:.0f} s on {s['workers']} workers; "
        f"defects not detected: {s['escapes']}{_outcomes(s)}"
    )


def _outcomes(s: dict[str, Any]) -> str:
    missed = {k: v for k, v in s.get("outcomes", {}).items() if k != "detected"}
    return f" ({', '.join(f'{k}: {v}' for k, v in sorted(missed.items()))})" if missed else ""
