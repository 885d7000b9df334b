"""The responder over ASGI, for gunicorn's asyncio worker (``ocsp-lab serve``).

Why a second adapter: the answer itself costs tens of microseconds (a cache
hit ~10 µs, a signed nonce answer ~60 µs), but gunicorn's threaded worker
(gthread) spends ~150 µs of CPU per request around it — a poller thread, a
pool thread, the GIL handed back and forth, headers and body in two writes.
Its asyncio worker (``worker_class = "asgi"``, gunicorn 24+) runs one event
loop per process (uvloop when installed) and writes headers and body at once:
about half the CPU per request, and a silent or half-sent connection costs a
waiting coroutine, not a thread (figures in bench/results.md).

Every GET and POST outside :data:`~responder.app.ADMIN_PREFIX` is OCSP and is
answered by :func:`~responder.app.serve_ocsp` right in the event loop: pure
CPU, no I/O but one ``stat`` of the state file. While a fault is set it goes
to a thread instead, so that ``delay`` sleeps there and the loop goes on
serving others. The body is read here, whatever its framing, and refused with
413 past 64 KiB (by its Content-Length before reading, or as soon as a chunked
one is over). Everything else — the admin API, the status page, other methods
— is the Flask app's, through asgiref's WSGI bridge, given the body read here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance
from flask import Flask, request
from werkzeug.exceptions import HTTPException

from responder.app import (
    ADMIN_PREFIX,
    FAVICON,
    HttpAnswer,
    LabResponder,
    lab_responder,
    lean_request_der,
    origin_path,
    serve_ocsp,
)
from responder.live import POLL_S, SLOTS, EventStream
from responder.logs import mark_dropped
from responder.protocol import MAX_REQUEST_BYTES

__all__ = ["EVENTS_PATH", "AsgiResponder"]

#: The status page's event stream: served here, in the event loop (responder.live).
EVENTS_PATH = ADMIN_PREFIX + "/events"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiResponder:
    """ASGI application: the lab responder of a Flask app made by ``create_app``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.responder: LabResponder = lab_responder(app)
        self.flask = WsgiToAsgi(app)  # type: ignore[no-untyped-call]

    async def events(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /~admin/events`` in the event loop: one waiting coroutine per open page.

        Through asgiref's bridge a stream would hold the one thread every Flask
        request of this process runs on. The admin guard decides first, on a
        request built from the scope as the bridge would build it.
        """
        import io

        bridge = WsgiToAsgiInstance(self.app)  # type: ignore[no-untyped-call]
        bridge.scope = scope  # build_environ reads the headers from it
        environ = bridge.build_environ(scope, io.BytesIO(b""))  # type: ignore[no-untyped-call]
        with self.app.request_context(environ):
            try:
                self.responder.guard.check(request)
                after = _after(request.headers.get("Last-Event-ID") or request.args.get("after"))
                if not SLOTS.take():
                    raise _Refused(503, "too many open event streams; the page polls instead")
            except (HTTPException, _Refused) as exc:
                from responder.app import _admin_error

                answer = _admin_error(exc)
                body = answer.get_data()
                await send({"type": "http.response.start", "status": answer.status_code,
                            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                        for k, v in answer.headers.items()]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
            headers = self.responder.guard.finish(request, _sse_response()).headers
        try:
            await _stream(EventStream(self.responder, after), headers.items(), receive, send)
        finally:
            SLOTS.give()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websocket: nothing here speaks it; the server closes it
        headers = _headers(scope)
        method = scope["method"]
        length = headers.get("content-length")
        # ASCII digits only (RFC 9110 8.6): str.isdigit() also takes "¹", which int() refuses.
        valid = length is None or (length.isascii() and length.isdigit())
        if not valid or (length is not None and int(length) > MAX_REQUEST_BYTES):
            await _too_large(send)  # before a byte of the body is read
            return
        try:
            body = await _body(receive)
        except _BodyTimeout:
            await _plain_error(send, 408, _TIMED_OUT)
            return
        if body is None:
            return  # the client went away
        if len(body) > MAX_REQUEST_BYTES:  # chunked: no Content-Length to refuse it by
            await _too_large(send)
            return
        path = scope["path"]
        if method == "GET" and path == EVENTS_PATH:
            await self.events(scope, receive, send)
            return
        ocsp = method in ("GET", "POST") and not path.startswith(ADMIN_PREFIX) and path != FAVICON
        if not ocsp:
            await self.flask(scope, _replay(body, receive), send)
            return
        raw_path = origin_path((scope.get("raw_path") or b"").decode("latin-1"))
        der = lean_request_der(method, raw_path or scope["path"], body)
        client = scope.get("client")
        ask = (self.responder, method, der, headers.get("if-none-match"),
               client[0] if client else "-")  # fmt: skip
        faults_on = self._faults_on()
        if faults_on:
            answer = await asyncio.get_running_loop().run_in_executor(None, serve_ocsp, *ask)
        else:
            # State just reloaded: serve_ocsp need not stat the file again. If it could
            # not be read, serve_ocsp tries again and answers internalError.
            answer = serve_ocsp(*ask, refreshed=faults_on is not None)
        await _send(answer, send)

    def _faults_on(self) -> bool | None:
        """Whether a fault is set, with the state reloaded; None if it cannot be read."""
        state = self.responder.state
        try:
            state.refresh()
        except Exception:
            return None
        return state.faults.any


class _Refused(HTTPException):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code


def _after(raw: str | None) -> int:
    raw = raw or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise _Refused(400, f"after: expected a request id (digits), found {raw!r}")
    return int(raw)


def _sse_response() -> Any:
    from flask import Response

    response = Response(b"", mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return response


async def _stream(stream: EventStream, headers: Any, receive: Receive, send: Send) -> None:
    """Drive ``stream``: every wait bounded (POLL_S), until it is over or the client left."""
    loop = asyncio.get_running_loop()
    wire = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in headers
        if k.lower() != "content-length"
    ]
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        # The feed reads SQLite and runs the judge (a validator): off the loop.
        first = await loop.run_in_executor(None, stream.first)
        await send({"type": "http.response.start", "status": 200, "headers": wire})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        while not stream.over and not gone.done():
            await asyncio.wait([gone], timeout=POLL_S)
            if gone.done():
                return
            chunk = await loop.run_in_executor(None, stream.step)
            if chunk is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        return  # the client went away mid-write
    finally:
        gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send(answer: HttpAnswer, send: Send) -> None:
    headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if answer.drop:
        mark_dropped()  # gunicorn's ERROR for the unfinished response is no error here
        # ``down``: the server keeps listening (other workers share the socket), so
        # answer nothing: a response the application leaves unfinished makes gunicorn
        # close the connection with the headers still unsent — the client sees the
        # connection end without a byte, as from a responder gone down mid-request.
        return
    await send({"type": "http.response.body", "body": answer.body})


def _headers(scope: Scope) -> dict[str, str]:
    # Only the two the lean path reads; the first of each wins.
    wanted: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in (b"content-length", b"if-none-match"):
            wanted.setdefault(name.decode(), value.decode("latin-1"))
    return wanted


#: How long a client may take between two pieces of a request body (a slow
#: client is not a stuck one; one that stops sending gets 408, RFC 9110 15.5.9).
BODY_TIMEOUT_S = 10.0


class _BodyTimeout(Exception):
    """The body was announced but did not come."""


async def _body(receive: Receive) -> bytes | None:
    """The request body, at most one chunk over the cap; None if the client went away.

    A Content-Length over the cap was refused before; a chunked body stops
    being read as soon as it is over. :class:`_BodyTimeout` if the body stops
    coming for :data:`BODY_TIMEOUT_S`.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), BODY_TIMEOUT_S)
        except TimeoutError:
            raise _BodyTimeout from None
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_REQUEST_BYTES or not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the Flask bridge: the body already read, then the client's own."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _too_large(send: Send) -> None:
    # What werkzeug answers for MAX_CONTENT_LENGTH on the WSGI path: 413 (RFC 9110 15.5.14).
    await _plain_error(send, 413, _TOO_LARGE)


async def _plain_error(send: Send, status: int, text: bytes) -> None:
    """A short text answer, and the connection closes after it."""
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()),
        (b"connection", b"close"),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": text})


_TOO_LARGE = f"413 Request Entity Too Large: at most {MAX_REQUEST_BYTES} bytes\n".encode()
_TIMED_OUT = f"408 Request Timeout: the body did not come within {BODY_TIMEOUT_S:g} s\n".encode()


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up or tear down: the PKI and state were loaded before the fork.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
