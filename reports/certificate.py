"""Calibration certificates (ISO/IEC 17025:2017 7.8) rendered from a run's calibration record.

A certificate is made from the run directory alone: ``calibration.json`` (the frozen
:class:`~calibration.record.CalibrationRecord`) and ``run.json``, never from the live
bench, so it can be (re)issued after the fact and says nothing the record does not.
One Jinja2 template gives one HTML document; the same HTML is the HTML issue and,
through its print CSS, the PDF issue (WeasyPrint, A4, "Page x of y" on every page).

What is refused rather than issued, because a signed certificate is a claim the
laboratory cannot take back:

* a record that is not complete (an aborted or running calibration);
* a record whose traceability is broken: a reference due before the calibration
  date, a reference certificate dated after it, or a deviation that mentions an
  overdue calibration (a QA override lets a production run go on, but it cannot
  make a reference traceable);
* a record that lacks what 7.8.2.1 requires (laboratory, customer, method,
  authorisation, decision rule) or contradicts itself (a requirement verdict that
  its own point decisions do not support);
* a certificate ID that has already been issued: issued certificates are immutable.
  A correction is a new certificate ``<id>-R<n>`` that names the one it replaces and
  why (7.8.8); the original files stay as they are.

Refusals raise before anything is written. Otherwise the PDF, the HTML and a JSON
manifest (SHA-256 of both renditions and of every data file of the run, optionally
signed with Ed25519) are published together into ``<run_dir>/certificate/``; each file
is linked into place from a complete temporary file, so none is ever overwritten or
seen half-written. :mod:`reports.verify` checks a manifest.

WeasyPrint and matplotlib are imported when a certificate is rendered, not with this
module: :mod:`reports.verify` shares the manifest helpers and must stay quick.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import math
import os
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from pydantic import ValidationError

from calibration.record import Budget, BudgetRow, CalibrationRecord, CalPoint, Coefficients
from rig.shared.durable import fsync_dir

from .formatting import environment

__all__ = [
    "BUDGET_WIDTH",
    "CERTIFICATE_DIR",
    "DATA_FILES",
    "DATA_GLOBS",
    "MANIFEST_FORMAT",
    "RECORD_NAME",
    "CertificateError",
    "CertificateExists",
    "CertificatePaths",
    "CertificateRefused",
    "budget_text",
    "budget_widths",
    "calibration_dates",
    "canonical_bytes",
    "certificate_context",
    "data_files",
    "expanded_uncertainty",
    "issue_certificate",
    "next_revision",
    "point_details",
    "public_key_fingerprint",
    "read_record",
    "refusal_reasons",
    "render_html",
    "render_pdf",
    "sha256_file",
]

RECORD_NAME = "calibration.json"
CERTIFICATE_DIR = "certificate"
MANIFEST_FORMAT = "cryorig-certificate-manifest/1"
TEMPLATE = "certificate.html.j2"
DATA_FILES = (
    RECORD_NAME,
    "run.json",
    "measurements.jsonl",
    "trace.jsonl",
    "station.yaml",
    "limits.yaml",
)
"""Files of the run a certificate rests on, hashed into its manifest when present."""
DATA_GLOBS = ("samples/*.csv", "samples/*.parquet")
ITEM_DESCRIPTION = (
    "Handheld localized cryotherapy device (CO2 jet); its skin temperature sensor "
    "(infrared thermopile), read as the corrected skin temperature through the service port"
)
"""What is calibrated, unless the record's unit identity gives a ``description``."""
MEASURAND = (
    "Error of indication E = t_ind − t_ref of the device's corrected skin temperature "
    "reading t_ind against the conventional true temperature t_ref of the phantom surface "
    "it is aimed at (the reference surface thermocouple, corrected by its certificate)"
)
PDF_DPI = 110
FIGSIZE_IN = (7.0, 3.0)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_REVISION_RE = re.compile(r"^(?P<base>.+?)-R(?P<n>[1-9][0-9]*)$")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OVERDUE_RE = re.compile(
    r"overdue|past (its |the )?due|out of calibration|calibration (has )?expired|"
    r"expired calibration",
    re.IGNORECASE,
)
"""How the rig and people word an expired reference in a deviation (a QA override of an
overdue instrument is recorded as kind 'calibration overdue')."""
_PHASES = (("as_found", "As found"), ("as_left", "As left"))


# --- errors and results --------------------------------------------------------------------------
class CertificateError(Exception):
    """The certificate cannot be made from what was given (bad input: no record, a record
    that does not parse, an impossible issue date, an unusable signing key)."""


class CertificateRefused(CertificateError):
    """The record must not be certified; ``reasons`` says why, one item per finding.
    Nothing has been written when this is raised."""

    def __init__(self, reasons: Iterable[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("certificate refused: " + "; ".join(self.reasons))


class CertificateExists(CertificateRefused):
    """Files of this certificate ID exist already: issued certificates are never rewritten."""


@dataclass(frozen=True)
class CertificatePaths:
    """Where an issued certificate went."""

    certificate_id: str
    pdf: Path
    html: Path
    manifest: Path
    pages: int


# --- numbers -------------------------------------------------------------------------------------
def expanded_uncertainty(u: float) -> tuple[str, int]:
    """U as stated, with two significant digits, and its number of decimals.

    Rounded up, never to the nearest (GUM 7.2.6 allows it; an uncertainty stated lower
    than computed would overstate the calibration). Decimal arithmetic from the float's
    shortest repr, so 0.12 stays 0.12 instead of becoming 0.13 through binary noise.
    """
    if not math.isfinite(u) or u <= 0:
        raise ValueError(f"expanded uncertainty must be finite and positive, not {u!r}")
    decimals = max(0, 1 - math.floor(math.log10(u)))
    rounded = Decimal(repr(u)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_UP)
    if rounded >= Decimal(10) ** (2 - decimals):  # 0.0999 → 0.10: now one decimal fewer
        decimals = max(0, decimals - 1)
        rounded = rounded.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_UP)
    return f"{rounded:.{decimals}f}", decimals


def _fixed(value: float, decimals: int, sign: bool = False) -> str:
    """``value`` to ``decimals`` places (the stated U's last digit), signed when asked;
    a value that rounds to zero is shown unsigned, never as '-0.00'."""
    if not math.isfinite(value):
        return "—"
    text = f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text


def _limit(value: float, decimals: int) -> str:
    """An acceptance limit, truncated towards zero: the limit shown is never wider than
    the one the decision used."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    return f"{rounded:.{decimals}f}"


def _sig(value: float | None, digits: int = 3) -> str:
    """An intermediate quantity of a budget, to ``digits`` significant digits: more than the
    stated U carries, so a reader can redo the sums without rounding errors."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "∞" if value > 0 else "—"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4 or magnitude >= 6:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def _dof(nu: float | None) -> str:
    """ν as used with the t-distribution: truncated to an integer, ∞ when none is given, and
    '> 999' beyond (k no longer changes in its third digit)."""
    if nu is None or not math.isfinite(nu):
        return "∞"
    return str(math.floor(nu)) if nu < 1000 else "> 999"


def _relation(text: str) -> str:
    """' = 12' or ' > 999': a bound already carries its relation."""
    return f" {text}" if text.startswith(">") else f" = {text}"


def _percent(p: float) -> str:
    return f"{p * 100:g} %"


def _risk(p: float) -> str:
    if p < 0.0005:
        return "< 0.05 %"
    return f"{p * 100:.1f} %"


# --- record and dates ----------------------------------------------------------------------------
def _dates(text: str) -> list[dt.date]:
    out = []
    for match in _DATE_RE.findall(text or ""):
        try:
            out.append(dt.date.fromisoformat(match))
        except ValueError:
            continue
    return out


def _one_date(text: str) -> dt.date | None:
    found = _dates(text)
    return found[0] if len(found) == 1 else None


def calibration_dates(record: CalibrationRecord) -> tuple[dt.date, dt.date]:
    """First and last day the calibration was performed on (the record may give a range)."""
    found = _dates(record.calibrated)
    if not found:
        raise CertificateError(
            f"calibration.json: 'calibrated' = {record.calibrated!r} holds no ISO date"
        )
    return min(found), max(found)


def read_record(run_dir: Path) -> tuple[CalibrationRecord, bytes]:
    """The record and the exact bytes it was parsed from (the manifest hashes those bytes,
    not a second read that could differ)."""
    path = run_dir / RECORD_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read the calibration record: {exc}") from exc
    try:
        return CalibrationRecord.model_validate_json(data), data
    except ValidationError as exc:
        raise CertificateError(f"{path}: not a valid calibration record: {exc}") from exc


def _missing_fields(record: CalibrationRecord) -> list[str]:
    """7.8.2.1 items a certificate cannot be issued without."""
    required = {
        "laboratory.name": record.laboratory.get("name"),
        "laboratory.address": record.laboratory.get("address"),
        "customer.name": record.customer.get("name"),
        "customer.address": record.customer.get("address"),
        "method.id": record.method.get("id"),
        "method.title": record.method.get("title"),
        "authorised_by.name": record.authorised_by.get("name"),
        "decision_rule.statement": record.decision_rule.get("statement"),
        "received": record.received,
    }
    return [name for name, value in required.items() if not str(value or "").strip()]


def _reference_problems(record: CalibrationRecord, first: dt.date, last: dt.date) -> list[str]:
    """A reference must have been calibrated before, and not be due before, every day of
    the calibration: otherwise the traceability statement would be false."""
    problems = []
    if not record.references:
        problems.append("the record lists no reference standard: traceability cannot be stated")
    for ref in record.references:
        name = f"reference '{ref.role}' ({ref.model} s/n {ref.serial}, cert. {ref.certificate})"
        calibrated, due = _one_date(ref.calibrated), _one_date(ref.due)
        if calibrated is None or due is None:
            problems.append(
                f"{name}: calibration dates {ref.calibrated!r} / {ref.due!r} unreadable"
            )
            continue
        if due < last:
            problems.append(
                f"{name} was overdue: due {due.isoformat()}, before the calibration on "
                f"{last.isoformat()}"
            )
        if calibrated > first:
            problems.append(
                f"{name}: its certificate is dated {calibrated.isoformat()}, after the "
                f"calibration on {first.isoformat()}"
            )
    return problems


def _consistency_problems(record: CalibrationRecord) -> list[str]:
    """Findings a reader would see contradicted elsewhere on the same certificate."""
    problems = []
    as_found, as_left = record.phase("as_found"), record.phase("as_left")
    if not as_found:
        problems.append("the record has no as-found results")
    if record.adjustable and record.fit is not None and not as_left:
        problems.append("the unit was adjusted but the record has no as-left results")
    for p in record.points:
        u = p.budget.expanded_uncertainty_c
        if not (math.isfinite(p.error_c) and math.isfinite(u) and u > 0):
            problems.append(f"{p.phase} {p.nominal_c:g} °C: no finite error and uncertainty")
    final = as_left or as_found
    sens = record.requirements.get("REQ-SENS-01")
    if final and sens in ("PASS", "FAIL"):
        decided = "PASS" if all(p.decision.result == "PASS" for p in final) else "FAIL"
        if decided != sens:
            problems.append(
                f"REQ-SENS-01 is recorded as {sens} but the final point decisions give {decided}"
            )
    cal = record.requirements.get("REQ-CAL-01")
    if record.memory is not None and cal in ("PASS", "FAIL") and cal != record.memory.result:
        problems.append(
            f"REQ-CAL-01 is recorded as {cal} but the memory check says {record.memory.result}"
        )
    return problems


def refusal_reasons(record: CalibrationRecord) -> list[str]:
    """Why this record must not be certified (empty: it may be). Public so the procedure
    can tell the operator before anyone asks for a certificate."""
    reasons = []
    if not record.complete:
        reasons.append("the calibration record is not complete (calibration aborted or running)")
    first, last = calibration_dates(record)
    reasons += _reference_problems(record, first, last)
    for text in record.deviations:
        if _OVERDUE_RE.search(text):
            reasons.append(f"a deviation reports an overdue calibration: {text!r}")
    missing = _missing_fields(record)
    if missing:
        reasons.append("the record does not state " + ", ".join(missing))
    return reasons + _consistency_problems(record)


# --- identity and corrections --------------------------------------------------------------------
def _split_revision(cert_id: str) -> tuple[str, int]:
    match = _REVISION_RE.match(cert_id)
    return (match["base"], int(match["n"])) if match else (cert_id, 0)


def next_revision(cert_id: str) -> str:
    """The ID of the certificate that replaces ``cert_id``: ``X`` → ``X-R1`` → ``X-R2``."""
    base, n = _split_revision(cert_id)
    return f"{base}-R{n + 1}"


def _paths(out_dir: Path, cert_id: str) -> dict[str, Path]:
    return {
        "pdf": out_dir / f"{cert_id}.pdf",
        "html": out_dir / f"{cert_id}.html",
        "manifest": out_dir / f"{cert_id}.manifest.json",
    }


def _latest_issue(out_dir: Path, base: str) -> str | None:
    found = [base] if (out_dir / f"{base}.manifest.json").exists() else []
    pattern = re.compile(rf"^{re.escape(base)}-R([1-9][0-9]*)\.manifest\.json$")
    revisions = sorted(
        (int(m[1]) for p in out_dir.glob("*.manifest.json") if (m := pattern.match(p.name))),
    )
    found += [f"{base}-R{n}" for n in revisions]
    return found[-1] if found else None


def _refuse_if_issued(out_dir: Path, cert_id: str) -> None:
    existing = [p for p in _paths(out_dir, cert_id).values() if p.exists()]
    if not existing:
        return
    msg = (
        f"certificate {cert_id} has already been issued ({existing[0]}); issued certificates "
        f"are never overwritten: correct one with a new certificate that replaces it"
    )
    latest = _latest_issue(out_dir, _split_revision(cert_id)[0])
    if latest:
        msg += f" (the latest issue is {latest})"
    raise CertificateExists([msg])


def _identity(
    record: CalibrationRecord, out_dir: Path, replaces: str | None, reason: str | None
) -> tuple[str, str | None, str | None]:
    """(certificate ID, ID it replaces, reason) of the certificate to issue.

    A correction asked for here (``replaces``) gets the next revision of the ID it
    replaces, which must be this record's certificate and must have been issued into
    ``out_dir`` (the replacement is archived beside what it withdraws). A record that
    itself declares ``replaces`` (a calibration redone for a correction) keeps its ID.
    Either way the reason is required: 7.8.8.2 wants it on the replacement.
    """
    own = record.certificate_id
    if not _ID_RE.match(own):
        raise CertificateError(f"certificate ID {own!r} is not a usable file name")
    reason = (reason or "").strip() or None
    if replaces is None:
        if record.replaces and reason is None:
            raise CertificateError(
                f"the record replaces {record.replaces}: give the reason for the replacement"
            )
        if reason is not None and not record.replaces:
            raise CertificateError("a reason is only stated on a certificate that replaces one")
        return own, record.replaces, reason
    if not _ID_RE.match(replaces):
        raise CertificateError(f"certificate ID {replaces!r} is not a valid certificate ID")
    if _split_revision(replaces)[0] != _split_revision(own)[0]:
        raise CertificateError(
            f"{replaces} is not a certificate of this record (its certificate is {own})"
        )
    if reason is None:
        raise CertificateError(f"a certificate replacing {replaces} must state the reason")
    if not _paths(out_dir, replaces)["manifest"].exists():
        raise CertificateError(f"certificate {replaces} was not issued into {out_dir}")
    return next_revision(replaces), replaces, reason


# --- manifest helpers (shared with reports.verify) -----------------------------------------------
def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def data_files(run_dir: Path) -> list[str]:
    """The run's data files a certificate rests on, relative to the run dir, sorted."""
    names = [name for name in DATA_FILES if (run_dir / name).is_file()]
    for pattern in DATA_GLOBS:
        names += [p.relative_to(run_dir).as_posix() for p in run_dir.glob(pattern) if p.is_file()]
    return sorted(set(names))


def canonical_bytes(manifest: Mapping[str, Any]) -> bytes:
    """What a signature covers: the manifest without its ``signature``, as JSON with sorted
    keys, no insignificant whitespace, UTF-8. The file itself may be pretty-printed:
    verification re-derives these bytes from the parsed document."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def public_key_fingerprint(public_key: Any) -> str:
    """``SHA256:<hex>`` of the raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def _load_signing_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertificateError(f"{path}: cannot load the signing key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateError(f"{path}: the signing key must be Ed25519")
    return key


def _signature(manifest: Mapping[str, Any], key: Any) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    public = key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "algorithm": "Ed25519",
        "signed_content": "canonical JSON of this manifest without 'signature' "
        "(sorted keys, no whitespace, UTF-8)",
        "value": base64.b64encode(key.sign(canonical_bytes(manifest))).decode("ascii"),
        "public_key_fingerprint": public_key_fingerprint(public),
        "public_key_pem": pem.decode("ascii"),
    }


def _software_version() -> str:
    try:
        return metadata.version("cryorig")
    except metadata.PackageNotFoundError:
        return "unknown"


def _entry(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _run_dir_reference(run_dir: Path, out_dir: Path) -> str:
    """The run dir as seen from the manifest: relative when possible, so a run directory
    moved or archived together with its certificate still verifies."""
    try:
        return Path(os.path.relpath(run_dir.resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(run_dir.resolve())


def _manifest(
    *,
    cert_id: str,
    replaces: str | None,
    reason: str | None,
    record: CalibrationRecord,
    record_bytes: bytes,
    issued: dt.date,
    run_dir: Path,
    out_dir: Path,
    renditions: Mapping[str, tuple[str, bytes]],
    pages: int,
) -> dict[str, Any]:
    data = {}
    for name in data_files(run_dir):
        if name == RECORD_NAME:
            data[name] = _entry(record_bytes)
        else:
            path = run_dir / name
            data[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return {
        "format": MANIFEST_FORMAT,
        "certificate_id": cert_id,
        "replaces": replaces,
        "reason": reason,
        "date_of_issue": issued.isoformat(),
        "issued": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": {"package": "cryorig", "version": _software_version()},
        "unit_serial": record.unit_serial,
        "run_id": record.run_id,
        "pdf_pages": pages,
        "certificate": {
            kind: {"path": name, **_entry(body)} for kind, (name, body) in renditions.items()
        },
        "run_dir": _run_dir_reference(run_dir, out_dir),
        "data": data,
    }


# --- context -------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return "—" if value is None or not str(value).strip() else str(value)


def _run_meta(run_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _simulated(meta: Mapping[str, Any]) -> bool:
    """A run on the simulated bench (the EOL report's test): its certificate must say so."""
    extra = meta.get("extra")
    return (isinstance(extra, Mapping) and extra.get("rig") == "sim") or "seed" in meta


def _item(record: CalibrationRecord) -> dict[str, str]:
    ident = record.unit_identity
    known = ("maker", "model", "serial", "firmware", "description")
    return {
        "description": ident.get("description") or ITEM_DESCRIPTION,
        "maker": _text(ident.get("maker")),
        "model": _text(ident.get("model")),
        "serial": _text(ident.get("serial") or record.unit_serial),
        "label_serial": record.unit_serial,
        "firmware": _text(ident.get("firmware")),
        "other": ", ".join(f"{k}: {v}" for k, v in ident.items() if k not in known),
        "condition": _text(record.unit_condition),
    }


def _location(record: CalibrationRecord, meta: Mapping[str, Any]) -> str:
    """Where: always the laboratory's own production line (the station), never on site."""
    site = record.laboratory.get("location") or meta.get("site")
    where = f"station {record.station}" + (f" ({site})" if site else "")
    address = record.laboratory.get("address", "")
    return (
        f"At the laboratory's permanent facility, on its production line: {where}, "
        f"{address}".rstrip(", ")
    )


def _stated(point: CalPoint) -> tuple[str, int]:
    return expanded_uncertainty(point.budget.expanded_uncertainty_c)


def _result_row(point: CalPoint) -> dict[str, str]:
    u_text, d = _stated(point)
    w, dec = point.window, point.decision
    return {
        "nominal": f"{point.nominal_c:g}",
        "reference": _fixed(w.reference_c, d),
        "indicated": _fixed(w.indicated_c, d),
        "error": _fixed(point.error_c, d, sign=True),
        "U": u_text,
        "k": f"{point.budget.coverage_factor:.2f}",
        "acceptance": "±" + _limit(dec.acceptance_limit_c, max(2, d)),
        "result": dec.result,
    }


def _results(record: CalibrationRecord) -> dict[str, Any]:
    """As found and as left side by side, one row per nominal temperature: the effect of the
    adjustment reads across a row (and half as many table rows to lay out as two tables)."""
    phases = [(key, label) for key, label in _PHASES if record.phase(key)]
    cells: dict[float, dict[str, dict[str, str]]] = {}
    for point in record.points:
        cells.setdefault(point.nominal_c, {})[point.phase] = _result_row(point)
    return {
        "phases": [{"key": key, "label": label} for key, label in phases],
        "rows": [
            {"nominal": f"{nominal:g}", "cells": [cells[nominal].get(key) for key, _ in phases]}
            for nominal in sorted(cells)
        ],
        "tolerance": _tolerances(record.points),
    }


def _tolerances(points: Iterable[CalPoint]) -> str:
    values = sorted({p.decision.tolerance_c for p in points})
    return " / ".join(f"±{t:g} °C" for t in values)


def point_details(point: CalPoint) -> list[str]:
    """The point's window, plateau conditions and decision, as lines above its budget: the
    conditions that influence the result (7.8.4.1 b) and the risk behind its conformity
    statement (PFA/PFR, TUR) sit next to the uncertainty they belong to."""
    w, dec = point.window, point.decision
    _, d = _stated(point)
    risk = (
        f"PFA {_risk(dec.probability_false_accept)}"
        if dec.result == "PASS"
        else f"PFR {_risk(dec.probability_false_reject)}"
    )
    tur = f"TUR {dec.test_uncertainty_ratio:.1f}" + (" (below 4)" if dec.tur_below_4 else "")
    verdict = "conforms" if dec.result == "PASS" else "does not conform"
    relation = "≤" if dec.result == "PASS" else ">"
    return [
        f"Readings: n = {w.n}, {w.t_start_s:.0f}–{w.t_end_s:.0f} s, settled {w.settle_s:.0f} s; "
        f"t_ref {_fixed(w.reference_c, 3)} °C (s {_sig(w.reference_sd_c, 2)} °C), "
        f"t_ind {_fixed(w.indicated_c, 3)} °C (s {_sig(w.indicated_sd_c, 2)} °C), "
        f"raw {_fixed(w.raw_c, 3)} °C"
        + (
            ""
            if w.difference_sd_c is None
            else f"; t_ind − t_ref paired: s {_sig(w.difference_sd_c, 2)} °C"
        ),
        f"Conditions: surface 10 mm off the spot {w.uniformity_c:.2f} °C, phantom 3 mm deep "
        f"{w.depth_c:.2f} °C, stage plate {w.plate_c:.2f} °C, ambient air {w.ambient_c:.1f} °C",
        f"Decision: |E| {_fixed(abs(point.error_c), d)} °C {relation} A "
        f"{_limit(dec.acceptance_limit_c, max(2, d))} °C (T {dec.tolerance_c:g} °C, guard band "
        f"{_sig(dec.guard_band_c, 2)} °C): {verdict}; {risk}; {tur}",
    ]


def _phase_label(phase: str) -> str:
    return dict(_PHASES)[phase]


# --- uncertainty budgets as fixed-width text -----------------------------------------------------
# A budget is one preformatted block, not an HTML table: WeasyPrint lays out each table cell
# on its own (about 1 ms a cell on this class of machine), and twelve budgets of ten rows and
# nine columns would be 1,400 cells, more than the whole one-second render budget. A text
# block of the same lines costs a fraction of that and reads like the budget printouts
# metrologists know. Widths are in characters of DejaVu Sans Mono.
_BUDGET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Component", "<"),
    ("Symbol", "<"),
    ("Estimate", ">"),
    ("Type", "^"),
    ("Distribution", "<"),
    ("u(xᵢ)", ">"),
    ("cᵢ", ">"),
    ("|cᵢ|·u(xᵢ)", ">"),
    ("νᵢ", ">"),
)
_GAP = "  "
BUDGET_WIDTH = 130
"""Characters per budget line: what A4's text width holds at the print size (6.4 pt)."""
MIN_NAME_WIDTH = 24


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: combining marks (the bar of t̄) take none."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _cell(text: str, width: int, align: str) -> str:
    pad = " " * max(0, width - _width(text))
    if align == ">":
        return pad + text
    if align == "^":
        left = len(pad) // 2
        return pad[:left] + text + pad[left:]
    return text + pad


def _line(cells: Iterable[str], widths: list[int]) -> str:
    return _GAP.join(
        _cell(text, width, align)
        for text, width, (_, align) in zip(cells, widths, _BUDGET_COLUMNS, strict=True)
    ).rstrip()


def _distribution(row: BudgetRow) -> str:
    if row.half_width is not None and row.distribution in ("rectangular", "triangular", "u-shaped"):
        short = {"rectangular": "rect.", "triangular": "triang.", "u-shaped": "U-shaped"}
        return f"{short[row.distribution]} a = {_sig(row.half_width, 2)}"
    return row.distribution


def _unit(unit: str) -> str:
    return "" if unit in ("", "1") else f" {unit}"


def _coefficient(c: float) -> str:
    return f"{float(f'{c:.3g}'):g}"


def _cells(row: BudgetRow) -> list[str]:
    return [
        row.name,
        row.symbol,
        _sig(row.estimate) + _unit(row.unit),
        row.type,
        _distribution(row),
        _sig(row.standard_uncertainty) + _unit(row.unit),
        _coefficient(row.sensitivity),
        _sig(row.contribution_c),
        _dof(row.dof),
    ]


def budget_widths(budgets: Iterable[Budget]) -> list[int]:
    """Column widths that fit every row of ``budgets`` (one set per certificate, so all its
    budgets align alike); the component column takes what is left and its names wrap."""
    rows = [_cells(r) for b in budgets for r in b.rows]
    widths = [
        max([_width(title)] + [_width(cells[i]) for cells in rows])
        for i, (title, _) in enumerate(_BUDGET_COLUMNS)
    ]
    rest = BUDGET_WIDTH - sum(widths[1:]) - len(_GAP) * (len(widths) - 1)
    widths[0] = max(MIN_NAME_WIDTH, min(widths[0], rest))
    return widths


def _budget_rows(row: BudgetRow, widths: list[int], total: int) -> list[str]:
    cells = _cells(row)
    names = textwrap.wrap(cells[0], widths[0]) or [""]
    lines = [_line([names[0], *cells[1:]], widths), *names[1:]]
    if row.note:
        lines += [f"    {text}" for text in textwrap.wrap(row.note, total - 4)]
    return lines


def budget_text(budget: Budget, widths: list[int] | None = None) -> str:
    """One point's GUM budget as aligned text: the rows, then u(E), ν_eff, k, p and U."""
    widths = widths or budget_widths([budget])
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    rule = "─" * total
    lines = [_line((title for title, _ in _BUDGET_COLUMNS), widths), rule]
    for row in budget.rows:
        lines += _budget_rows(row, widths, total)
    stated, _ = expanded_uncertainty(budget.expanded_uncertainty_c)
    footer = [
        f"Combined standard uncertainty u(E) = {_sig(budget.combined_standard_uncertainty_c)} °C"
        f"; effective degrees of freedom ν_eff{_relation(_dof(budget.effective_dof))} "
        "(Welch–Satterthwaite)",
        f"Expanded uncertainty U = k · u(E) with k = {budget.coverage_factor:.2f} for a coverage "
        f"probability of {_percent(budget.coverage_probability)}: "
        f"{_sig(budget.expanded_uncertainty_c)} °C, stated U = {stated} °C",
    ]
    return "\n".join([*lines, rule, *_wrapped(footer)])


def _wrapped(lines: Iterable[str]) -> list[str]:
    """Lines wrapped to the budget's width, continuation lines indented."""
    out = []
    for line in lines:
        out += textwrap.wrap(line, BUDGET_WIDTH, subsequent_indent="    ") or [""]
    return out


def _budget(point: CalPoint, widths: list[int]) -> dict[str, Any]:
    u_text, d = _stated(point)
    return {
        "title": f"{_phase_label(point.phase)}, {point.nominal_c:g} °C nominal: "
        f"E = {_fixed(point.error_c, d, sign=True)} °C, U = {u_text} °C",
        "anchor": f"budget-{point.phase}-{point.nominal_c:g}",
        "text": "\n".join([*_wrapped(point_details(point)), budget_text(point.budget, widths)]),
    }


def _coefficients(c: Coefficients | None, written: Coefficients | None = None) -> dict[str, str]:
    if c is None:
        return {"gain": "—", "offset": "—", "date": "—", "cert": "—", "match": "not read"}
    same = written is not None and (c.gain, c.offset_c) == (written.gain, written.offset_c)
    return {
        "gain": f"{c.gain:.6f}",
        "offset": f"{c.offset_c:+.4f}",
        "date": c.date,
        "cert": c.cert_id,
        "match": "identical" if same or written is None else "DIFFERS",
    }


def _adjusted(record: CalibrationRecord) -> bool:
    """The unit was adjusted when a fit was made *and* applied: a unit found out of its
    adjustment range still gets the fit computed (it shows how far out it is), but no
    as-left phase."""
    return record.adjustable and record.fit is not None and bool(record.phase("as_left"))


def _adjustment(record: CalibrationRecord) -> dict[str, Any]:
    fit, memory = record.fit, record.memory
    written = memory.written if memory is not None else None
    out: dict[str, Any] = {
        "adjusted": _adjusted(record),
        "adjustable": record.adjustable,
        "reason": record.adjustment_reason,
        "as_found": _coefficients(record.as_found_coefficients),
        "written": _coefficients(written),
        "fit": None,
        "memory": None,
    }
    if fit is not None:
        out["fit"] = {
            "gain": f"{fit.gain:.6f}",
            "u_gain": _sig(fit.u_gain, 2),
            "offset": f"{fit.offset_c:+.4f}",
            "u_offset": _sig(fit.u_offset_c, 2),
            "correlation": f"{fit.correlation:+.3f}",
            "residual_sd": _sig(fit.residual_sd_c, 2),
            "dof": str(fit.dof),
            "n": str(fit.n),
            "kind": "weighted least squares" if fit.weighted else "ordinary least squares",
        }
    if memory is not None:
        out["memory"] = {
            "result": memory.result,
            "reason": memory.reason,
            "stages": [
                ("Written", _coefficients(memory.written)),
                ("Read back", _coefficients(memory.read_back, memory.written)),
                ("After power cycle", _coefficients(memory.after_power_cycle, memory.written)),
                ("After REBOOT", _coefficients(memory.after_reboot, memory.written)),
            ],
        }
    return out


def _conformity(record: CalibrationRecord) -> dict[str, Any]:
    """The overall statements of 7.8.6: what conforms, to what, under which rule."""
    out: dict[str, Any] = {}
    for phase, label in _PHASES:
        points = sorted(record.phase(phase), key=lambda p: p.nominal_c)
        if not points:
            continue
        failed = [f"{p.nominal_c:g} °C" for p in points if p.decision.result != "PASS"]
        span = f"{points[0].nominal_c:g} °C to {points[-1].nominal_c:g} °C"
        tolerance = max(p.decision.tolerance_c for p in points)
        if failed:
            text = (
                f"{label}, the item does not conform to REQ-SENS-01 (error within "
                f"±{tolerance:g} °C at every calibration point from {span}): "
                f"nonconforming at {', '.join(failed)}."
            )
        else:
            text = (
                f"{label}, the item conforms to REQ-SENS-01: the error of indication is within "
                f"±{tolerance:g} °C at every calibration point from {span}."
            )
        out[phase] = {"label": label, "text": text, "result": "FAIL" if failed else "PASS"}
    return out


def _environment(record: CalibrationRecord) -> list[tuple[str, str]]:
    env = dict(record.environment)
    rows = []
    mean, lo, hi = (env.pop(k, None) for k in ("ambient_mean_c", "ambient_min_c", "ambient_max_c"))
    if isinstance(mean, int | float):
        span = f", range {lo:.1f} °C to {hi:.1f} °C" if isinstance(lo, int | float) else ""
        rows.append(("Ambient air temperature", f"mean {mean:.1f} °C{span}"))
    humidity = env.pop("humidity", None)
    if humidity is not None:
        rows.append(("Relative humidity", str(humidity)))
    rows += [(k.replace("_", " ").capitalize(), str(v)) for k, v in env.items()]
    return rows


def _figure(record: CalibrationRecord) -> str:
    """Errors of both phases against the nominal temperature with ±U bars, the tolerance
    band and, when guard-banded, the acceptance limits: the whole result in one picture.
    One small PNG: matplotlib is imported here, once per process, on the Agg canvas."""
    from matplotlib.figure import Figure

    from .plots import data_uri, to_png

    fig = Figure(figsize=FIGSIZE_IN, dpi=PDF_DPI)
    fig.subplots_adjust(left=0.08, right=0.72, top=0.93, bottom=0.15)
    ax = fig.add_subplot()
    points = record.points
    tolerance = max(p.decision.tolerance_c for p in points)
    ax.axhspan(-tolerance, tolerance, color="#2e7d32", alpha=0.08, lw=0)
    for sign in (-1, 1):
        ax.axhline(
            sign * tolerance,
            color="#c62828",
            lw=0.9,
            ls="--",
            label=f"tolerance ±{tolerance:g} °C" if sign > 0 else None,
        )
    styles = {"as_found": ("o", "#e65100", -0.35), "as_left": ("s", "#1565c0", 0.35)}
    for phase, label in _PHASES:
        pts = sorted(record.phase(phase), key=lambda p: p.nominal_c)
        if not pts:
            continue
        marker, colour, dx = styles[phase]
        x = [p.nominal_c + dx for p in pts]
        ax.errorbar(
            x,
            [p.error_c for p in pts],
            yerr=[p.budget.expanded_uncertainty_c for p in pts],
            fmt=marker,
            ms=4,
            color=colour,
            capsize=3,
            lw=1,
            label=f"{label.lower()} (±U)",
        )
        if any(p.decision.guard_band_c > 0 for p in pts):
            limits = [p.decision.acceptance_limit_c for p in pts]
            for sign in (-1, 1):
                ax.plot(
                    x,
                    [sign * a for a in limits],
                    ls=":",
                    lw=0.9,
                    color=colour,
                    label=f"acceptance limits, {label.lower()}" if sign > 0 else None,
                )
    ax.axhline(0.0, color="0.3", lw=0.6)
    # A few fixed ticks: ticks and their labels are most of the figure's draw time.
    ax.set_xticks(sorted({p.nominal_c for p in points}))
    ax.set_xlabel("nominal temperature (°C)", fontsize=8)
    ax.set_ylabel("error E = t_ind − t_ref (°C)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return data_uri(to_png(fig))


def certificate_context(
    record: CalibrationRecord,
    *,
    cert_id: str,
    issued: dt.date,
    replaces: str | None = None,
    reason: str | None = None,
    run_meta: Mapping[str, Any] | None = None,
    figure: str | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as text: the template formats nothing itself, so the
    rounding rules live here, in one place, under test."""
    meta = run_meta or {}
    first, last = calibration_dates(record)
    performed = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    ordered = sorted(record.points, key=lambda p: (p.phase != "as_found", p.nominal_c))
    widths = budget_widths(p.budget for p in ordered)
    return {
        "cert_id": cert_id,
        "replaces": replaces,
        "reason": reason,
        "issued": issued.isoformat(),
        "lab": {k: _text(record.laboratory.get(k)) for k in ("name", "address", "accreditation")},
        "customer": {k: _text(v) for k, v in record.customer.items()},
        "authorised": {k: _text(record.authorised_by.get(k)) for k in ("name", "role")},
        "item": _item(record),
        "received": record.received,
        "performed": performed,
        "location": _location(record, meta),
        "simulated": _simulated(meta),
        "operator": record.operator,
        "run_id": record.run_id,
        "method": {k: _text(record.method.get(k)) for k in ("id", "title", "version", "summary")},
        "measurand": MEASURAND,
        # Records before schema 1.1 budgeted the repeatability of the window's mean.
        "single_indication": all(p.window.difference_sd_c is not None for p in record.points),
        "order": ", ".join(f"{c:g}" for c in record.order_c),
        "environment": _environment(record),
        "references": [r.model_dump() for r in record.references],
        "decision_rule": {
            k: _text(record.decision_rule.get(k)) for k in ("name", "statement", "reference")
        },
        "results": _results(record),
        "conformity": _conformity(record),
        "requirements": sorted(record.requirements.items()),
        "adjustment": _adjustment(record),
        "budgets": [_budget(p, widths) for p in ordered],
        "deviations": list(record.deviations),
        "figure": figure,
        "software": f"cryorig {_software_version()}",
    }


# --- rendering -----------------------------------------------------------------------------------
def _css_string(value: Any) -> markupsafe.Markup:
    """A value as a CSS string literal for ``content:`` of the page margin boxes (lab names
    carry '&' and quotes; HTML escaping would print '&amp;' and could not stop '</style>')."""
    escaped = "".join(
        ch if ch.isalnum() or ch in " .,:;-_()/°·+" else f"\\{ord(ch):x} " for ch in str(value)
    )
    return markupsafe.Markup(f'"{escaped}"')


@functools.cache
def _template() -> jinja2.Template:
    """The compiled template, once per process (the environment and compilation are a
    measurable part of a warm render); strict: no item of the certificate left blank."""
    env = environment(strict=True)
    env.filters["css_string"] = _css_string
    return env.get_template(TEMPLATE)


def render_html(
    context: Mapping[str, Any],
    *,
    pdf_pages: int | None = None,
    part: str = "all",
    page_start: int = 1,
    page_total: int | None = None,
) -> str:
    """The certificate's HTML. ``pdf_pages``: the PDF issue's page count, stated in the
    HTML issue (which has one page) so a reader of either knows the PDF's length.

    ``part``: ``"all"`` (the HTML issue, and the PDF made in one piece), or ``"front"``
    (the title to section 8: the results, the figure and the statement of conformity) or
    ``"back"`` (section 9 to the end: adjustment, uncertainty method, authorisation, Annex A
    with the budgets, the end line) to be laid out separately; in print section 9 starts a page,
    so the parts are pages of the whole. A part numbers its pages from ``page_start`` out
    of ``page_total``."""
    if part not in ("all", "front", "back"):
        raise ValueError(f"no certificate part {part!r}")
    return _template().render(
        **context, pdf_pages=pdf_pages, part=part, page_start=page_start, page_total=page_total
    )


def render_pdf(html: str) -> tuple[bytes, int]:
    """PDF bytes and page count of ``html`` (its print CSS sets A4 and the margin boxes)."""
    from weasyprint import HTML

    fonts = _font_faces()
    stylesheets, font_config = ([fonts[0]], fonts[1]) if fonts else (None, None)
    with _cyclic_gc_paused():
        document = HTML(string=html).render(stylesheets=stylesheets, font_config=font_config)
        pdf = document.write_pdf(full_fonts=not _fast_font_subsetting())
    return pdf, len(document.pages)


# --- the back laid out beside the front ---------------------------------------------------------
# WeasyPrint lays out one document on one core: about 1 ms a line. In print, section 9 and
# Annex A each start a page, so the certificate is two parts that can be laid out at the
# same time in two processes and their pages joined: the front (title to section 8, with
# the figure, drawn here meanwhile) and the back (section 9 to the end, with the budgets).
# Section 8 (conformity) shares a page with the figure, which starts one: split before
# section 8, a real record's figure had a page to itself.
# The split is where the two take about as long: measured on the test suite's record,
# figure 0.19 s + front 0.50-0.56 s here against back 0.63-0.66 s in the worker (medians
# of 6, 2026-11-29; split at the annex it was 0.2 + 0.7 s here against 0.45-0.6 s there).
# Same pages, numbered the same ("Page x of y" as a literal count in each part, the
# back's from where it starts).
# The page counts are known only after layout: each part is laid out with the counts the
# last certificate of the same shape had, and laid out again (both, in parallel) with
# the right ones if they differ. The counts seen are kept on disk beside the cut faces: a
# station issues one certificate per process, and without them every issue on a real
# record (budgets of 28 lines, 3 + 6 pages) paid the second layout (0.6-0.8 s).
ANNEX_TIMEOUT_S = 120.0
_PAGES_SEEN: dict[str, tuple[int, int]] = {}
_PAGES_FILE = "certificate-pages.json"


def pages_key(context: Mapping[str, Any]) -> str:
    """What the parts' page counts follow: the budgets and their lengths in lines (the
    front's sections are of one length for a station; a different one costs a retry)."""
    return ",".join(str(b["text"].count("\n") + 1) for b in context["budgets"])


def _pages_path() -> Path:
    return _font_cache_dir().parent / _PAGES_FILE


def _pages_first_guess(budgets: int) -> tuple[int, int]:
    """Three front pages (sections 1-7, then the figure with section 8) and a back of one
    page before the annex, three budgets a page."""
    return 3, 1 + math.ceil(budgets / 3)


def _pages_guess(key: str, budgets: int) -> tuple[int, int]:
    """The counts last seen for ``key`` (here or, once per process, on disk)."""
    if not _PAGES_SEEN:
        with contextlib.suppress(OSError, ValueError, TypeError):
            seen = json.loads(_pages_path().read_text(encoding="utf-8"))
            _PAGES_SEEN.update({str(k): (int(v[0]), int(v[1])) for k, v in seen.items()})
    return _PAGES_SEEN.get(key) or _pages_first_guess(budgets)


def _pages_seen(key: str, counts: tuple[int, int]) -> None:
    if _PAGES_SEEN.get(key) == counts:
        return
    _PAGES_SEEN[key] = counts
    path = _pages_path()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):  # a read-only home costs the retry, nothing else
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(_PAGES_SEEN, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)  # whole or not at all, beside other processes
        finally:
            tmp.unlink(missing_ok=True)


def _annex_worker_start() -> None:
    """The annex worker: skip the interpreter's teardown at exit (its results went back over
    the pipe already; freeing WeasyPrint's modules would cost the caller a wait), then lay
    out once (imports, the cut faces, Pango's and fontconfig's caches)."""
    from rig.shared.parent_watch import exit_with_parent

    atexit.register(os._exit, 0)
    exit_with_parent()  # a killed certificate worker leaves no annex worker behind
    with contextlib.suppress(Exception):  # a job that then fails says why
        render_pdf(WARM_UP_HTML)
    _freeze_heap()


def _annex_ready() -> bool:
    return True


class AnnexWorker:
    """A spawned process that lays out the certificate's back (sections 9 to the end, with
    Annex A) while the caller lays out the front.

    Spawned, not forked: the caller may hold sockets, sessions and threads. Worth it only
    where a second core is free: :func:`start_annex_worker` is called by a process that
    will issue certificates and has a core to spare (``cryorig calibrate``'s certificate
    worker, the certificate benchmark), never implicitly by :func:`issue_certificate`.
    """

    def __init__(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import util

        self.pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_annex_worker_start,
        )
        self.ready = self.pool.submit(_annex_ready)
        # Shut down before this process waits for its children at exit: a process that
        # started a worker (a spawned certificate worker, say) joins its children at exit
        # before the executor's own exit hook would run, and the idle worker never ends.
        # Priority above the queues' own finalizers (10): their feeder threads must still
        # run to carry the shutdown to the worker.
        util.Finalize(self, _shut_down, args=(self.pool,), exitpriority=100)

    def usable(self) -> bool:
        """Started and warm (a worker still warming up would make this issue slower)."""
        return self.ready.done() and self.ready.exception() is None

    def close(self) -> None:
        _shut_down(self.pool)


def _shut_down(pool: Any) -> None:
    pool.shutdown(wait=True, cancel_futures=True)


def _cores() -> int:
    """Cores this process may run on (all of them where the platform cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_ANNEX_WORKER: AnnexWorker | None = None


def start_annex_worker() -> AnnexWorker | None:
    """Start (once per process) the annex worker; None where there is no second core."""
    global _ANNEX_WORKER
    if _ANNEX_WORKER is None and _cores() >= 2:
        try:
            _ANNEX_WORKER = AnnexWorker()
        except (OSError, RuntimeError):
            _ANNEX_WORKER = None
    return _ANNEX_WORKER


@contextlib.contextmanager
def in_one_process() -> Iterator[None]:
    """Certificates issued inside are laid out in this process, the annex worker left
    idle (to compare the two ways, or to test the one-process way beside a worker)."""
    global _ANNEX_WORKER
    worker, _ANNEX_WORKER = _ANNEX_WORKER, None
    try:
        yield
    finally:
        if _ANNEX_WORKER is None:
            _ANNEX_WORKER = worker


def stop_annex_worker() -> None:
    global _ANNEX_WORKER
    worker, _ANNEX_WORKER = _ANNEX_WORKER, None
    if worker is not None:
        worker.close()


class _Join:
    """The front's pages, then the back's, with the front's document information; the faces
    both parts embed are kept once. Started with the front alone, so that its share of the
    work (a third) is done while the worker is still laying out the back."""

    def __init__(self, front: bytes) -> None:
        import io

        from pypdf import PdfReader, PdfWriter

        first = PdfReader(io.BytesIO(front))
        self._writer = PdfWriter()
        self._writer.append(first)
        if first.metadata:
            self._writer.add_metadata(dict(first.metadata))

    def finish(self, back: bytes) -> bytes:
        import io

        from pypdf import PdfReader

        self._writer.append(PdfReader(io.BytesIO(back)))
        self._writer.compress_identical_objects()
        out = io.BytesIO()
        self._writer.write(out)
        return out.getvalue()


def _render_in_parts(
    context: dict[str, Any], worker: AnnexWorker, figure: Callable[[], str] | None
) -> tuple[bytes, int]:
    key = pages_key(context)
    front_pages, back_pages = _pages_guess(key, len(context["budgets"]))
    for _ in range(2):
        total = front_pages + back_pages
        back_html = render_html(context, part="back", page_start=front_pages + 1, page_total=total)
        job = worker.pool.submit(render_pdf, back_html)
        if figure is not None:  # drawn while the back is laid out: the back has none
            context["figure"] = figure()
            figure = None
        front_pdf, front_real = render_pdf(render_html(context, part="front", page_total=total))
        join = _Join(front_pdf)
        back_pdf, back_real = job.result(timeout=ANNEX_TIMEOUT_S)
        if (front_real, back_real) == (front_pages, back_pages):
            _pages_seen(key, (front_pages, back_pages))
            return join.finish(back_pdf), total
        # The footers do not change the flow: the second layout has these counts.
        front_pages, back_pages = front_real, back_real
    raise RuntimeError(f"page counts did not settle: {front_pages} + {back_pages}")


def render_certificate_pdf(
    context: dict[str, Any], *, figure: Callable[[], str] | None = None
) -> tuple[bytes, int]:
    """The PDF issue and its page count: the front and the back laid out at once when an
    annex worker is warm (:func:`start_annex_worker`), else the whole in this process.
    Both give the same pages with the same text; a failed worker means the latter.

    ``figure``: draws the figure (``context["figure"]``, set here) once the back is on
    its way, so that drawing it overlaps the back's layout instead of delaying both."""
    worker = _ANNEX_WORKER
    if worker is not None and worker.usable():
        try:
            return _render_in_parts(context, worker, figure)
        except Exception:  # the worker died or timed out: the document is made here instead
            stop_annex_worker()
    if figure is not None and context.get("figure") is None:
        context["figure"] = figure()
    return render_pdf(render_html(context))


WARM_UP_HTML = (
    "<html><body style=\"font-family: 'Certificate Serif'\">Calibration <b>certificate</b> "
    "<span style=\"font-family: 'Certificate Mono'\">0.5 °C</span></body></html>"
)


def warm_up() -> None:
    """Import and lay out once: what the first certificate of a process would otherwise pay
    on top of its own work (WeasyPrint's and matplotlib's imports, the cut faces, Pango's
    and fontconfig's caches). For a worker that will issue a certificate soon."""
    from matplotlib.figure import Figure

    from .plots import to_png

    fig = Figure(figsize=(1, 1), dpi=20)
    fig.add_subplot().plot([0, 1], [0, 1], label="°C")
    to_png(fig)
    render_pdf(WARM_UP_HTML)
    _freeze_heap()


def _freeze_heap() -> None:
    """Take what is alive now (modules, caches, fonts: it lives as long as the process)
    out of the cyclic collector's full collections. Otherwise the first full collection
    that falls inside an issue walks all of it: 0.23–0.29 s measured, a quarter of a warm
    issue, in about one issue out of four. Garbage is collected first, so only live
    objects are frozen; they are still freed by reference counting when dropped."""
    gc.collect()
    gc.freeze()


class _cyclic_gc_paused:  # lower case: used as a function, ``with _cyclic_gc_paused():``
    """No cyclic garbage collection while WeasyPrint lays out and paints (and, around an
    issue, while matplotlib draws and pypdf joins the parts).

    Layout allocates some 10^5 linked boxes; each allocation burst triggers collections
    that walk every object the process holds (the rig, pandas, matplotlib, GTC: 10^6 and
    more); that is work with nothing to find until the document goes. The boxes are freed by
    reference counting when the document goes; what cycles remain are collected by the
    next automatic collection after this block. Re-entrant: an inner block leaves the
    collector as the outer one set it. (Measured around a whole issue: the 26–27 young
    collections that still ran outside the layouts took 0.03–0.05 s.)

    A class, not a generator: a generator-based context manager allocates (its
    StopIteration) right after re-enabling the collector, which sets off the deferred
    collection there, inside the block's caller, instead of at the caller's next
    allocation."""

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was_enabled:
            gc.enable()


@functools.cache
def _fast_font_subsetting() -> bool:
    """Whether WeasyPrint can subset fonts with HarfBuzz (milliseconds). Without it, it falls
    back to fontTools, which parses each face's whole GPOS/GSUB tables (0.1–0.3 s a face
    here); then the faces are embedded whole instead: they are small already (below)."""
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except ImportError:
        return False
    return harfbuzz_subset is not None


# --- fonts ---------------------------------------------------------------------------------------
# The PDF's three faces are DejaVu Serif (regular, bold) and DejaVu Sans Mono, cut down once to
# the scripts a certificate uses (Latin, Greek, punctuation, super/subscripts, arrows, maths,
# box drawing) and without the kerning/ligature/MATH tables: some 620 glyphs and 50 kB instead
# of 3,000–6,000 glyphs and 350–760 kB a face, so embedding them whole costs little and
# WeasyPrint has no 0.1–0.3 s subsetting pass per face. The cut is cached on disk (a station
# issues one certificate per process); any character outside it falls back to the full system
# face named after it in the CSS.
FONT_FACES = (
    ("Certificate Serif", "normal", "DejaVu Serif:style=Book"),
    ("Certificate Serif", "bold", "DejaVu Serif:style=Bold"),
    ("Certificate Mono", "normal", "DejaVu Sans Mono:style=Book"),
)
FONT_RANGES = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x017F),  # Latin-1 and Latin Extended-A (names and addresses of Europe)
    (0x0300, 0x030F),  # combining marks (the bar of t̄)
    (0x0391, 0x03C9),  # Greek letters
    (0x1D62, 0x1D6A),  # subscript letters (xᵢ)
    (0x2010, 0x205E),  # dashes, quotes, bullets, ellipsis, per mille, primes
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2126, 0x2126),  # Ω
    (0x2190, 0x2199),  # arrows
    (0x2200, 0x2265),  # mathematical operators (−, √, ∞, ≈, ≠, ≤, ≥)
    (0x22C5, 0x22C5),  # dot operator
    (0x2500, 0x2503),  # box drawing: the budget tables' rules
)
_FONT_RECIPE = "3"
"""Part of the cache key: change it when FONT_RANGES or the dropped tables change."""


def _font_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cryorig" / "fonts"


def _system_font(pattern: str) -> Path | None:
    import subprocess

    try:
        proc = subprocess.run(
            ["fc-match", "--format=%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(proc.stdout.strip())
    return path if proc.returncode == 0 and path.is_file() else None


def _cut_font(source: Path, target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.drop_tables += ["GPOS", "GSUB", "GDEF", "kern", "MATH", "FFTM"]
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for lo, hi in FONT_RANGES for c in range(lo, hi + 1)])
    font = TTFont(source)
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        font.save(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _font_file(pattern: str) -> Path | None:
    """The cut of the system face ``pattern``, made on first use (None: no such face, or
    nowhere to write the cut; the CSS then falls back to the system face by name)."""
    source = _system_font(pattern)
    if source is None:
        return None
    stat = source.stat()
    key = f"{source}:{stat.st_size}:{stat.st_mtime_ns}:{_FONT_RECIPE}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = _font_cache_dir() / f"{source.stem}-{digest}.ttf"
    if not target.is_file():
        try:
            _cut_font(source, target)
        except Exception:  # a broken cache or font must not stop a certificate
            return None
    return target


@functools.cache
def _font_faces() -> tuple[Any, Any] | None:
    """(stylesheet, font configuration) declaring the cut faces, once per process; None
    when any face is unavailable (the system fonts are then used by name)."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    rules = []
    for family, weight, pattern in FONT_FACES:
        path = _font_file(pattern)
        if path is None:
            return None
        rules.append(
            f'@font-face {{ font-family: "{family}"; font-weight: {weight}; '
            f'src: url("{path.as_uri()}"); }}'
        )
    font_config = FontConfiguration()
    atexit.register(_drop_font_faces)
    return CSS(string="\n".join(rules), font_config=font_config), font_config


def _drop_font_faces() -> None:
    """At exit, let the font configuration go while the interpreter still works: its
    ``__del__`` removes its temporary folder of faces with ``shutil.rmtree``, which the
    interpreter's teardown may already have unbound (an "Exception ignored" on stderr and
    a folder left behind in the temporary directory)."""
    _font_faces.cache_clear()
    gc.collect()


def _publish(files: Mapping[Path, bytes]) -> None:
    """Write each file completely under a temporary name, then link it into place: a link
    never replaces an existing file, so a certificate is never overwritten, even by a
    concurrent issue of the same ID. On any failure the files this call published are
    removed again, so a certificate is all there or not there."""
    done: list[Path] = []
    try:
        for path, data in files.items():
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            try:
                with tmp.open("wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                tmp.chmod(0o444)
                _link(tmp, path, data)
            finally:
                tmp.unlink(missing_ok=True)
            done.append(path)
    except FileExistsError as exc:
        for path in done:
            path.unlink(missing_ok=True)
        raise CertificateExists([f"{exc.filename2 or exc.filename}: already exists"]) from exc
    except BaseException:
        for path in done:
            path.unlink(missing_ok=True)
        raise
    fsync_dir(next(iter(files)).parent)


def _link(tmp: Path, path: Path, data: bytes) -> None:
    """Put ``tmp`` at ``path`` unless something is there already. A hard link is atomic and
    never replaces; where the file system has no hard links, an exclusive create does the
    same except that a reader could briefly see the file incomplete."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        with path.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        path.chmod(0o444)


def issue_certificate(
    run_dir: Path | str,
    *,
    issued: dt.date | None = None,
    out_dir: Path | None = None,
    signing_key: Path | None = None,
    replaces: str | None = None,
    reason: str | None = None,
) -> CertificatePaths:
    """Issue the calibration certificate of the run in ``run_dir`` (PDF, HTML, manifest).

    ``issued``: the date of issue (default: today, local time, as the rig dates a run).
    ``out_dir``: default ``<run_dir>/certificate``. ``signing_key``: an Ed25519 private
    key (PEM, no password) that signs the manifest. ``replaces`` + ``reason``: issue a correction
    ``<replaces>-R<n+1>`` that withdraws ``replaces``.

    Raises :class:`CertificateRefused` (nothing written) when the record must not be
    certified, :class:`CertificateExists` when this ID was issued already, and
    :class:`CertificateError` for bad input.

    The cyclic collector waits until the certificate is published (see
    :func:`_cyclic_gc_paused`): the issue allocates some 10^6 objects, and the young
    collection they trigger (0.04–0.08 s measured) is work for after the certificate is
    out, not before.
    """
    with _cyclic_gc_paused():
        return _issue(
            Path(run_dir),
            issued=issued,
            out_dir=out_dir,
            signing_key=signing_key,
            replaces=replaces,
            reason=reason,
        )


def _issue(
    run_dir: Path,
    *,
    issued: dt.date | None,
    out_dir: Path | None,
    signing_key: Path | None,
    replaces: str | None,
    reason: str | None,
) -> CertificatePaths:
    out_dir = Path(out_dir) if out_dir is not None else run_dir / CERTIFICATE_DIR
    record, record_bytes = read_record(run_dir)
    issued = issued or dt.date.today()  # the laboratory's calendar day, as the rig dates runs
    reasons = refusal_reasons(record)
    if reasons:
        raise CertificateRefused(reasons)
    if issued < calibration_dates(record)[1]:
        raise CertificateError(
            f"date of issue {issued.isoformat()} is before the calibration ({record.calibrated})"
        )
    cert_id, replaces, reason = _identity(record, out_dir, replaces, reason)
    _refuse_if_issued(out_dir, cert_id)
    key = _load_signing_key(Path(signing_key)) if signing_key is not None else None

    meta = _run_meta(run_dir)
    context = certificate_context(
        record,
        cert_id=cert_id,
        issued=issued,
        replaces=replaces,
        reason=reason,
        run_meta=meta,
    )
    pdf, pages = render_certificate_pdf(context, figure=lambda: _figure(record))
    html = render_html(context, pdf_pages=pages).encode("utf-8")
    renditions = {"pdf": (f"{cert_id}.pdf", pdf), "html": (f"{cert_id}.html", html)}
    manifest = _manifest(
        cert_id=cert_id,
        replaces=replaces,
        reason=reason,
        record=record,
        record_bytes=record_bytes,
        issued=issued,
        run_dir=run_dir,
        out_dir=out_dir,
        renditions=renditions,
        pages=pages,
    )
    if key is not None:
        manifest["signature"] = _signature(manifest, key)
    paths = _paths(out_dir, cert_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    _publish(
        {
            paths["pdf"]: pdf,
            paths["html"]: html,
            paths["manifest"]: (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        }
    )
    return CertificatePaths(cert_id, paths["pdf"], paths["html"], paths["manifest"], pages)
