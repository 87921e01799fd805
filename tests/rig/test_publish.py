"""The run's documents made in worker processes: the same documents, or made inline."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from rig.publish import CertificateResult, Publisher, issue
from tests.reports.test_certificate import build_record, make_run, references


def _worker_pids(publisher: Publisher) -> list[int]:
    worker = publisher._certificate
    assert worker is not None and worker._pool is not None
    assert worker._pool.submit(os.getpid).result(timeout=60) > 0  # started and answering
    return list(worker._pool._processes)


def test_the_worker_issues_the_certificate_a_command_line_would(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with Publisher(report=False) as publisher:
        publisher.submit_certificate(str(run), None)
        result = publisher.certificate_result()
    assert result.refused is None and result.paths is not None
    pdf = Path(result.paths["pdf"])
    assert pdf.parent == run / "certificate" and pdf.read_bytes().startswith(b"%PDF-")
    assert Path(result.paths["manifest"]).is_file() and Path(result.paths["html"]).is_file()


def test_a_killed_worker_costs_speed_not_the_certificate(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with Publisher(report=False) as publisher:
        for pid in _worker_pids(publisher):
            os.kill(pid, signal.SIGKILL)
        publisher.submit_certificate(str(run), None)
        result = publisher.certificate_result()
    assert result.paths is not None and Path(result.paths["pdf"]).is_file()


def test_nothing_to_issue_for_a_run_that_did_not_calibrate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    assert issue(str(run), None) == CertificateResult()
    with Publisher(certificate=False, report=False) as publisher:
        assert publisher.certificate_result() == CertificateResult()  # nothing submitted
        publisher.submit_certificate(str(run), None)  # no worker: inline
        assert publisher.certificate_result() == CertificateResult()
        assert publisher.report_result() is None


def test_a_refusal_comes_back_as_its_reason(tmp_path: Path) -> None:
    """An overdue reference: refused in the worker, the reason back here, nothing written."""
    run = make_run(tmp_path / "run", build_record(references=references(ref_due="2026-10-14")))
    with Publisher(report=False) as publisher:
        publisher.submit_certificate(str(run), None)
        result = publisher.certificate_result()
    assert result.paths is None and result.refused is not None and "overdue" in result.refused
    assert not (run / "certificate").exists()
