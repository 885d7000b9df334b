"""What a captured file is, before it is read as what it should be.

``inspect`` is handed files from the field: the response, or by mistake the
request, a certificate, a CSR, a key, the HTML error page a proxy sent, or a
whole HTTP message copied out of a capture tool. :func:`sniff` says which, so
a wrong file gets one line saying what it is and what was expected instead
of a parser's internal message.

DER kinds are recognised by loading them (cryptography, asn1crypto, and the
lab's own OCSP parsers), never by byte patterns; the only things read from
the bytes themselves are a PEM label, an HTTP start line and headers (RFC
9112 2.1), and HTML, which is found by an HTML parser. The encodings a capture
comes in are those of :mod:`lab.commands.certfiles`: DER, PEM (any label),
base64 of DER, or an RFC 5019 GET URL (base64 in the path).
"""

from __future__ import annotations

import base64
import binascii
import html.parser
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from lab.evidence import CheckFailure
from lab.ocsp_request import OCSPRequest
from lab.validator import parse_response

__all__ = ["Capture", "CaptureKind", "HttpMessage", "load_certificates", "sniff"]


class CaptureKind(StrEnum):
    """What a captured file holds, in the words of the one-line message."""

    OCSP_RESPONSE = "an OCSP response"
    OCSP_REQUEST = "an OCSP request"
    CERTIFICATE = "a certificate"
    CSR = "a certificate signing request (CSR)"
    CRL = "a certificate revocation list (CRL)"
    PRIVATE_KEY = "a private key"
    PUBLIC_KEY = "a public key"
    PKCS12 = "a PKCS #12 bundle"
    HTML = "an HTML page"
    UNKNOWN = "unrecognised data"


@dataclass(frozen=True)
class HttpMessage:
    """The head of an HTTP message a capture was copied with (RFC 9112 2.1, 5)."""

    start_line: str  # "HTTP/1.1 200 OK" or "POST /ocsp HTTP/1.1"
    status: int | None  # the status code of a response; None for a request
    content_type: str | None
    target: str | None = None  # the request target of a request ("/MEQwQjBA…" for GET)

    @property
    def is_response(self) -> bool:
        return self.status is not None

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower case ("" when missing)."""
        return (self.content_type or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Capture:
    """What :func:`sniff` found: the kind, the form it came in, and its DER when it has one.

    For an HTTP message, ``http`` is its head and the rest describes its body
    (for a GET request without a body: the request in its target).
    """

    kind: CaptureKind
    form: str  # "DER", "PEM CERTIFICATE", "base64", "a GET URL", "text", "empty"
    der: bytes | None = None
    http: HttpMessage | None = None

    def describe(self) -> str:
        """``"a certificate (PEM CERTIFICATE)"``, ``"an HTML page"``, …, for a person."""
        if self.kind is CaptureKind.HTML or self.form in ("text", "empty"):
            what = self.kind.value if self.form != "empty" else "nothing (empty)"
        else:
            what = f"{self.kind.value} ({self.form})"
        if self.http is not None:
            return f"{what} in an HTTP message ({self.http.start_line})"
        return what


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)? (\d{3})(?: .*)?")
_REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) HTTP/\d(?:\.\d)?")
#: PEM labels (RFC 7468) for what cannot be loaded without more (a password, a format of its own).
_LABELS = (
    ("PRIVATE KEY", CaptureKind.PRIVATE_KEY),  # also ENCRYPTED / RSA / EC / OPENSSH PRIVATE KEY
    ("CERTIFICATE REQUEST", CaptureKind.CSR),
    ("X509 CRL", CaptureKind.CRL),
    ("CERTIFICATE", CaptureKind.CERTIFICATE),
    ("PUBLIC KEY", CaptureKind.PUBLIC_KEY),
    ("PKCS12", CaptureKind.PKCS12),
)


def _is_response(der: bytes) -> bool:
    try:
        parse_response(der)
    except CheckFailure:
        return False
    return True


def _is_request(der: bytes) -> bool:
    try:
        OCSPRequest.parse(der)
    except ValueError:
        return False
    return True


def _loads(load: Callable[[bytes], object]) -> Callable[[bytes], bool]:
    def loads(der: bytes) -> bool:
        try:
            load(der)
        except (ValueError, UnsupportedAlgorithm):
            return False
        return True

    return loads


def _is_private_key(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
    except TypeError:
        return True  # "Password was not given but private key is encrypted": a key all the same
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _is_pkcs12(der: bytes) -> bool:
    # The outer PFX (RFC 7292 4) reads without the password; cryptography's loader needs it.
    from asn1crypto import pkcs12

    try:
        pfx = pkcs12.Pfx.load(der, strict=True)
        return bool(pfx["version"].native and pfx["auth_safe"]["content_type"].native)
    except (ValueError, TypeError, KeyError):
        return False


#: Tried in order; the first that loads names the kind.
_DER_KINDS: tuple[tuple[CaptureKind, Callable[[bytes], bool]], ...] = (
    (CaptureKind.OCSP_RESPONSE, _is_response),
    (CaptureKind.OCSP_REQUEST, _is_request),
    (CaptureKind.CERTIFICATE, _loads(x509.load_der_x509_certificate)),
    (CaptureKind.CSR, _loads(x509.load_der_x509_csr)),
    (CaptureKind.CRL, _loads(x509.load_der_x509_crl)),
    (CaptureKind.PRIVATE_KEY, _is_private_key),
    (CaptureKind.PUBLIC_KEY, _loads(serialization.load_der_public_key)),
    (CaptureKind.PKCS12, _is_pkcs12),
)


def _der_kind(der: bytes) -> CaptureKind:
    for kind, loads in _DER_KINDS:
        if loads(der):
            return kind
    return CaptureKind.UNKNOWN


class _HtmlFinder(html.parser.HTMLParser):
    """Notes an ``<html>`` tag or an HTML doctype (WHATWG HTML 13.1.1)."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found = self.found or tag == "html"

    def handle_decl(self, decl: str) -> None:
        self.found = self.found or decl.lower().split()[:2] == ["doctype", "html"]


def _is_html(text: str) -> bool:
    finder = _HtmlFinder()
    finder.feed(text[:65536])
    return finder.found


def _base64_der(text: str) -> tuple[bytes, str] | None:
    """DER from base64 text, or from an RFC 5019 GET URL (base64 of the request in the path)."""
    candidates = [(text, "base64")]
    if text.startswith(("http://", "https://", "/")):
        # A GET URL or request target: the request is the path after any base path segments.
        segments = urllib.parse.urlsplit(text).path.lstrip("/").split("/")
        candidates = [("/".join(segments[i:]), "a GET URL") for i in range(len(segments))]
    for candidate, form in candidates:
        candidate = urllib.parse.unquote(candidate)
        try:
            der = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if der[:1] == b"\x30":  # a DER SEQUENCE: every kind above is one
            return der, form
    return None


def _http_head(data: bytes) -> tuple[HttpMessage, bytes] | None:
    """The head and body of an HTTP/1.x message, when ``data`` starts with a start line."""
    end, body = len(data), b""
    for separator in (b"\r\n\r\n", b"\n\n"):  # the blank line ending the head, first one wins
        at = data.find(separator)
        if at != -1 and at < end:
            end, body = at, data[at + len(separator) :]
    lines = data[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    status_line = _STATUS_LINE.fullmatch(start)
    request_line = _REQUEST_LINE.fullmatch(start)
    if status_line is None and request_line is None:
        return None
    content_type = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "content-type":
            content_type = value.strip()
    return (
        HttpMessage(
            start_line=start,
            status=int(status_line.group(1)) if status_line else None,
            content_type=content_type,
            target=request_line.group(2) if request_line else None,
        ),
        body,
    )


def sniff(data: bytes) -> Capture:
    """What ``data`` is: its kind, the form it came in, its DER; an HTTP message's body."""
    head = _http_head(data) if data[:1].isalpha() else None
    if head is None:
        return _sniff_body(data)
    message, body = head
    inner = _sniff_body(body)
    if inner.form == "empty" and message.target:
        # A GET request carries the OCSP request in its target (RFC 5019 5).
        inner = _sniff_body(message.target.encode("latin-1"))
    return Capture(inner.kind, inner.form, inner.der, message)


def _sniff_body(data: bytes) -> Capture:
    if not data.strip():
        return Capture(CaptureKind.UNKNOWN, "empty")
    pem = _PEM.search(data)
    if pem is not None:
        label = pem.group(1).decode("ascii")
        form = f"PEM {label}"
        try:
            der = base64.b64decode(b"".join(pem.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        kind = _der_kind(der) if der else CaptureKind.UNKNOWN
        if kind is CaptureKind.UNKNOWN:
            kind = next((k for word, k in _LABELS if word in label), kind)
        return Capture(kind, form, der or None)
    if data[:1] == b"\x30":
        return Capture(_der_kind(data), "DER", data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Capture(CaptureKind.UNKNOWN, "binary")
    if _is_html(text):
        return Capture(CaptureKind.HTML, "text")
    decoded = _base64_der("".join(text.split()))
    if decoded is None:
        return Capture(CaptureKind.UNKNOWN, "text")
    der, form = decoded
    return Capture(_der_kind(der), form, der)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file, or the one of a DER file (``ValueError`` if none).

    The one reader of certificate files, for the command line and the
    scenario loader alike; each says in its own words what went wrong.
    """
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]
