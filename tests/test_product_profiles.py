"""The outside product profiles of products/, each command run as a product run runs it.

Each profile's ``product.command`` is read from its file, split as a shell
would, its placeholders filled in, and run against a lab TLS endpoint that
presents a good, revoked or unknown leaf (the lab responder answering). What
the tool prints is parsed and set beside what the endpoint recorded
(completed, or the tool's alert), and beside the requests the responder saw.
These are the behaviours each profile documents as its deviations.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.tls import Alert, ConnectionRecord, HandshakeOutcome, StapleSource, TlsEndpoint
from responder.requestlog import RequestLogEntry
from tests.conftest import require_program

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ROOT / "products"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _profile(name: str) -> dict[str, object]:
    with (PRODUCTS / name).open("rb") as f:
        return tomllib.load(f)


def _argv(profile: dict[str, object], values: dict[str, str]) -> list[str]:
    product = profile["product"]
    assert isinstance(product, dict)
    return [
        _PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in shlex.split(product["command"])
    ]


class _Staple:
    """A staple source that staples fixed bytes (a garbage staple)."""

    def __init__(self, der: bytes) -> None:
        self._der = der

    def staple(self) -> bytes:
        return self._der


@dataclass
class Ran:
    out: str
    code: int
    record: ConnectionRecord
    requests: list[RequestLogEntry]


def _set_state(responder: LabResponderHandle, state: str) -> None:
    if state == "revoked":
        responder.revoke("server", "keyCompromise")
    elif state == "unknown":
        responder.set_faults(answer="unknown")
    elif state == "down":
        responder.set_faults(down=True)


def _run(
    profile_name: str,
    ocsp_pki: LabFiles,
    responder: LabResponderHandle,
    tmp_path: Path,
    *,
    state: str = "good",
    staple: str | None = None,
    trust: list[str] | None = None,
) -> Ran:
    """Run the profile's command against an endpoint presenting ``server``, in ``state``."""
    profile = _profile(profile_name)
    client = profile.get("client", {})
    assert isinstance(client, dict)
    pki = ocsp_pki.pki
    trust_file = tmp_path / "trust.pem"
    trust_file.write_bytes(
        b"".join(
            pki[n].certificate.public_bytes(serialization.Encoding.PEM)
            for n in (trust or client.get("trust", ["root"]))
        )
    )
    cert = tmp_path / "cert.pem"
    cert.write_bytes(pki["server"].certificate.public_bytes(serialization.Encoding.PEM))
    _set_state(responder, state)
    source: object = None
    if staple == "fetched":
        source = StapleSource(
            pki["server"].certificate,
            pki["intermediate"].certificate,
            now=lambda: dt.datetime.now(dt.UTC),
        )
    elif staple == "garbage":
        source = _Staple(b"not an OCSP response")
    with TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki["intermediate"].certificate],
        staple=source,  # type: ignore[arg-type]
        handshake_timeout=20.0,
        idle_timeout=2.0,
    ) as endpoint:
        values = {
            "host": "127.0.0.1",
            "port": str(endpoint.port),
            "trust": str(trust_file),
            "cert": str(cert),
        }
        proc = subprocess.run(
            _argv(profile, values), cwd=ROOT, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=60,
        )  # fmt: skip
        (record,) = endpoint.wait_for(1, timeout=30)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    asked = [e for e in responder.requests() if "server" in e.names]
    return Ran(out, proc.returncode, record, asked)


# ---- Java: the JDK's PKIX revocation checker ---------------------------------------------


@pytest.fixture(scope="module")
def java(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """java and javac; the wrapper's class cache in a temporary folder, not the user's."""
    require_program("javac")
    path = require_program("java")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OCSP_LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield path


def test_the_java_wrapper_compiles_once_and_again_when_the_source_is_newer(
    java: str, tmp_path: Path
) -> None:
    for name in ("ocsp-client.sh", "OcspClient.java"):
        (tmp_path / name).write_bytes((PRODUCTS / "java" / name).read_bytes())
    cache = tmp_path / "cache"
    env = {**os.environ, "OCSP_LAB_CACHE": str(cache)}

    def usage() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(tmp_path / "ocsp-client.sh")], env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    first = usage()
    assert first.returncode == 2 and "usage: java OcspClient" in first.stderr, first.stderr
    compiled = cache / "java" / "OcspClient.class"
    made = compiled.stat().st_mtime_ns
    assert [p.name for p in (cache / "java").iterdir()] == ["OcspClient.class"]
    assert usage().returncode == 2 and compiled.stat().st_mtime_ns == made  # not again
    later = made / 1e9 + 10
    os.utime(tmp_path / "OcspClient.java", (later, later))
    assert usage().returncode == 2 and compiled.stat().st_mtime_ns != made


#: What the JDK refuses with: CertPathValidatorException's reason, and the alert it sends.
_JAVA_REFUSALS = {
    "revoked": ("[reason REVOKED]", Alert.CERTIFICATE_REVOKED),
    "unknown": ("[reason UNDETERMINED_REVOCATION_STATUS]", Alert.CERTIFICATE_UNKNOWN),
    "down": (
        "due to network error [reason UNDETERMINED_REVOCATION_STATUS]",
        Alert.CERTIFICATE_UNKNOWN,
    ),
}


@pytest.mark.parametrize("state", ["good", "revoked", "unknown", "down"])
def test_java_client_asks_the_responder_and_refuses_all_but_good(
    java: str, ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, tmp_path: Path, state: str
) -> None:
    ran = _run("java.toml", ocsp_pki, ocsp_responder, tmp_path, state=state)
    if state == "good":
        assert ran.code == 0, ran.out
        assert "received: ocsp-lab: hello" in ran.out
        serial = format(ocsp_pki.certificate("server").serial_number, "x")
        assert f"serial {serial}" in ran.out
        assert ran.record.outcome is HandshakeOutcome.COMPLETED, ran.record.describe()
    else:
        reason, alert = _JAVA_REFUSALS[state]
        assert ran.code == 1, ran.out
        assert reason in ran.out, ran.out
        assert ran.record.outcome is HandshakeOutcome.PEER_ALERT, ran.record.describe()
        assert ran.record.alert is alert
    # It asks by GET (a short request, RFC 5019 5) without a nonce, the intermediate first:
    # with the whole chain unknown it stops there, never asking about the server.
    asked = [e for e in ocsp_responder.requests() if "intermediate" in e.names]
    if state != "down":
        assert [(e.method, e.nonce) for e in asked] == [("GET", None)]
        assert [e.answer for e in ran.requests] == ([] if state == "unknown" else [state])


def test_java_client_judges_a_revoked_staple_without_asking(
    java: str, ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, tmp_path: Path
) -> None:
    ran = _run("java.toml", ocsp_pki, ocsp_responder, tmp_path, state="revoked", staple="fetched")
    assert ran.code == 1 and "[reason REVOKED]" in ran.out, ran.out
    assert ran.record.staple_requested and ran.record.stapled
    assert ran.record.alert is Alert.BAD_CERTIFICATE_STATUS_RESPONSE, ran.record.describe()
    # The one request about the server is the endpoint's own fetch of the staple (POST).
    assert [(e.method, e.answer) for e in ran.requests] == [("POST", "revoked")]


# ---- openssl s_client -status: shows the staple, judges the chain only --------------------


@pytest.mark.parametrize("staple", [None, "fetched"], ids=["no-staple", "stapled"])
@pytest.mark.parametrize("state", ["good", "revoked"])
def test_openssl_s_client_completes_whatever_the_staple_says(
    ocsp_pki: LabFiles,
    ocsp_responder: LabResponderHandle,
    tmp_path: Path,
    state: str,
    staple: str | None,
) -> None:
    ran = _run(
        "openssl-s_client.toml", ocsp_pki, ocsp_responder, tmp_path, state=state, staple=staple
    )
    # The chain verified against {trust}; the connection went on, revoked or not.
    assert "Verify return code: 0 (ok)" in ran.out, ran.out
    assert ran.code == 0, ran.out
    assert ran.record.outcome is HandshakeOutcome.COMPLETED, ran.record.describe()
    if staple is None:
        assert "OCSP response: no response sent" in ran.out
        assert ran.requests == []  # it never asks a responder itself
    else:
        assert ran.record.staple_requested  # -status sends status_request (RFC 6066 8)
        assert re.search(rf"^\s*Cert Status: {state}$", ran.out, re.M), ran.out
        # The one request is the endpoint's fetch of the staple.
        assert [(e.method, e.answer) for e in ran.requests] == [("POST", state)]


def test_openssl_s_client_takes_a_staple_that_does_not_parse_as_none(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, tmp_path: Path
) -> None:
    ran = _run("openssl-s_client.toml", ocsp_pki, ocsp_responder, tmp_path, staple="garbage")
    assert ran.record.staple_requested and ran.record.stapled == len(b"not an OCSP response")
    assert "OCSP response: no response sent" in ran.out, ran.out
    assert ran.code == 0 and ran.record.outcome is HandshakeOutcome.COMPLETED


def test_openssl_s_client_refuses_an_untrusted_chain_with_an_alert(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, tmp_path: Path
) -> None:
    ran = _run(
        "openssl-s_client.toml", ocsp_pki, ocsp_responder, tmp_path, trust=["trusted-responder"]
    )
    # -verify_return_error: the verification failure ends the handshake (else it goes on).
    assert "Verify return code: 20 (unable to get local issuer certificate)" in ran.out, ran.out
    assert ran.code == 1
    assert ran.record.outcome is HandshakeOutcome.PEER_ALERT
    assert ran.record.alert is Alert.UNKNOWN_CA, ran.record.describe()


# ---- NSS tstclnt -T -F: judges a staple, after the handshake ------------------------------


@pytest.fixture(scope="module")
def tstclnt() -> str:
    require_program("certutil")
    return require_program("tstclnt")


#: tstclnt -F's exit status: 0 fresh and good, 2 missing, old or invalid, 3 revoked.
_TSTCLNT_EXIT = {("good", True): 0, ("revoked", True): 3, ("unknown", True): 2, ("good", False): 2}


@pytest.mark.parametrize(("state", "stapled"), list(_TSTCLNT_EXIT), ids=lambda v: str(v))
def test_tstclnt_decides_on_the_staple_only_and_after_the_handshake(
    tstclnt: str,
    ocsp_pki: LabFiles,
    ocsp_responder: LabResponderHandle,
    tmp_path: Path,
    state: str,
    stapled: bool,
) -> None:
    staple = "fetched" if stapled else None
    ran = _run("nss-tstclnt.toml", ocsp_pki, ocsp_responder, tmp_path, state=state, staple=staple)
    assert ran.code == _TSTCLNT_EXIT[state, stapled], ran.out
    assert f"Received {int(stapled)} Cert Status items (OCSP stapled data)" in ran.out, ran.out
    # Its verdict is its exit status alone: the handshake completed whatever it decided.
    assert ran.record.outcome is HandshakeOutcome.COMPLETED, ran.record.describe()
    # It never asks a responder: the one request is the endpoint's fetch of the staple.
    assert [(e.method, e.answer) for e in ran.requests] == ([("POST", state)] if stapled else [])


def test_tstclnt_completes_even_an_untrusted_chain(
    tstclnt: str, ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, tmp_path: Path
) -> None:
    ran = _run(
        "nss-tstclnt.toml", ocsp_pki, ocsp_responder, tmp_path, staple="fetched",
        trust=["trusted-responder"],
    )  # fmt: skip
    # -F verifies after the handshake: exit 1 (the chain failed before revocation was checked).
    assert ran.code == 1, ran.out
    assert ran.record.outcome is HandshakeOutcome.COMPLETED, ran.record.describe()


@pytest.mark.parametrize("name", ["java.toml", "openssl-s_client.toml", "nss-tstclnt.toml"])
def test_each_profile_says_its_version_and_its_client_table_reads_as_a_scenarios(
    name: str, tmp_path: Path
) -> None:
    from lab.scenario import load_scenario

    text = (PRODUCTS / name).read_text()
    profile = tomllib.loads(text)
    assert re.search(r"written against \S+ \d+\.\d+", str(profile["title"])), profile["title"]
    assert profile["product"]["kind"] == "client"
    assert set(_PLACEHOLDER.findall(profile["product"]["command"])) <= {
        "host",
        "port",
        "trust",
        "cert",
    }
    # [client] means what it means in a scenario: the scenario loader reads it.
    client = text[text.index("\n[client]\n") :]
    (tmp_path / "scenario.toml").write_text(f'title = "{name}"\n{client}')
    load_scenario(tmp_path / "scenario.toml")
