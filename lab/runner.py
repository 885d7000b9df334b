"""Run scenarios: PKI, in-process responder, virtual clock, validator, expectations.

For each scenario, :class:`ScenarioLab` picks a free loopback port, builds the
scenario's PKI with "lab" URLs pointing at it (t0 = :data:`pki.EPOCH`),
starts the responder there on a virtual clock, and keeps both for the whole
scenario. Each Common Criteria mode (both, unless ``[client].common_criteria``
fixes one) then runs on a fresh database and the scenario's faults: first the
``[[expect]]`` checks at t0, then the ``[[step]]`` timeline
(:mod:`lab.timeline`). The responder's clock and the validator's clock are
the same virtual clock; ``clock_offset`` shifts only the validator's.

A presented chain is the certificate and its issuers up to the self-signed
one, as a peer sends it; ``trust`` names make the trust store (tomcat-trust).
With ``ocsp = false`` nothing is asked: the connection is allowed unless a
certificate of the chain is outside its validity period. An upload checks the
uploaded certificate like a connection presenting it; a self-signed one has
no issuer to ask, so only its validity period is looked at. Either way the
result is a :class:`~lab.chain_check.ChainResult` decided by the policy, as
when OCSP asks (:func:`lab.chain_check.unchecked_chain`).

The *transport* (:class:`Transport`) says how a connection is made: a direct
call of the validator (:class:`LabModeSession`), or a real TLS handshake on
loopback (``run --tls``: :class:`lab.tls_session.TlsModeSession`, the same
session over the wire). Uploads are direct either way: an upload is not a
connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cryptography import x509
from flask import Flask

from lab.chain_check import (
    CertificateCheck,
    ChainResult,
    CheckOptions,
    check_chain,
    client_clock,
    unchecked_chain,
)
from lab.evidence import Evidence, Step, StepOutcome
from lab.outcome import Actual, CertificateCheckRecord, Expectation, compare
from lab.policy import decide
from lab.scenario import ConnectionOutcome, Hold, Release, Revoke, Scenario, SetFaults
from lab.timeline import CachedAnswers, Connection, TimelineEvent, run_timeline
from lab.timespec import format_offset
from lab.tls.staple import StapleSource
from pki import EPOCH, PKI, CertificateDatabase, build_pki
from responder.app import LabResponder, create_app, lab_responder
from responder.clock import FixedClock
from responder.server import serve_on_a_free_port
from responder.state import ResponderState

__all__ = [
    "LabModeSession",
    "ModeResult",
    "ScenarioLab",
    "ScenarioResult",
    "Transport",
    "mode_name",
    "run_scenario",
    "run_scenarios",
]

_HOST = "127.0.0.1"


def apply_change(
    state: ResponderState, action: Revoke | Hold | Release | SetFaults, now: dt.datetime
) -> None:
    """A step's change of the responder (its database or its faults), at ``now``."""
    match action:
        case Revoke(cert=cert, reason=reason):
            state.revoke(cert, now, reason)
        case Hold(cert=cert):
            state.hold(cert, now)
        case Release(cert=cert):
            state.release(cert)
        case SetFaults(faults=faults):
            state.set_faults(faults)


class Transport(StrEnum):
    """How a scenario's connections are made (``run --tls``)."""

    DIRECT = "direct"  # the validator called with the PKI's chain
    TLS = "tls"  # a real TLS handshake on loopback (lab.tls_session)


def mode_name(cc_on: bool) -> str:
    """``cc-on`` / ``cc-off``: how reports name a Common Criteria mode."""
    return "cc-on" if cc_on else "cc-off"


class ScenarioLab:
    """One scenario's PKI, responder and virtual clock, shared by its modes."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.clock = FixedClock(EPOCH)

        def build(url: str) -> Flask:
            self.pki: PKI = build_pki(scenario.pki, base_url=url, t0=EPOCH)
            return create_app(self.pki, config=scenario.responder, clock=self.clock)

        app, self.server = serve_on_a_free_port(build, host=_HOST)
        self.responder: LabResponder = lab_responder(app)
        self._fresh = True

    @property
    def url(self) -> str:
        """The responder's URL: what "lab" means in this scenario."""
        return f"http://{_HOST}:{self.server.port}/"

    def reset(self) -> None:
        """The scenario's initial state: t0, its ``[database]``, its faults."""
        self.clock.now = EPOCH
        if self._fresh:
            self._fresh = False
            return
        state = self.responder.state
        state.replace_database(CertificateDatabase.from_pki(self.pki))
        if state.faults != self.scenario.responder.faults:
            state.set_faults(self.scenario.responder.faults)

    def session(self, cc_on: bool, transport: Transport = Transport.DIRECT) -> LabModeSession:
        """A fresh session in one Common Criteria mode (the lab reset first)."""
        self.reset()
        if transport is Transport.TLS:
            from lab.tls_session import TlsModeSession  # pyOpenSSL only when asked for

            return TlsModeSession(self, cc_on)
        return LabModeSession(self, cc_on)

    def close(self) -> None:
        self.server.stop()


class LabModeSession:
    """The validator against the lab responder in one mode: the timeline's :class:`LabSession`.

    Connections are direct calls: the chain judged is the PKI's (as a peer
    sends it), the staple is the one the endpoint would staple. A subclass
    makes them otherwise (:class:`lab.tls_session.TlsModeSession`) by
    overriding :meth:`connect_once`, :meth:`connect`, :meth:`recheck` and
    :meth:`close`; :meth:`judge` is the decision they share.
    """

    transport = Transport.DIRECT

    def __init__(self, lab: ScenarioLab, cc_on: bool) -> None:
        self.lab = lab
        self.cc_on = cc_on
        self.settings = lab.scenario.client
        self.options = CheckOptions.from_settings(
            self.settings, common_criteria=cc_on, lab_url=lab.url
        )
        self.trust: list[str] = list(self.settings.trust)
        self._staples: dict[str, StapleSource] = {}

    def staple(self, cert: str) -> bytes | None:
        """What the TLS endpoint presenting ``cert`` staples now (``[tls] staple``), or None.

        The one place a direct run gets its staple: the endpoint's own
        :class:`~lab.tls.staple.StapleSource` (fetch when none or past
        nextUpdate, faults included), on the scenario's clock — the server's,
        not the client's (``clock_offset`` is the client's alone). One source
        per certificate and mode, so each mode starts with nothing cached.
        """
        source = self.staple_source(cert)
        return None if source is None else source.staple()

    def staple_source(self, cert: str) -> StapleSource | None:
        """The endpoint's :class:`StapleSource` for ``cert`` in this mode (None: no stapling)."""
        if not self.lab.scenario.tls.staple:
            return None
        source = self._staples.get(cert)
        if source is None:
            pki = self.lab.pki
            issued = pki[cert]
            issuer = pki[issued.issuer].certificate if issued.issuer else issued.certificate
            clock = self.lab.clock
            source = StapleSource(
                issued.certificate,
                issuer,
                now=lambda: clock.now,
                timeout=self.options.timeout,
            )
            self._staples[cert] = source
        return source

    @property
    def at(self) -> dt.timedelta:
        """Virtual time since t0."""
        return self.lab.clock.now - EPOCH

    def advance_to(self, at: dt.timedelta) -> None:
        target = EPOCH + at
        if target < self.lab.clock.now:
            raise ValueError(f"the virtual clock never goes back (to {format_offset(at)})")
        self.lab.clock.now = target

    def trust_add(self, cert: str) -> None:
        if cert not in self.trust:
            self.trust.append(cert)

    def trust_remove(self, cert: str) -> None:
        if cert in self.trust:
            self.trust.remove(cert)

    def change(self, action: Revoke | Hold | Release | SetFaults) -> None:
        apply_change(self.lab.responder.state, action, self.lab.clock.now)

    # ---- checks -----------------------------------------------------------------------

    def check(
        self, cert: str, kind: str, cached: CachedAnswers | None = None
    ) -> CertificateCheckRecord:
        """Check the chain presenting ``cert`` at the current virtual time."""
        pki = self.lab.pki
        chain = [c.certificate for c in pki.chain(cert)]
        issued = pki[cert]
        issuer = pki[issued.issuer].certificate if issued.issuer else issued.certificate
        staple = self.staple(cert) if self.settings.ocsp else None
        return self.judge(cert, kind, chain, issuer=issuer, staple=staple, cached=cached)

    def judge(
        self,
        cert: str,
        kind: str,
        chain: Sequence[x509.Certificate],
        *,
        issuer: x509.Certificate | None,
        staple: bytes | None,
        cached: CachedAnswers | None = None,
    ) -> CertificateCheckRecord:
        """Decide ``chain`` (leaf first) presenting ``cert`` now, with ``[client]``'s settings.

        ``issuer`` names the leaf's issuer (else it is looked for in the chain
        and the trust store); ``staple`` is what came stapled; ``cached``
        answers may stand in for an error (a re-check).
        """
        pki = self.lab.pki
        now = client_clock(self.lab.clock.now, self.settings)
        stand_in = False
        if not self.settings.ocsp:
            result = unchecked_chain(
                chain, policy=self.options.policy, now=now, because="Enable OCSP is off"
            )
        else:
            result = check_chain(
                chain,
                options=self.options,
                now=now,
                trust=[pki[name].certificate for name in self.trust],
                issuer=issuer,
                staple=staple,
            )
            if cached:
                result, stand_in = self._stand_in(result, cached, now)
        return self._record(cert, kind, result, stand_in)

    # ---- connections: direct calls ----------------------------------------------------

    def connect_once(self, cert: str) -> Actual:
        """An ``[[expect]]`` connection presenting ``cert``: checked now, then closed."""
        record = self.check(cert, "connect")
        outcome = ConnectionOutcome.ALLOWED if record.allowed else ConnectionOutcome.REFUSED
        return Actual(record, connection=outcome)

    def connect(self, cert: str) -> Connection:
        """A timeline connection presenting ``cert``, opened now and kept for re-checks."""
        record = self.check(cert, "connect")
        outcome = ConnectionOutcome.ALLOWED if record.allowed else ConnectionOutcome.REFUSED
        return Connection(cert, self.at, record, outcome)

    def recheck(self, connection: Connection) -> CertificateCheckRecord:
        """Re-check an open ``connection`` now; a refusal drops it (DESIGN.md)."""
        record = self.check(connection.cert, "re-check", connection.cached)
        if not record.allowed:
            connection.outcome = ConnectionOutcome.DROPPED
        return record

    def close(self) -> None:
        """The mode is over: end what is still open (nothing, for direct calls)."""

    def check_upload(self, cert: str) -> CertificateCheckRecord:
        """Check ``cert`` as uploaded to the trust store."""
        issued = self.lab.pki[cert]
        if issued.issuer is None:
            now = client_clock(self.lab.clock.now, self.settings)
            result = unchecked_chain(
                [issued.certificate],
                policy=self.options.policy,
                now=now,
                because="self-signed, no issuer to ask",
            )
            return self._record(cert, "upload", result, False)
        return self.check(cert, "upload")

    def _record(
        self, cert: str, kind: str, result: ChainResult, stand_in: bool
    ) -> CertificateCheckRecord:
        return CertificateCheckRecord(
            cert=cert,
            at=self.at,
            kind=kind,
            allowed=result.verdict.allowed,
            decided_by=result.verdict.explain(),
            result=result,
            stand_in=stand_in,
        )

    def _stand_in(
        self, result: ChainResult, cached: CachedAnswers, now: dt.datetime
    ) -> tuple[ChainResult, bool]:
        """Put a still-fresh cached answer in place of each ``error`` (DESIGN.md)."""
        policy = self.options.policy
        checks: list[CertificateCheck] = []
        used = False
        for check in result.checks:
            evidence = check.evidence
            previous = (
                cached.get((evidence.serial, evidence.subject or ""))
                if evidence.is_error and evidence.serial is not None
                else None
            )
            if previous is None or previous.next_update is None or now >= previous.next_update:
                checks.append(check)
                continue
            used = True
            standing = _standing_in(previous, evidence)
            checks.append(CertificateCheck(standing, decide(standing, policy)))
        if not used:
            return result, False
        return ChainResult.decide(result.presented, checks, policy), True


def _standing_in(cached: Evidence, failed: Evidence) -> Evidence:
    """``cached`` in place of the ``failed`` check, saying so; validity as of now."""
    note = (
        f"no trustworthy answer ({failed.error.value if failed.error else 'error'}: "
        f"{failed.message}); the cached answer of {cached.this_update:%Y-%m-%d %H:%M}Z "
        f"stands in until its nextUpdate {cached.next_update:%Y-%m-%d %H:%M}Z"
    )
    step = Step("cache", StepOutcome.WARN, note)
    return replace(
        cached,
        cert_validity=failed.cert_validity,  # computed at this check's now: expiry shows
        warnings=(*cached.warnings, note),
        steps=(*failed.steps, step),
    )


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeResult:
    """One scenario in one Common Criteria mode."""

    cc_on: bool
    expectations: tuple[Expectation, ...]
    events: tuple[TimelineEvent, ...] = ()
    error: str | None = None  # the run itself failed (e.g. release of a revoked certificate)
    seconds: float = 0.0

    @property
    def mode(self) -> str:
        return mode_name(self.cc_on)

    @property
    def holds(self) -> bool:
        return self.error is None and all(e.holds for e in self.expectations)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "holds": self.holds,
            "error": self.error,
            "seconds": round(self.seconds, 4),
            "expectations": [e.to_json(self.cc_on) for e in self.expectations],
            "events": [
                {
                    "at": format_offset(e.at),
                    "what": e.what,
                    "check": None if e.record is None else e.record.to_json(),
                    "tls": None if e.wire is None else e.wire.to_json(),
                }
                for e in self.events
            ],
        }


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario, every mode it ran in."""

    scenario: Scenario
    modes: tuple[ModeResult, ...]
    seconds: float = 0.0
    error: str | None = None  # the lab could not even be set up
    responder_url: str | None = field(default=None, compare=False)
    transport: Transport = Transport.DIRECT  # how its connections were made
    skipped: str | None = None  # why it could not run on this transport (never silently)

    @property
    def id(self) -> str:
        return self.scenario.id

    @property
    def holds(self) -> bool:
        return self.error is None and all(m.holds for m in self.modes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.scenario.id,
            "title": self.scenario.title,
            "path": str(self.scenario.path),
            "tags": list(self.scenario.tags),
            "holds": self.holds,
            "error": self.error,
            "seconds": round(self.seconds, 4),
            "transport": self.transport.value,
            "skipped": self.skipped,
            "modes": [m.to_json() for m in self.modes],
        }


def run_mode(lab: ScenarioLab, cc_on: bool, transport: Transport = Transport.DIRECT) -> ModeResult:
    """The ``[[expect]]`` checks at t0, then the timeline, in one mode."""
    started = time.perf_counter()
    session = lab.session(cc_on, transport)
    expectations: list[Expectation] = []
    events: list[TimelineEvent] = []
    try:
        for index, expect in enumerate(lab.scenario.expects):
            begun = time.perf_counter()
            actual = session.connect_once(expect.cert)
            mismatches = compare(expect, actual, cc_on)
            expectations.append(
                Expectation(
                    f"expect[{index}]",
                    dt.timedelta(0),
                    expect,
                    actual,
                    mismatches,
                    time.perf_counter() - begun,
                )
            )
        if lab.scenario.steps:
            checked, events = run_timeline(lab.scenario, session)
            expectations.extend(checked)
    except Exception as exc:  # reported as this mode's failure, the run goes on
        session.close()
        return ModeResult(
            cc_on,
            tuple(expectations),
            tuple(events),
            error=f"{type(exc).__name__}: {exc} (at {format_offset(session.at)})",
            seconds=time.perf_counter() - started,
        )
    session.close()
    return ModeResult(
        cc_on, tuple(expectations), tuple(events), seconds=time.perf_counter() - started
    )


def run_scenario(
    scenario: Scenario,
    *,
    stop: Callable[[ScenarioLab], None] | None = None,
    transport: Transport = Transport.DIRECT,
) -> ScenarioResult:
    """Run ``scenario`` in every mode it names; ``stop`` closes the lab (default: now)."""
    started = time.perf_counter()
    try:
        lab = ScenarioLab(scenario)
    except Exception as exc:  # reported as the scenario's failure
        return ScenarioResult(
            scenario,
            (),
            time.perf_counter() - started,
            error=f"{type(exc).__name__}: {exc}",
            transport=transport,
        )
    if transport is Transport.TLS:
        from lab.tls_session import unpresentable  # it builds on this module

        skipped = unpresentable(scenario, lab.pki)
        if skipped is not None:
            (stop or ScenarioLab.close)(lab)
            return ScenarioResult(
                scenario,
                (),
                time.perf_counter() - started,
                responder_url=lab.url,
                transport=transport,
                skipped=skipped,
            )
    try:
        modes = tuple(run_mode(lab, cc_on, transport) for cc_on in scenario.client.modes())
    finally:
        (stop or ScenarioLab.close)(lab)
    return ScenarioResult(
        scenario,
        modes,
        time.perf_counter() - started,
        responder_url=lab.url,
        transport=transport,
    )


class _Closer:
    """Stops servers on background threads: a werkzeug shutdown waits up to its poll interval."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def __call__(self, lab: ScenarioLab) -> None:
        thread = threading.Thread(target=lab.close, name="stop-responder", daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)


@contextlib.contextmanager
def _closer() -> Iterator[_Closer]:
    closer = _Closer()
    try:
        yield closer
    finally:
        closer.join()


def run_scenarios(
    scenarios: Sequence[Scenario],
    *,
    jobs: int = 1,
    transport: Transport = Transport.DIRECT,
    on_start: Callable[[Scenario], None] | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Run every scenario (``jobs`` at a time, each with its own server); results in order.

    ``transport`` says how connections are made (:class:`Transport`).
    """
    with _closer() as closer:

        def one(scenario: Scenario) -> ScenarioResult:
            if on_start is not None:
                on_start(scenario)
            result = run_scenario(scenario, stop=closer, transport=transport)
            if on_result is not None:
                on_result(result)
            return result

        if jobs <= 1:
            return [one(s) for s in scenarios]
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="scenario") as pool:
            return list(pool.map(one, scenarios))
