"""The status page's feed and event stream, without a browser: bounded, judged, not blocking."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lab.judge import answer_judge
from pki import EPOCH, PKI, build_pki
from responder import live
from responder.app import ADMIN_PREFIX, Lesson, create_app, lab_responder
from responder.clock import FixedClock
from responder.requestlog import MAX_KEPT_BYTES, RequestLogEntry, kept_bytes
from responder.testing import demo_spec, ocsp_request
from tests.browser import free_port

NOW = EPOCH + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _app(pki: PKI) -> Flask:
    return create_app(
        pki,
        clock=FixedClock(NOW),
        lesson=Lesson("A title", "What to notice."),
        judge=answer_judge(pki),
    )


def _ask(app: Flask, pki: PKI, name: str = "server") -> bytes:
    answer = app.test_client().post(
        "/", data=ocsp_request(pki, [name], nonce=b"n" * 32),
        content_type="application/ocsp-request",
    )  # fmt: skip
    assert answer.status_code == 200
    return answer.data


def test_each_request_is_told_with_the_bytes_sent_and_judged_cc_on_and_off(pki: PKI) -> None:
    app = _app(pki)
    sent = _ask(app, pki)
    lab_responder(app).state.revoke("server", NOW, "keyCompromise")
    _ask(app, pki)
    doc = app.test_client().get(f"{ADMIN_PREFIX}/live").get_json()
    assert doc["lesson"] == {"title": "A title", "about": "What to notice."}
    first, second = doc["requests"]
    assert first["asked"] == [{"serial": format(pki["server"].serial, "X"), "name": "server"}]
    assert first["at"] == "2025-01-01 01:00:00Z"  # to the second
    assert first["judged"]["cc_on"]["decision"] == "allowed"
    assert first["judged"]["nonce"] == "echoed"  # judged against the request that was sent
    assert first["judged"]["trust"].startswith("Delegated Trust Model")
    assert second["judged"]["reason"] == "keyCompromise"
    assert second["judged"]["cc_on"]["decision"] == second["judged"]["cc_off"]["decision"]
    assert second["judged"]["cc_off"]["decision"] == "refused"
    assert "policy row 'revoked'" in second["judged"]["cc_off"]["sentence"]
    # The bytes are the very ones the client got.
    entry = lab_responder(app).requests.entries()[0]
    assert entry.response_der == sent
    # Only what came after the last id the page has.
    again = app.test_client().get(f"{ADMIN_PREFIX}/live?after={doc['last']}").get_json()
    assert again["requests"] == []


def test_kept_bytes_are_bounded_and_survive_the_shared_table() -> None:
    assert kept_bytes(b"x" * MAX_KEPT_BYTES) is not None
    assert kept_bytes(b"x" * (MAX_KEPT_BYTES + 1)) is None
    entry = RequestLogEntry(
        at=NOW, client="::1", method="GET", serials=("1F",), names=("server",),
        answer="good", latency_ms=1.0, cached=False, nonce="raw",
        request_der=b"\x30\x01", response_der=b"\x30\x02",
    )  # fmt: skip
    assert RequestLogEntry.from_json(json.loads(json.dumps(entry.to_json()))) == entry


def test_favicon_is_an_icon_not_an_ocsp_get(pki: PKI) -> None:
    app = _app(pki)
    answer = app.test_client().get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/x-icon"
    assert lab_responder(app).requests.entries() == []  # not logged as malformedRequest


def test_live_refuses_an_id_that_is_no_number(pki: PKI) -> None:
    answer = _app(pki).test_client().get(f"{ADMIN_PREFIX}/live?after=1e3")
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("after: expected a request id")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stream_sends_news_a_heartbeat_and_ends(pki: PKI) -> None:
    app = _app(pki)
    responder = lab_responder(app)
    clock = _Clock()
    stream = live.EventStream(responder, 0, clock=clock)
    opening = stream.first().decode()
    assert opening.startswith(f"retry: {live.RETRY_MS}\n") and "event: feed" in opening
    assert stream.step() is None  # nothing moved
    _ask(app, pki)
    news = stream.step()
    assert news is not None and news.startswith(b"id: 1\n")
    assert json.loads(news.decode().split("data: ", 1)[1])["requests"][0]["id"] == 1
    clock.now += live.HEARTBEAT_S
    assert stream.step() == b": still here\n\n"
    assert not stream.over
    clock.now += live.STREAM_S
    assert stream.over


def test_open_streams_are_capped(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "SLOTS", live.StreamSlots(most=0))
    import responder.admin

    monkeypatch.setattr(responder.admin, "SLOTS", live.SLOTS)
    client = _app(pki).test_client()
    answer = client.get(f"{ADMIN_PREFIX}/events", environ_overrides={"werkzeug.socket": None})
    assert answer.status_code == 503
    assert "too many open event streams" in answer.get_json()["error"]
    # A server with a few threads (gunicorn gthread) streams nothing: the page polls.
    answer = client.get(f"{ADMIN_PREFIX}/events")
    assert answer.status_code == 503 and "polls" in answer.get_json()["error"]


def test_the_page_polls_when_no_stream_can_be_had(pki: PKI) -> None:
    """The feed by polling carries what a stream would: the same document."""
    app = _app(pki)
    _ask(app, pki)
    doc = app.test_client().get(f"{ADMIN_PREFIX}/live?after=0").get_json()
    assert [r["id"] for r in doc["requests"]] == [1] and doc["last"] == 1


@pytest.fixture()
def one_worker(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out",
         str(tmp_path / "serve"), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        from tests.browser import _wait_listening

        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.interop
def test_an_open_stream_does_not_block_the_worker(one_worker: str) -> None:
    """Under the asgi worker the stream is a coroutine: the one worker still answers."""
    streams: list[Any] = []
    try:
        for _ in range(3):
            stream = urllib.request.urlopen(f"{one_worker}{ADMIN_PREFIX}/events", timeout=5)
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert stream.readline() == f"retry: {live.RETRY_MS}\n".encode()
            streams.append(stream)
        started = time.monotonic()
        with urllib.request.urlopen(f"{one_worker}{ADMIN_PREFIX}/state", timeout=5) as state:
            assert json.load(state)["certificates"]
        assert time.monotonic() - started < 2
    finally:
        for stream in streams:
            stream.close()
