"""What the status page shows, and how it stays live: the feed and its event stream.

The page (``responder/templates/status.html``, ``static/status.js``) renders
one JSON document, the **feed**: the served lesson, the PKI as a tree with
who signs answers for whom, the faults in force in words, and the requests
newer than the last one the page has, each as a story (what was asked, what
was answered, and — through the ``judge`` hook ``serve`` installs — what a
client would do with those very bytes), and the newest TLS connections of
``serve --tls`` (:mod:`responder.connections`: what each peer did, in words),
and the plan of the timeline ``serve SCENARIO`` runs on the real clock
(:mod:`responder.timeline_feed`).

It stays live through server-sent events (``GET /~admin/events``, WHATWG HTML
"Server-sent events"): a new feed whenever the shared state's version or the
shared request log moved, in any worker. Every stream is bounded: it looks
every :data:`POLL_S`, sends a comment line every :data:`HEARTBEAT_S` (so a
proxy or a dead client shows), ends after :data:`STREAM_S` (the browser
reconnects by itself, resuming from the ``id`` it last got), and at most
:data:`MAX_STREAMS` are open per process (else 503). Under gunicorn's asyncio
worker the stream is served by :mod:`responder.asgi` in the event loop, not
through asgiref's WSGI bridge: the bridge runs every Flask request of a
process on one shared thread, which one open stream would hold.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pki import IssuedCert
from pki.spec import REASONS, Profile
from responder.app import LabResponder
from responder.connections import connections_mark, recent_connections
from responder.csr_upload import signed_names, signed_rows
from responder.fault_table import FAULT_KEYS, describe_faults, faults_to_json
from responder.requestlog import RequestLogEntry
from responder.timeline_feed import timeline_document, timeline_mark
from responder.timespec import format_duration

__all__ = [
    "HEARTBEAT_S",
    "MAX_STREAMS",
    "POLL_S",
    "SLOTS",
    "STREAM_S",
    "EventStream",
    "StreamSlots",
    "event_frames",
    "feed",
    "plain_time",
    "state_document",
]

POLL_S = 0.1  # how often a stream looks for news: a row reaches the page within ~0.15 s
HEARTBEAT_S = 15.0
STREAM_S = 120.0
MAX_STREAMS = 16
#: The requests a first feed carries (the log keeps more; the page shows these).
FIRST_FEED = 40
#: What the page is told when the stream ends on purpose: reconnect after this long.
RETRY_MS = 300

#: Who may sign answers for whom, in words (RFC 6960 4.2.2.2; Unified CM's two models).
_ROLE_WORDS = {
    "ca": "a CA: signs certificates, and may sign answers about them itself",
    "leaf": "an end-entity certificate: what a client asks about",
    "ocsp": "a delegated responder: its CA gave it the OCSP-signing purpose "
    "(id-kp-OCSPSigning), so it may sign answers about that CA's certificates "
    "(Delegated Trust Model)",
    "trusted": "a Trusted Responder: outside the hierarchy; a client accepts its answers "
    "only because its certificate is in the client's trust store",
}


def plain_time(when: dt.datetime | str | None) -> str | None:
    """A timestamp for people: UTC, to the second (no microseconds), ``Z``."""
    if when is None:
        return None
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return when.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%SZ")


def _role(issuer: str | None, profile: str) -> str:
    if profile == Profile.CA:
        return "ca"
    if profile == Profile.OCSP_RESPONDER:
        return "trusted" if issuer is None else "ocsp"  # self-signed: outside the hierarchy
    return "leaf"


def _tree(responder: LabResponder) -> list[dict[str, Any]]:
    rows = []
    database = responder.state.database
    assignments = responder.database_source.signers.assignments()
    for cert in responder.pki:
        record = database.by_name(cert.name)
        issuer = None if cert.issuer == cert.name else cert.issuer
        profile = cert.profile.value
        role = _role(issuer, profile)
        signs_for = sorted(ca for ca, s in assignments.items() if s == cert.name)
        rows.append(
            {
                "name": cert.name,
                "issuer": cert.issuer,
                "profile": profile,
                "role": role,
                "role_words": _ROLE_WORDS[role],
                "serial": format(cert.serial, "X"),
                "subject": cert.certificate.subject.rfc4514_string(),
                "not_after": plain_time(cert.certificate.not_valid_after_utc),
                "status": record.status.value if record else "unknown",
                "revoked_at": plain_time(record.revoked_at) if record else None,
                "reason": record.reason if record else None,
                "depth": len(responder.pki.chain(cert.name)) - 1,
                "signs_for": signs_for,
                # cert_file: the customer's file it was read from, and whether its key came too
                "from_file": _file_words(cert),
            }
        )
    rows += signed_rows(responder, _ROLE_WORDS["leaf"])  # uploaded CSRs, under their issuer
    return _tree_order(rows)


def _file_words(cert: IssuedCert) -> str | None:
    """``from ca.pem`` (``, without its key``) for a certificate read from a file, else None."""
    material = cert.spec.from_file
    if material is None:
        return None
    keyless = "" if cert.key is not None else ", without its key"
    return f"from {Path(material.path).name}{keyless}"


def _tree_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    children: dict[str | None, list[dict[str, Any]]] = {}
    names = {row["name"] for row in rows}
    for row in rows:
        parent = row["issuer"] if row["issuer"] in names and row["issuer"] != row["name"] else None
        children.setdefault(parent, []).append(row)
    ordered: list[dict[str, Any]] = []

    def walk(parent: str | None) -> None:
        for row in children.get(parent, []):
            ordered.append(row)
            walk(row["name"])

    walk(None)
    return ordered


def _fault_catalog() -> list[dict[str, Any]]:
    """Every fault the page can set: its key, what it imitates, what value it takes."""
    return [
        {
            "key": row.key,
            "kind": row.kind.name.lower(),
            "words": list(row.words),
            "expected": row.expected,
            "imitates": row.imitates.replace("{!r}", "…").replace("{}", "…"),
        }
        for row in FAULT_KEYS
    ]


def state_document(responder: LabResponder) -> dict[str, Any]:
    """The whole live state as JSON (``GET /~admin/state`` and the feed)."""
    config = responder.config
    state = responder.state
    return {
        "now": plain_time(responder.clock()),
        "certificates": _tree(responder),
        "signers": responder.database_source.signers.assignments(),
        "responder": {
            "certs": config.certs.value,
            "responder_id": config.responder_id.value,
            "next_update": format_duration(config.next_update) if config.next_update else "none",
            "not_found": config.not_found.value,
        },
        "faults": faults_to_json(state.faults),
        "misbehaviour": describe_faults(state.faults),
        "database_version": state.database.version,
        "cache": {"hits": responder.cache.hits, "misses": responder.cache.misses},
    }


class _Stories:
    """Each logged request told once per process (the judge runs a validator: not free)."""

    def __init__(self, size: int = 256) -> None:
        self._told: collections.OrderedDict[tuple[int, str], dict[str, Any]] = (
            collections.OrderedDict()
        )
        self._size = size
        self._lock = threading.Lock()

    def story(
        self, responder: LabResponder, entry_id: int, entry: RequestLogEntry
    ) -> dict[str, Any]:
        key = (entry_id, entry.at.isoformat())
        with self._lock:
            told = self._told.get(key)
        if told is not None:
            return told
        told = _story(responder, entry_id, entry)
        with self._lock:
            self._told[key] = told
            while len(self._told) > self._size:
                self._told.popitem(last=False)
        return told


def _story(responder: LabResponder, entry_id: int, entry: RequestLogEntry) -> dict[str, Any]:
    # A certificate signed from a CSR is no PKI certificate: named from the live state.
    signed = signed_names(responder) if None in entry.names else {}
    asked = [
        {"serial": serial, "name": name or signed.get(serial)}
        for serial, name in zip(entry.serials, entry.names, strict=False)
    ]
    story: dict[str, Any] = {
        "id": entry_id,
        "at": plain_time(entry.at),
        "t": entry.at.timestamp(),  # to the microsecond: beside the TLS connection it served
        "client": entry.client,
        "method": entry.method,
        "asked": asked,
        "answer": entry.answer,
        "latency_ms": round(entry.latency_ms, 2),
        "cached": entry.cached,
        "nonce": entry.nonce,
        "judged": None,
    }
    if responder.judge is not None:
        try:
            story["judged"] = responder.judge(entry)
        except Exception as exc:  # a judge's bug must not take the page down
            story["judged"] = {"error": f"could not judge this answer ({type(exc).__name__})"}
    return story


def _stories(responder: LabResponder) -> _Stories:
    # Per responder: two apps of one process (tests) have the same ids for other requests.
    stories = responder.page_memo.get("stories")
    if not isinstance(stories, _Stories):
        stories = responder.page_memo.setdefault("stories", _Stories())
    return stories


def feed(responder: LabResponder, after: int, *, first: bool = False) -> dict[str, Any]:
    """The page's document: the state, and the requests logged after id ``after``."""
    responder.state.refresh()
    entries = responder.requests.entries_after(after)
    if first or after == 0:
        entries = entries[-FIRST_FEED:]
    told = _stories(responder)
    stories = [told.story(responder, i, e) for i, e in entries]
    last = entries[-1][0] if entries else after
    return {
        "last": last,
        "lesson": {"title": responder.lesson.title, "about": responder.lesson.about},
        "state": state_document(responder),
        "faults_catalog": _fault_catalog(),
        "reasons": list(REASONS),
        "requests": stories,
        "connections": recent_connections(responder),
        "timeline": timeline_document(responder),
    }


def news(responder: LabResponder, after: int, seen: tuple[int, str]) -> tuple[int, str] | None:
    """What identifies the state and log now, if it differs from ``seen`` (else None)."""
    responder.state.refresh()
    newest = responder.requests.entries_after(after)
    now = (
        newest[-1][0] if newest else after,
        f"{responder.state.database.version}/{json.dumps(faults_to_json(responder.state.faults))}"
        f"/tls{connections_mark(responder)}/timeline{timeline_mark(responder)}",
    )
    return None if now == seen else now


class StreamSlots:
    """At most :data:`MAX_STREAMS` open event streams in this process."""

    def __init__(self, most: int = MAX_STREAMS) -> None:
        self._most = most
        self._open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._open >= self._most:
                return False
            self._open += 1
            return True

    def give(self) -> None:
        with self._lock:
            self._open -= 1


SLOTS = StreamSlots()


def frame(document: dict[str, Any]) -> bytes:
    """One event: ``id`` is the last request id (the browser's Last-Event-ID on reconnect)."""
    data = json.dumps(document, separators=(",", ":"))
    return f"id: {document['last']}\nevent: feed\ndata: {data}\n\n".encode()


class EventStream:
    """One client's event stream, one step at a time (the server's driver does the waiting).

    :meth:`first` gives the opening frames; :meth:`step`, called every
    :data:`POLL_S`, gives a feed when something moved, a heartbeat comment when
    :data:`HEARTBEAT_S` passed in silence, else nothing; :attr:`over` once the
    stream has lasted :data:`STREAM_S`.
    """

    def __init__(self, responder: LabResponder, after: int, clock: Any = time.monotonic) -> None:
        self._responder = responder
        self._after = after
        self._seen: tuple[int, str] = (-1, "")
        self._clock = clock
        self._started = self._beat = clock()

    @property
    def over(self) -> bool:
        return bool(self._clock() - self._started >= STREAM_S)

    def first(self) -> bytes:
        document = feed(self._responder, self._after, first=True)
        self._after = document["last"]
        self._seen = news(self._responder, self._after, (-1, "")) or (-1, "")
        return f"retry: {RETRY_MS}\n".encode() + frame(document)

    def step(self) -> bytes | None:
        moved = news(self._responder, self._after, self._seen)
        if moved is not None:
            document = feed(self._responder, self._after)
            self._after = document["last"]
            self._seen = news(self._responder, self._after, (-1, "")) or moved
            self._beat = self._clock()
            return frame(document)
        if self._clock() - self._beat >= HEARTBEAT_S:
            self._beat = self._clock()
            return b": still here\n\n"
        return None


def event_frames(responder: LabResponder, after: int, sleep: Any = time.sleep) -> Iterator[bytes]:
    """The event stream for a thread-per-connection server (werkzeug, gthread); bounded."""
    stream = EventStream(responder, after)
    yield stream.first()
    while not stream.over:
        sleep(POLL_S)
        chunk = stream.step()
        if chunk is not None:
            yield chunk
