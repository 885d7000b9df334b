"""Interop: the ``openssl ocsp`` client against the in-process responder.

The OpenSSL client exits 0 on revoked answers, so every test reads what it
printed (status lines, ``Response verify OK``), never its exit code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from pki import PKI, CertificateDatabase, build_pki, calendar_t0, write_pki
from responder.app import create_app
from responder.config import ResponderConfig
from responder.server import InProcessServer
from responder.testing import demo_spec
from tests.peers import openssl_ocsp_client

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[PKI, Path]:
    """The demo PKI on the real clock (openssl checks validity against now), written out."""
    t0 = calendar_t0(dt.datetime.now(dt.UTC))
    pki = build_pki(demo_spec(), t0=t0)
    out = tmp_path_factory.mktemp("interop")
    write_pki(pki, CertificateDatabase.from_pki(pki), out)
    return pki, out


def _serve(pki: PKI, config: ResponderConfig | None = None) -> InProcessServer:
    return InProcessServer(create_app(pki, config=config))


@pytest.fixture(scope="module")
def url(lab: tuple[PKI, Path]) -> Iterator[str]:
    with _serve(lab[0]) as server:
        yield server.url


def _ask(out: Path, url: str, *args: str) -> object:
    return openssl_ocsp_client([*args, "-url", url], cwd=out)


_DELEGATED = ("-CAfile", "root.pem", "-verify_other", "intermediate.pem")


@pytest.mark.parametrize(
    ("leaf", "status"),
    [("server", "good"), ("revoked-leaf", "revoked"), ("held-leaf", "revoked"),
     ("unknown-leaf", "unknown")],
)  # fmt: skip
def test_openssl_reads_status_with_delegated_responder(
    lab: tuple[PKI, Path], url: str, leaf: str, status: str
) -> None:
    _, out = lab
    answer = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", f"{leaf}.pem", *_DELEGATED, "-url", url], cwd=out
    )
    assert answer.statuses == {f"{leaf}.pem": status}, answer.output
    assert answer.verified, answer.output
    assert not answer.nonce_warning, answer.output  # the nonce came back


def test_openssl_prints_revocation_reason(lab: tuple[PKI, Path], url: str) -> None:
    _, out = lab
    revoked = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", "revoked-leaf.pem", *_DELEGATED, "-url", url],
        cwd=out,
    )
    held = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", "held-leaf.pem", *_DELEGATED, "-url", url],
        cwd=out,
    )
    assert revoked.reasons == ["keyCompromise"], revoked.output
    assert held.reasons == ["certificateHold"], held.output


def test_openssl_sha256_cert_id_is_answered(lab: tuple[PKI, Path], url: str) -> None:
    _, out = lab
    answer = openssl_ocsp_client(
        ["-sha256", "-issuer", "intermediate.pem", "-cert", "revoked-leaf.pem", *_DELEGATED,
         "-url", url],
        cwd=out,
    )  # fmt: skip
    assert answer.statuses == {"revoked-leaf.pem": "revoked"}, answer.output
    assert answer.verified, answer.output


def test_openssl_two_certificates_in_one_request(lab: tuple[PKI, Path], url: str) -> None:
    _, out = lab
    answer = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", "server.pem", "-cert", "revoked-leaf.pem",
         *_DELEGATED, "-url", url],
        cwd=out,
    )  # fmt: skip
    assert answer.statuses == {"server.pem": "good", "revoked-leaf.pem": "revoked"}, answer.output
    assert answer.verified, answer.output


def test_openssl_checks_intermediate_against_root_responder(
    lab: tuple[PKI, Path], url: str
) -> None:
    _, out = lab
    answer = openssl_ocsp_client(
        ["-issuer", "root.pem", "-cert", "intermediate.pem", "-CAfile", "root.pem", "-url", url],
        cwd=out,
    )
    assert answer.statuses == {"intermediate.pem": "good"}, answer.output
    assert answer.verified, answer.output
    assert "root-responder" in openssl_ocsp_client(
        ["-issuer", "root.pem", "-cert", "intermediate.pem", "-CAfile", "root.pem",
         "-resp_text", "-url", url],
        cwd=out,
    ).output  # fmt: skip


def test_openssl_verifies_ca_signing_itself(lab: tuple[PKI, Path]) -> None:
    pki, out = lab
    config = ResponderConfig(signers={"intermediate": "intermediate"})
    with _serve(pki, config) as server:
        answer = openssl_ocsp_client(
            ["-issuer", "intermediate.pem", "-cert", "revoked-leaf.pem", "-CAfile", "root.pem",
             "-url", server.url],
            cwd=out,
        )  # fmt: skip
    assert answer.statuses == {"revoked-leaf.pem": "revoked"}, answer.output
    assert answer.verified, answer.output


def test_openssl_trusts_designated_responder_only_through_vafile(lab: tuple[PKI, Path]) -> None:
    pki, out = lab
    config = ResponderConfig(signer="trusted-responder")
    with _serve(pki, config) as server:
        args = ["-issuer", "intermediate.pem", "-cert", "server.pem", "-url", server.url]
        trusted = openssl_ocsp_client([*args, "-VAfile", "trusted-responder.pem"], cwd=out)
        not_trusted = openssl_ocsp_client([*args, "-CAfile", "root.pem"], cwd=out)
    assert trusted.statuses == {"server.pem": "good"}, trusted.output
    assert trusted.verified, trusted.output
    assert not not_trusted.verified, not_trusted.output


def test_openssl_without_nonce_gets_presigned_answer(lab: tuple[PKI, Path], url: str) -> None:
    _, out = lab
    args = ["-no_nonce", "-issuer", "intermediate.pem", "-cert", "server.pem", *_DELEGATED]
    first = openssl_ocsp_client([*args, "-url", url], cwd=out)
    second = openssl_ocsp_client([*args, "-url", url], cwd=out)
    assert first.statuses == second.statuses == {"server.pem": "good"}
    assert first.verified and second.verified
