"""The Flask application: ``create_app(...)``, the OCSP blueprint, the lean WSGI path.

The HTTP layer only takes the request bytes, asks the source and encodes
(Boulder's ``responder.go``). Every error maps to the wire here, in one
place — :func:`serve_ocsp`, which all three entry points call (the lean WSGI
path, the Flask view, the ASGI adapter of :mod:`responder.asgi`):

* an :class:`~responder.protocol.OCSPRequestError` from the sources →
  its unsigned responseStatus, HTTP 200 (RFC 6960 2.3): unreadable input (bad
  DER, bad base64, empty body) is ``malformedRequest``, a request the
  responder will not answer ``unauthorized``;
* a body over 64 KiB → HTTP 413, before anything is parsed;
* an unexpected exception → ``internalError`` and a log line — never HTTP 500.

POST takes ``application/ocsp-request`` (RFC 6960 A.1.1) on any path; GET
takes ``/<base64 of the DER, URL-encoded>`` (RFC 5019 5, RFC 6960 A.1.1) and
gets caching headers (RFC 5019 6.2): ``Cache-Control: max-age``, ``Expires``
(nextUpdate), ``Last-Modified`` (thisUpdate), ``ETag`` and 304 on a matching
``If-None-Match``.

The lean path (:class:`LeanPath`): every OCSP POST and GET is answered
straight from WSGI — request bytes → source → response bytes — without
Flask's request and response objects; a pre-signed answer is a dictionary
lookup on the request bytes. The admin API, and what the lean path leaves
(other methods, a POST without a usable Content-Length), go through Flask.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.ocsp import OCSPResponseStatus
from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.http import HTTP_STATUS_CODES

from pki import PKI, CertificateDatabase
from responder.admin_guard import AdminGuard
from responder.cache import CachingSource
from responder.clock import Clock, system_clock
from responder.config import ResponderConfig
from responder.faults import FaultSource
from responder.index_state import index_fingerprint
from responder.protocol import (
    MAX_REQUEST_BYTES,
    OCSP_RESPONSE_TYPE,
    MalformedRequest,
    OCSPRequestError,
    Reply,
    decode_get_path,
    error_reply,
    error_response,
)
from responder.replay import ReplaySource
from responder.requestlog import RequestLog, RequestLogEntry, kept_bytes
from responder.source import DatabaseSource, Source
from responder.state import ResponderState

__all__ = [
    "ADMIN_PREFIX",
    "EXTENSION",
    "FAVICON",
    "AnswerJudge",
    "HttpAnswer",
    "LabResponder",
    "Lesson",
    "create_app",
    "lab_responder",
    "lean_request_der",
    "lean_route",
    "origin_path",
    "serve_ocsp",
]

#: Where the admin API and the status page live. ``~`` is in neither the base64
#: alphabet (RFC 4648 4) nor base64url (RFC 4648 5), and is never
#: percent-encoded (RFC 3986 2.3 unreserved), so no OCSP GET path can start so.
ADMIN_PREFIX = "/~admin"
#: The browser asks every site for it; a ``.`` is in no base64 alphabet (RFC 4648
#: 4, 5), so this path is never an OCSP GET (the page serves an icon there).
FAVICON = "/favicon.ico"
#: Key of the :class:`LabResponder` in ``app.extensions``.
EXTENSION = "ocsp_lab"

_log = logging.getLogger("responder")
_WSGIEnviron = dict[str, Any]
_StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Lesson:
    """What the status page tells about the served scenario (its ``title`` and ``about``)."""

    title: str = ""
    about: str = ""


#: What a client would decide with one logged answer: given the entry, a JSON-ready
#: dict (the lab's validator and policy, installed by ``serve``; the responder
#: never imports the lab). Its keys are the hook's own; the page shows them.
AnswerJudge = Callable[[RequestLogEntry], dict[str, Any]]


@dataclass
class LabResponder:
    """Everything a request needs, kept in ``app.extensions`` (never a module global)."""

    pki: PKI
    config: ResponderConfig
    state: ResponderState
    database_source: DatabaseSource
    cache: CachingSource
    source: Source  # the full stack: faults(cache(database)), or faults(replay)
    clock: Clock
    requests: RequestLog
    guard: AdminGuard = field(default_factory=AdminGuard)
    names_by_serial: dict[int, str] | None = None
    lesson: Lesson = field(default_factory=Lesson)
    judge: AnswerJudge | None = None
    #: What the status page remembers per responder (responder.live: each request told once).
    page_memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def record(
        self, client: str, method: str, reply: Reply, started: float, der: bytes = b""
    ) -> None:
        """Log one answered request (ring and log line); ``der``: the request's bytes."""
        latency_ms = (time.perf_counter() - started) * 1000
        # The entry is written out only when shown or logged: the hot path keeps the parts.
        self.requests.add(
            partial(self._entry, self.clock(), client, method, reply, latency_ms, der)
        )

    def _entry(
        self,
        at: dt.datetime,
        client: str,
        method: str,
        reply: Reply,
        latency_ms: float,
        der: bytes = b"",
    ) -> RequestLogEntry:
        names = self.names_by_serial or {}
        return RequestLogEntry(
            at=at,
            client=client,
            method=method,
            serials=tuple(format(s, "X") for s in reply.serials),
            names=tuple(names.get(s) for s in reply.serials),
            answer=reply.summary,
            latency_ms=latency_ms,
            cached=reply.cached,
            nonce=reply.nonce_form.value if reply.nonce_form else None,
            # What was sent, so the page can run a validator on these very bytes.
            request_der=kept_bytes(der),
            response_der=None if reply.drop else kept_bytes(reply.body),
        )


def lab_responder(app: Flask | None = None) -> LabResponder:
    """The :class:`LabResponder` of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    responder: LabResponder = target.extensions[EXTENSION]
    return responder


def served_identity(pki: PKI, database: CertificateDatabase, config: ResponderConfig) -> str:
    """What live state is kept for: the served certificates, database and settings.

    Serving another scenario, or an edited one, on the same directory gives
    another digest, and the live state of the old one is not carried over.
    """
    digest = hashlib.sha256(b"ocsp-lab served scenario/1\0")
    for cert in pki:
        digest.update(
            cert.name.encode() + b"\0" + cert.certificate.public_bytes(Encoding.DER) + b"\0"
        )
    digest.update(database.to_json())
    digest.update(repr(config).encode())
    for ca, path in sorted(config.index.items()):
        # An edited index.txt is imported again; an unchanged one is kept (index_state).
        digest.update(f"index {ca} {index_fingerprint(path)}".encode() + b"\0")
    return digest.hexdigest()


#: Held while an app is built (see :func:`_one_at_a_time`).
_BUILDING = threading.Lock()
_P = ParamSpec("_P")


def _one_at_a_time(build: Callable[_P, Flask]) -> Callable[_P, Flask]:
    """``build``, never in two threads at once.

    Werkzeug builds each URL rule with the ast module (ast.parse, compile), and
    CPython 3.11's AST construction keeps its recursion depth in interpreter-wide
    state: two threads building apps at once (run -j, product runs) can fail with
    "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905).
    Serving the apps is not serialised.
    """

    @functools.wraps(build)
    def one(*args: _P.args, **kwargs: _P.kwargs) -> Flask:
        with _BUILDING:
            return build(*args, **kwargs)

    return one


@_one_at_a_time
def create_app(
    pki: PKI,
    *,
    config: ResponderConfig | None = None,
    database: CertificateDatabase | None = None,
    clock: Clock = system_clock,
    state_dir: Path | None = None,
    admin_token: str | None = None,
    admin_hosts: Iterable[str] = (),
    lesson: Lesson | None = None,
    judge: AnswerJudge | None = None,
) -> Flask:
    """The responder for ``pki``: its database (default: from the PKI's ``[database]``).

    ``state_dir`` persists live changes (``serve``); ``clock`` is injected
    (the scenario runner's virtual clock); ``admin_token`` opens the admin API
    beyond loopback and guards its state-changing calls (ValueError if it is
    too short to be a secret); ``admin_hosts`` are the names the lab is
    reached by, besides loopback (the admin refuses any other ``Host``);
    ``lesson`` is what the status page says is served, ``judge`` what it says a
    client would do with each logged answer.
    """
    from responder.admin import admin_blueprint, favicon  # the admin page depends on this module

    config = config or ResponderConfig()
    database = database if database is not None else CertificateDatabase.from_pki(pki)
    state = ResponderState(
        database,
        config.faults,
        directory=state_dir,
        identity=served_identity(pki, database, config) if state_dir is not None else "",
        index=config.index,
    )
    database_source = DatabaseSource(pki, state.reader, config, clock)
    cache = CachingSource(database_source, generation=state.generation, clock=clock)
    source: Source
    if config.replay is not None:
        # SCENARIOS.md replay: the captured bytes for every request; transport faults only.
        source = FaultSource(
            ReplaySource(config.replay),
            faults=lambda: state.faults,
            clock=clock,
            transport_only=True,
        )
    else:
        source = FaultSource(cache, faults=lambda: state.faults, clock=clock)
    responder = LabResponder(
        pki=pki,
        config=config,
        state=state,
        database_source=database_source,
        cache=cache,
        source=source,
        clock=clock,
        requests=RequestLog(store=state.store),
        guard=AdminGuard.serving(admin_token, admin_hosts),
        names_by_serial={c.serial: c.name for c in pki},
        lesson=lesson or Lesson(),
        judge=judge,
    )
    app = Flask("responder", static_folder=None)  # no /static: every other GET is OCSP
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.url_map.merge_slashes = False  # "//" is legal base64 in a GET path
    app.url_map.strict_slashes = False
    app.extensions[EXTENSION] = responder
    app.register_blueprint(admin_blueprint, url_prefix=ADMIN_PREFIX)
    app.add_url_rule(FAVICON, "favicon", favicon)
    app.register_blueprint(ocsp_blueprint)
    app.register_error_handler(Exception, _internal_error)
    app.wsgi_app = LeanPath(app.wsgi_app, responder)  # type: ignore[method-assign]
    return app


# ---- the protocol blueprint ---------------------------------------------------------------

ocsp_blueprint = Blueprint("ocsp", __name__)


@ocsp_blueprint.route("/", defaults={"encoded": ""}, methods=["GET", "POST"])
@ocsp_blueprint.route("/<path:encoded>", methods=["GET", "POST"])
def ocsp(encoded: str) -> Response:
    """RFC 6960 A.1 / RFC 5019 5: POST a DER request, or GET it base64 in the path."""
    if request.path.startswith(ADMIN_PREFIX) or request.path == FAVICON:
        abort(404)  # an admin path the admin API does not have: never an OCSP request
    body = request.get_data(cache=False) if request.method == "POST" else b""  # 413 > cap
    der = lean_request_der(request.method, _raw_path(request.environ) or encoded, body)
    answer = serve_ocsp(
        lab_responder(),
        request.method,
        der,
        request.headers.get("If-None-Match"),
        request.remote_addr or "-",
    )
    if answer.drop:
        _reset_connection(request.environ)
    return Response(answer.body, status=answer.status, headers=answer.headers)


def _raw_path(environ: _WSGIEnviron) -> str | None:
    # Before the server's percent-decoding: a URL-encoded '/' must stay part of the base64.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return None
    path = origin_path(raw)
    script = environ.get("SCRIPT_NAME", "")
    return str(path[len(script) :] if script and path.startswith(script) else path)


def origin_path(target: str) -> str:
    """The path of a request target as sent: origin or absolute form, no query.

    RFC 9112 3.2: a client may send ``GET http://host:port/<base64> HTTP/1.1``
    (proxies do); the OCSP request is the path either way.
    """
    target = target.split("?", 1)[0]
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[-1] if target.count("/") >= 3 else "/"
    return target


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def encode_reply(
    reply: Reply, method: str, if_none_match: str | None, now: dt.datetime
) -> tuple[int, list[tuple[str, str]], bytes]:
    """HTTP status, headers and body for a reply (RFC 5019 6.2 caching headers on GET)."""
    headers = [("Content-Type", reply.content_type)]
    draft = reply.draft
    if (
        method != "GET"
        or reply.http_status != 200
        or draft is None
        or draft.has_nonce
        or not draft.singles
    ):
        if method == "GET" and reply.http_status == 200:
            headers.append(("Cache-Control", "no-cache"))
        return reply.http_status, headers, reply.body
    this_update = max(s.this_update for s in draft.singles)
    next_updates = [s.next_update for s in draft.singles if s.next_update is not None]
    etag = '"' + hashlib.sha1(reply.body).hexdigest() + '"'
    headers.append(("ETag", etag))
    headers.append(("Last-Modified", _http_date(this_update)))
    if len(next_updates) == len(draft.singles):
        next_update = min(next_updates)
        max_age = max(0, int((next_update - now).total_seconds()))
        headers.append(("Expires", _http_date(next_update)))
        # RFC 5019 6.2: max-age no later than nextUpdate; no-transform, must-revalidate.
        headers.append(
            ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate")
        )
    else:
        headers.append(("Cache-Control", "no-cache"))
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return 304, [h for h in headers if h[0] != "Content-Type"], b""
    return 200, headers, reply.body


def _reset_connection(environ: _WSGIEnviron) -> None:
    """``down`` under a server that cannot stop listening: reset this connection (RST)."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _internal_error(exc: Exception) -> Response:
    """Any exception: an HTTP error stays itself (4xx); anything else is internalError."""
    from werkzeug.exceptions import HTTPException

    if request.path.startswith(ADMIN_PREFIX):
        return _admin_error(exc)
    if isinstance(exc, HTTPException):
        response = exc.get_response()
        if exc.code is not None and exc.code < 500:
            return response  # type: ignore[return-value]
    _log.exception("internal error answering %s %s", request.method, request.path)
    reply = error_response(OCSPResponseStatus.INTERNAL_ERROR)
    return Response(reply.body, status=200, content_type=OCSP_RESPONSE_TYPE)


def _admin_error(exc: Exception) -> Response:
    """Admin errors are JSON ``{"error": message}``: a refused change, storage, or a bug."""
    import json

    from werkzeug.exceptions import HTTPException

    from responder.store import StorageError

    if isinstance(exc, HTTPException):
        code, message = exc.code or 500, exc.description or exc.name
    elif isinstance(exc, StorageError):
        # Nothing was changed, in any worker: the client may try again once there is room.
        code, message = 507, str(exc)
        _log.error("%s", message)
    else:
        code, message = 500, f"internal error ({type(exc).__name__}); see the server log"
        _log.exception("internal error answering %s %s", request.method, request.path)
    body = json.dumps({"error": message, "status": code}) + "\n"
    response = Response(body, status=code, content_type="application/json")
    return AdminGuard.finish(request, response)


# ---- the lean path ------------------------------------------------------------------------

_INTERNAL_ERROR = error_response(OCSPResponseStatus.INTERNAL_ERROR).body


def _status_line(code: int) -> str:
    # What werkzeug's Response would say, so both paths answer alike.
    return f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"


def lean_route(method: str, path: str, content_length: str | None) -> bool:
    """Whether the lean path answers this request (else Flask: admin, 413, other methods).

    A POST with a body of 1 to 64 KiB bytes (by its Content-Length) and a GET
    on any path outside :data:`ADMIN_PREFIX` but :data:`FAVICON`.
    """
    if path.startswith(ADMIN_PREFIX) or path == FAVICON:
        return False
    if method == "GET":
        return True
    if method != "POST":
        return False
    try:
        length = int(content_length or 0)
    except ValueError:
        return False
    return 0 < length <= MAX_REQUEST_BYTES


def lean_request_der(method: str, raw_path: str, body: bytes) -> bytes:
    """The DER request of a lean-path request: the body, or the GET path decoded."""
    if method == "POST":
        return body
    try:
        return decode_get_path(raw_path)
    except MalformedRequest:
        return b""  # the source answers malformedRequest


@dataclass(frozen=True)
class HttpAnswer:
    """An OCSP answer on its way to the wire; ``drop``: reset the connection instead."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    drop: bool = False


def serve_ocsp(
    responder: LabResponder,
    method: str,
    der: bytes,
    if_none_match: str | None,
    client: str,
    *,
    refreshed: bool = False,
) -> HttpAnswer:
    """Request bytes → faults, cache, database → response bytes, for any HTTP server.

    ``der`` empty stands for a request that could not even be taken from HTTP
    (a GET path that is no base64): the source finds it unreadable. The state is
    reloaded first if another process changed it, unless the
    caller has just done so (``refreshed``). Any exception becomes
    ``internalError`` and a log line, never HTTP 500.
    """
    started = time.perf_counter()
    try:
        if not refreshed:
            responder.state.refresh()
        try:
            reply = responder.source.respond(der)
        except OCSPRequestError as error:  # the one place a request error meets the wire
            reply = error_reply(error)
        status, headers, body = encode_reply(reply, method, if_none_match, responder.clock())
        responder.record(client, method, reply, started, der)
    except Exception:
        _log.exception("internal error answering %s", method)
        return HttpAnswer(200, [("Content-Type", OCSP_RESPONSE_TYPE)], _INTERNAL_ERROR)
    headers.append(("Content-Length", str(len(body))))
    return HttpAnswer(status, headers, body, reply.drop)


class LeanPath:
    """WSGI middleware: every OCSP request straight from bytes; Flask for the rest.

    What :func:`lean_route` takes is answered here by :func:`serve_ocsp`,
    without Flask's Request/Response objects, routing or context locals; the
    rest goes to Flask, which answers it as before.
    """

    def __init__(self, app: Callable[[_WSGIEnviron, _StartResponse], Iterable[bytes]],
                 responder: LabResponder) -> None:  # fmt: skip
        self.app = app
        self.responder = responder

    def __call__(self, environ: _WSGIEnviron, start_response: _StartResponse) -> Iterable[bytes]:
        """Answer an OCSP request here; hand anything else to Flask untouched."""
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        length = environ.get("CONTENT_LENGTH")
        if not lean_route(method, path, length):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(length or 0)) if method == "POST" else b""
        der = lean_request_der(method, _raw_path(environ) or path, body)
        answer = serve_ocsp(
            self.responder,
            method,
            der,
            environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("REMOTE_ADDR") or "-",
        )
        if answer.drop:
            _reset_connection(environ)
        start_response(_status_line(answer.status), answer.headers)
        return [answer.body]
