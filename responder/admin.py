"""Live control: the admin JSON API and the HTML status page, under ``/~admin``.

JSON API (``/~admin/…``):

=========================  ==========================================================
``GET  state``             the PKI as a tree with each certificate's status, the
                           signers, the active faults (no private key, ever)
``POST revoke``            ``{"name": …, "reason": …}`` (reason optional; RFC 5280 names),
                           or ``{"issuer": CA, "serial": HEX, …}`` for a certificate
                           the lab never made (``[responder] index``)
``POST hold`` / ``release`` / ``forget``   ``{"name": …}`` (hold, release: or by serial)
``PUT  faults``            ``{…}`` SCENARIOS.md ``[responder.faults]`` keys (replaces),
                           read by the scenario loader's table and duration grammar
                           (responder.fault_table): ``"1.5s"``, ``"5s1d"``, a delay
                           of ``"-5s"`` get 400 ``{"error": …, "key": "faults.delay"}``;
                           ``null`` turns a fault off
``DELETE faults``          clears every fault
``POST sign``               ``{"csr": PEM, "issuer": …, "profile": …, "name": …}``: the
                           certificate (PEM, 201), filed as good (:mod:`responder.issue`);
                           or the page's multipart form (:mod:`responder.csr_upload`)
``GET  requests``          the last requests, decoded
``GET  connections``       the last TLS connections of ``serve --tls``, in words
                           (:mod:`responder.connections`), oldest first
``GET  live?after=ID``     the page's feed (:func:`responder.live.feed`): lesson, state,
                           the requests after ``ID`` as stories, judged
``GET  events``            the feed as server-sent events (:mod:`responder.live`)
=========================  ==========================================================

The page (``/~admin/``) renders the feed with ``static/status.js`` and sends
its changes as JSON bodies; ``/favicon.ico`` is served beside it.

Access (:mod:`responder.admin_guard`): without an admin token, only loopback
clients reach anything here; with one, anyone may read, and every
state-changing call must carry it (``Authorization: Bearer <token>``, or the
session cookie the page's login sets). Every request must name this lab in
its ``Host``; a change from another origin, or a form without the page's CSRF
token, is refused. Errors are JSON ``{"error": message, "status": code}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)

from pki.csr import SignProfile
from pki.spec import REASONS
from responder.app import ADMIN_PREFIX, LabResponder, lab_responder
from responder.config import Faults
from responder.connections import recent_connections
from responder.csr_upload import CsrUpload, signed_answer, upload_from_form
from responder.fault_table import FaultValueError, faults_from_json, faults_to_json
from responder.issue import issue_from_csr
from responder.live import SLOTS, event_frames, feed, state_document
from responder.logs import admin_action
from responder.state import StateError
from responder.store import CONNECTION_LOG_ROWS

__all__ = ["admin_blueprint", "favicon"]

admin_blueprint = Blueprint(
    "admin",
    __name__,
    template_folder="templates",
    # The page's script, style and icon come from the lab itself: a classroom has no internet.
    static_folder="static",
    static_url_path="/static",
)
_STATIC = Path(__file__).parent / "static"


@admin_blueprint.before_request
def _guard() -> None:
    lab_responder().guard.check(request)


@admin_blueprint.after_request
def _headers(response: Response) -> Response:
    return lab_responder().guard.finish(request, response)


@admin_blueprint.get("/")
def status_page() -> str:
    """The classroom page: the lesson, the PKI, the controls; its script keeps it live."""
    responder = lab_responder()
    responder.state.refresh()
    guard = responder.guard
    csrf = guard.csrf_token(request)
    page = render_template(
        "status.html",
        lesson=responder.lesson,
        # The first feed in the page: drawn at once, without waiting for the stream.
        first=feed(responder, 0),
        prefix=ADMIN_PREFIX,
        csrf=csrf,
        login_needed=guard.token is not None and not guard.session_valid(request),
        # [responder] index: the CAs whose certificates the page can change by serial
        indexed=sorted(responder.config.index),
        reasons=list(REASONS),
    )
    return guard.finish(request, make_response(page), csrf)  # type: ignore[return-value]


def _after() -> int:
    # EventSource sends the last id it got when it reconnects (WHATWG HTML 9.2).
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        abort(400, f"after: expected a request id (digits), found {raw!r}")
    return int(raw)


@admin_blueprint.get("/live")
def live() -> Response:
    """The page's document (lesson, state, new requests as stories) as JSON: polling."""
    return jsonify(feed(lab_responder(), _after()))


@admin_blueprint.get("/events")
def events() -> Response:
    """Server-sent events: a new feed whenever the state or the request log moves."""
    responder = lab_responder()
    after = _after()
    if "werkzeug.socket" not in request.environ:
        # Only a thread-per-connection server (werkzeug's, in scenario runs and tests) can
        # hold a stream here; gunicorn's gthread has a few threads per process, each a
        # stream would hold for minutes. (Its asgi worker serves streams itself: asgi.py.)
        abort(503, "no event stream from this server; the page polls instead")
    if not SLOTS.take():
        abort(503, "too many open event streams; the page falls back to polling")

    def stream() -> Any:
        try:
            yield from event_frames(responder, after)
        finally:
            SLOTS.give()

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events
    return response


def favicon() -> Response:
    """``/favicon.ico``: the browser asks for it; never an OCSP GET (see app.FAVICON)."""
    response = make_response((_STATIC / "favicon.ico").read_bytes())
    response.headers["Content-Type"] = "image/x-icon"
    response.headers["Cache-Control"] = "max-age=86400"
    return response


@admin_blueprint.post("/login")
def login() -> Response:
    """The page's token form: a session cookie instead of the token in every URL."""
    responder = lab_responder()
    response = redirect(f"{ADMIN_PREFIX}/", code=303)
    token = request.form.get("token", "")
    if not responder.guard.login(request, response, token):  # type: ignore[arg-type]
        abort(401, "token: not the admin token")
    return response  # type: ignore[return-value]


@admin_blueprint.get("/state")
def state() -> Response:
    """The whole state as JSON."""
    responder = lab_responder()
    responder.state.refresh()
    return jsonify(state_document(responder))


@admin_blueprint.get("/requests")
def requests_log() -> Response:
    """The last requests, oldest first."""
    return jsonify([e.to_json() for e in lab_responder().requests.entries()])


@admin_blueprint.get("/connections")
def connections() -> Response:
    """The TLS connections ``serve --tls`` logged (newest kept), oldest first."""
    return jsonify(recent_connections(lab_responder(), CONNECTION_LOG_ROWS))


def _arguments() -> dict[str, Any]:
    if request.is_json:
        doc = request.get_json(silent=True)
        if not isinstance(doc, dict):
            abort(400, "expected a JSON object")
        return doc
    return dict(request.form)


def _done(result: dict[str, Any]) -> Response:
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(result)
    return redirect(f"{ADMIN_PREFIX}/", code=303)  # type: ignore[return-value]


@admin_blueprint.post("/sign")
def sign() -> Response:
    """``{"csr": PEM, "issuer": …, "profile": …, "name": …}`` → the certificate, PEM.

    A JSON body (the API), or the status page's multipart form
    (:mod:`responder.csr_upload`), which the admin guard has checked like
    every form POST: its CSRF token, its Origin.
    """
    responder = lab_responder()
    form = request.mimetype == "multipart/form-data"
    if form:
        upload = upload_from_form(request)
    elif request.is_json:
        upload = _json_upload()
    else:
        abort(
            415,
            'expected a JSON body {"csr": "-----BEGIN CERTIFICATE REQUEST-----…"} '
            "or the page's multipart form",
        )
    try:
        signed, record = issue_from_csr(
            responder.pki,
            responder.state,
            upload.csr,
            issuer=upload.issuer,
            profile=upload.profile,
            now=responder.clock(),
            name=upload.name,
        )
    except StateError as exc:
        abort(400, str(exc))
    admin_action("sign", request.remote_addr, name=record.name, status=record.status.value)
    if form:
        return signed_answer(request, signed, record)
    pem = signed.certificate.public_bytes(Encoding.PEM)
    answer = Response(pem, status=201, content_type="application/x-pem-file")
    answer.headers["X-Ocsp-Lab-Name"] = record.name or ""
    return answer


def _json_upload() -> CsrUpload:
    """The JSON body's fields, or a 400 naming the field and what it expects."""
    args = _arguments()
    csr = args.get("csr")
    issuer = args.get("issuer", "intermediate")
    profile = args.get("profile", SignProfile.SERVER.value)
    name = args.get("name")
    if not isinstance(csr, str) or not csr.strip():
        abort(400, "csr: expected the CSR as PEM text")
    if not isinstance(issuer, str):
        abort(400, f"issuer: expected the name of a lab CA, found {issuer!r}")
    if profile not in {p.value for p in SignProfile}:
        abort(400, f"profile: expected one of {', '.join(SignProfile)}, found {profile!r}")
    if name is not None and not isinstance(name, str):
        abort(400, f"name: expected a string, found {name!r}")
    return CsrUpload(csr.encode(), issuer, SignProfile(profile), name)


def _known(responder: LabResponder, name: object) -> bool:
    """A lab certificate's name, or one a CSR was signed as (in the live state)."""
    if not isinstance(name, str):
        return False
    return name in responder.pki or responder.state.database.by_name(name) is not None


def _serial_target(responder: LabResponder, args: dict[str, Any]) -> tuple[str, int]:
    """``{"issuer": CA, "serial": HEX}``: a certificate by its CA and serial (one the lab
    never made, from ``[responder] index``, or a lab one); ``issuer`` defaults to intermediate."""
    issuer = args.get("issuer", "intermediate")
    cas = [c.name for c in responder.pki.cas()]
    if not isinstance(issuer, str) or issuer not in cas:
        abort(400, f"issuer: expected the name of a lab CA ({', '.join(cas)}), found {issuer!r}")
    raw = args.get("serial")
    text = raw.strip() if isinstance(raw, str) else ""
    digits = text[2:] if text[:2].lower() == "0x" else text
    if not digits or len(digits) > 40 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        abort(
            400, f"serial: expected the serial in hexadecimal (as index.txt has it), found {raw!r}"
        )
    return issuer, int(digits, 16)


def _change_serial(responder: LabResponder, action: str, args: dict[str, Any]) -> Response:
    ca, serial = _serial_target(responder, args)
    now = responder.clock()
    state = responder.state
    try:
        if action == "revoke":
            reason = args.get("reason") or None
            if reason is not None and reason not in REASONS:
                abort(400, f"reason: expected one of {', '.join(REASONS)}, found {reason!r}")
            record = state.revoke_serial(ca, serial, now, reason)
        elif action == "hold":
            record = state.hold_serial(ca, serial, now)
        elif action == "release":
            record = state.release_serial(ca, serial)
        else:
            abort(
                400, f"{action}: only revoke, hold and release take a serial (forget takes a name)"
            )
    except StateError as exc:
        abort(409, f"{action} {ca} {serial:X}: {exc}")
    admin_action(action, request.remote_addr, name=f"{ca}/{serial:X}", reason=args.get("reason"),
                 status=record.status.value)  # fmt: skip
    return _done({"issuer": ca, "serial": format(serial, "X"), "status": record.status.value})


@admin_blueprint.post("/<action>")
def change(action: str) -> Response:
    """revoke / hold / release / forget a certificate by name (or by issuer and serial)."""
    responder = lab_responder()
    args = _arguments()
    if "serial" in args and action in ("revoke", "hold", "release", "forget"):
        return _change_serial(responder, action, args)
    name = args.get("name")
    if not _known(responder, name):
        abort(400, f"name: expected the name of a lab certificate, found {name!r}")
    assert isinstance(name, str)
    now = responder.clock()
    try:
        if action == "revoke":
            reason = args.get("reason") or None
            if reason is not None and reason not in REASONS:
                abort(400, f"reason: expected one of {', '.join(REASONS)}, found {reason!r}")
            record = responder.state.revoke(name, now, reason)
        elif action == "hold":
            record = responder.state.hold(name, now)
        elif action == "release":
            record = responder.state.release(name)
        elif action == "forget":
            record = responder.state.forget(name)
        else:
            abort(404)
    except StateError as exc:
        abort(409, f"{action} {name}: {exc}")
    status = "unknown" if action == "forget" else record.status.value
    admin_action(action, request.remote_addr, name=name, reason=args.get("reason"), status=status)
    return _done({"name": name, "status": status})


@admin_blueprint.route("/faults", methods=["GET", "PUT", "DELETE"])
def faults() -> Response:
    """The active faults (GET), replaced (PUT) or cleared (DELETE)."""
    responder = lab_responder()
    if request.method == "GET":
        responder.state.refresh()
    elif request.method == "DELETE":
        responder.state.set_faults(Faults())
    else:
        try:
            responder.state.set_faults(faults_from_json(_arguments()))
        except FaultValueError as exc:
            # What the scenario loader would say, as JSON: the key and what it takes.
            answer = jsonify({"error": str(exc), "key": f"faults.{exc.key}"})
            answer.status_code = 400
            return answer
    active = faults_to_json(responder.state.faults)
    if request.method != "GET":
        admin_action("faults", request.remote_addr, faults=active)
    return jsonify(active)


@admin_blueprint.post("/faults/clear")
def clear_faults() -> Response:
    """Clear every fault (the page's button: HTML forms cannot DELETE)."""
    lab_responder().state.set_faults(Faults())
    admin_action("faults", request.remote_addr, faults={})
    return _done({"faults": {}})
