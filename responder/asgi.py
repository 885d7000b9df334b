"""The responder over ASGI, for gunicorn's asyncio worker (``ocsp-lab serve``).

Why a second adapter: the answer itself costs tens of microseconds (a cache
hit ~10 µs, a signed nonce answer ~100 µs), but gunicorn's threaded worker
(gthread) spends ~150 µs of CPU per request around it — a poller thread, a
pool thread, the GIL handed back and forth, headers and body in two writes.
Its asyncio worker (``worker_class = "asgi"``, gunicorn 25+) runs one event
loop per process with its C HTTP parser (gunicorn_h1c) and writes headers and
body at once: on the responder bench it answers 2-3× more requests per CPU
second (bench/results.md).

OCSP requests — what :func:`~responder.app.lean_route` takes — are answered
by :func:`~responder.app.serve_ocsp` right in the event loop: pure CPU, no
I/O but one ``stat`` of the state file. While a fault is set they go to a
thread instead, so that ``delay`` sleeps there and the loop goes on serving
others. Everything else — the admin API, the status page, a body over the
cap (413), other methods — is the Flask app's, through asgiref's WSGI bridge.
A silent or half-sent connection costs the loop nothing but a waiting
coroutine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.wsgi import WsgiToAsgi
from flask import Flask

from responder.app import (
    HttpAnswer,
    LabResponder,
    lab_responder,
    lean_request_der,
    lean_route,
    serve_ocsp,
)

__all__ = ["AsgiResponder"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiResponder:
    """ASGI application: the lab responder of a Flask app made by ``create_app``."""

    def __init__(self, app: Flask) -> None:
        self.responder: LabResponder = lab_responder(app)
        self.flask = WsgiToAsgi(app)  # type: ignore[no-untyped-call]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websocket: nothing here speaks it; the server closes it
        headers = _headers(scope)
        method = scope["method"]
        if not lean_route(method, scope["path"], headers.get("content-length")):
            await self.flask(scope, receive, send)
            return
        body = b""
        if method == "POST":
            read = await _body(receive, int(headers["content-length"]))
            if read is None:
                return  # the client went away
            body = read
        raw_path = scope.get("raw_path") or b""
        der = lean_request_der(method, raw_path.decode("latin-1") or scope["path"], body)
        client = scope.get("client")
        ask = (self.responder, method, der, headers.get("if-none-match"),
               client[0] if client else "-")  # fmt: skip
        state = self.responder.state
        state.refresh()
        if state.faults.any:
            answer = await asyncio.get_running_loop().run_in_executor(None, serve_ocsp, *ask)
        else:
            answer = serve_ocsp(*ask)
        await _send(answer, send)


async def _send(answer: HttpAnswer, send: Send) -> None:
    headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if answer.drop:
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
        if name in (b"content-length", b"if-none-match") and name.decode() not in wanted:
            wanted[name.decode()] = value.decode("latin-1")
    return wanted


async def _body(receive: Receive, length: int) -> bytes | None:
    """The request body; None if the client went away.

    ``length`` is its Content-Length, at most the 64 KiB cap (:func:`lean_route`),
    and the server frames the body by it, so this never holds more.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)[:length]


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up or tear down: the PKI and state were loaded before the fork.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
