"""The fetcher: one HTTP exchange, timeouts, status, size cap, redirects; GET URLs (RFC 5019)."""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lab.evidence import ErrorCode
from lab.fetch import FetchResult, Method, fetch
from lab.ocsp_request import get_url

BODY = b"\x30\x03\x0a\x01\x03"  # an OCSPResponse: tryLater


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, bytes]] = []  # noqa: RUF012 - shared by design, reset per test

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, body))
        port = int(self.server.server_address[1])  # type: ignore[index]
        route = self.path.split("?")[0]
        if route.startswith("/slow"):
            time.sleep(1.0)
        if route.startswith("/status500"):
            self._send(500, b"oops", "text/plain")
        elif route.startswith("/redirect-same"):
            self._redirect(f"http://127.0.0.1:{port}/ok")
        elif route.startswith("/redirect-other"):
            self._redirect(f"http://localhost:{port}/ok")
        elif route.startswith("/loop"):
            self._redirect("/loop")
        elif route.startswith("/big"):
            self._send(200, b"\x30" * 5000, "application/ocsp-response")
        elif route.startswith("/html"):
            self._send(200, BODY, "text/html")
        else:
            self._send(200, BODY, "application/ocsp-response")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _answer
    do_POST = _answer


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _reset() -> None:
    _Handler.seen.clear()


def test_fetch_posts_the_request_once(server: str) -> None:
    result = fetch(server + "/ok", b"REQUEST")
    assert (result.ok, result.http_status, result.body) == (True, 200, BODY)
    assert result.content_type == "application/ocsp-response"
    assert _Handler.seen == [("POST", "/ok", b"REQUEST")]


def test_fetch_get_puts_base64_in_path(server: str) -> None:
    request = bytes(range(250))  # base64 holds '+' and '/'
    result = fetch(server + "/", request, method=Method.GET)
    assert result.ok
    ((command, path, _),) = _Handler.seen
    assert command == "GET"
    assert "+" not in path and "/" not in path[1:] and "=" not in path
    assert base64.b64decode(urllib.parse.unquote(path[1:])) == request


def test_get_url_escapes_base64() -> None:
    url = get_url("http://ocsp.example/base", b"\xfb\xff\xfe")
    assert url == "http://ocsp.example/base/%2B%2F%2F%2B"


def test_fetch_reports_http_status(server: str) -> None:
    result = fetch(server + "/status500", b"x")
    assert (result.error, result.http_status) == (ErrorCode.HTTP_STATUS, 500)


def test_fetch_times_out(server: str) -> None:
    start = time.monotonic()
    result = fetch(server + "/slow", b"x", timeout=0.2)
    assert result.error is ErrorCode.TIMEOUT
    assert time.monotonic() - start < 0.9


def test_fetch_reports_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/", b"x", timeout=2)
    assert result.error is ErrorCode.UNREACHABLE
    assert "refused" in result.message


def test_fetch_follows_same_host_redirect(server: str) -> None:
    result = fetch(server + "/redirect-same", b"x")
    assert result.ok and result.body == BODY
    assert [p for _, p, _ in _Handler.seen] == ["/redirect-same", "/ok"]


def test_fetch_refuses_cross_host_redirect(server: str) -> None:
    result = fetch(server + "/redirect-other", b"x")
    assert (result.error, result.http_status) == (ErrorCode.HTTP_STATUS, 302)
    assert len(_Handler.seen) == 1


def test_fetch_stops_redirect_loops(server: str) -> None:
    assert fetch(server + "/loop", b"x").error is ErrorCode.HTTP_STATUS


def test_fetch_caps_body(server: str) -> None:
    result = fetch(server + "/big", b"x", max_body=1000)
    assert result.error is ErrorCode.MALFORMED_RESPONSE


def test_fetch_records_content_type_without_judging(server: str) -> None:
    result: FetchResult = fetch(server + "/html", b"x")
    assert result.ok and result.content_type == "text/html"
