"""The status page's CSR upload: ``POST /~admin/sign`` as a form, and the signed certificates' rows.

How a Unified CM is given a certificate: its administrator downloads a CSR
from it, uploads it here, and imports what comes back (issue 14, "Sign a
product's CSR"). The page's form posts ``multipart/form-data`` (a file input
cannot be sent otherwise without script) to the same endpoint as the JSON
API, so it is guarded as every form POST of the admin is
(:mod:`responder.admin_guard`: token or loopback, ``Host``, ``Origin``, and
the page's CSRF token in the form, double-submitted). The signing itself is
:func:`responder.issue.issue_from_csr`'s, for both.

The answer to a form: JSON (``{"name", "pem", …}``) when the page's script
asks for it (``Accept: application/json``), else the PEM as a download
(``Content-Disposition: attachment``), so the form works without script too.

The certificates signed so far are rows of the page's PKI tree
(:func:`signed_rows`), under their issuer, with their live status.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from flask import Request, Response, abort, jsonify

from pki import Record
from pki.csr import SignedCert, SignProfile
from responder.app import LabResponder
from responder.store import LiveDatabase

__all__ = ["CsrUpload", "signed_answer", "signed_names", "signed_rows", "upload_from_form"]

#: The form's fields (status.html): the file, the issuer, the profile, an optional name.
CSR_FIELD = "csr"


@dataclass(frozen=True)
class CsrUpload:
    """What the form asked for: the CSR's bytes (PEM or DER) and how to sign it."""

    csr: bytes
    issuer: str
    profile: SignProfile
    name: str | None


def upload_from_form(request: Request) -> CsrUpload:
    """The form's fields, or a 400 naming the field and what it expects."""
    upload = request.files.get(CSR_FIELD)
    data = upload.read() if upload is not None else request.form.get(CSR_FIELD, "").encode()
    if not data.strip():
        abort(400, f"{CSR_FIELD}: expected a CSR file (PKCS #10, PEM or DER); none was sent")
    issuer = request.form.get("issuer") or "intermediate"
    profile = request.form.get("profile") or SignProfile.SERVER.value
    if profile not in {p.value for p in SignProfile}:
        abort(400, f"profile: expected one of {', '.join(SignProfile)}, found {profile!r}")
    name = request.form.get("name") or None
    return CsrUpload(data, issuer, SignProfile(profile), name)


def signed_answer(request: Request, signed: SignedCert, record: Record) -> Response:
    """201 with the certificate: JSON for the page's script, else the PEM as a download."""
    pem = signed.certificate.public_bytes(Encoding.PEM)
    name = record.name or ""
    if request.accept_mimetypes.best == "application/json":
        answer = jsonify(
            {
                "name": name,
                "issuer": signed.issuer,
                "serial": format(signed.serial, "X"),
                "subject": signed.subject,
                "status": record.status.value,
                "pem": pem.decode(),
            }
        )
        answer.status_code = 201
    else:
        answer = Response(pem, status=201, content_type="application/x-pem-file")
        answer.headers["Content-Disposition"] = f'attachment; filename="{name}.pem"'
    answer.headers["X-Ocsp-Lab-Name"] = name
    return answer


def _plain(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")  # as the tree's other rows


def _profile(certificate: x509.Certificate) -> str:
    """server or client, as signed (RFC 5280 4.2.1.12: serverAuth is what makes a server)."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return SignProfile.CLIENT.value
    server = ExtendedKeyUsageOID.SERVER_AUTH in usages
    return (SignProfile.SERVER if server else SignProfile.CLIENT).value


def signed_rows(responder: LabResponder, words: str) -> list[dict[str, Any]]:
    """The certificates signed from CSRs as rows of the page's tree (same keys as the lab's).

    Only a live-state responder keeps them (``serve``); ``words`` is what the
    tree says of a leaf.
    """
    database = responder.state.database
    if not isinstance(database, LiveDatabase):
        return []
    rows: list[dict[str, Any]] = []
    for name, der in database.signed():
        record = database.by_name(name)
        certificate = x509.load_der_x509_certificate(der)
        issuer = record.ca if record is not None else ""
        depth = len(responder.pki.chain(issuer)) if issuer in responder.pki else 1
        rows.append(
            {
                "name": name,
                "issuer": issuer,
                "profile": _profile(certificate),
                "role": "leaf",
                "role_words": f"{words}; signed here from a product's CSR",
                "serial": format(certificate.serial_number, "X"),
                "subject": certificate.subject.rfc4514_string(),
                "not_after": _plain(certificate.not_valid_after_utc),
                "status": record.status.value if record else "unknown",
                "revoked_at": _plain(record.revoked_at) if record and record.revoked_at else None,
                "reason": record.reason if record else None,
                "depth": depth,
                "signs_for": [],
                "signed": True,
            }
        )
    return rows


def signed_names(responder: LabResponder) -> dict[str, str]:
    """The names of the certificates signed from CSRs, by serial (upper-case hex, as logged)."""
    database = responder.state.database
    if not isinstance(database, LiveDatabase):
        return {}
    return {
        format(x509.load_der_x509_certificate(der).serial_number, "X"): name
        for name, der in database.signed()
    }
