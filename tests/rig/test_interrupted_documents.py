"""What `cryorig run` keeps when Ctrl-C comes while its documents are made (rig.runner's
``collect_finished``): what the workers finished, and for the rest how to make it."""

from __future__ import annotations

import io

from rich.console import Console

from rig.publish import CertificateResult
from rig.runner import RunOutcome, collect_finished


class _Finished:
    def __init__(self, certificate: CertificateResult | None, report: str | None) -> None:
        self.certificate, self.report = certificate, report

    def certificate_if_done(self) -> CertificateResult | None:
        return self.certificate

    def report_if_done(self) -> str | None:
        return self.report


def _outcome() -> RunOutcome:
    return RunOutcome("SIM-1", "PASS", {}, [], "/runs/r1", None)


def _console() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, width=200), text


def test_what_the_workers_finished_is_kept() -> None:
    outcome, (console, text) = _outcome(), _console()
    paths = {"pdf": "/runs/r1/certificate/C.pdf"}
    done = _Finished(CertificateResult(paths=paths), "/runs/r1/report.html")
    collect_finished(outcome, done, console, report=True)  # type: ignore[arg-type]
    assert outcome.certificate == paths and outcome.certificate_note is None
    assert outcome.report == "/runs/r1/report.html" and text.getvalue() == ""


def test_what_was_not_finished_is_named_with_the_command_that_makes_it() -> None:
    outcome, (console, text) = _outcome(), _console()
    collect_finished(outcome, _Finished(None, None), console, report=True)  # type: ignore[arg-type]
    assert outcome.certificate is None
    assert outcome.certificate_note == (
        "interrupted (Ctrl-C) before the certificate was issued; issue it with "
        "cryorig certificate /runs/r1"
    )
    assert "python -m reports /runs/r1" in text.getvalue()


def test_a_command_without_a_report_does_not_ask_for_one() -> None:
    outcome, (console, text) = _outcome(), _console()
    collect_finished(outcome, _Finished(None, None), console, report=False)  # type: ignore[arg-type]
    assert "report" not in text.getvalue()


def test_a_refusal_that_came_back_is_the_note() -> None:
    outcome, (console, _) = _outcome(), _console()
    refused = _Finished(CertificateResult(refused="the reference is overdue"), None)
    collect_finished(outcome, refused, console, report=False)  # type: ignore[arg-type]
    assert outcome.certificate_note == "no certificate issued: the reference is overdue"
