"""The answer a TLS server staples (RFC 6066 8 status_request), as SCENARIOS.md ``[tls] staple``.

A TLS server fetches its certificate's OCSP answer from the responder in the
AIA, caches it, and staples it on the handshakes that ask (status_request).
:class:`StapleSource` does exactly that, once, for the lab's endpoint and for
the direct run (:mod:`lab.runner`): it fetches (faults included) when it has
no answer or its last one is past its nextUpdate, and otherwise staples the
one it has. A fetch that brings no successful OCSPResponse (transport error,
an HTTP error, an unreadable body, ``tryLater`` …) is no staple: the last one
is stapled while it is not past its nextUpdate, else nothing. A successful
answer is stapled as it came, badly signed or stale included: a TLS server
relays, the client judges (RFC 6066 8: the client checks the response).

The request carries no nonce and a SHA-1 CertID, as servers ask (RFC 5019
2.1.1, 2.1.2: pre-produced answers are cached; a nonce would defeat it).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509 import ocsp

from lab.chain_check import ocsp_urls
from lab.fetch import FetchResult, Method, fetch
from lab.ocsp_request import build_request

__all__ = ["StapleFetch", "StapleSource"]

Fetch = Callable[[str, bytes], FetchResult]


@dataclass(frozen=True)
class StapleFetch:
    """One fetch of the staple: when, from where, and what came of it."""

    at: dt.datetime
    url: str | None
    stapleable: bool  # a successful OCSPResponse came
    detail: str


@dataclass(frozen=True)
class _Answer:
    der: bytes
    next_update: dt.datetime | None


class StapleSource:
    """The endpoint's staple for ``cert``: fetched, cached until nextUpdate, refetched.

    ``now`` is injected (the scenario's clock); ``fetcher(url, request_der)``
    defaults to :func:`lab.fetch.fetch` with POST and ``timeout`` seconds.
    ``url`` overrides the certificate's AIA OCSP URL.
    """

    def __init__(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: Callable[[], dt.datetime],
        url: str | None = None,
        timeout: float = 5.0,
        fetcher: Fetch | None = None,
    ) -> None:
        self._request = build_request(cert, issuer, hash_algorithm="sha1", nonce=None).der
        urls = ocsp_urls(cert)
        self._url = url or (urls[0] if urls else None)
        self._now = now
        self._timeout = timeout
        self._fetcher = fetcher
        self._last: _Answer | None = None
        self._lock = threading.Lock()
        self.fetches: list[StapleFetch] = []

    def staple(self) -> bytes | None:
        """The OCSPResponse to staple now, or ``None`` for nothing (SCENARIOS.md ``[tls]``)."""
        with self._lock:
            now = self._now()
            last = self._last
            if last is not None and last.next_update is not None and now <= last.next_update:
                return last.der
            fetched = self._fetch(now)
            if fetched is not None:
                self._last = fetched
                return fetched.der
            # Nothing new: the last one only while it is not past its nextUpdate.
            if last is not None and (last.next_update is None or now <= last.next_update):
                return last.der
            return None

    def forget(self) -> None:
        """Drop the cached answer (a new scenario mode starts with none)."""
        with self._lock:
            self._last = None

    def _fetch(self, now: dt.datetime) -> _Answer | None:
        if self._url is None:
            self.fetches.append(StapleFetch(now, None, False, "no OCSP URL in the certificate"))
            return None
        if self._fetcher is not None:
            result = self._fetcher(self._url, self._request)
        else:
            result = fetch(self._url, self._request, method=Method.POST, timeout=self._timeout)
        answer, detail = _stapleable(result)
        self.fetches.append(StapleFetch(now, self._url, answer is not None, detail))
        return answer


def _stapleable(result: FetchResult) -> tuple[_Answer | None, str]:
    if not result.ok or result.body is None:
        return None, result.message or f"HTTP {result.http_status}"
    try:
        response = ocsp.load_der_ocsp_response(result.body)
    except ValueError as exc:
        return None, f"not an OCSPResponse: {exc}"
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None, f"responseStatus {response.response_status.name}: nothing to staple"
    try:
        next_update = response.next_update_utc
    except ValueError as exc:  # a BasicOCSPResponse cryptography cannot read further
        return None, f"unreadable BasicOCSPResponse: {exc}"
    return _Answer(result.body, next_update), f"{len(result.body)} bytes"
