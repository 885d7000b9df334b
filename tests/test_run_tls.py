"""``run --tls``: every catalog scenario over real TLS, verdicts identical to the direct run.

Scenario by scenario (one test per id) and expectation by expectation: the
same status, reason, error, trusted_by, connection and upload, and the same
holds. Over TLS, each connection's verdict is what the endpoint saw on the
wire, so each must also carry that record, and it must say the same thing:
allowed → the handshake completed and data flowed, refused → the client's
alert (the one :func:`lab.tls.refusal.refusal_alert` names), dropped → the
peer closed a connection that had been open.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.catalog_index import CATALOG
from lab.outcome import Expectation
from lab.runner import ScenarioResult, Transport, run_scenarios
from lab.scenario import ConnectionOutcome, Scenario, load_scenarios
from lab.tls import Alert, ConnectionRecord, HandshakeOutcome
from lab.tls.refusal import refusal_alert
from lab.tls_session import wire_outcome

SCENARIOS = load_scenarios([CATALOG])
#: The catalog's scenarios that connect with a certificate from a file without its key.
KEYLESS = {"field/customer-ca-without-key"}
#: Scenarios at a time: most of a scenario's time is waits (HTTP, handshakes), not CPU.
JOBS = 4


@pytest.fixture(scope="module")
def both_ways() -> dict[str, tuple[ScenarioResult, ScenarioResult]]:
    """Every catalog scenario run direct and over TLS, a few at a time (as ``run -j``)."""
    direct = run_scenarios(SCENARIOS, jobs=JOBS)
    tls = run_scenarios(SCENARIOS, jobs=JOBS, transport=Transport.TLS)
    return {d.id: (d, t) for d, t in zip(direct, tls, strict=True)}


def _verdict(expectation: Expectation) -> dict[str, object]:
    actual = expectation.actual
    return {
        "label": expectation.label,
        "holds": expectation.holds,
        "status": actual.status if actual.record is not None else None,
        "reason": actual.reason,
        "error": actual.error,
        "trusted_by": actual.trusted_by,
        "connection": actual.connection,
        "upload": actual.upload,
    }


def _modes(result: ScenarioResult) -> list[tuple[str, str | None, list[dict[str, object]]]]:
    return [(m.mode, m.error, [_verdict(e) for e in m.expectations]) for m in result.modes]


def _wire_says_the_same(scenario: Scenario, result: ScenarioResult) -> None:
    """Each connection's verdict is backed by the endpoint's record of it."""
    uploads = {i for i, s in enumerate(scenario.steps) if s.action.__class__.__name__ == "Upload"}
    for mode in result.modes:
        for expectation in mode.expectations:
            actual, where = expectation.actual, f"{result.id} {mode.mode} {expectation.label}"
            if actual.upload is not None or any(
                expectation.label.startswith(f"step[{i}] ") for i in uploads
            ):
                assert actual.tls is None, f"{where}: an upload is no connection"
                continue
            if actual.connection is None:
                continue
            wire = actual.tls
            assert wire is not None, f"{where}: no TLS record"
            match actual.connection:
                case ConnectionOutcome.ALLOWED:
                    assert wire.outcome is HandshakeOutcome.COMPLETED, where
                    assert wire.received > 0 and wire.protocol == "TLSv1.3", where
                    assert wire.closed_by in (None, "peer"), where
                case ConnectionOutcome.REFUSED:
                    assert actual.record is not None
                    assert wire.outcome is HandshakeOutcome.PEER_ALERT, where
                    assert wire.alert is refusal_alert(actual.record.result.verdict), where
                case ConnectionOutcome.DROPPED:
                    assert wire.completed and wire.closed_by == "peer", where
                    assert wire.received > 0, where
        for event in mode.events:
            if event.what.endswith(": dropped") and event.what.startswith("re-check of the conn"):
                assert event.wire is not None and event.wire.closed_by == "peer", event.what


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_over_tls_the_verdicts_are_the_direct_runs(
    scenario: Scenario, both_ways: dict[str, tuple[ScenarioResult, ScenarioResult]]
) -> None:
    direct, tls = both_ways[scenario.id]
    assert tls.transport is Transport.TLS and direct.transport is Transport.DIRECT
    assert tls.error is None, tls.error
    assert direct.error is None, direct.error
    if scenario.id in KEYLESS:
        # A certificate from a file without its key can be judged, never presented (RFC 8446
        # 4.4.3): the scenario is skipped over TLS, saying so, and holds direct.
        assert tls.skipped is not None and "without its key" in tls.skipped, tls.skipped
        assert tls.modes == () and direct.holds
        return
    assert tls.skipped is None, tls.skipped
    assert _modes(tls) == _modes(direct)
    assert tls.holds, [m.error for m in tls.modes]
    _wire_says_the_same(scenario, tls)


def test_run_tls_skips_only_what_it_cannot_present(tmp_path: Path) -> None:
    """The table and JUnit say why a scenario is skipped; the run still passes."""
    junit = tmp_path / "run.xml"
    scenario = CATALOG / "field" / "customer-ca-without-key.toml"
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", "--tls", str(scenario), "--junit", str(junit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skip  skipped: presents 'product'" in done.stdout
    assert "1 scenario (1 skipped), 0 scenario × mode runs" in done.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("skipped") == "1"
    skipped = suite.find("testcase/skipped")
    assert skipped is not None and "without its key" in (skipped.get("message") or "")


def test_the_catalog_has_what_the_tls_run_must_show() -> None:
    """The comparison above covers refusals, drops and staples, not only allowed handshakes."""
    tags = {t for s in SCENARIOS for t in s.tags}
    assert {"timeline", "stapling", "revoked"} <= tags
    assert any(s.tls.staple for s in SCENARIOS)


def test_run_tls_reports_the_transport_and_each_connections_record(tmp_path: Path) -> None:
    report, junit = tmp_path / "run.json", tmp_path / "run.xml"
    scenario = CATALOG / "timeline" / "revoked-mid-session.toml"
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", "--tls", str(scenario), "--json", str(report),
         "--junit", str(junit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["transport"] == "tls"
    (found,) = data["scenarios"]
    assert found["transport"] == "tls"
    for mode in found["modes"]:
        connections = [e["actual"] for e in mode["expectations"]]
        outcomes = [
            (a["connection"], a["tls"]["outcome"], a["tls"]["closed_by"]) for a in connections
        ]
        # Allowed and open, then dropped: the client closed it, the endpoint saw the peer close.
        assert outcomes[0] == ("allowed", "completed", None)
        assert outcomes[-1] == ("dropped", "completed", "peer")
        drops = [e for e in mode["events"] if e["what"].endswith("dropped")]
        assert drops and drops[0]["tls"]["closed_by"] == "peer"
    names = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    assert names["transport"] == "tls"
    assert any(n and n.endswith(" tls") for n in names)


def test_run_tls_refuses_with_the_alert_on_the_wire(tmp_path: Path) -> None:
    report = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", "--tls", str(CATALOG / "basics" / "revoked.toml"),
         "--json", str(report)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for mode in json.loads(report.read_text())["scenarios"][0]["modes"]:
        (expectation,) = mode["expectations"]
        tls = expectation["actual"]["tls"]
        assert expectation["actual"]["connection"] == "refused"
        assert (tls["outcome"], tls["alert"], tls["alert_code"]) == (
            "peer-alert", "certificate_revoked", 44,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        (ConnectionRecord("p", HandshakeOutcome.COMPLETED, received=34), ConnectionOutcome.ALLOWED),
        # Completed, but the client never said a word: no data flowed, no verdict.
        (ConnectionRecord("p", HandshakeOutcome.COMPLETED, received=0), None),
        (
            ConnectionRecord("p", HandshakeOutcome.PEER_ALERT, alert=Alert.CERTIFICATE_REVOKED),
            ConnectionOutcome.REFUSED,
        ),
        (ConnectionRecord("p", HandshakeOutcome.PEER_ALERT), None),
        (ConnectionRecord("p", HandshakeOutcome.TIMEOUT), None),
        (ConnectionRecord("p", HandshakeOutcome.CLOSED), None),
    ],
)
def test_the_wire_decides_the_connection_outcome(
    record: ConnectionRecord, outcome: ConnectionOutcome | None
) -> None:
    assert wire_outcome(record) is outcome
