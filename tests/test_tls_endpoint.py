"""The lab's TLS endpoint and client (lab.tls): presenting, stapling, alerts, bounded waits."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.tls import (
    GREETING,
    Alert,
    HandshakeOutcome,
    StapleSource,
    TlsEndpoint,
    tls_connect,
)
from lab.tls.alerts import alert_from_openssl_reason


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def endpoint(ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle) -> Iterator[TlsEndpoint]:
    """The default server certificate with its chain, stapling the lab responder's answer."""
    pki = ocsp_pki.pki
    staple = StapleSource(pki["server"].certificate, pki["intermediate"].certificate, now=_now)
    with TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki["intermediate"].certificate, pki["root"].certificate],
        staple=staple,
        handshake_timeout=1.0,
        idle_timeout=0.5,
    ) as served:
        yield served


def test_endpoint_presents_the_chain_and_staples_the_responders_answer(
    endpoint: TlsEndpoint, ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    result = tls_connect("127.0.0.1", endpoint.port)
    assert result.record.outcome is HandshakeOutcome.COMPLETED
    assert result.greeting == GREETING
    names = [c.subject.rfc4514_string() for c in result.chain]
    assert names == ["CN=server,O=ocsp-lab", "CN=intermediate,O=ocsp-lab", "CN=root,O=ocsp-lab"]
    assert result.staple is not None
    response = ocsp.load_der_ocsp_response(result.staple)
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == ocsp_pki.certificate("server").serial_number
    # The responder's answer, verified: signed by the delegated responder (RFC 6960 4.2.2.2).
    signer = ocsp_pki.certificate("responder")
    signer.public_key().verify(  # type: ignore[call-arg, union-attr]
        response.signature, response.tbs_response_bytes, _ecdsa(response)
    )
    (record,) = endpoint.wait_for(1)
    assert record.outcome is HandshakeOutcome.COMPLETED
    assert record.staple_requested and record.stapled == len(result.staple)
    assert record.protocol == "TLSv1.3"


def _ecdsa(response: ocsp.OCSPResponse) -> object:
    from cryptography.hazmat.primitives.asymmetric import ec

    assert response.signature_hash_algorithm is not None
    return ec.ECDSA(response.signature_hash_algorithm)


def test_the_staple_is_fetched_once_and_kept_until_next_update(
    endpoint: TlsEndpoint, ocsp_responder: LabResponderHandle
) -> None:
    first = tls_connect("127.0.0.1", endpoint.port).staple
    second = tls_connect("127.0.0.1", endpoint.port).staple
    assert first is not None and first == second
    assert len(ocsp_responder.requests()) == 1  # the cache answered the second handshake


def test_a_client_that_asks_no_staple_gets_none(endpoint: TlsEndpoint) -> None:
    result = tls_connect("127.0.0.1", endpoint.port, request_staple=False)
    assert result.record.outcome is HandshakeOutcome.COMPLETED and result.staple is None
    (record,) = endpoint.wait_for(1)
    assert not record.staple_requested and record.stapled is None


@pytest.mark.parametrize(
    "alert",
    [Alert.CERTIFICATE_REVOKED, Alert.BAD_CERTIFICATE, Alert.CERTIFICATE_UNKNOWN, Alert.UNKNOWN_CA],
    ids=lambda a: a.rfc_name,
)
def test_a_client_refusal_is_the_alert_it_chose_at_both_ends(
    endpoint: TlsEndpoint, alert: Alert
) -> None:
    seen: list[tuple[int, bool]] = []

    def refuse(chain: list[x509.Certificate], staple: bytes | None) -> Alert:
        seen.append((len(chain), staple is not None))
        return alert

    result = tls_connect("127.0.0.1", endpoint.port, decide=refuse, tls13_only=True)
    assert result.record.outcome is HandshakeOutcome.LOCAL_ALERT
    assert result.record.alert is alert
    assert seen == [(3, True)]  # decided once, on the whole chain, with the TLS 1.3 staple
    (record,) = endpoint.wait_for(1)
    assert record.outcome is HandshakeOutcome.PEER_ALERT
    assert record.alert is alert


def test_a_silent_client_times_out_and_others_are_served_meanwhile(
    endpoint: TlsEndpoint,
) -> None:
    silent = socket.create_connection(("127.0.0.1", endpoint.port))
    try:
        started = time.monotonic()
        result = tls_connect("127.0.0.1", endpoint.port)
        assert result.record.outcome is HandshakeOutcome.COMPLETED
        assert time.monotonic() - started < endpoint.handshake_timeout
        records = endpoint.wait_for(2, timeout=5)
    finally:
        silent.close()
    assert [r.outcome for r in records] == [HandshakeOutcome.COMPLETED, HandshakeOutcome.TIMEOUT]


def test_a_client_leaving_mid_handshake_is_recorded_and_the_endpoint_goes_on(
    endpoint: TlsEndpoint,
) -> None:
    with socket.create_connection(("127.0.0.1", endpoint.port)) as half:
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
    (record,) = endpoint.wait_for(1)
    assert record.outcome is HandshakeOutcome.CLOSED
    assert tls_connect("127.0.0.1", endpoint.port).record.completed


def test_mutual_tls_the_endpoint_refuses_a_client_certificate_with_its_alert(
    ocsp_pki: LabFiles,
) -> None:
    pki = ocsp_pki.pki
    presented: list[str] = []

    def check_client(chain: list[x509.Certificate], staple: bytes | None) -> Alert:
        presented.extend(c.subject.rfc4514_string() for c in chain)
        return Alert.CERTIFICATE_REVOKED

    with TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki["intermediate"].certificate],
        check_client=check_client,
        handshake_timeout=1.0,
    ) as served:
        result = tls_connect(
            "127.0.0.1",
            served.port,
            certificate=pki["server"].certificate,
            private_key=pki["server"].private_key,
            chain=[pki["intermediate"].certificate],
        )
        (record,) = served.wait_for(1)
    assert presented[:2] == ["CN=server,O=ocsp-lab", "CN=intermediate,O=ocsp-lab"]
    assert record.outcome is HandshakeOutcome.LOCAL_ALERT
    assert record.alert is Alert.CERTIFICATE_REVOKED
    assert record.peer_certificate == "CN=server,O=ocsp-lab"
    # TLS 1.3: the client's Finished went before the server judged it (RFC 8446 4.4.2.4).
    assert result.record.outcome is HandshakeOutcome.PEER_ALERT
    assert result.record.alert is Alert.CERTIFICATE_REVOKED


# ---- StapleSource: when to fetch, what to staple (SCENARIOS.md [tls] staple) -------------


def test_staple_source_refetches_past_next_update_and_keeps_a_fresh_one_on_failure(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    now = [dt.datetime.now(dt.UTC)]
    source = StapleSource(
        ocsp_pki.certificate("server"), ocsp_pki.issuer("server"), now=lambda: now[0]
    )
    first = source.staple()
    assert first is not None
    next_update = ocsp.load_der_ocsp_response(first).next_update_utc
    assert next_update is not None
    ocsp_responder.set_faults(status="tryLater")
    assert source.staple() == first  # fresh: not asked again
    assert len(source.fetches) == 1
    now[0] = next_update + dt.timedelta(seconds=1)
    assert source.staple() is None  # past nextUpdate, and tryLater is nothing to staple
    assert [f.stapleable for f in source.fetches] == [True, False]
    assert "tryLater" in source.fetches[-1].detail.replace("TRY_LATER", "tryLater")
    ocsp_responder.clear_faults()
    again = source.staple()
    assert again is not None  # asked again: a successful answer once more
    assert [f.stapleable for f in source.fetches] == [True, False, True]


def test_staple_source_staples_a_badly_signed_answer_as_it_came(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    ocsp_responder.set_faults(signature="corrupt")
    source = StapleSource(ocsp_pki.certificate("server"), ocsp_pki.issuer("server"), now=_now)
    staple = source.staple()
    assert staple is not None  # a TLS server relays; the client judges (RFC 6066 8)
    assert ocsp.load_der_ocsp_response(staple).response_status is ocsp.OCSPResponseStatus.SUCCESSFUL


def test_staple_source_without_a_responder_staples_nothing(ocsp_pki: LabFiles) -> None:
    source = StapleSource(
        ocsp_pki.certificate("server"),
        ocsp_pki.issuer("server"),
        now=_now,
        url="http://127.0.0.1:9/",
        timeout=1,
    )
    assert source.staple() is None
    assert source.fetches[-1].stapleable is False


@pytest.mark.parametrize(
    ("reason", "alert"),
    [
        ("sslv3 alert certificate revoked", Alert.CERTIFICATE_REVOKED),
        ("tlsv1 alert unknown ca", Alert.UNKNOWN_CA),
        ("tlsv13 alert certificate required", Alert.CERTIFICATE_REQUIRED),
        ("sslv3 alert bad certificate", Alert.BAD_CERTIFICATE),
        ("unexpected eof while reading", None),
    ],
)
def test_openssl_reason_strings_name_their_alert(reason: str, alert: Alert | None) -> None:
    assert alert_from_openssl_reason(reason) is alert
