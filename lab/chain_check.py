"""Check a presented chain: URI, request, transport, then :func:`lab.validator.validate`.

DESIGN.md's revocation model, steps 1–3, on top of the pure validator: for the
leaf always, and for each intermediate when ``check = "chain"`` and a URI is
available, one OCSP check. The URI comes from the certificate's AIA OCSP URLs
(in order) or from the configured URI — never one after the other. Each URL
gets exactly one request: a transport failure moves on to the certificate's
next AIA URL and is shown as a step, never retried silently.

Every presented certificate, checked or not, is evidence too: its validity
period at ``now`` (:class:`PresentedCertificate`). Then :mod:`lab.policy`
decides, once, for the whole chain (:meth:`ChainResult.decide`): a checked
certificate by its OCSP evidence, any other by its validity period alone; the
chain is allowed only if every presented certificate is. A check that asks
nothing at all (Enable OCSP off, a self-signed upload) builds the same result
with :func:`unchecked_chain`.

I/O is injected (``fetcher``) and so is time (``now``: the client's clock,
scenario time plus ``clock_offset``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from lab.evidence import (
    CertValidity,
    ErrorCode,
    Evidence,
    Step,
    StepOutcome,
    error_evidence,
)
from lab.fetch import FetchResult, fetch
from lab.ocsp_request import build_request, new_nonce
from lab.policy import Policy, Verdict, decide, decide_chain, decide_unchecked
from lab.settings import CheckScope, ClientSettings, HttpMethod, Stapling, UriSource
from lab.validator import CheckContext, ValidationOptions, cert_validity, validate
from lab.validator.certsig import issued_by

__all__ = [
    "CertificateCheck",
    "ChainResult",
    "CheckOptions",
    "Fetcher",
    "PresentedCertificate",
    "check_certificate",
    "check_chain",
    "client_clock",
    "must_staple",
    "ocsp_urls",
    "presented_certificate",
    "unchecked_chain",
]

#: ``fetcher(url, request_der, method, timeout_seconds)`` — :func:`lab.fetch.fetch` by default.
Fetcher = Callable[[str, bytes, HttpMethod, float], FetchResult]
_RESPONSE_TYPE = "application/ocsp-response"


def _default_fetcher(url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
    return fetch(url, der, method=method, timeout=timeout)


@dataclass(frozen=True)
class CheckOptions:
    """How the client asks and judges: ``[client]`` minus the scenario-only keys."""

    policy: Policy
    uri: UriSource = UriSource.CERTIFICATE
    configured_uri: str | None = None
    check: CheckScope = CheckScope.CHAIN
    hash_algorithm: str = "sha1"
    method: HttpMethod = HttpMethod.POST
    nonce: bool = True
    timeout: float = 5.0
    validation: ValidationOptions = field(default_factory=ValidationOptions)
    stapling: Stapling = Stapling.IGNORE

    @classmethod
    def from_settings(
        cls, settings: ClientSettings, *, common_criteria: bool, lab_url: str | None = None
    ) -> CheckOptions:
        """Adapt ``[client]`` for one Common Criteria mode; ``"lab"`` becomes ``lab_url``."""
        configured = settings.configured_uri
        if configured == "lab":
            configured = lab_url or configured
        return cls(
            policy=settings.policy(common_criteria),
            uri=settings.uri,
            configured_uri=configured,
            check=settings.check,
            hash_algorithm=settings.hash.value,
            method=settings.method,
            nonce=settings.nonce,
            timeout=settings.timeout.total_seconds(),
            validation=ValidationOptions(
                strict_cert_id=settings.strict_cert_id,
                require_nonce=settings.require_nonce,
                clock_skew=settings.clock_skew,
                delegation=settings.delegation,
            ),
            stapling=settings.stapling,
        )


def client_clock(now: dt.datetime, settings: ClientSettings) -> dt.datetime:
    """The validator's ``now``: the responder's (scenario) time plus ``clock_offset``."""
    return now + settings.clock_offset


@dataclass(frozen=True)
class CertificateCheck:
    """One certificate's evidence and verdict."""

    evidence: Evidence
    verdict: Verdict

    def to_json(self) -> dict[str, object]:
        return {"evidence": self.evidence.to_json(), "verdict": self.verdict.to_json()}


@dataclass(frozen=True)
class PresentedCertificate:
    """One certificate of the presented chain and its validity period at the check's ``now``.

    Evidence for every presented certificate, whether OCSP asked about it or
    not (RFC 5280 6.1.3 (a)(2): every certificate of the path must be within
    its validity period). ``not_checked`` says why nothing was asked about it;
    ``None`` when it was checked.
    """

    subject: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    validity: CertValidity
    not_checked: str | None = None

    @property
    def checked(self) -> bool:
        return self.not_checked is None

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "serial": format(self.serial, "X"),
            "not_before": self.not_before.isoformat().replace("+00:00", "Z"),
            "not_after": self.not_after.isoformat().replace("+00:00", "Z"),
            "cert_validity": self.validity.value,
            "checked": self.checked,
            "not_checked": self.not_checked,
        }


def presented_certificate(
    cert: x509.Certificate, now: dt.datetime, not_checked: str | None = None
) -> PresentedCertificate:
    """``cert`` as presented, with its validity period at ``now``."""
    return PresentedCertificate(
        subject=cert.subject.rfc4514_string(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        validity=cert_validity(cert, now),
        not_checked=not_checked,
    )


@dataclass(frozen=True)
class ChainResult:
    """Every presented certificate, the checked ones' evidence (leaf first), the chain's verdict.

    ``checks`` holds one :class:`CertificateCheck` per checked certificate of
    ``presented``, in the same order; it is empty when nothing was asked.
    """

    presented: tuple[PresentedCertificate, ...]
    checks: tuple[CertificateCheck, ...]
    verdict: Verdict

    @classmethod
    def decide(
        cls,
        presented: Sequence[PresentedCertificate],
        checks: Sequence[CertificateCheck],
        policy: Policy,
    ) -> ChainResult:
        """The chain's verdict, decided once by the policy from every presented certificate."""
        pending = iter(checks)
        verdicts: list[Verdict] = []
        for cert in presented:
            if cert.not_checked is None:
                check = next(pending, None)
                if check is None:
                    raise ValueError(f"no check given for the checked certificate {cert.subject}")
                verdicts.append(check.verdict)
            else:
                verdicts.append(
                    decide_unchecked(cert.subject, cert.validity, policy, cert.not_checked)
                )
        if next(pending, None) is not None:
            raise ValueError("more checks given than presented certificates were checked")
        return cls(tuple(presented), tuple(checks), decide_chain(verdicts))

    @property
    def leaf(self) -> CertificateCheck:
        """The leaf's check (``IndexError`` when nothing was asked)."""
        return self.checks[0]

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.to_json(),
            "presented": [c.to_json() for c in self.presented],
            "checks": [c.to_json() for c in self.checks],
        }


def unchecked_chain(
    presented: Sequence[x509.Certificate], *, policy: Policy, now: dt.datetime, because: str
) -> ChainResult:
    """A chain nothing is asked about (``because``): the policy decides on validity periods."""
    return ChainResult.decide(
        [presented_certificate(c, now, because) for c in presented], (), policy
    )


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The AIA id-ad-ocsp URLs of ``cert``, in the order they appear (RFC 5280 4.2.2.1)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def must_staple(cert: x509.Certificate) -> bool:
    """Whether ``cert``'s TLS Feature extension asks for status_request (RFC 7633 4.2)."""
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in features


def _urls(cert: x509.Certificate, options: CheckOptions) -> tuple[list[str], str]:
    if options.uri is UriSource.CONFIGURED:
        return ([options.configured_uri] if options.configured_uri else []), "configured URI"
    return ocsp_urls(cert), "certificate AIA"


def _transport_step(result: FetchResult) -> Step:
    if result.error is not None:
        return Step("transport", StepOutcome.FAIL, f"{result.url}: {result.message}")
    size = len(result.body or b"")
    return Step(
        "transport",
        StepOutcome.PASS,
        f"HTTP {result.http_status}, {result.content_type or 'no content type'}, "
        f"{size} bytes, {result.seconds * 1000:.0f} ms",
    )


def check_certificate(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    options: CheckOptions,
    now: dt.datetime,
    trust: Sequence[x509.Certificate] = (),
    path: Sequence[x509.Certificate] = (),
    fetcher: Fetcher = _default_fetcher,
    staple: bytes | None = None,
) -> CertificateCheck:
    """One OCSP check of ``cert`` (DESIGN.md steps 1–6), and its verdict.

    ``staple`` is the OCSPResponse the TLS peer stapled for ``cert`` (RFC 6066
    8), if any; ``options.stapling`` says what it means (:func:`_stapled`).
    """
    evidence = _stapled(cert, issuer, options, now, tuple(trust), tuple(path), staple)
    if evidence is None:
        evidence = _evidence(cert, issuer, options, now, tuple(trust), tuple(path), fetcher)
        if staple is not None:
            ignored = Step("staple", StepOutcome.SKIP, 'a staple came; stapling = "ignore"')
            evidence = evidence.with_steps_before((ignored,))
    return CertificateCheck(evidence, decide(evidence, options.policy))


def _stapled(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    options: CheckOptions,
    now: dt.datetime,
    trust: tuple[x509.Certificate, ...],
    path: tuple[x509.Certificate, ...],
    staple: bytes | None,
) -> Evidence | None:
    """The evidence a staple gives, or ``None`` when the responder is to be asked.

    ``use`` and ``require`` judge a staple like a fetched answer, with no nonce
    (a staple answers no request of ours) and ask nothing. ``require`` refuses a
    must-staple certificate that came without one (RFC 7633 4.2.3):
    ``staple-missing``. Otherwise, and always with ``ignore``, ask.
    """
    if options.stapling is Stapling.IGNORE:
        return None
    identity = {
        "subject": cert.subject.rfc4514_string(),
        "serial": cert.serial_number,
        "cert_validity": cert_validity(cert, now),
    }
    if staple is None:
        if options.stapling is Stapling.REQUIRE and must_staple(cert):
            message = "a must-staple certificate (RFC 7633 TLS Feature) came without a staple"
            return error_evidence(
                ErrorCode.STAPLE_MISSING,
                message,
                steps=(Step("staple", StepOutcome.FAIL, message),),
                **identity,
            )
        return None
    requested = build_request(cert, issuer, hash_algorithm=options.hash_algorithm).cert_id
    context = CheckContext(
        now=now,
        cert=cert,
        issuer=issuer,
        requested=requested,
        nonce=None,
        trust=trust,
        path=path,
        options=options.validation,
    )
    step = Step(
        "staple",
        StepOutcome.PASS,
        f"{len(staple)} bytes stapled (TLS status_request, RFC 6066 8); nothing asked",
    )
    return validate(staple, context).with_steps_before((step,))


def _evidence(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    options: CheckOptions,
    now: dt.datetime,
    trust: tuple[x509.Certificate, ...],
    path: tuple[x509.Certificate, ...],
    fetcher: Fetcher,
) -> Evidence:
    subject = cert.subject.rfc4514_string()
    identity = {
        "subject": subject,
        "serial": cert.serial_number,
        "cert_validity": cert_validity(cert, now),
    }
    urls, source = _urls(cert, options)
    if not urls:
        message = f"no OCSP URI to ask ({source}: none)"
        return error_evidence(
            ErrorCode.NO_OCSP_URI,
            message,
            steps=(Step("uri", StepOutcome.FAIL, message),),
            **identity,
        )
    request = build_request(
        cert,
        issuer,
        hash_algorithm=options.hash_algorithm,
        nonce=new_nonce() if options.nonce else None,
    )
    context = CheckContext(
        now=now,
        cert=cert,
        issuer=issuer,
        requested=request.cert_id,
        nonce=request.nonce,
        trust=trust,
        path=path,
        options=options.validation,
    )
    steps: list[Step] = []
    result: FetchResult | None = None
    for url in urls:
        steps.append(Step("uri", StepOutcome.PASS, f"{url} ({source})"))
        steps.append(
            Step(
                "request",
                StepOutcome.PASS,
                f"CertID {options.hash_algorithm}, serial {cert.serial_number:X}, "
                f"{'nonce 32 octets' if request.nonce else 'no nonce'}, "
                f"{options.method.value.upper()} {len(request.der)} bytes",
            )
        )
        result = fetcher(url, request.der, options.method, options.timeout)
        steps.append(_transport_step(result))
        if result.ok:
            break
    assert result is not None
    if not result.ok:
        assert result.error is not None
        return error_evidence(
            result.error,
            result.message,
            url=result.url,
            steps=tuple(steps),
            **identity,
        )
    assert result.body is not None
    evidence = validate(result.body, context)
    warnings = evidence.warnings
    ctype = (result.content_type or "").split(";")[0].strip().lower()
    if ctype != _RESPONSE_TYPE and evidence.error is not ErrorCode.MALFORMED_RESPONSE:
        # DESIGN.md step 3: the signature protects the content; a wrong type only warns.
        warning = f"content type {result.content_type or 'missing'!r}, not {_RESPONSE_TYPE}"
        steps.append(Step("transport", StepOutcome.WARN, warning))
        warnings = (warning, *warnings)
    return evidence.with_steps_before(tuple(steps), url=result.url, warnings=warnings)


def _find_issuer(
    cert: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The first candidate whose name and key issued ``cert`` (any algorithm, SHA-1 too)."""
    return next((c for c in candidates if issued_by(cert, c).verified), None)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and issued_by(cert, cert).verified


def check_chain(
    presented: Sequence[x509.Certificate],
    *,
    options: CheckOptions,
    now: dt.datetime,
    trust: Sequence[x509.Certificate] = (),
    issuer: x509.Certificate | None = None,
    fetcher: Fetcher = _default_fetcher,
    staple: bytes | None = None,
) -> ChainResult:
    """Check ``presented`` (leaf first, then its intermediates) and decide for the chain.

    ``staple`` is the leaf's stapled OCSPResponse, if the TLS peer sent one
    (status_request covers the leaf only, RFC 6066 8).

    The leaf is always checked; an intermediate only when ``check = "chain"``
    and it has a URI to ask. Each certificate's issuer is found among the
    presented certificates and the trust store (``issuer`` names the leaf's
    explicitly). Every presented certificate's validity period is evidence,
    checked or not. ``ValueError`` if the leaf's issuer cannot be found.
    """
    if not presented:
        raise ValueError("presented must hold at least the leaf certificate")
    pool = [*presented[1:], *([issuer] if issuer else []), *trust]
    path = tuple(c for c in pool if _is_ca(c))
    certs: list[PresentedCertificate] = []
    checks: list[CertificateCheck] = []
    stopped: str | None = None  # why the certificates from here on are not asked about
    for index, cert in enumerate(presented):
        if stopped is None and index:
            if options.check is CheckScope.LEAF:
                stopped = 'check = "leaf"'
            elif _self_signed(cert):
                stopped = "self-signed: a trust anchor has no issuer to ask"
        if stopped is not None:
            certs.append(presented_certificate(cert, now, stopped))
            continue
        cert_issuer = issuer if index == 0 and issuer is not None else _find_issuer(cert, pool)
        if cert_issuer is None:
            if index == 0:
                raise ValueError(
                    f"the issuer of {cert.subject.rfc4514_string()} is neither presented "
                    "nor in the trust store"
                )
            stopped = "its issuer is neither presented nor in the trust store"
            certs.append(presented_certificate(cert, now, stopped))
            continue
        urls, source = _urls(cert, options)
        if index and not urls:
            # An intermediate without a URI to ask is not checked (DESIGN.md).
            certs.append(presented_certificate(cert, now, f"no OCSP URI ({source}: none)"))
            continue
        certs.append(presented_certificate(cert, now))
        checks.append(
            check_certificate(
                cert,
                cert_issuer,
                options=options,
                now=now,
                trust=trust,
                path=path,
                fetcher=fetcher,
                staple=staple if index == 0 else None,
            )
        )
    return ChainResult.decide(certs, checks, options.policy)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
