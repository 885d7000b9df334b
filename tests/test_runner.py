"""The runner: expectations against actual outcomes, per mode, with the evidence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lab.evidence import CertStatus, TrustedBy
from lab.policy import Outcome
from lab.runner import ScenarioLab, run_scenario, run_scenarios
from lab.scenario import load_scenario, load_scenarios
from lab.settings import ClientSettings

DATA = Path(__file__).parent / "data" / "runner"
CATALOG_GOOD = Path(__file__).parent.parent / "scenarios" / "basics" / "good.toml"


def test_run_passing_scenario_holds_in_both_modes() -> None:
    result = run_scenario(load_scenario(DATA / "good" / "revoked.toml", root=DATA / "good"))
    assert result.holds
    assert [m.mode for m in result.modes] == ["cc-on", "cc-off"]
    actual = result.modes[0].expectations[0].actual
    assert actual.status is CertStatus.REVOKED
    assert actual.trusted_by is TrustedBy.DTM
    assert actual.reason == "keyCompromise"


def test_run_wrong_status_is_reported_with_expected_actual_and_evidence() -> None:
    result = run_scenario(load_scenario(DATA / "wrong" / "wrong-status.toml", root=DATA))
    assert not result.holds
    for mode in result.modes:
        expectation = mode.expectations[0]
        found = {m.key: (m.expected, m.actual) for m in expectation.mismatches}
        assert found == {"status": ("good", "revoked"), "connection": ("allowed", "refused")}
        summary = expectation.actual.summary()
        assert "status revoked" in summary and "reason keyCompromise" in summary
        assert "trusted_by dtm" in summary and "signer CN=responder" in summary
        assert "row 'revoked'" in summary


def test_run_wrong_mode_fails_only_in_that_mode() -> None:
    result = run_scenario(load_scenario(DATA / "wrong" / "wrong-mode.toml", root=DATA))
    on, off = result.modes
    assert on.holds
    assert [str(m) for m in off.expectations[0].mismatches] == [
        "connection: expected refused, got allowed"
    ]


def test_run_common_criteria_fixed_runs_one_mode() -> None:
    scenario = load_scenario(DATA / "good" / "unknown.toml", root=DATA)
    fixed = dataclasses.replace(
        scenario, client=dataclasses.replace(scenario.client, common_criteria=False)
    )
    result = run_scenario(fixed)
    assert [m.mode for m in result.modes] == ["cc-off"]
    assert result.holds


def test_run_ocsp_disabled_asks_nothing_and_allows() -> None:
    scenario = load_scenario(DATA / "good" / "revoked.toml", root=DATA)
    off = dataclasses.replace(scenario, client=ClientSettings(ocsp=False))
    result = run_scenario(off)
    expectation = result.modes[0].expectations[0]
    record = expectation.actual.record
    assert record is not None
    assert record.result.checks == ()  # nothing asked
    assert [c.subject.split(",")[0] for c in record.result.presented] == [
        "CN=server",
        "CN=intermediate",
        "CN=root",
    ]
    assert all(c.not_checked == "Enable OCSP is off" for c in record.result.presented)
    assert record.result.verdict.row is Outcome.NOT_CHECKED
    assert "row 'not checked'" in record.decided_by
    found = {m.key: m.actual for m in expectation.mismatches}
    assert found["status"] == "not checked"
    assert found["connection"] == "allowed"


def test_run_reuses_one_server_and_resets_between_modes() -> None:
    scenario = load_scenario(CATALOG_GOOD)
    lab = ScenarioLab(scenario)
    try:
        url = lab.url
        first = lab.session(True)
        first.change(_revoke("server"))
        second = lab.session(False)
        assert lab.url == url
        record = second.check("server", "connect")
        assert record.allowed and record.evidence is not None
        assert record.evidence.status is CertStatus.GOOD
        assert record.evidence.url == url
    finally:
        lab.close()


def _revoke(name: str):  # type: ignore[no-untyped-def]
    from lab.scenario import Revoke

    return Revoke(name, "keyCompromise")


def test_run_scenarios_in_threads_keeps_order() -> None:
    scenarios = load_scenarios([DATA / "good", DATA / "wrong"])
    results = run_scenarios(scenarios, jobs=3)
    assert [r.id for r in results] == [s.id for s in scenarios]
    assert [r.holds for r in results] == [True, True, False, False, False]
    assert len({r.responder_url for r in results}) == len(results)


def test_run_step_failure_names_the_step() -> None:
    result = run_scenario(load_scenario(DATA / "wrong" / "wrong-step.toml", root=DATA))
    failed = [e for m in result.modes for e in m.expectations if not e.holds]
    assert {e.label for e in failed} == {"step[2] at +6h (wait)"}
    assert all(str(e.mismatches[0]) == "connection: expected allowed, got dropped" for e in failed)
