"""The plan ``serve SCENARIO`` runs on the real clock, in the status page's feed (issue 13).

The timeline runs in serve's master process and writes its plan and progress
to the live state (:class:`responder.store.TimelineBoard`); every worker's
feed carries it. Here in one process, with the timeline's clock injected
(a worker app and the timeline's own state on one directory, as serve has
them), and end to end against ``ocsp-lab serve`` with second-scale offsets.
The browser's view is in ``tests/test_status_page_timeline.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.scenario import load_scenario
from lab.serve_timeline import RealClockTimeline
from pki import CertificateDatabase, build_pki
from responder.app import ADMIN_PREFIX, create_app, lab_responder, served_identity
from responder.config import ResponderConfig
from responder.live import EventStream, feed
from responder.state import ResponderState
from tests.test_serve import _free_port, _wait_listening

T0 = dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC)

SCENARIO = """
title = "Revoked an hour in; a release that cannot be made an hour later"

[[step]]
at = "0"
connect = "server"
expect = { connection = "allowed" }

[[step]]
at = "+1h"
revoke = "server"
reason = "keyCompromise"

[[step]]
at = "+2h"
release = "server"
"""


def _until(condition: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"within {timeout:g} s: {what}")


def _state_of(worker: Any, index: int) -> str | None:
    plan = feed(worker, 0)["timeline"]
    return None if plan is None else str(plan["steps"][index]["state"])


def test_the_feed_carries_the_plan_and_each_step_s_progress(tmp_path: Path) -> None:
    pki = build_pki()
    database = CertificateDatabase.from_pki(pki)
    worker = lab_responder(create_app(pki, state_dir=tmp_path))
    assert feed(worker, 0)["timeline"] is None  # nothing served yet: no section
    path = tmp_path / "timeline.toml"
    path.write_text(SCENARIO)
    # The timeline's own state on the same directory, as serve makes it (lab.commands.serve).
    state = ResponderState(
        database,
        directory=tmp_path,
        identity=served_identity(pki, database, ResponderConfig()),
    )
    clock = [T0]
    timeline = RealClockTimeline(load_scenario(path), state, now=lambda: clock[0])
    timeline.start()
    try:
        _until(lambda: _state_of(worker, 0) == "product", "step[0] told as the product's part")
        plan = feed(worker, 0)["timeline"]
        assert plan["started"] == "2026-12-01 13:00:00Z"
        assert plan["started_t"] == T0.timestamp()
        first, revoke, release = plan["steps"]
        assert first["label"] == "step[0] at 0 (connect server)"
        assert first["state"] == "product" and first["part"] == "product"
        assert first["expected"] == "server: connection allowed"
        assert revoke["label"] == "step[1] at +1h (revoke server (keyCompromise))"
        assert revoke["state"] == "pending" and revoke["part"] == "lab"
        assert revoke["due"] == "2026-12-01 14:00:00Z"
        assert revoke["due_t"] == (T0 + dt.timedelta(hours=1)).timestamp()
        assert plan["next"] == 1
        assert isinstance(plan["now_t"], float)  # the responder's clock, to count down from

        clock[0] = T0 + dt.timedelta(hours=2, seconds=5)  # both due: the thread wakes within 1 s
        _until(lambda: _state_of(worker, 2) != "pending", "step[2] run")
        plan = feed(worker, 0)["timeline"]
        _, revoke, release = plan["steps"]
        assert revoke["state"] == "done" and revoke["error"] is None
        assert revoke["ran"] == "2026-12-01 15:00:05Z"
        assert release["state"] == "failed"
        assert "is revoked, not on hold: it cannot be released" in release["error"]
        assert plan["next"] is None
        server = next(c for c in feed(worker, 0)["state"]["certificates"] if c["name"] == "server")
        assert server["status"] == "revoked"  # the worker answers with the step's change
    finally:
        timeline.stop()


def test_the_plan_s_progress_alone_is_news_for_an_open_page(tmp_path: Path) -> None:
    worker = lab_responder(create_app(build_pki(), state_dir=tmp_path))
    assert worker.state.store is not None
    board = worker.state.store.timeline  # serve's timeline writes through a store of its own
    board.write({"steps": [{"label": "step[0] at +1h (revoke server)", "state": "pending"}]})
    stream = EventStream(worker, 0)
    assert b"step[0] at +1h" in stream.first()
    assert stream.step() is None  # nothing moved
    # A product's part moves nothing in the responder's state: only the plan.
    board.write({"steps": [{"label": "step[0] at +1h (revoke server)", "state": "product"}]})
    chunk = stream.step()
    assert chunk is not None and b'"state":"product"' in chunk


def test_a_restarted_serve_shows_no_plan_of_the_last_one(tmp_path: Path) -> None:
    pki = build_pki()
    worker = lab_responder(create_app(pki, state_dir=tmp_path))
    assert worker.state.store is not None
    worker.state.store.timeline.write({"steps": [], "next": None})
    again = lab_responder(create_app(pki, state_dir=tmp_path))  # the same scenario, kept state
    assert again.state.store is not None and again.state.store.kept
    assert feed(again, 0)["timeline"] is None


def _live(port: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{ADMIN_PREFIX}/live"
    with urllib.request.urlopen(url, timeout=10) as answer:
        doc: dict[str, Any] = json.load(answer)
    return doc


SECONDS = """
title = "Revoked a second after the lab starts"

[[step]]
at = "+1s"
revoke = "server"
"""


@pytest.mark.interop
def test_serve_s_feed_turns_a_step_done_after_it_ran(tmp_path: Path) -> None:
    scenario = tmp_path / "seconds.toml"
    scenario.write_text(SECONDS)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", str(scenario), "--port", str(port),
         "--out", str(tmp_path / "o"), "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        plan = _live(port)["timeline"]
        (step,) = plan["steps"]
        assert step["label"] == "step[0] at +1s (revoke server)"
        assert step["due_t"] - plan["started_t"] == pytest.approx(1.0)
        if step["state"] == "pending":  # a slow start may have let the second pass
            assert plan["next"] == 0
        _until(
            lambda: _live(port)["timeline"]["steps"][0]["state"] == "done",
            "the step done in the workers' feed",
            timeout=10,
        )
        plan = _live(port)["timeline"]
        assert plan["steps"][0]["ran_t"] >= plan["steps"][0]["due_t"]
        assert plan["next"] is None
    finally:
        proc.terminate()
        proc.wait(timeout=15)
