"""Calibration certificates as issued: the text a reader gets (the rendered HTML with its tags
stripped, and the PDF's extracted text), never the template, must carry every applicable
item of ISO/IEC 17025:2017 7.8.2.1, 7.8.4.1 and 7.8.6; and what must never be issued is not.

The record is built here, as the calibration procedure would write it: six points as found
and as left, GUM budgets of nine or ten components, guard-banded decisions, the fit, the
memory check and a reference chain with dates. ``make_run`` is shared with test_verify.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from scipy import stats

from calibration.record import (
    Budget,
    BudgetRow,
    CalibrationRecord,
    CalPoint,
    Coefficients,
    Decision,
    Fit,
    MemoryCheck,
    PointWindow,
    ReferenceInstrument,
)
from reports.certificate import (
    CertificateError,
    CertificateExists,
    CertificatePaths,
    CertificateRefused,
    expanded_uncertainty,
    issue_certificate,
    next_revision,
)

pytestmark = pytest.mark.timeout(120)

CERT_ID = "CAL-2026-00042"
CAL_DATE = "2026-11-27"
ISSUED = dt.date(2026, 11, 30)
NOMINALS = (2.0, 4.0, 10.0, 20.0, 33.0, 40.0)
ORDER = (20.0, 33.0, 40.0, 10.0, 4.0, 2.0)
TOLERANCE = 0.5
AS_FOUND_ERRORS = {2.0: 0.583, 4.0: 0.472, 10.0: 0.262, 20.0: 0.041, 33.0: -0.238, 40.0: -0.391}
AS_LEFT_ERRORS = {2.0: 0.031, 4.0: -0.018, 10.0: 0.012, 20.0: -0.009, 33.0: 0.021, 40.0: -0.027}
GAIN, OFFSET = 1.0254, -0.5873
LAB = {
    "name": "Example Medical Metrology Laboratory",
    "address": "Hermann-Herder-Str. 4, 79104 Freiburg, Germany",
    "accreditation": "DAkkS D-K-19876-01-00",
}
CUSTOMER = {
    "name": "Example Medical GmbH, Production",
    "address": "Line 2, Building B, Am Flughafen 12, 79108 Freiburg, Germany",
    "contact": "qa-line2@example-medical.invalid, +49 761 555 0142",
}
AUTHORISED = {"name": "Dr. Jana Keller", "role": "Head of Calibration Laboratory"}
IDENTITY = {"maker": "Example Medical", "model": "CRYO-H1", "serial": "CH1-2611-0042"}
IDENTITY["firmware"] = "2.4.1"
METHOD = {
    "id": "CP-SENS-01",
    "title": "Skin temperature sensor against the reference surface thermocouple",
    "version": "2.1",
    "summary": "Six stage plateaus from 2 °C to 40 °C, 60 paired readings each after settling; "
    "least-squares adjustment of gain and offset; as-left repeat at every point.",
}
RULE = {
    "name": "Guarded acceptance, guard band w = U",
    "statement": "A point conforms when |E| ≤ T − U (T = 0.5 °C, U its expanded uncertainty), "
    "otherwise it does not conform.",
    "reference": "ILAC-G8:09/2019 4.2.2; JCGM 106:2012 8.3",
}
CONDITION = "No visible damage; nozzle and sensor window clean; self test passed"


# --- the record ----------------------------------------------------------------------------------
def _row(name: str, symbol: str, kind: str, dist: str, u: float, c: float, **kw: Any) -> BudgetRow:
    return BudgetRow(
        name=name,
        symbol=symbol,
        estimate=kw.pop("estimate", 0.0),
        type=kind,
        distribution=dist,
        standard_uncertainty=u,
        sensitivity=c,
        contribution_c=abs(c) * u,
        dof=kw.pop("dof", None),
        **kw,
    )


def _rect(name: str, symbol: str, a: float, c: float = -1.0, **kw: Any) -> BudgetRow:
    return _row(name, symbol, "B", "rectangular", a / math.sqrt(3), c, half_width=a, **kw)


def _budget(nominal: float, n: int, u_fit: float | None) -> Budget:
    """Nine components (ten as left: the fitted line), combined per GUM with Welch–Satterthwaite."""
    rows = [
        _row(
            "repeatability of the indication",
            "t̄_ind",
            "A",
            "normal",
            0.012 / math.sqrt(n),
            1.0,
            dof=n - 1,
            note=f"s = 0.012 °C over the window, n = {n}",
        ),
        _row(
            "repeatability of the reference",
            "t̄_ref",
            "A",
            "normal",
            0.006 / math.sqrt(n),
            -1.0,
            dof=n - 1,
        ),
        _row(
            "reference system calibration",
            "δt_cal",
            "B",
            "normal",
            0.05,
            -1.0,
            note="certificate CAL-TC-2026-0412: U = 0.10 °C, k = 2",
        ),
        _rect("reference drift since calibration", "δt_drift", 0.02),
        _rect("reference-junction compensation stability", "δt_cjc", 0.05),
        _rect(
            "surface vs. reference junction (heat flux)",
            "δt_flux",
            0.004 * abs(nominal - 22.4) + 0.01,
        ),
        _rect("spot non-uniformity", "δt_unif", 0.03, 1.0, note="channel 102, 10 mm off the spot"),
        _rect("resolution of the indication", "δt_res", 0.005, 1.0),
        _rect(
            "emissivity of the phantom surface",
            "δε",
            0.002,
            0.9 * (22.4 - nominal),
            estimate=0.95,
            unit="1",
        ),
    ]
    if u_fit is not None:
        rows.append(_row("fitted correction line", "δt_fit", "A", "normal", u_fit, 1.0, dof=4))
    uc = math.sqrt(sum(r.contribution_c**2 for r in rows))
    nu = uc**4 / sum(r.contribution_c**4 / r.dof for r in rows if r.dof)
    k = float(stats.t.ppf(0.975, math.floor(nu)))
    return Budget(
        rows=rows,
        combined_standard_uncertainty_c=uc,
        effective_dof=nu,
        coverage_factor=k,
        expanded_uncertainty_c=k * uc,
    )


def _decision(error: float, budget: Budget) -> Decision:
    U, uc = budget.expanded_uncertainty_c, budget.combined_standard_uncertainty_c
    accept = TOLERANCE - U
    outside = stats.norm.cdf((-TOLERANCE - error) / uc) + stats.norm.sf((TOLERANCE - error) / uc)
    passed = abs(error) <= accept
    return Decision(
        tolerance_c=TOLERANCE,
        guard_band_c=U,
        acceptance_limit_c=accept,
        result="PASS" if passed else "FAIL",
        probability_false_accept=float(outside) if passed else 0.0,
        probability_false_reject=0.0 if passed else float(1 - outside),
        test_uncertainty_ratio=TOLERANCE / U,
        tur_below_4=TOLERANCE / U < 4,
    )


def _point(phase: str, nominal: float, error: float, start: float) -> CalPoint:
    reference = nominal + 0.013
    indicated = reference + error
    raw = indicated if phase == "as_found" else (reference - OFFSET) / GAIN
    window = PointWindow(
        t_start_s=start,
        t_end_s=start + 60.0,
        n=60,
        reference_c=reference,
        reference_sd_c=0.006,
        indicated_c=indicated,
        indicated_sd_c=0.012,
        difference_sd_c=0.011,
        raw_c=raw,
        raw_sd_c=0.012,
        uniformity_c=reference - 0.02,
        depth_c=reference + 0.004 * (22.4 - nominal) * 3,
        plate_c=nominal - 0.6,
        ambient_c=22.4,
        settle_s=140.0,
    )
    budget = _budget(nominal, 60, 0.018 if phase == "as_left" else None)
    return CalPoint(
        phase=phase,
        nominal_c=nominal,
        window=window,
        error_c=error,
        budget=budget,
        decision=_decision(error, budget),
    )


def _reference(role: str, desc: str, model: str, serial: str, cert: str, lab: str, **kw: str):
    return ReferenceInstrument(
        role=role,
        description=desc,
        model=model,
        serial=serial,
        certificate=cert,
        laboratory=lab,
        calibrated=kw.get("calibrated", "2026-04-14"),
        due=kw.get("due", "2027-04-14"),
        uncertainty=kw.get("uncertainty", ""),
    )


def references(ref_due: str = "2027-04-14") -> list[ReferenceInstrument]:
    """The chain: the reference surface thermocouple with its logger channel (a system), the
    logger mainframe with its CJC, and the stage controller."""
    return [
        _reference(
            "ref_surface",
            "Thin-foil type T surface thermocouple with logger channel 101",
            "TT-FOIL-01",
            "TC-0412",
            "CAL-TC-2026-0412",
            LAB["name"] + " (DAkkS)",
            due=ref_due,
            uncertainty="U = 0.10 °C, k = 2",
        ),
        _reference(
            "logger",
            "Thermocouple logger with 20-channel multiplexer",
            "DAQ970A",
            "MY58017742",
            "KS-2026-04-1187",
            "Keysight Technologies Calibration Center",
            calibrated="2026-04-12",
            due="2027-04-12",
            uncertainty="per certificate",
        ),
        _reference(
            "stage",
            "TEC stage controller and plate sensor",
            "5305",
            "534288",
            "CAL-TEC-2026-0057",
            LAB["name"],
            calibrated="2026-03-20",
            due="2027-03-20",
            uncertainty="U = 0.2 °C, k = 2",
        ),
    ]


def build_record(**changes: Any) -> CalibrationRecord:
    """A complete, certifiable record; ``changes`` override top-level fields."""
    found = [
        _point("as_found", c, AS_FOUND_ERRORS[c], 300.0 + 400 * i) for i, c in enumerate(ORDER)
    ]
    left = [_point("as_left", c, AS_LEFT_ERRORS[c], 3000.0 + 400 * i) for i, c in enumerate(ORDER)]
    written = Coefficients(gain=GAIN, offset_c=OFFSET, date=CAL_DATE, cert_id=CERT_ID)
    fields: dict[str, Any] = {
        "certificate_id": CERT_ID,
        "unit_serial": IDENTITY["serial"],
        "unit_identity": IDENTITY,
        "unit_condition": CONDITION,
        "method": METHOD,
        "run_id": "20261127T081500Z_CH1-2611-0042_a1b2c3",
        "station": "EOL-01",
        "operator": "M. Weber",
        "laboratory": LAB,
        "customer": CUSTOMER,
        "authorised_by": AUTHORISED,
        "received": "2026-11-25",
        "calibrated": CAL_DATE,
        "references": references(),
        "environment": {
            "ambient_mean_c": 22.4,
            "ambient_min_c": 22.1,
            "ambient_max_c": 22.9,
            "humidity": "not measured",
        },
        "order_c": list(ORDER),
        "as_found_coefficients": Coefficients(
            gain=1.0, offset_c=0.0, date="2025-06-02", cert_id="FACTORY"
        ),
        "fit": Fit(
            gain=GAIN,
            offset_c=OFFSET,
            u_gain=0.00042,
            u_offset_c=0.0091,
            correlation=-0.874,
            residual_sd_c=0.011,
            dof=4,
            n=6,
            weighted=False,
        ),
        "points": found + left,
        "memory": MemoryCheck(
            written=written,
            read_back=written,
            after_power_cycle=written,
            after_reboot=written,
            result="PASS",
        ),
        "decision_rule": RULE,
        "requirements": {"REQ-SENS-01": "PASS", "REQ-CAL-01": "PASS"},
        "virtual_duration_s": 5400.0,
        "complete": True,
    }
    fields.update(changes)
    return CalibrationRecord(**fields)


def make_run(run_dir: Path, record: CalibrationRecord | None = None) -> Path:
    """A run directory as the rig leaves it, with a few small data files and the record."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    record = record or build_record()
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "calibration.json").write_text(record.model_dump_json(indent=2), encoding="utf-8")
    meta = {
        "format": "cryorig-run/1",
        "run_id": record.run_id,
        "status": "PASS",
        "unit_serial": record.unit_serial,
        "station": record.station,
        "site": "Line 2, Building B, Example Medical GmbH, Freiburg",
    }
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (run_dir / "station.yaml").write_text("station: EOL-01\n", encoding="utf-8")
    lines = [{"name": "cal.error_c", "req": "REQ-SENS-01", "value": 0.03, "verdict": "PASS"}]
    (run_dir / "measurements.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8"
    )
    (run_dir / "trace.jsonl").write_text('{"kind": "test_start", "t": 0.0}\n', encoding="utf-8")
    rows = [(0.1 * i, 20.0 + 0.001 * i, 20.02 + 0.001 * i) for i in range(20)]
    csv = "t_s,ch101,ch102\n" + "".join(f"{t!r},{a!r},{b!r}\n" for t, a, b in rows)
    (run_dir / "samples" / "logger.csv").write_text(csv, encoding="utf-8")
    table = pa.table({k: [r[i] for r in rows] for i, k in enumerate(("t_s", "ch101", "ch102"))})
    pq.write_table(table, run_dir / "samples" / "logger.parquet")
    return run_dir


# --- reading what was issued ---------------------------------------------------------------------
class _Text(HTMLParser):
    """The text a reader of the HTML sees (style and script are not text)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return _squash(" ".join(parser.parts))


def pdf_pages(path: Path) -> list[str]:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return [_squash(page.extract_text() or "") for page in reader.pages]


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> CertificatePaths:
    run = make_run(tmp_path_factory.mktemp("cert") / "run")
    return issue_certificate(run, issued=ISSUED)


@pytest.fixture(scope="module")
def pages(issued: CertificatePaths) -> list[str]:
    """The PDF's text page by page (pypdf takes ~0.3 s a page: extracted once)."""
    return pdf_pages(issued.pdf)


@pytest.fixture(scope="module")
def texts(issued: CertificatePaths, pages: list[str]) -> dict[str, str]:
    return {"html": html_text(issued.html), "pdf": " ".join(pages)}


# --- what 17025 requires, found in the text of both issues ---------------------------------------
REQUIRED: dict[str, list[str]] = {
    "7.8.2.1 a title": ["Calibration Certificate"],
    "7.8.2.1 b laboratory name and address": [LAB["name"], "79104 Freiburg", LAB["accreditation"]],
    "7.8.2.1 c location (permanent facility)": [
        "laboratory's permanent facility",
        "production line",
        "station EOL-01",
    ],
    "7.8.2.1 d unique identification and end": [
        CERT_ID,
        f"End of Calibration Certificate {CERT_ID}",
    ],
    "7.8.2.1 e customer name and contact": [CUSTOMER["name"], "79108 Freiburg", "qa-line2@"],
    "7.8.2.1 f method": ["CP-SENS-01", "version 2.1", METHOD["title"]],
    "7.8.2.1 g item description, identification, condition": [
        "cryotherapy device",
        "Example Medical",
        "CRYO-H1",
        "CH1-2611-0042",
        "Firmware version 2.4.1",
        CONDITION,
    ],
    "7.8.2.1 h date of receipt": ["Date of receipt 2026-11-25"],
    "7.8.2.1 i date(s) of performance": [f"Date(s) of calibration {CAL_DATE}"],
    "7.8.2.1 j date of issue": [f"Date of issue {ISSUED.isoformat()}"],
    "7.8.2.1 l results relate only to the item": ["relate only to the item calibrated"],
    "7.8.2.1 m results with units": ["All temperatures in °C", "E = +0.58 °C, U = 0.17 °C"],
    "7.8.2.1 n additions, deviations, exclusions": [
        "Additions, deviations and exclusions",
        "without additions, deviations or exclusions",
    ],
    "7.8.2.1 o person authorising": ["Authorised by", AUTHORISED["name"], AUTHORISED["role"]],
    "7.8.4.1 a uncertainty, same unit, k and probability": [
        "U = k · u(E)",
        "coverage probability of 95 %",
        "with k = 1.96",
    ],
    "7.8.4.1 b conditions": ["Ambient air temperature", "mean 22.4 °C", "Relative humidity"],
    "7.8.4.1 c metrological traceability": [
        "metrologically traceable",
        "CAL-TC-2026-0412",
        "KS-2026-04-1187",
        "Keysight Technologies Calibration Center",
        "2026-04-14",
    ],
    "7.8.4.1 d before and after adjustment": [
        "As found (before adjustment)",
        "As left (after adjustment)",
    ],
    "7.8.6 decision rule": ["Decision rule", RULE["name"], "ILAC-G8"],
    "7.8.6 conformity per point and overall": [
        "conforms",
        "does not conform",
        "As left, the item conforms to REQ-SENS-01",
        "As found, the item does not conform to REQ-SENS-01",
        "nonconforming at 2 °C, 4 °C, 40 °C",
    ],
    "adjustment: coefficients found, fitted, written; u and correlation": [
        "1.000000",
        "1.025400",
        "-0.5873",
        "u = 0.00042",
        "r(gain, offset) = -0.874",
    ],
    "REQ-CAL-01 memory check": [
        "Calibration memory check (REQ-CAL-01): PASS",
        "After power cycle 1.025400 -0.5873",
        "After REBOOT 1.025400 -0.5873",
        "identical",
    ],
    "uncertainty of one indication (REQ-SENS-01 judges each reading)": [
        "expanded uncertainty of E for a single indication",
        "t_ind − t_ref paired: s 0.011 °C",
    ],
    "uncertainty budget": [
        "reference system calibration",
        "δt_cal",
        "rect. a = 0.050",
        "Welch–Satterthwaite",
        "Combined standard uncertainty",
        "Expanded uncertainty",
    ],
}


@pytest.mark.parametrize("medium", ["html", "pdf"])
@pytest.mark.parametrize("item", sorted(REQUIRED))
def test_certificate_states(texts: dict[str, str], medium: str, item: str) -> None:
    missing = [s for s in REQUIRED[item] if s not in texts[medium]]
    assert not missing, f"{item}: not in the {medium} text: {missing}"


def test_every_pdf_page_is_identified_and_numbered(
    issued: CertificatePaths, pages: list[str]
) -> None:
    assert len(pages) == issued.pages > 1
    for number, text in enumerate(pages, 1):
        assert CERT_ID in text, f"page {number} does not name the certificate"
        assert f"Page {number} of {len(pages)}" in text
    assert "End of Calibration Certificate" in pages[-1]
    assert all("End of Calibration Certificate" not in t for t in pages[:-1])


def test_html_issue_is_one_page_and_states_the_pdf_length(
    issued: CertificatePaths, texts: dict[str, str]
) -> None:
    assert f"Page 1 of 1 (HTML issue; the PDF issue has {issued.pages} pages)" in texts["html"]
    assert "Page 1 of 1" not in texts["pdf"]


def test_results_rows_are_rounded_to_the_stated_uncertainty(texts: dict[str, str]) -> None:
    """Each result: U to two significant digits rounded up, and t_ref, t_ind and E to its
    last decimal place, in that order in the results table of both issues."""
    record = build_record()
    for point in record.points:
        u, decimals = expanded_uncertainty(point.budget.expanded_uncertainty_c)
        assert float(u) >= point.budget.expanded_uncertainty_c
        w = point.window
        cells = [f"{v:.{decimals}f}" for v in (w.reference_c, w.indicated_c)]
        cells += [f"{point.error_c:+.{decimals}f}", u]
        for medium in ("html", "pdf"):
            assert " ".join(cells) + " " in texts[medium], (medium, point.phase, cells)


def test_a_record_before_schema_1_1_is_not_said_to_cover_one_indication(tmp_path: Path) -> None:
    """Schema 1.0 records budgeted the repeatability of the window's mean: re-issued, their
    certificate must not claim U covers a single reading."""
    record = build_record()
    old = [p.model_copy(update={"window": p.window.model_copy(update={"difference_sd_c": None})})
           for p in record.points]  # fmt: skip
    run = make_run(tmp_path / "run", record.model_copy(update={"points": old}))
    text = html_text(issue_certificate(run, issued=ISSUED).html)
    assert "U: expanded uncertainty of E, the combined" in text
    assert "single indication" not in text and "paired: s" not in text


def test_figure_is_embedded(issued: CertificatePaths) -> None:
    assert '<img src="data:image/png;base64,' in issued.html.read_text(encoding="utf-8")


@pytest.mark.parametrize("medium", ["html", "pdf"])
def test_no_calibration_interval_is_recommended(texts: dict[str, str], medium: str) -> None:
    """7.8.4.3: no recommendation of a calibration interval (none was agreed)."""
    forbidden = (
        r"recommend|calibration interval|recalibrat|next calibration|valid until|re-calibrat"
    )
    assert not re.search(forbidden, texts[medium], re.IGNORECASE)


@pytest.mark.parametrize(
    ("value", "stated"),
    [
        (0.1234, ("0.13", 2)),
        (0.12, ("0.12", 2)),
        (0.0987, ("0.099", 3)),
        (0.0999, ("0.10", 2)),
        (1.04, ("1.1", 1)),
        (0.009999, ("0.010", 3)),
    ],
)
def test_expanded_uncertainty_two_digits_rounded_up(value: float, stated: tuple[str, int]) -> None:
    assert expanded_uncertainty(value) == stated


# --- what must not be issued ---------------------------------------------------------------------
def _nothing_written(run: Path) -> bool:
    return not (run / "certificate").exists()


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"references": references(ref_due="2026-10-14")}, "overdue"),
        ({"deviations": ["QA override: logger calibration overdue by 3 days"]}, "overdue"),
        ({"complete": False}, "not complete"),
        ({"requirements": {"REQ-SENS-01": "FAIL", "REQ-CAL-01": "PASS"}}, "REQ-SENS-01"),
        ({"decision_rule": {}}, "decision_rule"),
    ],
    ids=["reference-overdue", "deviation-overdue", "incomplete", "contradiction", "no-rule"],
)
def test_refused_and_nothing_written(tmp_path: Path, changes: dict[str, Any], why: str) -> None:
    run = make_run(tmp_path / "run", build_record(**changes))
    with pytest.raises(CertificateRefused, match=why):
        issue_certificate(run, issued=ISSUED)
    assert _nothing_written(run)


def test_issue_before_calibration_is_bad_input(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    with pytest.raises(CertificateError, match="before the calibration"):
        issue_certificate(run, issued=dt.date(2026, 11, 26))
    assert _nothing_written(run)


# --- immutability and corrections ----------------------------------------------------------------
@pytest.fixture
def issued_copy(issued: CertificatePaths, tmp_path: Path) -> Path:
    """A copy of the issued run (the module's issue stays untouched for other tests)."""
    run = tmp_path / "run"
    shutil.copytree(issued.pdf.parents[1], run)
    return run


def test_never_overwrites(issued_copy: Path) -> None:
    cert = issued_copy / "certificate"
    before = {p.name: p.read_bytes() for p in cert.iterdir()}
    with pytest.raises(CertificateExists, match="already been issued"):
        issue_certificate(issued_copy, issued=ISSUED)
    assert {p.name: p.read_bytes() for p in cert.iterdir()} == before


@pytest.mark.parametrize("enabled", [True, False])
def test_an_issue_leaves_the_garbage_collector_as_it_found_it(
    issued_copy: Path, tmp_path: Path, enabled: bool
) -> None:
    """The cyclic collector waits during an issue (reports.certificate says why): it must
    be back as it was afterwards, also when the issue is refused, or a station process
    would run on without it."""
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        issue_certificate(issued_copy, issued=ISSUED, out_dir=tmp_path / "again")
        assert gc.isenabled() is enabled
        with pytest.raises(CertificateExists):
            issue_certificate(issued_copy, issued=ISSUED)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_issued_files_are_read_only(issued: CertificatePaths) -> None:
    for path in (issued.pdf, issued.html, issued.manifest):
        assert path.stat().st_mode & 0o222 == 0


def test_correction_names_the_certificate_it_replaces(issued_copy: Path) -> None:
    cert = issued_copy / "certificate"
    original = {p.name: p.read_bytes() for p in cert.iterdir()}
    reason = "customer address corrected (postcode)"
    fixed = issue_certificate(issued_copy, issued=ISSUED, replaces=CERT_ID, reason=reason)
    assert fixed.certificate_id == f"{CERT_ID}-R1"
    text = html_text(fixed.html)
    assert f"This certificate replaces certificate {CERT_ID}" in text
    assert f"Reason for the replacement: {reason}" in text
    first = _squash(PdfReader(io.BytesIO(fixed.pdf.read_bytes())).pages[0].extract_text())
    assert f"replaces certificate {CERT_ID}" in first and reason in first
    manifest = json.loads(fixed.manifest.read_text(encoding="utf-8"))
    assert (manifest["replaces"], manifest["reason"]) == (CERT_ID, reason)
    assert {n: (cert / n).read_bytes() for n in original} == original
    with pytest.raises(CertificateExists, match=f"latest issue is {CERT_ID}-R1"):
        issue_certificate(issued_copy, issued=ISSUED, replaces=CERT_ID, reason=reason)


@pytest.mark.parametrize(
    ("replaces", "reason", "match"),
    [
        (CERT_ID, None, "reason"),
        ("CAL-2026-00099", "typo", "not a certificate of this record"),
        (f"{CERT_ID}-R4", "typo", "was not issued"),
    ],
)
def test_correction_needs_reason_and_an_issued_original(
    issued_copy: Path, replaces: str, reason: str | None, match: str
) -> None:
    with pytest.raises(CertificateError, match=match):
        issue_certificate(issued_copy, issued=ISSUED, replaces=replaces, reason=reason)


def test_revision_ids() -> None:
    assert next_revision("CAL-2026-00042") == "CAL-2026-00042-R1"
    assert next_revision("CAL-2026-00042-R1") == "CAL-2026-00042-R2"
    assert next_revision("CAL-2026-00042-R9") == "CAL-2026-00042-R10"
