"""Long-lived TLS connections (lab.tls): held open by the endpoint, dropped by the client.

What ``run --tls`` builds its timeline on: an endpoint with ``hold_open``
keeps a connection past any idle bound until the peer closes it, and says
who closed it; :func:`tls_open` leaves the client's side open until
:meth:`ClientLink.close`; ``chain_as_sent`` hands the validator the
certificates exactly as the server sent them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography import x509

from lab.pytest_plugin import LabFiles
from lab.tls import Alert, HandshakeOutcome, TlsEndpoint, tls_open

HELLO = b"product: hello\n"


def _endpoint(ocsp_pki: LabFiles, chain: list[str], **options: object) -> TlsEndpoint:
    pki = ocsp_pki.pki
    return TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki[name].certificate for name in chain],
        handshake_timeout=2.0,
        idle_timeout=0.2,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def held(ocsp_pki: LabFiles) -> Iterator[TlsEndpoint]:
    with _endpoint(ocsp_pki, ["intermediate", "root"], hold_open=True, hold_limit=30) as e:
        yield e


def test_a_held_connection_outlives_the_idle_bound_until_the_client_drops_it(
    held: TlsEndpoint,
) -> None:
    link = tls_open("127.0.0.1", held.port, send=HELLO)
    assert link.open and link.result.record.outcome is HandshakeOutcome.COMPLETED
    seen = held.wait_open(link.local, timeout=5)
    assert seen.outcome is HandshakeOutcome.COMPLETED and seen.closed_by is None
    assert seen.received == len(HELLO)
    # Far past idle_timeout (0.2 s), bounded: still nothing has ended.
    with pytest.raises(TimeoutError):
        held.record_of(link.local, timeout=0.6)
    link.close()
    ended = held.record_of(link.local, timeout=5)
    assert ended.completed and ended.closed_by == "peer"
    assert ended.received == len(HELLO)
    assert "closed by the peer" in ended.describe()
    assert ended.to_json()["closed_by"] == "peer"
    assert not link.open
    link.close()  # idempotent


def test_closing_the_endpoint_ends_a_held_connection_from_its_side(ocsp_pki: LabFiles) -> None:
    endpoint = _endpoint(ocsp_pki, ["intermediate", "root"], hold_open=True, hold_limit=30)
    endpoint.start()
    link = tls_open("127.0.0.1", endpoint.port, send=HELLO)
    endpoint.wait_open(link.local, timeout=5)
    endpoint.close()
    try:
        ended = endpoint.record_of(link.local, timeout=5)
        assert ended.completed and ended.closed_by == "endpoint"
    finally:
        link.close()


def test_without_hold_an_idle_connection_is_ended_by_the_endpoint(ocsp_pki: LabFiles) -> None:
    with _endpoint(ocsp_pki, ["intermediate", "root"]) as endpoint:
        link = tls_open("127.0.0.1", endpoint.port, send=HELLO)
        try:
            ended = endpoint.record_of(link.local, timeout=5)
        finally:
            link.close()
    assert ended.completed and ended.closed_by == "endpoint"


def test_a_refused_handshake_leaves_no_link_open(held: TlsEndpoint) -> None:
    link = tls_open("127.0.0.1", held.port, decide=lambda chain, staple: Alert.CERTIFICATE_REVOKED)
    assert not link.open
    assert link.result.record.alert is Alert.CERTIFICATE_REVOKED
    ended = held.record_of(link.local, timeout=5)
    assert ended.outcome is HandshakeOutcome.PEER_ALERT
    assert ended.alert is Alert.CERTIFICATE_REVOKED and ended.closed_by is None


@pytest.mark.parametrize("as_sent", [True, False])
def test_the_validator_can_see_the_chain_in_the_order_it_was_sent(
    ocsp_pki: LabFiles, as_sent: bool
) -> None:
    seen: list[list[x509.Certificate]] = []

    def decide(chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
        seen.append(chain)
        return None

    # Out of order on purpose: the root before the intermediate (RFC 8446 4.4.2 tolerates it).
    with _endpoint(ocsp_pki, ["root", "intermediate"]) as endpoint:
        tls_open("127.0.0.1", endpoint.port, decide=decide, chain_as_sent=as_sent).close()
    names = [c.subject.rfc4514_string().split(",")[0] for c in seen[0]]
    if as_sent:
        assert names == ["CN=server", "CN=root", "CN=intermediate"]
    else:  # as OpenSSL built it
        assert names == ["CN=server", "CN=intermediate", "CN=root"]
