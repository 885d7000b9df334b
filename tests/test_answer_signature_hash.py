"""``[responder] signature_hash``: the hash of the answers' signatures (SCENARIOS.md).

The responder signs with the hash named; ``openssl ocsp -resp_text`` (the
independent peer) names the same signature algorithm and verifies the
signature. Ed25519 takes no hash, so a scenario whose answers it alone signs
cannot name one: that is one line naming the key.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.errors import ScenarioError
from lab.scenario import load_scenario
from lab.validator import parse_response
from pki import build_pki
from responder.app import create_app
from responder.testing import ocsp_request

#: The hash written → what openssl prints as the response's Signature Algorithm.
HASHES = {
    None: "ecdsa-with-SHA256",
    "sha1": "ecdsa-with-SHA1",
    "sha256": "ecdsa-with-SHA256",
    "sha384": "ecdsa-with-SHA384",
    "sha512": "ecdsa-with-SHA512",
}


def _scenario(tmp_path: Path, responder: str, pki: str = "") -> Path:
    path = tmp_path / "case.toml"
    path.write_text(
        f'title = "answers signed with a chosen hash"\n{pki}\n[responder]\n{responder}\n\n'
        '[[expect]]\nconnection = "allowed"\n'
    )
    return path


@pytest.mark.parametrize("name", list(HASHES), ids=[str(h) for h in HASHES])
def test_answers_are_signed_with_the_hash_named(tmp_path: Path, name: str | None) -> None:
    line = f'signature_hash = "{name}"' if name else ""
    scenario = load_scenario(_scenario(tmp_path, line))
    assert scenario.responder.signature_hash == name
    pki = build_pki(scenario.pki)
    app = create_app(pki, config=scenario.responder)
    reply = app.test_client().post(
        "/",
        data=ocsp_request(pki, ["server"]),
        headers={"Content-Type": "application/ocsp-request"},
    )
    (tmp_path / "resp.der").write_bytes(reply.data)
    parsed = parse_response(reply.data)
    assert parsed.signature_algorithm == "ecdsa"
    assert parsed.signature_hash == (name or "sha256")
    pem = serialization.Encoding.PEM
    (tmp_path / "responder.pem").write_bytes(pki["responder"].certificate.public_bytes(pem))
    # The lab PKI's t0 is in the past: check the signature, not the signer's validity.
    proc = subprocess.run(
        ["openssl", "ocsp", "-respin", "resp.der", "-resp_text", "-VAfile", "responder.pem",
         "-no_cert_checks"],
        cwd=tmp_path, capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert f"Signature Algorithm: {HASHES[name]}" in output, output
    assert "Response verify OK" in output, output


@pytest.mark.parametrize(
    ("responder", "pki"),
    [
        ('signature_hash = "sha1"', '[pki]\nkey = "ed25519"'),
        (
            'signer = "trusted-responder"\nsignature_hash = "sha384"',
            '[[pki.cert]]\nname = "trusted-responder"\nprofile = "ocsp-responder"\nkey = "ed25519"',
        ),
    ],
    ids=["every-key-ed25519", "signer-ed25519"],
)
def test_no_hash_for_answers_ed25519_alone_signs(tmp_path: Path, responder: str, pki: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_scenario(tmp_path, responder, pki))
    message = str(raised.value)
    assert "responder.signature_hash" in message and "Ed25519" in message, message


def test_a_hash_of_no_such_name_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(_scenario(tmp_path, 'signature_hash = "md5"'))
    message = str(raised.value)
    assert "responder.signature_hash" in message and '"sha1"' in message, message
    assert "'md5'" in message, message


def test_explain_tells_the_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(_scenario(tmp_path, 'signature_hash = "sha512"'))]) == 0
    assert "answers signed with sha512" in " ".join(capsys.readouterr().out.split())
