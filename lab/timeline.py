"""A scenario's ``[[step]]`` timeline on a virtual clock (DESIGN.md, "When checks run").

The clock starts at t0 and only moves forward, step by step: no sleeping, so
days of virtual time run in milliseconds. Between steps, the periodic
re-checks fire at t0 + k × interval, where the interval is the *Enable
Revocation Check* interval (``revocation_check``) when set, else the
*Validity Check Frequency* (``validity_check``). The revocation-check interval
also re-checks the trust store (uploaded certificates); the validity check
frequency only re-checks long-lived connections.

Order within one step at time ``at``: first every re-check due strictly
before ``at`` (each at its own time), then the step's action at ``at``, then
the re-checks due exactly at ``at`` (a re-check due at the instant of a
revoke sees it), then the step's expectation. A connection opened at the
instant of a re-check is not re-checked at that instant (it was just
checked).

A scenario re-checks at most :data:`MAX_RECHECKS` times up to its last step
(:func:`check_recheck_bound`): a 1 ms interval over 1000 days would be 86.4
billion re-checks, minutes to forever of a run, and never what was meant.

A re-check always asks the responder; when no trustworthy answer comes
(status ``error``) a still-fresh cached answer of that connection (before its
nextUpdate) stands in — the lab side does that (:class:`LabSession`). A
re-check whose verdict is refused drops the connection.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lab.evidence import Evidence
from lab.misbehaviour import describe_faults
from lab.outcome import Actual, CertificateCheckRecord, Expectation, compare
from lab.scenario import (
    MAX_RECHECKS,
    Action,
    Connect,
    ConnectionOutcome,
    Hold,
    Release,
    Revoke,
    Scenario,
    SetFaults,
    Step,
    Upload,
    UploadOutcome,
    Wait,
    check_recheck_bound,
)
from lab.timespec import format_offset

if TYPE_CHECKING:
    from lab.tls.record import ConnectionRecord

__all__ = [
    "MAX_RECHECKS",
    "CachedAnswers",
    "Connection",
    "LabSession",
    "TimelineEvent",
    "check_recheck_bound",
    "due_times",
    "run_timeline",
    "step_label",
]

#: The most re-check times one scenario may have (docs/scenario-format-extensions.md).

#: A connection's cached trustworthy answers, by (serial, subject) of the checked certificate.
CachedAnswers = Mapping[tuple[int, str], Evidence]


class LabSession(Protocol):
    """What the timeline needs from the lab in one Common Criteria mode."""

    cc_on: bool

    def advance_to(self, at: dt.timedelta) -> None:
        """Move the virtual clock to t0 + ``at`` (never backwards)."""

    def check(
        self, cert: str, kind: str, cached: CachedAnswers | None = None
    ) -> CertificateCheckRecord:
        """Check the chain presenting ``cert`` now; ``cached`` may stand in for an error."""

    def check_upload(self, cert: str) -> CertificateCheckRecord:
        """Check ``cert`` as uploaded to the trust store."""

    def connect(self, cert: str) -> Connection:
        """Open a connection presenting ``cert`` now, checked as it opens."""

    def recheck(self, connection: Connection) -> CertificateCheckRecord:
        """Re-check an open ``connection`` now; a refusal drops it (its ``outcome``)."""

    def trust_add(self, cert: str) -> None:
        """Put ``cert`` in the trust store."""

    def trust_remove(self, cert: str) -> None:
        """Take ``cert`` out of the trust store."""

    def change(self, action: Revoke | Hold | Release | SetFaults) -> None:
        """Change the responder's database or faults, now."""


@dataclass
class Connection:
    """A long-lived connection: open until a re-check refuses it."""

    cert: str
    opened_at: dt.timedelta
    last: CertificateCheckRecord
    outcome: ConnectionOutcome
    cached: dict[tuple[int, str], Evidence] = field(default_factory=dict)
    #: What the TLS endpoint saw of it (``run --tls``): open, then how it ended; None direct.
    wire: ConnectionRecord | None = None

    @property
    def open(self) -> bool:
        return self.outcome is ConnectionOutcome.ALLOWED

    def remember(self, record: CertificateCheckRecord) -> None:
        """Keep the trustworthy answers of ``record`` for a later stand-in."""
        self.last = record
        if record.stand_in:
            return
        for check in record.result.checks:
            evidence = check.evidence
            if not evidence.is_error and evidence.serial is not None and evidence.subject:
                self.cached[(evidence.serial, evidence.subject)] = evidence


@dataclass
class _Upload:
    cert: str
    record: CertificateCheckRecord
    outcome: UploadOutcome


@dataclass(frozen=True)
class TimelineEvent:
    """Something that happened on the timeline, for ``explain`` and the JSON report."""

    at: dt.timedelta
    what: str
    record: CertificateCheckRecord | None = None
    wire: ConnectionRecord | None = None  # the TLS endpoint's record (run --tls)


def due_times(
    interval: dt.timedelta | None, after: dt.timedelta, until: dt.timedelta, *, inclusive: bool
) -> Iterator[dt.timedelta]:
    """The re-check times k × ``interval`` (k ≥ 1) in (``after``, ``until``) or (…, ``until``]."""
    if interval is None or interval <= dt.timedelta(0):
        return
    k = after // interval + 1
    while True:
        at = k * interval
        if at > until or (at == until and not inclusive):
            return
        yield at
        k += 1


def step_label(index: int, step: Step) -> str:
    """How reports name a step: ``step[3] at +6h (revoke server)``."""
    return f"step[{index}] at {format_offset(step.at)} ({_action_words(step.action)})"


def _action_words(action: Action) -> str:
    match action:
        case Connect(cert=cert):
            return f"connect {cert}"
        case Upload(cert=cert):
            return f"upload {cert}"
        case Revoke(cert=cert, reason=reason):
            return f"revoke {cert}" + (f" ({reason})" if reason else "")
        case Hold(cert=cert):
            return f"hold {cert}"
        case Release(cert=cert):
            return f"release {cert}"
        case SetFaults(faults=faults):
            return "faults: " + ("; ".join(describe_faults(faults)) or "cleared, it behaves")
        case Wait():
            return "wait"
    raise TypeError(f"unknown action {action!r}")  # pragma: no cover


class _Timeline:
    def __init__(self, scenario: Scenario, session: LabSession) -> None:
        self.scenario = scenario
        self.session = session
        self.connections: list[Connection] = []
        self.uploads: list[_Upload] = []
        self.events: list[TimelineEvent] = []
        self.last_recheck = dt.timedelta(0)

    def recheck_until(self, until: dt.timedelta, *, inclusive: bool) -> None:
        settings = self.scenario.client
        for at in due_times(
            settings.recheck_interval, self.last_recheck, until, inclusive=inclusive
        ):
            self.session.advance_to(at)
            self.last_recheck = at
            self._recheck_connections(at)
            if settings.revocation_check is not None:
                self._recheck_trust_store(at)

    def _recheck_connections(self, at: dt.timedelta) -> None:
        for connection in self.connections:
            if not connection.open or connection.opened_at >= at:
                continue
            record = self.session.recheck(connection)
            connection.remember(record)
            what = f"re-check of the connection presenting {connection.cert}: "
            what += "kept" if connection.open else "dropped"
            self.events.append(TimelineEvent(at, what, record, connection.wire))

    def _recheck_trust_store(self, at: dt.timedelta) -> None:
        for upload in self.uploads:
            if upload.outcome is not UploadOutcome.ACCEPTED:
                continue
            record = self.session.check_upload(upload.cert)
            upload.record = record
            what = f"re-check of {upload.cert} in the trust store: "
            if record.allowed:
                what += "kept"
            else:
                upload.outcome = UploadOutcome.REJECTED
                self.session.trust_remove(upload.cert)
                what += "removed"
            self.events.append(TimelineEvent(at, what, record))

    def act(self, at: dt.timedelta, action: Action) -> Actual | None:
        """Do ``action``; for connect and upload, what came of it."""
        match action:
            case Connect(cert=cert):
                connection = self.session.connect(cert)
                record, outcome = connection.last, connection.outcome
                connection.remember(record)
                self.connections.append(connection)
                what = f"connect {cert}: {outcome.value}"
                self.events.append(TimelineEvent(at, what, record, connection.wire))
                return Actual(record, connection=outcome, tls=connection.wire)
            case Upload(cert=cert):
                record = self.session.check_upload(cert)
                upload = UploadOutcome.ACCEPTED if record.allowed else UploadOutcome.REJECTED
                if record.allowed:
                    self.session.trust_add(cert)
                self.uploads.append(_Upload(cert, record, upload))
                self.events.append(TimelineEvent(at, f"upload {cert}: {upload.value}", record))
                return Actual(
                    record,
                    connection=(
                        ConnectionOutcome.ALLOWED if record.allowed else ConnectionOutcome.REFUSED
                    ),
                    upload=upload,
                )
            case Revoke() | Hold() | Release() | SetFaults():
                self.session.change(action)
                self.events.append(TimelineEvent(at, _action_words(action)))
                return None
            case Wait():
                return None
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    def latest(self, cert: str) -> Actual:
        for connection in reversed(self.connections):
            if connection.cert == cert:
                return Actual(connection.last, connection=connection.outcome, tls=connection.wire)
        return Actual(None)


def run_timeline(
    scenario: Scenario, session: LabSession
) -> tuple[list[Expectation], list[TimelineEvent]]:
    """Run the steps of ``scenario`` in one mode; one :class:`Expectation` per step expect.

    :class:`ScenarioError` before anything runs if the re-checks would exceed
    :data:`MAX_RECHECKS`.
    """
    check_recheck_bound(scenario)
    timeline = _Timeline(scenario, session)
    checked: list[Expectation] = []
    started = time.perf_counter()
    for index, step in enumerate(scenario.steps):
        timeline.recheck_until(step.at, inclusive=False)
        session.advance_to(step.at)
        actual = timeline.act(step.at, step.action)
        timeline.recheck_until(step.at, inclusive=True)
        if step.expect is None:
            continue
        if not isinstance(step.action, Connect | Upload):
            actual = timeline.latest(step.expect.cert)
        elif isinstance(step.action, Connect):
            actual = timeline.latest(step.action.cert)  # a re-check at this instant may follow
        assert actual is not None
        label = step_label(index, step)
        mismatches = compare(step.expect, actual, session.cc_on)
        now = time.perf_counter()
        checked.append(Expectation(label, step.at, step.expect, actual, mismatches, now - started))
        started = now
    return checked, timeline.events
