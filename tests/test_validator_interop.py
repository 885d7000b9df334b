"""Our validator against ``openssl ocsp -index`` as the responder, over the exported PKI.

OpenSSL checks nothing for us here: it only answers. The PKI is built at the
calendar t0 so its certificates are valid on the real clock OpenSSL uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from lab.chain_check import CheckOptions, check_certificate
from lab.evidence import CertStatus, ErrorCode, NonceState, TrustedBy
from lab.policy import Decision, Policy
from lab.settings import HttpMethod, UriSource
from pki import (
    PKI,
    CertificateDatabase,
    CertSpec,
    EntrySpec,
    PKISpec,
    RecordStatus,
    build_pki,
    calendar_t0,
    write_pki,
)
from tests.peers import openssl_ocsp_responder

pytestmark = pytest.mark.interop


@dataclass(frozen=True)
class ExportedLab:
    pki: PKI
    directory: Path

    def cert(self, name: str) -> x509.Certificate:
        return self.pki[name].certificate


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> ExportedLab:
    now = dt.datetime.now(dt.UTC)
    spec = PKISpec.with_defaults(
        (
            CertSpec("revoked-leaf", issuer="intermediate"),
            CertSpec("held-leaf", issuer="intermediate"),
            CertSpec("unknown-leaf", issuer="intermediate"),
        ),
        database={
            "revoked-leaf": EntrySpec(RecordStatus.REVOKED, "keyCompromise"),
            "held-leaf": EntrySpec(RecordStatus.HOLD),
            "unknown-leaf": EntrySpec(RecordStatus.UNKNOWN),
        },
    )
    lab_pki = build_pki(spec, t0=calendar_t0(now))
    directory = tmp_path_factory.mktemp("openssl-pki")
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), directory, now=now)
    return ExportedLab(lab_pki, directory)


@pytest.fixture(scope="module")
def responders(exported: ExportedLab) -> Iterator[dict[str, str]]:
    """One ``openssl ocsp`` per signer / option, all up for the module."""
    from contextlib import ExitStack

    configs: dict[str, tuple[str, list[str]]] = {
        "ca": ("intermediate", []),
        "delegated": ("responder", ["-nmin", "60"]),
        "delegated-key-id": ("responder", ["-resp_key_id"]),
        "root-responder": ("root-responder", []),
        "trusted": ("trusted-responder", []),
        "badsig": ("responder", ["-badsig"]),
        "delegated-no-certs": ("responder", ["-resp_no_certs"]),
        "ca-no-certs": ("intermediate", ["-resp_no_certs"]),
    }
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(
                openssl_ocsp_responder(
                    exported.directory,
                    index="intermediate.index.txt",
                    ca="intermediate.pem",
                    rsigner=f"{signer}.pem",
                    rkey=f"{signer}.key",
                    extra=extra,
                )
            )
            for name, (signer, extra) in configs.items()
        }
        yield urls


def ask(
    exported: ExportedLab,
    url: str,
    leaf: str = "server",
    *,
    trust: tuple[str, ...] = ("root",),
    cc: bool = True,
    hash_algorithm: str = "sha1",
    method: HttpMethod = HttpMethod.POST,
) -> tuple[CertStatus, ErrorCode | None, TrustedBy, Decision, object]:
    options = CheckOptions(
        policy=Policy(common_criteria=cc),
        uri=UriSource.CONFIGURED,
        configured_uri=url,
        hash_algorithm=hash_algorithm,
        method=method,
    )
    check = check_certificate(
        exported.cert(leaf),
        exported.cert("intermediate"),
        options=options,
        now=dt.datetime.now(dt.UTC),
        trust=[exported.cert(n) for n in trust],
    )
    e = check.evidence
    return e.status, e.error, e.trusted_by, check.verdict.decision, e


@pytest.mark.parametrize(
    ("leaf", "status", "reason", "decision"),
    [
        ("server", CertStatus.GOOD, None, Decision.ALLOWED),
        ("revoked-leaf", CertStatus.REVOKED, "keyCompromise", Decision.REFUSED),
        ("held-leaf", CertStatus.REVOKED, "certificateHold", Decision.REFUSED),
        ("unknown-leaf", CertStatus.UNKNOWN, None, Decision.REFUSED),
    ],
)
def test_interop_statuses_from_openssl(
    exported: ExportedLab,
    responders: dict[str, str],
    leaf: str,
    status: CertStatus,
    reason: str | None,
    decision: Decision,
) -> None:
    got, error, trusted_by, verdict, evidence = ask(exported, responders["delegated"], leaf)
    assert (got, error, trusted_by, verdict) == (status, None, TrustedBy.DTM, decision)
    assert evidence.reason == reason  # type: ignore[attr-defined]
    assert evidence.nonce is NonceState.ECHOED  # type: ignore[attr-defined]


def test_interop_unknown_allowed_with_cc_off(
    exported: ExportedLab, responders: dict[str, str]
) -> None:
    *_, decision, _ = ask(exported, responders["delegated"], "unknown-leaf", cc=False)
    assert decision is Decision.ALLOWED


@pytest.mark.parametrize(
    ("responder", "trust", "expected_error", "expected_model"),
    [
        ("ca", ("root",), None, TrustedBy.DTM),
        ("delegated", ("root",), None, TrustedBy.DTM),
        ("delegated-key-id", ("root",), None, TrustedBy.DTM),
        ("root-responder", ("root",), ErrorCode.SIGNER_NOT_AUTHORIZED, TrustedBy.NONE),
        ("trusted", ("root",), ErrorCode.SIGNER_NOT_AUTHORIZED, TrustedBy.NONE),
        ("trusted", ("root", "trusted-responder"), None, TrustedBy.TRP),
        ("badsig", ("root",), ErrorCode.BAD_SIGNATURE, TrustedBy.NONE),
        ("delegated-no-certs", ("root",), ErrorCode.SIGNER_NOT_AUTHORIZED, TrustedBy.NONE),
        ("ca-no-certs", ("root",), None, TrustedBy.DTM),
    ],
)
def test_interop_signers_from_openssl(
    exported: ExportedLab,
    responders: dict[str, str],
    responder: str,
    trust: tuple[str, ...],
    expected_error: ErrorCode | None,
    expected_model: TrustedBy,
) -> None:
    _, error, trusted_by, decision, evidence = ask(exported, responders[responder], trust=trust)
    assert (error, trusted_by) == (expected_error, expected_model), evidence.message  # type: ignore[attr-defined]
    assert decision is (Decision.ALLOWED if expected_error is None else Decision.REFUSED)


@pytest.mark.parametrize("method", [HttpMethod.POST, HttpMethod.GET])
@pytest.mark.parametrize("hash_algorithm", ["sha1", "sha256"])
def test_interop_get_and_sha256_requests(
    exported: ExportedLab,
    responders: dict[str, str],
    method: HttpMethod,
    hash_algorithm: str,
) -> None:
    status, error, *_ = ask(
        exported,
        responders["delegated"],
        "revoked-leaf",
        hash_algorithm=hash_algorithm,
        method=method,
    )
    assert (status, error) == (CertStatus.REVOKED, None)


def test_interop_openssl_client_reads_our_request(exported: ExportedLab, tmp_path: Path) -> None:
    """``openssl ocsp -reqin`` parses the request we build (CertID and nonce)."""
    import subprocess

    from lab.ocsp_request import build_request, new_nonce

    request = build_request(
        exported.cert("server"), exported.cert("intermediate"), nonce=new_nonce()
    )
    (tmp_path / "req.der").write_bytes(request.der)
    out = subprocess.run(
        ["openssl", "ocsp", "-reqin", "req.der", "-req_text"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Serial Number: {exported.cert('server').serial_number:X}" in out
    assert "OCSP Nonce" in out
    assert request.nonce is not None and request.nonce.hex().upper() in out
