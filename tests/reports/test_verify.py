"""``verify`` and ``cryorig verify``/``cryorig certificate`` on an issued, signed certificate.

One certificate is issued (signed) per module; each test works on its own copy of the
run directory, so a one-byte change in one test cannot leak into another.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from reports.certificate import CertificatePaths, issue_certificate
from reports.verify import VerifyError, find_manifest, verify
from rig.cli import app
from tests.reports.test_certificate import CERT_ID, ISSUED, build_record, make_run

pytestmark = pytest.mark.timeout(120)


def _write_key(path: Path) -> Path:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return path


def _public(private: Path, out: Path) -> Path:
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    out.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return out


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificatePaths, Path]:
    base = tmp_path_factory.mktemp("verify")
    key = _write_key(base / "lab-key.pem")
    run = make_run(base / "run")
    return issue_certificate(run, issued=ISSUED, signing_key=key), key


@pytest.fixture
def run(signed: tuple[CertificatePaths, Path], tmp_path: Path) -> Path:
    """A private copy of the signed run (certificate included)."""
    copy = tmp_path / "run"
    shutil.copytree(signed[0].pdf.parents[1], copy)
    return copy


def _cert(run: Path, suffix: str) -> Path:
    return run / "certificate" / f"{CERT_ID}{suffix}"


def _flip_byte(path: Path, offset: int | None = None) -> None:
    """Change one byte (the middle one by default); the file is read-only as issued."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _statuses(result) -> dict[str, str]:
    return {f.name: f.status for f in result.files}


# --- verify() ------------------------------------------------------------------------------------
def test_fresh_certificate_verifies_from_any_entry_point(run: Path) -> None:
    for path in (
        _cert(run, ".manifest.json"),
        _cert(run, ".pdf"),
        _cert(run, ".html"),
        run / "certificate",
        run,
    ):
        result = verify(path)
        assert result.ok, (path, result.problems)
        assert result.signature.status == "valid"
        assert result.certificate_id == CERT_ID
    statuses = _statuses(verify(run))
    expected = {
        f"{CERT_ID}.pdf",
        f"{CERT_ID}.html",
        "calibration.json",
        "run.json",
        "measurements.jsonl",
        "trace.jsonl",
        "station.yaml",
        "samples/logger.csv",
        "samples/logger.parquet",
    }
    assert set(statuses) == expected and set(statuses.values()) == {"ok"}


@pytest.mark.parametrize(
    "target",
    [f"certificate/{CERT_ID}.pdf", f"certificate/{CERT_ID}.html", "calibration.json",
     "samples/logger.csv"],
)  # fmt: skip
def test_one_byte_changed_is_named(run: Path, target: str) -> None:
    _flip_byte(run / target)
    result = verify(run)
    assert not result.ok
    name = Path(target).name if target.startswith("certificate/") else target
    changed = [f.name for f in result.files if f.status != "ok"]
    assert changed == [name]
    assert any(name in p and "changed" in p for p in result.problems)
    assert result.signature.status == "valid"  # the manifest itself is intact


def test_missing_and_added_files_are_reported(run: Path) -> None:
    (run / "trace.jsonl").unlink()
    (run / "samples" / "extra.csv").write_text("t_s\n0.0\n", encoding="utf-8")
    statuses = _statuses(verify(run))
    assert statuses["trace.jsonl"] == "missing"
    assert statuses["samples/extra.csv"] == "unlisted"


def test_tampered_manifest_breaks_the_signature(run: Path) -> None:
    """Changing the PDF and updating its hash in the manifest is caught by the signature."""
    pdf, manifest_path = _cert(run, ".pdf"), _cert(run, ".manifest.json")
    _flip_byte(pdf)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["certificate"]["pdf"]["sha256"] = verify(run).files[0].actual
    os.chmod(manifest_path, 0o644)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    result = verify(run)
    assert [f.status for f in result.files] == ["ok"] * len(result.files)
    assert result.signature.status == "invalid" and not result.ok


def test_bad_signature_value(run: Path) -> None:
    manifest_path = _cert(run, ".manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    value = bytearray(manifest["signature"]["value"].encode())
    value[5] = ord("A") if value[5] != ord("A") else ord("B")
    manifest["signature"]["value"] = value.decode()
    os.chmod(manifest_path, 0o644)
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    result = verify(run)
    assert result.signature.status == "invalid" and not result.ok


def test_trusted_key(run: Path, signed: tuple[CertificatePaths, Path], tmp_path: Path) -> None:
    lab = _public(signed[1], tmp_path / "lab.pub.pem")
    other = _public(_write_key(tmp_path / "other.pem"), tmp_path / "other.pub.pem")
    assert verify(run, public_key=lab).signature.status == "valid"
    result = verify(run, public_key=other)
    assert result.signature.status == "untrusted" and not result.ok


def test_unsigned_manifest_is_reported_not_failed(run: Path) -> None:
    manifest_path = _cert(run, ".manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["signature"]
    os.chmod(manifest_path, 0o644)
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    result = verify(run)
    assert result.ok and result.signature.status == "unsigned"


def test_bad_input(tmp_path: Path, run: Path) -> None:
    with pytest.raises(VerifyError, match="found none"):
        find_manifest(tmp_path / "run" / "samples")
    (tmp_path / "junk.manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(VerifyError, match="cannot read"):
        verify(tmp_path / "junk.manifest.json")
    with pytest.raises(VerifyError, match="no such manifest"):
        verify(tmp_path / "nothing.pdf")


# --- command line --------------------------------------------------------------------------------
def test_cli_verify_exit_statuses(run: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(_cert(run, ".pdf")), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1])["ok"] is True
    text = runner.invoke(app, ["verify", str(run)])
    assert text.exit_code == 0 and "VERIFIED" in text.stdout
    _flip_byte(run / "calibration.json")
    bad = runner.invoke(app, ["verify", str(run), "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout.strip().splitlines()[-1])
    assert report["ok"] is False and any("calibration.json" in p for p in report["problems"])
    missing = runner.invoke(app, ["verify", str(run / "nothing.pdf")])
    assert missing.exit_code == 2


def test_cli_certificate_exit_statuses(tmp_path: Path, run: Path) -> None:
    runner = CliRunner()
    again = runner.invoke(app, ["certificate", str(run), "--issued", ISSUED.isoformat()])
    assert again.exit_code == 1 and "already been issued" in again.output
    no_reason = runner.invoke(app, ["certificate", str(run), "--replaces", CERT_ID])
    assert no_reason.exit_code == 2
    overdue = make_run(tmp_path / "overdue", build_record(deviations=["logger overdue"]))
    refused = runner.invoke(app, ["certificate", str(overdue)])
    assert refused.exit_code == 1 and not (overdue / "certificate").exists()
