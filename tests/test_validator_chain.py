"""The checks on top of the validator: URI choice, one request per URL, chain scope, verdicts.

The fetcher is a fake that answers like a responder (forged, nonce echoed),
so these tests need no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from lab.chain_check import (
    CheckOptions,
    check_certificate,
    check_chain,
    client_clock,
    ocsp_urls,
    unchecked_chain,
)
from lab.cli import main
from lab.evidence import CertStatus, CertValidity, ErrorCode, TrustedBy
from lab.fetch import FetchResult
from lab.ocsp_request import OCSPRequest
from lab.policy import Decision, Outcome, Policy
from lab.settings import CheckScope, ClientSettings, HttpMethod, UriSource
from pki import PKI, CertSpec, PKISpec, Profile, build_pki
from tests.ocsp_forge import NOW, Single, forge

LEAF_URL = "http://127.0.0.1:8080/"


@pytest.fixture(scope="module")
def lab() -> PKI:
    return build_pki(
        PKISpec.with_defaults((CertSpec("no-aia", issuer="intermediate", ocsp_url="none"),))
    )


@dataclass
class FakeResponder:
    """Answers every request: ``statuses`` by serial, ``down`` URLs unreachable."""

    lab: PKI
    statuses: dict[int, str] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    content_type: str = "application/ocsp-response"
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
        self.calls.append(url)
        if url in self.down:
            return FetchResult(url, method, error=ErrorCode.UNREACHABLE, message="refused")
        request = OCSPRequest.parse(der)
        serial = request.cert_id.serial
        by_serial = {c.serial: c for c in self.lab}
        cert = by_serial[serial]
        issuer = self.lab[cert.issuer or cert.name]
        signer = "responder" if issuer.name == "intermediate" else "root-responder"
        body = forge(
            signer=self.lab[signer],
            singles=[
                Single(
                    cert.certificate,
                    issuer.certificate,
                    status=self.statuses.get(serial, "good"),
                )
            ],
            nonce=request.nonce,
        )
        return FetchResult(url, method, http_status=200, content_type=self.content_type, body=body)


def options(**changes: object) -> CheckOptions:
    return replace(CheckOptions(policy=Policy(common_criteria=True)), **changes)  # type: ignore[arg-type]


def _cert_with_urls(lab: PKI, urls: list[str]) -> x509.Certificate:
    issuer = lab["intermediate"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=two-urls"))
        .issuer_name(issuer.certificate.subject)
        .public_key(lab["server"].private_key.public_key())
        .serial_number(4242)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
                    )
                    for u in urls
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(issuer.private_key, hashes.SHA256())


def test_check_uses_certificate_aia_url(lab: PKI) -> None:
    responder = FakeResponder(lab)
    check = check_certificate(
        lab["server"].certificate,
        lab["intermediate"].certificate,
        options=options(),
        now=NOW,
        trust=[lab["root"].certificate],
        fetcher=responder,
    )
    assert (check.evidence.status, check.evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    assert responder.calls == [LEAF_URL]
    assert [s.name for s in check.evidence.steps][:3] == ["uri", "request", "transport"]


def test_check_reports_no_ocsp_uri_without_fallback(lab: PKI) -> None:
    """Source "certificate" never falls back to the configured URI."""
    responder = FakeResponder(lab)
    check = check_certificate(
        lab["no-aia"].certificate,
        lab["intermediate"].certificate,
        options=options(configured_uri="http://configured.example/"),
        now=NOW,
        fetcher=responder,
    )
    assert check.evidence.error is ErrorCode.NO_OCSP_URI
    assert responder.calls == []
    assert check.verdict.decision is Decision.REFUSED


def test_check_uses_only_configured_uri(lab: PKI) -> None:
    responder = FakeResponder(lab)
    check = check_certificate(
        lab["server"].certificate,
        lab["intermediate"].certificate,
        options=options(uri=UriSource.CONFIGURED, configured_uri="http://configured.example/"),
        now=NOW,
        fetcher=responder,
    )
    assert check.evidence.status is CertStatus.GOOD
    assert responder.calls == ["http://configured.example/"]


def test_check_tries_aia_urls_in_order_once_each(lab: PKI) -> None:
    urls = ["http://first.example/", "http://second.example/"]
    cert = _cert_with_urls(lab, urls)
    assert ocsp_urls(cert) == urls
    responder = FakeResponder(lab, down={urls[0]})
    lab_with = replace(lab, certs={**lab.certs, "two": replace(lab["server"], certificate=cert)})
    responder.lab = lab_with
    check = check_certificate(
        cert, lab["intermediate"].certificate, options=options(), now=NOW, fetcher=responder
    )
    assert responder.calls == urls
    assert check.evidence.status is CertStatus.GOOD
    transports = [s.outcome.value for s in check.evidence.steps if s.name == "transport"]
    assert transports == ["fail", "pass"]


def test_check_transport_error_is_error_status(lab: PKI) -> None:
    responder = FakeResponder(lab, down={LEAF_URL})
    check = check_certificate(
        lab["server"].certificate,
        lab["intermediate"].certificate,
        options=options(policy=Policy(common_criteria=False)),
        now=NOW,
        fetcher=responder,
    )
    assert check.evidence.error is ErrorCode.UNREACHABLE
    assert responder.calls == [LEAF_URL]  # no retry
    assert check.verdict.decision is Decision.ALLOWED and check.verdict.soft_failed


def test_check_wrong_content_type_is_a_warning(lab: PKI) -> None:
    responder = FakeResponder(lab, content_type="text/html")
    check = check_certificate(
        lab["server"].certificate,
        lab["intermediate"].certificate,
        options=options(),
        now=NOW,
        fetcher=responder,
    )
    assert check.evidence.status is CertStatus.GOOD
    assert any("content type" in w for w in check.evidence.warnings)


def _chain(lab: PKI) -> list[x509.Certificate]:
    return [lab["server"].certificate, lab["intermediate"].certificate]


@pytest.mark.parametrize(
    ("scope", "checked"),
    [
        (CheckScope.CHAIN, ["CN=server,O=ocsp-lab", "CN=intermediate,O=ocsp-lab"]),
        (CheckScope.LEAF, ["CN=server,O=ocsp-lab"]),
    ],
)
def test_check_chain_scope(lab: PKI, scope: CheckScope, checked: list[str]) -> None:
    result = check_chain(
        _chain(lab),
        options=options(check=scope),
        now=NOW,
        trust=[lab["root"].certificate],
        fetcher=FakeResponder(lab),
    )
    assert [c.evidence.subject for c in result.checks] == checked
    assert result.verdict.allowed


def test_check_chain_refused_when_intermediate_revoked(lab: PKI) -> None:
    responder = FakeResponder(lab, statuses={lab["intermediate"].serial: "revoked"})
    result = check_chain(
        _chain(lab), options=options(), now=NOW, trust=[lab["root"].certificate], fetcher=responder
    )
    assert result.leaf.verdict.allowed
    assert not result.verdict.allowed
    assert result.verdict.subject == "CN=intermediate,O=ocsp-lab"


def test_check_chain_skips_intermediate_without_uri(lab: PKI) -> None:
    responder = FakeResponder(lab)
    result = check_chain(
        [lab["server"].certificate, lab["root"].certificate],
        options=options(),
        now=NOW,
        issuer=lab["intermediate"].certificate,
        fetcher=responder,
    )
    assert len(result.checks) == 1  # the root is self-signed: never checked


def _odd_intermediate(days: tuple[int, int], ocsp_url: str | None = None) -> PKI:
    """The default PKI with an intermediate valid from t0 + days[0] to t0 + days[1]."""
    return build_pki(
        PKISpec.with_defaults(
            (
                CertSpec(
                    "intermediate",
                    issuer="root",
                    profile=Profile.CA,
                    valid_from=dt.timedelta(days=days[0]),
                    valid_to=dt.timedelta(days=days[1]),
                    ocsp_url=ocsp_url,
                ),
            )
        )
    )


EXPIRED = (-30, 30)  # NOW is t0 + 59 days 12 hours
NOT_YET_VALID = (90, 400)
INTERMEDIATE = "CN=intermediate,O=ocsp-lab"


@pytest.mark.parametrize(
    ("days", "ocsp_url", "scope", "validity", "not_checked"),
    [
        (EXPIRED, None, CheckScope.LEAF, CertValidity.EXPIRED, 'check = "leaf"'),
        (EXPIRED, "none", CheckScope.CHAIN, CertValidity.EXPIRED, "no OCSP URI"),
        (NOT_YET_VALID, None, CheckScope.LEAF, CertValidity.NOT_YET_VALID, 'check = "leaf"'),
        (NOT_YET_VALID, "none", CheckScope.CHAIN, CertValidity.NOT_YET_VALID, "no OCSP URI"),
    ],
)
@pytest.mark.parametrize("cc", [True, False])
def test_check_chain_refuses_an_unchecked_intermediate_outside_its_validity(
    days: tuple[int, int],
    ocsp_url: str | None,
    scope: CheckScope,
    validity: CertValidity,
    not_checked: str,
    cc: bool,
) -> None:
    """Only the leaf is asked (and is good), yet the presented intermediate's period decides."""
    pki = _odd_intermediate(days, ocsp_url)
    responder = FakeResponder(pki)
    result = check_chain(
        [*_chain(pki), pki["root"].certificate],
        options=options(check=scope, policy=Policy(common_criteria=cc, soft_fail=True)),
        now=NOW,
        trust=[pki["root"].certificate],
        fetcher=responder,
    )
    assert responder.calls == [LEAF_URL]
    assert [c.evidence.subject for c in result.checks] == ["CN=server,O=ocsp-lab"]
    assert result.leaf.verdict.allowed
    intermediate = result.presented[1]
    assert (intermediate.subject, intermediate.validity) == (INTERMEDIATE, validity)
    assert intermediate.not_checked is not None and not_checked in intermediate.not_checked
    outside = [c.subject for c in result.presented if c.validity is not CertValidity.VALID]
    assert outside == [INTERMEDIATE]
    verdict = result.verdict
    assert (verdict.decision, verdict.row, verdict.subject) == (
        Decision.REFUSED,
        Outcome.CERT_INVALID,
        INTERMEDIATE,
    )
    assert result.to_json()["presented"][1]["cert_validity"] == validity.value  # type: ignore[index]


def test_check_chain_keeps_the_checked_verdict_when_every_period_is_valid(lab: PKI) -> None:
    result = check_chain(
        [*_chain(lab), lab["root"].certificate],
        options=options(check=CheckScope.LEAF),
        now=NOW,
        trust=[lab["root"].certificate],
        fetcher=FakeResponder(lab),
    )
    assert [c.checked for c in result.presented] == [True, False, False]
    assert result.presented[2].not_checked is not None
    assert "self-signed" not in result.presented[2].not_checked  # check = "leaf" stops first
    assert result.verdict is result.leaf.verdict
    assert result.verdict.row is Outcome.GOOD


def test_check_chain_counts_the_self_signed_roots_period(lab: PKI) -> None:
    """The trust anchor is never asked about, but an expired one refuses the chain."""
    later = NOW + dt.timedelta(days=20 * 365)
    result = check_chain(
        [*_chain(lab), lab["root"].certificate],
        options=options(),
        now=later,
        trust=[lab["root"].certificate],
        fetcher=FakeResponder(lab),
    )
    root = result.presented[2]
    assert root.not_checked is not None and "self-signed" in root.not_checked
    assert root.validity is CertValidity.EXPIRED
    assert result.verdict.row is Outcome.CERT_INVALID


@pytest.mark.parametrize("cc", [True, False])
def test_unchecked_chain_is_decided_by_the_policy(cc: bool) -> None:
    """Enable OCSP off: nothing asked; the validity row still refuses, else "not checked"."""
    pki = _odd_intermediate(EXPIRED)
    policy = Policy(common_criteria=cc)
    chain = [*_chain(pki), pki["root"].certificate]
    refused = unchecked_chain(chain, policy=policy, now=NOW, because="Enable OCSP is off")
    assert refused.checks == ()
    assert (refused.verdict.decision, refused.verdict.row, refused.verdict.subject) == (
        Decision.REFUSED,
        Outcome.CERT_INVALID,
        INTERMEDIATE,
    )
    allowed = unchecked_chain(
        [pki["server"].certificate], policy=policy, now=NOW, because="Enable OCSP is off"
    )
    assert (allowed.verdict.decision, allowed.verdict.row) == (
        Decision.ALLOWED,
        Outcome.NOT_CHECKED,
    )
    assert "not asked: Enable OCSP is off" in allowed.verdict.explain()


def test_check_chain_needs_the_leafs_issuer(lab: PKI) -> None:
    with pytest.raises(ValueError, match="issuer"):
        check_chain([lab["server"].certificate], options=options(), now=NOW)


def test_options_from_settings() -> None:
    settings = ClientSettings(
        uri=UriSource.CONFIGURED, strict_cert_id=True, require_nonce=True, soft_fail=True
    )
    adapted = CheckOptions.from_settings(settings, common_criteria=True, lab_url="http://lab/")
    assert adapted.configured_uri == "http://lab/"
    assert adapted.validation.strict_cert_id and adapted.validation.require_nonce
    assert adapted.policy.effective_soft_fail
    assert adapted.timeout == 5.0


def test_client_clock_applies_offset() -> None:
    settings = ClientSettings(clock_offset=dt.timedelta(minutes=-10))
    assert client_clock(NOW, settings) == NOW - dt.timedelta(minutes=10)


def test_check_cli_refuses_a_presented_intermediate_outside_its_validity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check --chain`` decides like the runner: the expired, unasked intermediate refuses."""
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    spec = PKISpec.with_defaults(
        (
            CertSpec(
                "intermediate",
                issuer="root",
                profile=Profile.CA,
                valid_from=dt.timedelta(days=-30),
                valid_to=dt.timedelta(days=30),  # expired 70 days ago
                ocsp_url="none",
            ),
            CertSpec(
                "server",
                issuer="intermediate",
                valid_from=dt.timedelta(days=-1),
                valid_to=dt.timedelta(days=400),
            ),
        )
    )
    pki = build_pki(spec, base_url="http://127.0.0.1:1/", t0=t0)  # nothing listens: soft fail
    for name in ("server", "intermediate", "root"):
        pem = pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{name}.pem").write_bytes(pem)
    code = main(
        [
            "check",
            str(tmp_path / "server.pem"),
            "--issuer",
            str(tmp_path / "intermediate.pem"),
            "--chain",
            str(tmp_path / "root.pem"),
            "--cc",
            "off",
            "--timeout",
            "1s",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "error       unreachable" in out  # the leaf: no answer, soft fail allows it
    assert (
        f"presented {INTERMEDIATE} (serial {pki['intermediate'].serial:X}): not asked "
        "(no OCSP URI (certificate AIA: none)); validity expired"
    ) in out
    assert "verdict refused (row 'certificate expired / not yet valid'" in out
    assert out.rstrip().endswith(f"[{INTERMEDIATE}]")
