"""The validator and stapling: [client] stapling, must_staple, staple-missing, [tls] staple."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lab.chain_check import CheckOptions, check_chain, must_staple
from lab.evidence import CertStatus, ErrorCode
from lab.fetch import FetchResult
from lab.policy import Decision, Policy
from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.runner import run_scenario
from lab.scenario import load_scenario
from lab.settings import CheckScope, HttpMethod, Stapling
from lab.tls import StapleSource
from pki import CertSpec, PKISpec, build_pki
from tests.test_scenario_loader import assert_rejected, load

TITLE = 'title = "t"\n'


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _options(stapling: Stapling, *, cc: bool = True, soft_fail: bool | None = None) -> CheckOptions:
    return CheckOptions(
        policy=Policy(common_criteria=cc, soft_fail=soft_fail),
        check=CheckScope.LEAF,
        stapling=stapling,
    )


class _CountingFetcher:
    """The real fetch, counted: how many times the validator asked the responder."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
        from lab.fetch import fetch

        self.calls += 1
        return fetch(url, der, method=method, timeout=timeout)


def _check(lab: LabFiles, options: CheckOptions, staple: bytes | None, fetcher: _CountingFetcher):  # type: ignore[no-untyped-def]
    return check_chain(
        [lab.certificate("server")],
        options=options,
        now=_now(),
        trust=[lab.certificate("root")],
        issuer=lab.issuer("server"),
        fetcher=fetcher,
        staple=staple,
    )


def _staple(lab: LabFiles) -> bytes:
    staple = StapleSource(lab.certificate("server"), lab.issuer("server"), now=_now).staple()
    assert staple is not None
    return staple


def test_use_judges_the_staple_and_asks_nothing(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    staple = _staple(ocsp_pki)
    ocsp_responder.revoke("server", "keyCompromise")  # the responder now says otherwise
    fetcher = _CountingFetcher()
    result = _check(ocsp_pki, _options(Stapling.USE), staple, fetcher)
    assert fetcher.calls == 0
    evidence = result.leaf.evidence
    assert evidence.status is CertStatus.GOOD  # the staple's word, not the responder's
    assert evidence.steps[0].name == "staple"
    assert "uri" not in [s.name for s in evidence.steps]
    assert result.verdict.allowed


def test_ignore_asks_the_responder_whatever_is_stapled(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    staple = _staple(ocsp_pki)
    ocsp_responder.revoke("server", "keyCompromise")
    fetcher = _CountingFetcher()
    result = _check(ocsp_pki, _options(Stapling.IGNORE), staple, fetcher)
    assert fetcher.calls == 1
    assert result.leaf.evidence.status is CertStatus.REVOKED
    assert result.leaf.evidence.steps[0].name == "staple"  # shown, and skipped
    assert not result.verdict.allowed


def test_use_without_a_staple_asks_the_responder(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    fetcher = _CountingFetcher()
    result = _check(ocsp_pki, _options(Stapling.REQUIRE), None, fetcher)
    assert fetcher.calls == 1  # not must-staple: require asks like use
    assert result.leaf.evidence.status is CertStatus.GOOD


@pytest.mark.parametrize("cc", [True, False], ids=["cc-on", "cc-off"])
def test_require_refuses_a_must_staple_certificate_without_a_staple_even_soft_failing(
    cc: bool,
) -> None:
    pki = build_pki(PKISpec.with_defaults((CertSpec("server", "intermediate", must_staple=True),)))
    server = pki["server"].certificate
    assert must_staple(server) and not must_staple(pki["intermediate"].certificate)

    def never(url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
        raise AssertionError("a missing staple asks no responder")

    result = check_chain(
        [server],
        options=_options(Stapling.REQUIRE, cc=cc, soft_fail=True),
        now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        trust=[pki["root"].certificate],
        issuer=pki["intermediate"].certificate,
        fetcher=never,
    )
    evidence = result.leaf.evidence
    assert evidence.error is ErrorCode.STAPLE_MISSING
    assert result.verdict.decision is Decision.REFUSED
    assert not result.verdict.soft_failed
    assert "RFC 7633" in result.verdict.why


# ---- the loader -------------------------------------------------------------------------


def test_loader_reads_stapling_must_staple_and_tls(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        TITLE
        + '[[pki.cert]]\nname = "server"\nissuer = "intermediate"\nmust_staple = true\n'
        + '[tls]\nstaple = true\n[client]\nstapling = "require"\n',
    )
    assert scenario.tls.staple is True
    assert scenario.client.stapling is Stapling.REQUIRE
    (server,) = [c for c in scenario.pki.certs if c.name == "server"]
    assert server.must_staple is True
    default = load(tmp_path, TITLE)
    assert default.tls.staple is False and default.client.stapling is Stapling.IGNORE


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[client]\nstapling = "always"\n', "client.stapling", '"ignore", "use"'),
        ("[tls]\nstaple = 1\n", "tls.staple", "true or false"),
        ("[tls]\nstapel = true\n", "tls.stapel", "staple"),
        (
            '[[pki.cert]]\nname = "server"\nissuer = "intermediate"\nmust_staple = "yes"\n',
            "pki.cert[0].must_staple",
            "true or false",
        ),
    ],
)
def test_loader_rejects_bad_stapling_keys(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    assert_rejected(tmp_path, TITLE + text, key, expected)


def test_direct_run_staples_as_the_endpoint_would(tmp_path: Path) -> None:
    # Revoked at the responder, stapled by the endpoint, used by the client: refused, and
    # the evidence is the staple's (no uri step), in the runner's one place (staple()).
    path = tmp_path / "case.toml"
    path.write_text(
        TITLE
        + '[database]\nserver = "revoked"\n[tls]\nstaple = true\n[client]\nstapling = "use"\n'
        + '[[expect]]\nstatus = "revoked"\nconnection = "refused"\n',
        encoding="utf-8",
    )
    result = run_scenario(load_scenario(path))
    assert result.holds, result
    for mode in result.modes:
        (expectation,) = mode.expectations
        evidence = expectation.actual.evidence
        assert evidence is not None
        steps = [s.name for s in evidence.steps]
        assert steps[0] == "staple" and "uri" not in steps


def test_explain_tells_of_the_staple_and_the_must_staple_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lab.catalog_index import CATALOG
    from lab.cli import main

    assert main(["explain", str(CATALOG / "stapling" / "staple-outlives-responder.toml")]) == 0
    out = " ".join(capsys.readouterr().out.split())  # however the story wraps its lines
    assert "The TLS endpoint staples the responder's answer" in out
    assert "a must-staple certificate without a staple → refused in both modes" in out
    assert main(["explain", str(CATALOG / "basics" / "good.toml")]) == 0
    plain = capsys.readouterr().out
    assert "staples" not in plain and "must-staple" not in plain
