"""How long a calibration certificate takes to issue, next to a baseline from the same run.

Run: ``.venv/bin/python benchmarks/bench_certificate.py [RUN_DIR ...]``.

Without a run directory, a realistic record is built (the test suite's: six points as
found and as left, budgets of nine and ten components, the fit, the memory check and
three references) in a temporary run directory. For each record: the first issue in
this process (WeasyPrint's and matplotlib's imports and font caches, what a station pays
once), then the median of warm issues, each into a fresh output directory (a given
directory is never written twice: certificates are immutable), split into the figure,
the template, the PDF (layout and writing) and the rest (hashes, manifest, publishing).

Baseline: a minimal one-page WeasyPrint document (a heading and a sentence), rendered to
PDF in the same process, alternating with the warm issues (each issue is paired with the
baseline render just before it). The ratio says what the certificate costs in units of "the
least WeasyPrint can do" on this machine at this moment, which stays comparable when
the machine is busy; the absolute target is a warm issue within 1 s.

Warm issues are made as a station makes them when it has a core to spare (``cryorig
calibrate``'s certificate worker): with the annex worker started and warm, so that the
certificate's back (section 9 to the end, with the budgets of Annex A) is laid out in a
second process while this one draws the figure and lays out the front.
The same issue made in one process is timed alongside, alternating, for comparison.

The numbers are printed, not asserted: wall time depends on the machine and on what
else runs on it, so a bound in a test would fail for reasons that are not bugs.
"""

from __future__ import annotations

import datetime as dt
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARM_RUNS = 7
TARGET_S = 1.0
BASELINE_HTML = "<html><body><h1>Baseline</h1><p>One sentence on one page.</p></body></html>"


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _synthetic_run(base: Path) -> Path:
    from tests.reports.test_certificate import make_run

    return make_run(base / "synthetic-run")


def _issue_date(run_dir: Path) -> dt.date:
    """Issue on the calibration's last day, so an old record issues like a fresh one."""
    from reports.certificate import calibration_dates, read_record

    record, _ = read_record(run_dir)
    return calibration_dates(record)[1]


def baseline_once() -> float:
    """Seconds of a minimal one-page PDF."""
    from reports.certificate import render_pdf

    return _seconds(lambda: render_pdf(BASELINE_HTML))[0]


def _parts(run_dir: Path, issued: dt.date) -> dict[str, float]:
    """The stages of an issue timed on their own, from a ready record."""
    import reports.certificate as cert

    record, _ = cert.read_record(run_dir)
    figure_s, figure = _seconds(lambda: cert._figure(record))
    context = cert.certificate_context(record, cert_id="BENCH", issued=issued, figure=figure)
    template_s, html = _seconds(lambda: cert.render_html(context))
    pdf_s, _ = _seconds(lambda: cert.render_pdf(html))
    return {"figure": figure_s, "template": template_s, "pdf": pdf_s}


def bench_run(run_dir: Path, scratch: Path) -> None:
    """Issue into ``scratch``, never into the run's own ``certificate/``: a benchmark must
    not add certificates to evidence."""
    import reports.certificate as cert

    issued = _issue_date(run_dir)
    outs = iter(scratch / f"out-{i}" for i in range(2 * WARM_RUNS + 2))

    def issue() -> Any:
        return cert.issue_certificate(run_dir, issued=issued, out_dir=next(outs))

    def issue_in_one_process() -> Any:
        with cert.in_one_process():
            return issue()

    first, paths = _seconds(issue)
    baseline_once()  # its own warm-up
    worker = cert.start_annex_worker()
    if worker is not None:
        worker.ready.result()
        issue()  # the worker's first real annex (its own font caches)
    # What the station's certificate worker does before its first issue (rig/publish.py):
    # imports and caches warm, then the heap that will live as long as the process frozen.
    cert.warm_up()
    # Baseline and certificate alternate, so each ratio compares the two at the same
    # moment: a machine that slows down for a while slows both.
    bases: list[float] = []
    warm: list[float] = []
    single: list[float] = []
    collected: list[float] = []
    for _ in range(WARM_RUNS):
        bases.append(baseline_once())
        # The cyclic collection an issue defers until its certificate is out, made at once
        # and timed (before anything else allocates and sets it off), so that it is
        # reported and falls into no timed issue.
        t0 = time.perf_counter()
        issue()
        t1 = time.perf_counter()
        gc.collect()
        t2 = time.perf_counter()
        warm.append(t1 - t0)
        collected.append(t2 - t1)
        single.append(_seconds(issue_in_one_process)[0])
        gc.collect()
    cert.stop_annex_worker()
    base_s = statistics.median(bases)
    ratio = statistics.median(w / b for w, b in zip(warm, bases, strict=True))
    parts = [_parts(run_dir, issued) for _ in range(3)]
    median = statistics.median(warm)
    part = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
    rest = max(0.0, statistics.median(single) - sum(part.values()))
    size_kb = paths.pdf.stat().st_size / 1e3
    print(f"certificate  {run_dir.name}: {paths.pages} pages, PDF {size_kb:.0f} kB")
    print(f"  first       {first:6.3f} s  (first issue in this process: imports, font caches)")
    print(
        f"  warm        {median:6.3f} s  median of {WARM_RUNS} "
        f"(min {min(warm):.3f}, max {max(warm):.3f})"
    )
    how = "front and back laid out in parallel" if worker is not None else "one process"
    print(f"              ({how})")
    print(
        f"  after       {statistics.median(collected):6.3f} s  median: the garbage collection "
        "each issue defers until its certificate is published"
    )
    print(
        f"  one process {statistics.median(single):6.3f} s  median of {WARM_RUNS} "
        f"(min {min(single):.3f}): the same issue without the annex worker; its parts alone: "
        f"figure {part['figure']:.3f} s, template {part['template']:.3f} s, "
        f"PDF {part['pdf']:.3f} s, the rest (hashes, manifest, files) {rest:.3f} s"
    )
    print(f"  baseline    {base_s:6.3f} s  minimal one-page WeasyPrint PDF, same process, median")
    print(f"  ratio       {ratio:6.1f} x  the baseline (median of the paired ratios)")
    verdict = "within" if median <= TARGET_S else "ABOVE"
    print(f"  target      {TARGET_S:.1f} s: {verdict}")


def main(argv: list[str]) -> None:
    imports, _ = _seconds(lambda: __import__("reports.certificate"))
    print(f"import reports.certificate (jinja2, pydantic, record): {imports:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        runs = [Path(a) for a in argv] or [_synthetic_run(scratch)]
        for i, run_dir in enumerate(runs):
            out = scratch / f"bench-{i}"
            out.mkdir()
            bench_run(run_dir, out)
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
