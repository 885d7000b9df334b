"""Ask a responder over HTTP: I/O and nothing else (RFC 6960 Appendix A, RFC 5019 5).

One request per call: no retries, so a field issue shows as it happens. A
redirect is followed only to the same scheme, host and port (at most a few
hops); anything else is an ``http-status`` error. The body is capped; the
content type is recorded, not judged — a wrong one on a body that parses is a
warning decided later, since the signature protects the content. OS errors map
to ``unreachable`` or ``timeout``; nothing here parses OCSP.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.parse
from dataclasses import dataclass

from lab.evidence import ErrorCode
from lab.ocsp_request import get_url
from lab.settings import HttpMethod as Method

__all__ = ["MAX_BODY", "FetchResult", "Method", "fetch"]

#: Cap on the response body; real OCSP answers are a few kilobytes.
MAX_BODY = 1 << 20
_MAX_REDIRECTS = 3
_REQUEST_TYPE = "application/ocsp-request"


@dataclass(frozen=True)
class FetchResult:
    """What came back: a body with its HTTP status and content type, or an error code."""

    url: str
    method: Method
    http_status: int | None = None
    content_type: str | None = None
    body: bytes | None = None
    error: ErrorCode | None = None
    message: str = ""
    seconds: float = 0.0
    #: Every response header as received, in order (RFC 9110 5): kept for ``check --save``.
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None


def _same_origin(a: urllib.parse.SplitResult, b: urllib.parse.SplitResult) -> bool:
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def fetch(
    url: str,
    request_der: bytes,
    *,
    method: Method = Method.POST,
    timeout: float = 5.0,
    max_body: int = MAX_BODY,
) -> FetchResult:
    """Send ``request_der`` to ``url`` once; ``timeout`` bounds the whole exchange."""
    start = time.monotonic()
    deadline = start + timeout
    target = get_url(url, request_der) if method is Method.GET else url
    origin = urllib.parse.urlsplit(target)

    def result(**fields: object) -> FetchResult:
        return FetchResult(
            url=url,
            method=method,
            seconds=time.monotonic() - start,
            **fields,  # type: ignore[arg-type]
        )

    for _hop in range(_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return result(error=ErrorCode.UNREACHABLE, message=f"not an http(s) URL: {target!r}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result(error=ErrorCode.TIMEOUT, message=f"no answer within {timeout:g} s")
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname, parts.port, timeout=remaining)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            if method is Method.POST:
                connection.request(
                    "POST", path, body=request_der, headers={"Content-Type": _REQUEST_TYPE}
                )
            else:
                connection.request("GET", path)
            response = connection.getresponse()
            status = response.status
            content_type = response.getheader("Content-Type")
            headers = tuple(response.getheaders())
            location = response.getheader("Location")
            if 300 <= status < 400 and location:
                response.close()
                nxt = urllib.parse.urlsplit(urllib.parse.urljoin(target, location))
                if not _same_origin(nxt, origin):
                    return result(
                        http_status=status,
                        error=ErrorCode.HTTP_STATUS,
                        message=f"HTTP {status} redirect to another host ({nxt.geturl()}): "
                        "not followed",
                    )
                target = nxt.geturl()
                continue
            body = _read_capped(response, max_body, deadline)
        except TimeoutError:
            return result(error=ErrorCode.TIMEOUT, message=f"no answer within {timeout:g} s")
        except _BodyTooLarge:
            return result(
                http_status=status,
                content_type=content_type,
                headers=headers,
                error=ErrorCode.MALFORMED_RESPONSE,
                message=f"response body larger than {max_body} bytes",
            )
        except (OSError, http.client.HTTPException) as exc:
            return result(error=ErrorCode.UNREACHABLE, message=f"{parts.netloc}: {_why(exc)}")
        finally:
            connection.close()
        if not 200 <= status < 300:
            return result(
                http_status=status,
                content_type=content_type,
                headers=headers,
                body=body,
                error=ErrorCode.HTTP_STATUS,
                message=f"HTTP {status} {response.reason}".rstrip(),
            )
        return result(http_status=status, content_type=content_type, headers=headers, body=body)
    return result(error=ErrorCode.HTTP_STATUS, message=f"more than {_MAX_REDIRECTS} redirects")


class _BodyTooLarge(Exception):
    pass


def _read_capped(response: http.client.HTTPResponse, max_body: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_body:
            raise _BodyTooLarge
        chunks.append(chunk)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"name not resolved ({exc.strerror})"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
