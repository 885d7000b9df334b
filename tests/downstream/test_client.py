"""The downstream project's tests: its client against the lab's responder."""

from __future__ import annotations

import urllib.error

import pytest
from ocsp_client import OcspError, ocsp_status


def status(ocsp_pki, ocsp_responder, name: str = "server") -> str:
    return ocsp_status(
        ocsp_pki.cert_path(name), ocsp_pki.cert_path("intermediate"), ocsp_responder.url
    )


def test_good(ocsp_pki, ocsp_responder) -> None:
    assert status(ocsp_pki, ocsp_responder) == "good"
    ocsp_responder.assert_status("server", "good")
    # This test's requests: its client's, then the lab validator's.
    assert [e.answer for e in ocsp_responder.requests()] == ["good", "good"]


def test_revoked(ocsp_pki, ocsp_responder) -> None:
    ocsp_responder.revoke("server", "keyCompromise")
    assert status(ocsp_pki, ocsp_responder) == "revoked"


def test_reset_between_tests(ocsp_pki, ocsp_responder) -> None:
    assert status(ocsp_pki, ocsp_responder) == "good"  # the revoke above is undone


def test_hold_and_release(ocsp_pki, ocsp_responder) -> None:
    ocsp_responder.hold("server")
    assert status(ocsp_pki, ocsp_responder) == "revoked"
    ocsp_responder.release("server")
    assert status(ocsp_pki, ocsp_responder) == "good"


def test_faults(ocsp_pki, ocsp_responder) -> None:
    ocsp_responder.set_faults(status="tryLater")
    with pytest.raises(OcspError, match="TRY_LATER"):
        status(ocsp_pki, ocsp_responder)
    ocsp_responder.set_faults(down=True)
    with pytest.raises(urllib.error.URLError):
        status(ocsp_pki, ocsp_responder)
    ocsp_responder.clear_faults()
    assert status(ocsp_pki, ocsp_responder) == "good"


def test_faults_reset_between_tests(ocsp_pki, ocsp_responder) -> None:
    assert status(ocsp_pki, ocsp_responder) == "good"


def test_a_scenario_lab(ocsp_scenario) -> None:
    lab = ocsp_scenario("scenarios/revoked.toml")
    lab.assert_holds()
    assert lab.url.startswith("http://127.0.0.1:")
