"""Verify an issued calibration certificate against its manifest.

The manifest written beside each certificate (:mod:`reports.certificate`) holds the
SHA-256 of the PDF and HTML issues and of every data file of the run they were
rendered from, and optionally an Ed25519 signature over all of that. Verification
recomputes every hash and names each file that differs, is missing, or has appeared
in the run since the issue, and checks the signature. A certificate whose evidence has
changed no longer proves what it says, whichever file changed.

What a valid signature proves is limited by the key: the manifest carries the public
key it was signed with, so anyone can re-sign a forged manifest with a key of their
own. Give the laboratory's public key (``public_key``) to check *who* signed;
without it, the result reports the key's fingerprint for a person to compare.

Nothing heavy is imported here (no WeasyPrint, no matplotlib): verification is for
auditors and scripts and should answer in well under a second.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .certificate import (
    MANIFEST_FORMAT,
    canonical_bytes,
    data_files,
    public_key_fingerprint,
    sha256_file,
)

__all__ = [
    "FileCheck",
    "SignatureCheck",
    "VerifyError",
    "VerifyResult",
    "find_manifest",
    "report_lines",
    "verify",
]

MANIFEST_SUFFIX = ".manifest.json"

FileStatus = Literal["ok", "changed", "missing", "unlisted"]
SignatureStatus = Literal["valid", "invalid", "unsigned", "untrusted"]


class VerifyError(Exception):
    """Bad input: no manifest where one was expected, or a manifest that cannot be read."""


@dataclass(frozen=True)
class FileCheck:
    """One file the manifest lists (or one it should list)."""

    name: str
    """As the manifest names it: certificate files by file name, run files relative to the run."""
    role: Literal["certificate", "data"]
    status: FileStatus
    expected: str | None = None
    actual: str | None = None

    def describe(self) -> str:
        if self.status == "changed":
            return f"{self.name}: changed (sha256 {self.actual}, manifest says {self.expected})"
        if self.status == "missing":
            return f"{self.name}: missing"
        if self.status == "unlisted":
            return f"{self.name}: not in the manifest (added to the run after the issue)"
        return f"{self.name}: ok"


@dataclass(frozen=True)
class SignatureCheck:
    status: SignatureStatus
    fingerprint: str | None = None
    detail: str = ""


@dataclass
class VerifyResult:
    """Everything verification found; ``ok`` only when nothing differs and no signature is bad."""

    manifest: Path
    certificate_id: str
    replaces: str | None
    run_dir: Path
    files: list[FileCheck] = field(default_factory=list)
    signature: SignatureCheck = field(default_factory=lambda: SignatureCheck("unsigned"))

    @property
    def problems(self) -> list[str]:
        found = [f.describe() for f in self.files if f.status != "ok"]
        if self.signature.status in ("invalid", "untrusted"):
            found.append(f"signature {self.signature.status}: {self.signature.detail}")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "certificate_id": self.certificate_id,
            "replaces": self.replaces,
            "manifest": str(self.manifest),
            "run_dir": str(self.run_dir),
            "files": [asdict(f) for f in self.files],
            "signature": asdict(self.signature),
            "problems": self.problems,
        }


# --- locating and reading ------------------------------------------------------------------------
def find_manifest(path: Path | str) -> Path:
    """The manifest for ``path``: the manifest itself, the one beside a certificate PDF or
    HTML (same certificate ID), or the single manifest in a directory (or in its
    ``certificate/`` subdirectory, so a run directory can be given)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob(f"*{MANIFEST_SUFFIX}")) or sorted(
            (path / "certificate").glob(f"*{MANIFEST_SUFFIX}")
        )
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise VerifyError(f"{path}: expected one certificate manifest, found {names}")
        return found[0]
    if path.name.endswith(MANIFEST_SUFFIX):
        candidate = path
    elif path.suffix.lower() in (".pdf", ".html"):
        candidate = path.with_name(path.name[: -len(path.suffix)] + MANIFEST_SUFFIX)
    else:
        raise VerifyError(f"{path}: not a certificate (.pdf, .html), manifest or directory")
    if not candidate.is_file():
        raise VerifyError(f"{candidate}: no such manifest")
    return candidate


def _load(manifest_path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerifyError(f"{manifest_path}: cannot read the manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise VerifyError(f"{manifest_path}: not a {MANIFEST_FORMAT} manifest")
    for key, kind in (("certificate_id", str), ("certificate", dict), ("data", dict)):
        if not isinstance(manifest.get(key), kind):
            raise VerifyError(f"{manifest_path}: the manifest has no valid '{key}'")
    return manifest


def _expected_hash(entry: Any) -> str | None:
    return entry.get("sha256") if isinstance(entry, dict) else None


# --- checks --------------------------------------------------------------------------------------
def _check(path: Path, name: str, role: Literal["certificate", "data"], entry: Any) -> FileCheck:
    expected = _expected_hash(entry)
    if not path.is_file():
        return FileCheck(name, role, "missing", expected)
    actual = sha256_file(path)
    return FileCheck(name, role, "ok" if actual == expected else "changed", expected, actual)


def _certificate_checks(manifest: dict[str, Any], where: Path) -> list[FileCheck]:
    checks = []
    for kind in ("pdf", "html"):
        entry = manifest["certificate"].get(kind)
        name = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(name, str) or Path(name).name != name:
            raise VerifyError(f"the manifest's {kind} entry names no file beside it")
        checks.append(_check(where / name, name, "certificate", entry))
    return checks


def _data_checks(manifest: dict[str, Any], run_dir: Path) -> list[FileCheck]:
    listed = manifest["data"]
    checks = []
    for name, entry in sorted(listed.items()):
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise VerifyError(f"the manifest lists a data file outside the run: {name!r}")
        checks.append(_check(run_dir / name, name, "data", entry))
    if run_dir.is_dir():
        checks += [FileCheck(n, "data", "unlisted") for n in data_files(run_dir) if n not in listed]
    return checks


def _load_public_key(pem: bytes, what: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:  # a private key given as the trusted key: its public half is meant
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise VerifyError(f"{what}: not an Ed25519 key in PEM form") from exc
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise VerifyError(f"{what}: not an Ed25519 key")
    return key


def _signature_check(manifest: dict[str, Any], trusted: Any | None) -> SignatureCheck:
    """Valid only if the embedded key is consistent with its stated fingerprint, verifies the
    canonical manifest, and (when a trusted key is given) is that key."""
    from cryptography.exceptions import InvalidSignature

    sig = manifest.get("signature")
    if sig is None:
        return SignatureCheck("unsigned", detail="the manifest is not signed")
    if not isinstance(sig, dict) or sig.get("algorithm") != "Ed25519":
        return SignatureCheck("invalid", detail="unknown or malformed signature block")
    try:
        key = _load_public_key(str(sig.get("public_key_pem", "")).encode(), "signature key")
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except (VerifyError, binascii.Error) as exc:
        return SignatureCheck("invalid", detail=str(exc))
    fingerprint = public_key_fingerprint(key)
    if fingerprint != sig.get("public_key_fingerprint"):
        return SignatureCheck(
            "invalid", fingerprint, "the embedded key does not match its fingerprint"
        )
    try:
        key.verify(value, canonical_bytes(manifest))
    except InvalidSignature:
        return SignatureCheck("invalid", fingerprint, "the signature does not match the manifest")
    if trusted is not None and public_key_fingerprint(trusted) != fingerprint:
        return SignatureCheck(
            "untrusted", fingerprint, f"signed by {fingerprint}, not by the trusted key"
        )
    who = "the trusted key" if trusted is not None else "a key not checked against a trusted one"
    return SignatureCheck("valid", fingerprint, f"Ed25519, {who}")


def _run_dir(manifest: dict[str, Any], manifest_path: Path, override: Path | None) -> Path:
    if override is not None:
        return Path(override)
    stated = manifest.get("run_dir")
    if not isinstance(stated, str) or not stated:
        raise VerifyError(f"{manifest_path}: the manifest does not say where its run is")
    return (manifest_path.parent / stated).resolve()


def verify(
    path: Path | str, *, run_dir: Path | None = None, public_key: Path | None = None
) -> VerifyResult:
    """Verify the certificate at ``path`` (a manifest, a certificate PDF/HTML, or a
    directory holding one manifest). ``run_dir`` overrides where the run's data files
    are looked for; ``public_key``: the laboratory's Ed25519 public key (PEM) that must
    have signed the manifest. Raises :class:`VerifyError` on bad input."""
    manifest_path = find_manifest(path)
    manifest = _load(manifest_path)
    trusted = None
    if public_key is not None:
        try:
            pem = Path(public_key).read_bytes()
        except OSError as exc:
            raise VerifyError(f"{public_key}: cannot read the public key: {exc}") from exc
        trusted = _load_public_key(pem, str(public_key))
    where = _run_dir(manifest, manifest_path, run_dir)
    return VerifyResult(
        manifest=manifest_path,
        certificate_id=manifest["certificate_id"],
        replaces=manifest.get("replaces"),
        run_dir=where,
        files=_certificate_checks(manifest, manifest_path.parent) + _data_checks(manifest, where),
        signature=_signature_check(manifest, trusted),
    )


def report_lines(result: VerifyResult) -> list[str]:
    """A human-readable account, one line per file, for the command line."""
    lines = [f"certificate {result.certificate_id}  (manifest {result.manifest})"]
    if result.replaces:
        lines.append(f"  replaces {result.replaces}")
    lines += [f"  {f.status.upper():9s} {f.name}" for f in result.files]
    sig = result.signature
    lines.append(
        f"  signature {sig.status}"
        + (f", key {sig.fingerprint}" if sig.fingerprint else "")
        + (f": {sig.detail}" if sig.detail else "")
    )
    lines.append("VERIFIED" if result.ok else f"FAILED: {len(result.problems)} problem(s)")
    lines += [f"  - {p}" for p in result.problems]
    return lines
