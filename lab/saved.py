"""What ``check --save DIR`` keeps of its exchanges, and reading it back for ``inspect DIR``.

A folder, so that every file in it is also usable on its own by other tools
(``openssl ocsp -respin N-response.der``, ``openssl x509 -in N-cert.pem``):

``exchanges.json``
    The index: when the check ran (the client's clock, so ``inspect`` judges
    as of then) and one entry per HTTP exchange, in the order they were made
    (the leaf first, then each intermediate; each AIA URL tried is one).
    An entry holds the URL, the method, the HTTP status and every response
    header as received, the transport error code and message when there was
    no answer, the time it took, and the names of the files below.
``N-request.der`` / ``N-response.der``
    The bytes sent and received, exactly (no response file when nothing came
    back).
``N-cert.pem`` / ``N-issuer.pem``
    The certificate the request asked about and its issuer, found by the
    request's CertID (RFC 6960 4.1.1): serial and issuer hashes.
``trust.pem``
    The trust store the check was given (absent when empty).

Reading is strict: a folder without a readable ``exchanges.json`` of this
layout is a :class:`~lab.errors.UsageError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.chain_check import Fetcher
from lab.errors import UsageError
from lab.evidence import ErrorCode
from lab.fetch import FetchResult, fetch
from lab.ocsp_request import OCSPRequest
from lab.settings import HttpMethod
from pki.certid import issuer_hashes

__all__ = ["INDEX", "Exchange", "Recorder", "SavedCheck", "exchanges_of", "load", "save"]

#: The index file's name, and the version of its layout.
INDEX = "exchanges.json"
_FORMAT = 1
_CODES = tuple(code.value for code in ErrorCode)


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange of a check: what was sent, what came back (or why nothing did)."""

    url: str
    method: HttpMethod
    request: bytes
    response: bytes | None
    http_status: int | None
    headers: tuple[tuple[str, str], ...]
    error: ErrorCode | None  # when no usable answer came
    message: str
    seconds: float
    cert: x509.Certificate | None = None
    issuer: x509.Certificate | None = None

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, if it came."""
        return next((v for k, v in self.headers if k.lower() == "content-type"), None)


@dataclass(frozen=True)
class SavedCheck:
    """A saved folder: when the check ran, its exchanges, its trust store."""

    checked_at: dt.datetime
    exchanges: tuple[Exchange, ...]
    trust: tuple[x509.Certificate, ...] = ()


class Recorder:
    """A :data:`lab.chain_check.Fetcher` that keeps every exchange it passes on.

    It asks with ``fetcher``, or :func:`lab.fetch.fetch` when none is given.
    """

    def __init__(self, fetcher: Fetcher | None = None) -> None:
        self._fetcher = fetcher
        self.exchanges: list[tuple[bytes, FetchResult]] = []

    def __call__(self, url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
        if self._fetcher is None:
            result = fetch(url, der, method=method, timeout=timeout)
        else:
            result = self._fetcher(url, der, method, timeout)
        self.exchanges.append((der, result))
        return result


def _asked_about(
    request: bytes, candidates: Sequence[x509.Certificate]
) -> tuple[x509.Certificate | None, x509.Certificate | None]:
    """The certificate and issuer the request's CertID names, among ``candidates``."""
    cert_id = OCSPRequest.parse(request).cert_id
    for issuer in candidates:
        if issuer_hashes(issuer, cert_id.hash_algorithm) != (
            cert_id.issuer_name_hash,
            cert_id.issuer_key_hash,
        ):
            continue
        for cert in candidates:
            if cert.serial_number == cert_id.serial and cert.issuer == issuer.subject:
                return cert, issuer
        return None, issuer
    return None, None


def exchanges_of(
    recorded: Sequence[tuple[bytes, FetchResult]], certificates: Sequence[x509.Certificate]
) -> tuple[Exchange, ...]:
    """The recorded exchanges, each with the certificate and issuer it asked about."""
    out = []
    for request, result in recorded:
        cert, issuer = _asked_about(request, certificates)
        out.append(
            Exchange(
                url=result.url,
                method=result.method,
                request=request,
                response=result.body,
                http_status=result.http_status,
                headers=result.headers,
                error=result.error,
                message=result.message,
                seconds=result.seconds,
                cert=cert,
                issuer=issuer,
            )
        )
    return tuple(out)


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def save(directory: Path, saved: SavedCheck) -> None:
    """Write ``saved`` into ``directory`` (made if missing); :class:`UsageError` if it cannot."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, Any]] = []
        for n, exchange in enumerate(saved.exchanges, 1):
            files: dict[str, str] = {"request": f"{n}-request.der"}
            (directory / files["request"]).write_bytes(exchange.request)
            if exchange.response is not None:
                files["response"] = f"{n}-response.der"
                (directory / files["response"]).write_bytes(exchange.response)
            for key, cert in (("cert", exchange.cert), ("issuer", exchange.issuer)):
                if cert is not None:
                    files[key] = f"{n}-{key}.pem"
                    (directory / files[key]).write_bytes(_pem([cert]))
            entries.append(
                {
                    "url": exchange.url,
                    "method": exchange.method.value,
                    "http_status": exchange.http_status,
                    "headers": [list(h) for h in exchange.headers],
                    "error": None if exchange.error is None else exchange.error.value,
                    "message": exchange.message,
                    "seconds": round(exchange.seconds, 6),
                    "files": files,
                }
            )
        index: dict[str, Any] = {
            "format": _FORMAT,
            "checked_at": saved.checked_at.isoformat().replace("+00:00", "Z"),
            "exchanges": entries,
        }
        if saved.trust:
            (directory / "trust.pem").write_bytes(_pem(saved.trust))
            index["trust"] = "trust.pem"
        (directory / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"{directory}: cannot save the exchange ({exc.strerror})") from None


def _field(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"{where}: key {key!r} missing or of the wrong type")
    return value


def _read(directory: Path, name: str, where: str) -> bytes:
    try:
        return (directory / name).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{directory / name}: cannot read ({exc.strerror}), named in {where}"
        ) from None


def _certs(directory: Path, name: str, where: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(directory, name, where))
    except ValueError:
        raise UsageError(f"{directory / name}: expected PEM certificates") from None


def load(directory: Path) -> SavedCheck:
    """Read a folder written by :func:`save`."""
    index_path = directory / INDEX
    try:
        index = json.loads(index_path.read_text())
    except OSError as exc:
        raise UsageError(
            f"{directory}: no saved exchange in it ({INDEX}: {exc.strerror}); "
            "expected a folder written by check --save"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{index_path}: not JSON ({exc})") from None
    where = str(index_path)
    if not isinstance(index, dict) or index.get("format") != _FORMAT:
        raise UsageError(f"{where}: key 'format' must be {_FORMAT}")
    try:
        checked_at = dt.datetime.fromisoformat(
            _field(index, "checked_at", str, where).replace("Z", "+00:00")
        )
    except ValueError:
        raise UsageError(f"{where}: key 'checked_at' is not an ISO 8601 time") from None
    exchanges = []
    for n, entry in enumerate(_field(index, "exchanges", list, where), 1):
        at = f"{where}: exchanges[{n}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{at}: expected a table")
        files = _field(entry, "files", dict, at)
        try:
            method = HttpMethod(_field(entry, "method", str, at))
        except ValueError:
            raise UsageError(f"{at}: key 'method' must be post or get") from None
        headers = _field(entry, "headers", list, at)
        if not all(
            isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)
            for h in headers
        ):
            raise UsageError(f"{at}: key 'headers' must be a list of [name, value] pairs")
        status = entry.get("http_status")
        error = entry.get("error")
        if not (status is None or isinstance(status, int)):
            raise UsageError(f"{at}: key 'http_status' must be a number or null")
        if not (error is None or error in _CODES):
            raise UsageError(f"{at}: key 'error' must be null or one of {', '.join(_CODES)}")
        cert = files.get("cert")
        issuer = files.get("issuer")
        exchanges.append(
            Exchange(
                url=_field(entry, "url", str, at),
                method=method,
                request=_read(directory, _field(files, "request", str, at), at),
                response=_read(directory, files["response"], at) if "response" in files else None,
                http_status=status,
                headers=tuple((h[0], h[1]) for h in headers),
                error=None if error is None else ErrorCode(error),
                message=str(entry.get("message", "")),
                seconds=float(entry.get("seconds", 0.0)),
                cert=_certs(directory, cert, at)[0] if isinstance(cert, str) else None,
                issuer=_certs(directory, issuer, at)[0] if isinstance(issuer, str) else None,
            )
        )
    trust = index.get("trust")
    return SavedCheck(
        checked_at=checked_at,
        exchanges=tuple(exchanges),
        trust=tuple(_certs(directory, trust, where)) if isinstance(trust, str) else (),
    )
