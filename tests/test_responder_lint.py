"""pkilint's RFC 6960 OCSP response linter finds nothing on good, revoked and unknown answers."""

from __future__ import annotations

import datetime as dt

import pytest
from pkilint import loader, pkix, report
from pkilint.pkix import extension, name, ocsp

from pki import EPOCH, PKI, CertSpec, KeyType, PKISpec, Profile, build_pki
from responder.app import create_app
from responder.clock import FixedClock
from responder.config import CertsIncluded, ResponderConfig
from responder.testing import demo_spec, ocsp_request, parse_response


def _lint(der: bytes) -> list[str]:
    validator = ocsp.create_pkix_ocsp_response_validator_container(
        [
            ocsp.create_response_decoder(),
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [],
    )
    document = loader.RFC6960OCSPResponseDocumentLoader().load_der_document(der, "response")
    results = validator.validate(document.root)
    assert report.get_findings_count(results) == sum(len(r.finding_descriptions) for r in results)
    return [
        f"{d.finding.severity}: {d.finding.code} at {r.node.path}"
        for r in results
        for d in r.finding_descriptions
    ]


def _rsa_responder_spec() -> PKISpec:
    base = demo_spec()
    rsa_responder = CertSpec(
        "responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER, key=KeyType.RSA_2048
    )
    return PKISpec.with_defaults(
        (*(c for c in base.certs if c.name != "responder"), rsa_responder),
        database=base.database,
    )


@pytest.fixture(scope="module", params=["ec-p256", "rsa-2048", "ed25519"])
def pki(request: pytest.FixtureRequest) -> PKI:
    if request.param == "rsa-2048":
        return build_pki(_rsa_responder_spec())
    return build_pki(demo_spec(KeyType(request.param)))


@pytest.mark.parametrize("leaf", ["server", "revoked-leaf", "held-leaf", "unknown-leaf"])
@pytest.mark.parametrize("certs", [CertsIncluded.SIGNER, CertsIncluded.NONE])
def test_pkilint_finds_nothing(pki: PKI, leaf: str, certs: CertsIncluded) -> None:
    app = create_app(
        pki, config=ResponderConfig(certs=certs), clock=FixedClock(EPOCH + dt.timedelta(hours=1))
    )
    der = app.test_client().post("/", data=ocsp_request(pki, [leaf], nonce=b"n" * 32)).data
    assert parse_response(der, signer=pki["responder"].certificate).signature_valid
    assert _lint(der) == []


def test_pkilint_sees_a_defect() -> None:
    # The linter is live: an empty certs SEQUENCE is a finding.
    from asn1crypto import ocsp as asn1_ocsp

    pki = build_pki(demo_spec())
    app = create_app(pki, clock=FixedClock(EPOCH + dt.timedelta(hours=1)))
    der = app.test_client().post("/", data=ocsp_request(pki, ["server"])).data
    response = asn1_ocsp.OCSPResponse.load(der)
    basic = response["response_bytes"]["response"].parsed
    basic["certs"] = []
    broken = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump(force=True)
    assert any("certs_sequence_is_empty" in f for f in _lint(broken))
