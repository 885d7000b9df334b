"""``run --tls``: a scenario's connections as real TLS handshakes on loopback.

:class:`TlsModeSession` is :class:`lab.runner.LabModeSession` with every
connection made on the wire: for each certificate a scenario connects with,
a lab :class:`~lab.tls.TlsEndpoint` presents it with its chain (its issuers
up to the self-signed one, as the direct run presents them) and staples per
``[tls] staple`` from the session's own :class:`~lab.tls.StapleSource`, on
the scenario's virtual clock. The reference product is a TLS client
(:func:`lab.tls.tls_open`) whose in-handshake decision is the lab's
validator with the scenario's ``[client]`` settings at the virtual clock —
:meth:`LabModeSession.judge`, the very decision of the direct run — on the
chain and staple *received over TLS*. A refusal is a real alert
(:mod:`lab.tls.refusal`: 44 revoked, 46 unknown or no answer, 42 otherwise).

The verdict recorded is what the endpoint saw on the wire
(:func:`wire_outcome`): the handshake completed and application data flowed
both ways → allowed; the client aborted with an alert → refused. The
endpoint's :class:`~lab.tls.ConnectionRecord` is kept with the expectation
(``Actual.tls``), and must agree with the validator's verdict
(:class:`TlsRunError` otherwise: the plumbing, not the model, failed).

Timeline connections stay open: the endpoint holds them (``hold_open``)
until the client drops one — a periodic re-check that refuses closes it
from the client side (close_notify, RFC 8446 6.1), as Unified CM tears a
link down — or the mode ends (:meth:`TlsModeSession.close`). ``dropped`` is
asserted from that close as the endpoint saw it: the peer closed, after
data had flowed. A re-check makes no new handshake: it judges the chain
received on that connection; the model gives a re-check what the endpoint
staples at that moment, and so does this session, from the same source.

Uploads stay direct calls (an upload is not a connection). Every wait is
bounded (:func:`handshake_bound`). A scenario that connects with a
certificate read from a file without its key cannot be presented over TLS
(the endpoint must prove it holds the key, RFC 8446 4.4.3): it is skipped,
saying so (:func:`unpresentable`), never judged by another path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from lab.errors import LabError
from lab.outcome import Actual, CertificateCheckRecord
from lab.runner import LabModeSession, ScenarioLab, Transport
from lab.scenario import Connect, ConnectionOutcome, Scenario
from lab.timeline import Connection
from lab.tls.alerts import Alert
from lab.tls.client import ClientLink, tls_open
from lab.tls.record import ConnectionRecord, HandshakeOutcome
from lab.tls.refusal import refusal_alert
from lab.tls.server import TlsEndpoint
from pki import PKI

__all__ = [
    "HELLO",
    "TlsConnection",
    "TlsModeSession",
    "TlsRunError",
    "handshake_bound",
    "unpresentable",
    "wire_outcome",
]

_HOST = "127.0.0.1"
#: What the reference product says once its handshake completes: data flows both ways.
HELLO = b"ocsp-lab reference product: hello\n"
#: The longest a timeline connection is held open: a safety bound past any scenario's end.
HOLD_LIMIT = 300.0


def unpresentable(scenario: Scenario, pki: PKI) -> str | None:
    """Why ``scenario``'s connections cannot be made over TLS, or None (they can).

    A TLS server proves it holds the presented certificate's key
    (CertificateVerify, RFC 8446 4.4.3): a certificate from ``cert_file``
    without ``key_file`` can be judged, never presented.
    """
    presented = [e.cert for e in scenario.expects]
    presented += [s.action.cert for s in scenario.steps if isinstance(s.action, Connect)]
    for name in dict.fromkeys(presented):
        if pki[name].key is None:
            return (
                f"presents {name!r}, a certificate from a file without its key (key_file): "
                "a TLS endpoint cannot present it"
            )
    return None


class TlsRunError(LabError):
    """A connection over TLS did not come to a verdict the wire and the validator agree on."""


def handshake_bound(timeout: float, chain_length: int) -> float:
    """Seconds one handshake may take: the validator asks inside it.

    Each certificate of the chain may cost one OCSP request (``timeout``
    each), and the endpoint's staple fetch one more; a margin for the TLS
    exchange itself on a busy machine.
    """
    return 10.0 + timeout * (chain_length + 2)


def wire_outcome(record: ConnectionRecord) -> ConnectionOutcome | None:
    """The connection's outcome as the endpoint saw it; None when the wire says neither.

    Completed with application data from the client → allowed; the client
    aborted with an alert → refused (the one mapping of ``run --tls``).
    """
    if record.outcome is HandshakeOutcome.COMPLETED and record.received > 0:
        return ConnectionOutcome.ALLOWED
    if record.outcome is HandshakeOutcome.PEER_ALERT and record.alert is not None:
        return ConnectionOutcome.REFUSED
    return None


@dataclass
class TlsConnection(Connection):
    """A timeline connection with the real link behind it."""

    link: ClientLink | None = None
    endpoint: TlsEndpoint | None = None
    chain: list[x509.Certificate] = field(default_factory=list)  # as received over TLS


class _Decision:
    """The validator inside the handshake: the received chain and staple in, an alert out."""

    def __init__(self, session: TlsModeSession, cert: str, kind: str) -> None:
        self.session = session
        self.cert = cert
        self.kind = kind
        self.record: CertificateCheckRecord | None = None
        self.chain: list[x509.Certificate] = []

    def __call__(self, chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
        self.chain = chain
        self.record = self.session.judge(
            self.cert, self.kind, chain, issuer=presented_issuer(chain), staple=staple
        )
        return refusal_alert(self.record.result.verdict)


def presented_issuer(chain: Sequence[x509.Certificate]) -> x509.Certificate:
    """The leaf's issuer as presented: the next certificate (RFC 8446 4.4.2), or itself alone.

    Each certificate of a TLS Certificate message certifies the one before it;
    a lone certificate is self-signed (or judged as if).
    """
    return chain[1] if len(chain) > 1 else chain[0]


class TlsModeSession(LabModeSession):
    """One Common Criteria mode of a scenario, its connections over real TLS.

    Inputs: the scenario's :class:`~lab.runner.ScenarioLab` (PKI, responder,
    virtual clock) and the mode (``cc_on``). What each check returns:

    - :meth:`connect_once` (an ``[[expect]]``): an :class:`~lab.outcome.Actual`
      whose ``record`` is the validator's :class:`CertificateCheckRecord` on
      the chain received, ``connection`` the outcome seen on the wire, and
      ``tls`` the endpoint's :class:`~lab.tls.ConnectionRecord` (outcome,
      alert, staple, bytes);
    - :meth:`connect` (a timeline ``connect``): a :class:`TlsConnection`
      left open when allowed, with the same record and ``wire``;
    - :meth:`recheck`: the re-check's record; a refusal closes the link and
      the connection's ``wire`` becomes the endpoint's record of that close.

    :meth:`close` ends every link and endpoint (bounded); call it once the
    mode is over.
    """

    transport = Transport.TLS

    def __init__(self, lab: ScenarioLab, cc_on: bool) -> None:
        super().__init__(lab, cc_on)
        self._endpoints: dict[str, TlsEndpoint] = {}
        self._open: list[TlsConnection] = []

    def _bound(self, cert: str) -> float:
        return handshake_bound(self.options.timeout, len(self.lab.pki.chain(cert)))

    def _endpoint(self, cert: str) -> TlsEndpoint:
        endpoint = self._endpoints.get(cert)
        if endpoint is not None:
            return endpoint
        pki = self.lab.pki
        issued = pki[cert]
        key = issued.private_key
        if not isinstance(
            key,
            ec.EllipticCurvePrivateKey
            | rsa.RSAPrivateKey
            | ed25519.Ed25519PrivateKey
            | ed448.Ed448PrivateKey,
        ):  # pragma: no cover - every key the PKI makes is one of these
            raise TlsRunError(f"{cert}: a {type(key).__name__} cannot be presented over TLS")
        endpoint = TlsEndpoint(
            issued.certificate,
            key,
            [c.certificate for c in pki.chain(cert)[1:]],
            host=_HOST,
            staple=self.staple_source(cert),
            handshake_timeout=self._bound(cert),
            hold_open=True,
            hold_limit=HOLD_LIMIT,
            security_level=0,  # present any key the PKI makes: the validator judges it
        )
        endpoint.start()
        self._endpoints[cert] = endpoint
        return endpoint

    def _handshake(self, cert: str) -> tuple[_Decision, ClientLink, TlsEndpoint]:
        endpoint = self._endpoint(cert)
        decision = _Decision(self, cert, "connect")
        link = tls_open(
            _HOST,
            endpoint.port,
            decide=decision,
            # A client with OCSP off asks for no staple (the direct run fetches none).
            request_staple=self.settings.ocsp,
            # A TLS 1.2 staple arrives after the chain is verified (lab.tls.peer_check).
            tls13_only=True,
            timeout=self._bound(cert),
            send=HELLO,
            chain_as_sent=True,
            security_level=0,  # OpenSSL must not refuse before the validator has judged
        )
        return decision, link, endpoint

    def _verdict(
        self, cert: str, decision: _Decision, wire: ConnectionRecord
    ) -> tuple[CertificateCheckRecord, ConnectionOutcome]:
        """The record and the wire's outcome, once they are seen to agree."""
        outcome = wire_outcome(wire)
        if decision.record is None:
            raise TlsRunError(
                f"the connection presenting {cert} ended before its chain was judged: "
                f"{wire.describe()}"
            )
        if outcome is None or (outcome is ConnectionOutcome.ALLOWED) != decision.record.allowed:
            said = "allowed" if decision.record.allowed else "refused"
            raise TlsRunError(
                f"the validator {said} the connection presenting {cert}, but the endpoint saw "
                f"{wire.describe()}"
            )
        return decision.record, outcome

    # ---- connections over TLS ----------------------------------------------------------

    def connect_once(self, cert: str) -> Actual:
        """A handshake presenting ``cert``; closed by the client once data has flowed."""
        decision, link, endpoint = self._handshake(cert)
        link.close()
        wire = endpoint.record_of(link.local, timeout=self._bound(cert))
        record, outcome = self._verdict(cert, decision, wire)
        return Actual(record, connection=outcome, tls=wire)

    def connect(self, cert: str) -> Connection:
        """A handshake presenting ``cert``, left open when allowed (the endpoint holds it)."""
        decision, link, endpoint = self._handshake(cert)
        bound = self._bound(cert)
        try:
            if link.open:
                wire = endpoint.wait_open(link.local, timeout=bound)
                if wire.closed_by is not None:
                    raise TlsRunError(
                        f"the endpoint did not keep the connection: {wire.describe()}"
                    )
            else:
                wire = endpoint.record_of(link.local, timeout=bound)
            record, outcome = self._verdict(cert, decision, wire)
        except BaseException:
            link.close()  # nothing is left open behind a failed connection
            raise
        connection = TlsConnection(
            cert,
            self.at,
            record,
            outcome,
            wire=wire,
            link=link if link.open else None,
            endpoint=endpoint,
            chain=decision.chain,
        )
        if connection.link is not None:
            self._open.append(connection)
        return connection

    def recheck(self, connection: Connection) -> CertificateCheckRecord:
        """Judge the chain received on ``connection`` now; a refusal closes the link."""
        if not isinstance(connection, TlsConnection) or connection.link is None:
            raise TlsRunError(f"the connection presenting {connection.cert} is not open over TLS")
        link, endpoint = connection.link, connection.endpoint
        assert endpoint is not None
        try:
            ended = endpoint.record_of(link.local, timeout=0)
        except TimeoutError:
            pass  # still open, as it should be
        else:
            raise TlsRunError(
                f"the connection presenting {connection.cert} ended before its re-check: "
                f"{ended.describe()}"
            )
        staple = self.staple(connection.cert) if self.settings.ocsp else None
        record = self.judge(
            connection.cert,
            "re-check",
            connection.chain,
            issuer=presented_issuer(connection.chain),
            staple=staple,
            cached=connection.cached,
        )
        if record.allowed:
            return record
        # The reference product drops the link: close it from the client side.
        link.close()
        self._open.remove(connection)
        connection.link = None
        wire = endpoint.record_of(link.local, timeout=self._bound(connection.cert))
        connection.wire = wire
        if not (wire.completed and wire.closed_by == "peer" and wire.received > 0):
            raise TlsRunError(
                f"the re-check refused the connection presenting {connection.cert}, but the "
                f"endpoint saw {wire.describe()}"
            )
        connection.outcome = ConnectionOutcome.DROPPED
        return record

    def close(self) -> None:
        """Drop every link still open, then stop the endpoints (each wait bounded)."""
        for connection in self._open:
            if connection.link is not None:
                connection.link.close()
        self._open.clear()
        for endpoint in self._endpoints.values():
            endpoint.close()
        self._endpoints.clear()
