"""The certificate's back (section 9 to the end, with Annex A) laid out in a second
process while the front is laid out in this one (reports.certificate says why).

What is checked is what a reader sees: the PDF made in two parts has the pages of the PDF
made in one, with the same text on each, "Page x of y" right on every page, the annex on
pages of its own, and the document's title and bookmarks kept; a wrong guess of the page
counts is corrected, and a worker that dies costs time, never the certificate.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

import reports.certificate as cert
from tests.reports.test_certificate import CERT_ID, ISSUED, make_run, pdf_pages


@pytest.fixture(scope="module")
def worker() -> Iterator[cert.AnnexWorker]:
    w = cert.start_annex_worker()
    if w is None:
        pytest.skip("one core: certificates are made in one process")
    w.ready.result(timeout=120)
    yield w
    cert.stop_annex_worker()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("annex") / "run")


def _issue(run: Path, out: Path, *, parts: bool) -> cert.CertificatePaths:
    if parts:
        return cert.issue_certificate(run, issued=ISSUED, out_dir=out)
    with cert.in_one_process():
        return cert.issue_certificate(run, issued=ISSUED, out_dir=out)


def test_two_parts_make_the_pages_of_one(
    run: Path, tmp_path: Path, worker: cert.AnnexWorker
) -> None:
    cert._PAGES_SEEN.clear()
    whole = _issue(run, tmp_path / "whole", parts=False)
    parts = _issue(run, tmp_path / "parts", parts=True)
    assert cert._PAGES_SEEN, "the certificate was not made in parts"
    one, two = pdf_pages(whole.pdf), pdf_pages(parts.pdf)
    assert parts.pages == whole.pages == len(two) == len(one)
    assert two == one
    for number, text in enumerate(two, 1):
        assert f"Page {number} of {len(two)}" in text
    # The parts meet at section 9, which starts a page in either way of making it; the
    # statement of conformity stays in the front, with the results it states on.
    s9 = [i for i, text in enumerate(two) if "9. Adjustment and calibration memory" in text]
    assert s9 and s9[0] > 0 and "8. Statement of conformity" not in two[s9[0]]
    # The figure starts a page and shares it with the conformity it pictures.
    s8 = [i for i, text in enumerate(two) if "8. Statement of conformity" in text]
    figure = [i for i, text in enumerate(two) if "Error of indication E against" in text]
    assert s8 and figure == s8 and s8[0] < s9[0]
    assert "7. Results" not in two[s8[0]]
    annex = [i for i, text in enumerate(two) if "Annex A. Uncertainty budgets" in text]
    assert annex and annex[0] > 0
    budget = "Combined standard uncertainty u(E)"
    assert not any(budget in text for text in two[: annex[0]])  # every budget in the annex
    assert all(budget in text for text in two[annex[0] :])
    assert f"End of Calibration Certificate {CERT_ID}" in two[-1]
    reader = PdfReader(io.BytesIO(parts.pdf.read_bytes()))
    assert reader.metadata is not None
    assert reader.metadata.title == f"Calibration Certificate {CERT_ID}"
    titles = [item["/Title"] for item in _flat(reader.outline)]
    assert "10. Measurement uncertainty" in titles
    assert "Annex A. Uncertainty budgets" in titles


def _flat(outline: list) -> Iterator[dict]:
    for item in outline:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def test_a_wrong_guess_of_the_page_counts_is_laid_out_again(
    run: Path, tmp_path: Path, worker: cert.AnnexWorker
) -> None:
    record, _ = cert.read_record(run)
    key = cert.pages_key(cert.certificate_context(record, issued=ISSUED, cert_id=CERT_ID))
    cert._PAGES_SEEN[key] = (1, 1)  # both parts are longer than that
    paths = _issue(run, tmp_path / "out", parts=True)
    pages = pdf_pages(paths.pdf)
    assert cert._PAGES_SEEN[key] != (1, 1)
    assert sum(cert._PAGES_SEEN[key]) == paths.pages == len(pages)
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in text


def test_the_page_counts_seen_are_kept_for_the_next_process(
    run: Path, tmp_path: Path, worker: cert.AnnexWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station issues one certificate per process: the counts its first issue found
    must reach the next process, or every issue lays its parts out twice."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cert, "_pages_first_guess", lambda budgets: (1, 1))  # always wrong
    cert._PAGES_SEEN.clear()
    first = _issue(run, tmp_path / "first", parts=True)
    kept = json.loads(cert._pages_path().read_text(encoding="utf-8"))
    assert [sum(v) for v in kept.values()] == [first.pages]
    cert._PAGES_SEEN.clear()  # as in a new process
    laid_out: list[str] = []
    real = cert.render_html
    monkeypatch.setattr(
        cert, "render_html", lambda *a, **k: laid_out.append(k.get("part", "all")) or real(*a, **k)
    )
    again = _issue(run, tmp_path / "again", parts=True)
    assert again.pages == first.pages
    assert sorted(laid_out) == ["all", "back", "front"]  # once each: the guess was right


def test_counts_that_cannot_be_kept_cost_nothing_but_the_retry(
    run: Path, tmp_path: Path, worker: cert.AnnexWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    cert._PAGES_SEEN.clear()
    paths = _issue(run, tmp_path / "out", parts=True)
    assert paths.pages == len(pdf_pages(paths.pdf))
    assert cert._PAGES_SEEN  # kept in the process all the same
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory", "out"]


def test_a_worker_that_dies_costs_time_not_the_certificate(run: Path, tmp_path: Path) -> None:
    # Last in this module: it leaves no annex worker behind.
    cert.stop_annex_worker()
    worker = cert.start_annex_worker()
    if worker is None:
        pytest.skip("one core: certificates are made in one process")
    worker.ready.result(timeout=120)
    for process in list(worker.pool._processes.values()):
        process.kill()
    paths = _issue(run, tmp_path / "out", parts=True)
    assert cert._ANNEX_WORKER is None  # given up: the next certificates are made here
    pages = pdf_pages(paths.pdf)
    assert len(pages) == paths.pages
    assert f"Page {paths.pages} of {paths.pages}" in pages[-1]
