"""Timeline semantics (DESIGN.md "When checks run"): one test per rule, on fixture scenarios."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.runner import ScenarioResult, run_scenario
from lab.scenario import load_scenario
from lab.timeline import MAX_RECHECKS, check_recheck_bound, due_times

DATA = Path(__file__).parent / "data" / "timeline"
H = dt.timedelta(hours=1)


def _run(name: str) -> ScenarioResult:
    return run_scenario(load_scenario(DATA / f"{name}.toml", root=DATA))


def _failures(result: ScenarioResult) -> list[str]:
    return [
        f"{mode.mode} {e.label}: {[str(m) for m in e.mismatches]} ({e.actual.summary()})"
        for mode in result.modes
        for e in mode.expectations
        if not e.holds
    ] + [f"{mode.mode}: {mode.error}" for mode in result.modes if mode.error]


def test_due_times_fire_at_multiples_of_the_interval() -> None:
    assert list(due_times(6 * H, dt.timedelta(0), 18 * H, inclusive=True)) == [
        6 * H,
        12 * H,
        18 * H,
    ]
    assert list(due_times(6 * H, dt.timedelta(0), 18 * H, inclusive=False)) == [6 * H, 12 * H]
    assert list(due_times(6 * H, 6 * H, 12 * H - dt.timedelta(minutes=1), inclusive=True)) == []
    assert list(due_times(None, dt.timedelta(0), 100 * H, inclusive=True)) == []


@pytest.mark.parametrize(
    "name",
    [
        "interval-boundary",  # at t0 + 6h exactly, not at +5h59m
        "second-interval",  # t0 + 2 x interval
        "precedence",  # revocation_check 2h beats validity_check 1d
        "validity-check-alone",  # validity_check re-checks connections on its own
        "no-interval",  # nothing re-checks without an interval
        "cache-fresh",  # responder down, fresh cached answer stands in
        "cache-stand-in-error",  # tryLater after good: the cached answer stands in
        "cache-expired",  # past nextUpdate: no stand-in, dropped with CC ON only
        "upload-verdicts",  # upload accepted / rejected per mode
        "expiry",  # expired certificate flagged at the next check
        "modes-isolated",  # each mode starts from the scenario's database and faults
    ],
)
def test_timeline_rule_holds(name: str) -> None:
    result = _run(name)
    assert [m.mode for m in result.modes] == ["cc-on", "cc-off"]
    assert _failures(result) == []


def test_recheck_drops_connection_on_revoke_at_the_tick_not_before() -> None:
    result = _run("interval-boundary")
    events = [(e.at, e.what) for e in result.modes[0].events]
    assert (5 * H + dt.timedelta(minutes=59), "") not in events
    rechecks = [e for e in result.modes[0].events if e.what.startswith("re-check")]
    assert [e.at for e in rechecks] == [6 * H]
    assert rechecks[0].what.endswith("dropped")


def test_cached_answer_stand_in_is_marked_and_explained() -> None:
    step = _run("cache-fresh").modes[0].expectations[-1]
    record = step.actual.record
    assert record is not None and record.stand_in
    evidence = step.actual.evidence
    assert evidence is not None
    assert any("stands in" in w for w in evidence.warnings)
    assert evidence.steps[-1].name == "cache"


def test_expired_certificate_is_flagged_only_at_the_next_check() -> None:
    mode = _run("expiry").modes[0]
    rechecks = [e for e in mode.events if e.what.startswith("re-check")]
    # valid until +36h: kept at +1d, dropped at +2d (the next check), never at +36h
    assert [(e.at, e.what.rsplit(" ", 1)[-1]) for e in rechecks] == [
        (24 * H, "kept"),
        (48 * H, "dropped"),
    ]
    last = rechecks[-1].record
    assert last is not None and "certificate expired" in last.decided_by


def test_days_of_virtual_time_run_in_milliseconds() -> None:
    result = _run("no-interval")  # a 30-day timeline
    assert result.seconds < 2.0


def _rechecking(tmp_path: Path, client: str, last_at: str) -> Path:
    path = tmp_path / "rechecks.toml"
    path.write_text(
        'title = "re-checks"\n\n'
        f"[client]\n{client}\n\n"
        '[[step]]\nat = "0"\nconnect = "server"\n\n'
        f'[[step]]\nat = "{last_at}"\nexpect = {{ cert = "server", connection = "allowed" }}\n'
    )
    return path


@pytest.mark.parametrize(
    ("client", "last_at", "key", "shortest"),
    [
        ('revocation_check = "1ms"', "+1000d", "client.revocation_check", "2h24m"),
        ('validity_check = "1s"', "+2d", "client.validity_check", "17s280ms"),
        (
            'revocation_check = "1ms"\nvalidity_check = "1d"',
            "+11s",
            "client.revocation_check",
            "2ms",
        ),
    ],
)
def test_too_many_rechecks_refuse_the_scenario_before_it_runs(
    tmp_path: Path, client: str, last_at: str, key: str, shortest: str
) -> None:
    """A 1 ms interval over 1000 days is a mistake of the file (exit 2), naming the key."""
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_rechecking(tmp_path, client, last_at), root=tmp_path)
    assert raised.value.key == key and "rechecks.toml" in str(raised.value)
    assert f"at most {MAX_RECHECKS:,} times" in str(raised.value)
    assert f"{shortest} or more" in str(raised.value)


def test_rechecks_up_to_the_bound_run(tmp_path: Path) -> None:
    """Exactly MAX_RECHECKS re-check times is allowed (here 10,000 of 1 ms up to +10s)."""
    scenario = load_scenario(_rechecking(tmp_path, 'validity_check = "1ms"', "+10s"), root=tmp_path)
    check_recheck_bound(scenario)  # no error
    assert MAX_RECHECKS == 10_000
