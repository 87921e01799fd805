"""Render a run's documents in worker processes made ready while the plan runs.

A station's one-command run ends with two documents: the EOL report (pandas, matplotlib,
Jinja2) and, when the unit was calibrated, its certificate (matplotlib, Jinja2,
WeasyPrint). Done one after the other in the station's process they cost some 6 s after
the last measurement, half of it imports and font set-up. Yet while the plan runs one
core is idle: the rig and the simulated bench take turns in lockstep, one waits while the
other works. So:

* ``Publisher`` starts one worker process per document when the run starts. Each imports
  its libraries and draws once (fonts, Pango, the certificate's cut faces on disk) at low
  priority, on the core the plan leaves idle;
* when the plan has ended, both documents are made at once, one per worker, and the
  station's process only waits for them;
* a run without a report (``cryorig calibrate``) leaves the second core to the
  certificate: its worker starts the certificate's annex worker, and the certificate's
  back (section 9 to the end, with the budgets' annex) is laid out there while the
  front is (``reports.certificate.render_certificate_pdf``).

Workers are spawned processes, not forks: the station's process holds instrument
sessions, sockets and threads that a forked copy must not share. A worker only reads the
run directory, the way ``cryorig certificate RUN_DIR`` and ``python -m reports RUN_DIR``
do, so what it makes is what those commands make for the same run. If a worker cannot be
started or dies, the document is made in this process instead: slower, the same result.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

WORKER_NICE = 10
"""How much a worker yields while it warms up: the simulated bench and the rig come first."""


@dataclass(frozen=True)
class CertificateResult:
    """What came of a certificate: issued (``paths``), refused (``refused``: the reason),
    or nothing to issue (neither: the run did not calibrate)."""

    paths: dict[str, str] | None = None
    refused: str | None = None


# --- the jobs (run in a worker, or inline) ------------------------------------------------------
def issue(run_dir: str, signing_key: str | None) -> CertificateResult:
    """Issue the certificate of ``run_dir`` if it calibrated the unit."""
    run = Path(run_dir)
    if not (run / "calibration.json").exists():
        return CertificateResult()
    from reports.certificate import CertificateRefused, issue_certificate

    try:
        paths = issue_certificate(run, signing_key=Path(signing_key) if signing_key else None)
    except CertificateRefused as exc:
        return CertificateResult(refused=str(exc))
    return CertificateResult(
        paths={
            "id": paths.certificate_id,
            "pdf": str(paths.pdf),
            "html": str(paths.html),
            "manifest": str(paths.manifest),
        }
    )


def prerender(run_dir: str) -> int:
    """Draw the figures of the treatments that have ended so far (kept for the report)."""
    from reports.eol import prerender_figures

    return prerender_figures(Path(run_dir))


def report(run_dir: str) -> str:
    """Render the EOL report of ``run_dir``; its path."""
    from reports.eol import render_eol_report

    return str(render_eol_report(Path(run_dir)))


# --- warming up ----------------------------------------------------------------------------------
def _worker_start() -> None:
    """Yield to the plan while warming up; skip the interpreter's teardown at the end.

    A worker's teardown (freeing matplotlib's, WeasyPrint's and pandas' modules) takes a
    second the station would wait for. By the time the exit handlers run, the worker
    has nothing left to save: its results went back over the pipe (multiprocessing
    flushes it before the interpreter exits) and its files were fsynced before the job
    returned. So a handler registered before the libraries' own (handlers run last
    registered first) ends the process once theirs have run.
    """
    import atexit

    from .shared.parent_watch import exit_with_parent

    atexit.register(os._exit, 0)
    exit_with_parent()  # a killed station process leaves no worker behind
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICE)


def _warm(module: str) -> None:
    """Worker start: then ``module.warm_up()`` (its imports, one small drawing)."""
    _worker_start()
    with contextlib.suppress(Exception):  # the job itself says what is wrong, if anything
        importlib.import_module(module).warm_up()


def _warm_certificate(annex_worker: bool) -> None:
    """The certificate worker's start: warm up, and where the report has no worker of its
    own (``cryorig calibrate``) start the certificate's annex worker too, so the back is
    laid out on the second core while the front is (reports.certificate says how)."""
    _warm("reports.certificate")
    if annex_worker:
        with contextlib.suppress(Exception):  # then the certificate is made in one piece
            importlib.import_module("reports.certificate").start_annex_worker()


def _ready() -> bool:
    return True


class _Worker:
    """One spawned process with one job to do; inline when it cannot do it (or when made
    without an ``initializer``: no process at all)."""

    def __init__(self, initializer: Callable[[], None] | None) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._job: Future[Any] | None = None
        self._call: tuple[Callable[..., Any], tuple[Any, ...]] | None = None
        if initializer is None:
            return
        try:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=initializer,
            )
            self._pool.submit(_ready)  # start the process now, not at the first job
        except (OSError, RuntimeError):
            self._pool = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._call = (fn, args)
        if self._pool is not None:
            try:
                self._job = self._pool.submit(fn, *args)
            except RuntimeError:  # the pool is broken (its worker was killed)
                self._job = None

    @property
    def submitted(self) -> bool:
        return self._call is not None

    def result(self) -> Any:
        assert self._call is not None, "nothing was submitted"
        if self._job is not None:
            try:
                return self._job.result()
            except BrokenProcessPool:  # the worker died: do it here instead
                pass
        fn, args = self._call
        return fn(*args)

    def done_result(self) -> Any:
        """The job's result if it has finished without an exception, else None (never
        waits, never does the job here)."""
        job = self._job
        if job is None or not job.done() or job.cancelled() or job.exception() is not None:
            return None
        return job.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Publisher:
    """The run's document workers; use as a context manager around the run.

    ``submit_*`` hand the finished run to a worker and return at once; ``*_result`` wait.
    """

    def __init__(self, *, certificate: bool = True, report: bool = True) -> None:
        self._want = (certificate, report)
        self._certificate: _Worker | None = None
        self._report: _Worker | None = None
        self._drawing: Future[int] | None = None

    def __enter__(self) -> Publisher:
        if self._want[0]:
            self._certificate = _Worker(functools.partial(_warm_certificate, not self._want[1]))
        if self._want[1]:
            self._report = _Worker(functools.partial(_warm, "reports.eol"))
        return self

    def submit_certificate(self, run_dir: str, signing_key: Path | None) -> None:
        if self._certificate is None:  # made without its worker: inline
            self._certificate = _Worker(None)
        self._certificate.submit(issue, run_dir, str(signing_key) if signing_key else None)

    def certificate_result(self) -> CertificateResult:
        if self._certificate is None or not self._certificate.submitted:
            return CertificateResult()
        result: CertificateResult = self._certificate.result()
        return result

    def certificate_if_done(self) -> CertificateResult | None:
        """The certificate's result if its worker finished it (after an interrupt)."""
        worker = self._certificate
        return None if worker is None else worker.done_result()

    def report_if_done(self) -> str | None:
        """The report's path if its worker finished it (after an interrupt)."""
        worker = self._report
        return None if worker is None else worker.done_result()

    def prerender(self, run_dir: str) -> None:
        """While the plan runs, after a test: let the report worker draw what has ended.

        Skipped while the worker is still busy with the previous one (the next call
        catches up) and when there is no worker; a failure only costs the head start."""
        worker = self._report
        if worker is None or worker._pool is None:
            return
        if self._drawing is not None and not self._drawing.done():
            return
        try:
            self._drawing = worker._pool.submit(prerender, run_dir)
        except RuntimeError:  # the worker is gone: the report will be made inline
            self._drawing = None

    def submit_report(self, run_dir: str) -> None:
        if self._report is None:  # made without its worker: inline
            self._report = _Worker(None)
        self._report.submit(report, run_dir)

    def report_result(self) -> str | None:
        if self._report is None or not self._report.submitted:
            return None
        path: str = self._report.result()
        return path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for worker in (self._certificate, self._report):
            if worker is not None:
                worker.close()
