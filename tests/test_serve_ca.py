"""``serve --ca/--ca-key/--rsigner/--rkey/--index`` and ``--print-scenario``.

The options mean a scenario: ``--print-scenario`` prints it, the normal
loader reads it, and ``serve`` serves it — checked end to end with the
``openssl ocsp`` client against a CA made by ``openssl`` (its printed lines
read, not its exit code).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.cli import main
from lab.commands.serve_ca import ca_scenario
from lab.scenario import load_scenario
from tests.openssl_ca import OpenSSLCA
from tests.peers import openssl_ocsp_client, openssl_ocsp_responder

CUSTOMER = "/O=Customer/CN=Customer Root CA"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLCA:
    """A customer CA with a phone certificate and a delegated responder, all by openssl."""
    made = OpenSSLCA.backdated(tmp_path_factory.mktemp("customer"), "ca", subject=CUSTOMER)
    made.issue("phone", subject="/O=Customer/CN=phone.example.com")
    made.issue("ocsp", subject="/O=Customer/CN=Customer OCSP", extensions="ocsp_ext")
    return made


def _printed(capsys: pytest.CaptureFixture[str], *options: str) -> str:
    assert main(["serve", *options, "--print-scenario"]) == 0
    return capsys.readouterr().out


def test_print_scenario_means_a_ca_from_files_signing_its_own_answers(
    ca: OpenSSLCA, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = _printed(capsys, "--ca", str(ca.cert), "--ca-key", str(ca.key))
    data = tomllib.loads(text)
    assert data["pki"]["cert"] == [
        {"name": "customer-ca", "cert_file": str(ca.cert), "key_file": str(ca.key)}
    ]
    assert data["client"] == {"trust": ["customer-ca"]}
    assert "responder" not in data  # the CA signs for itself: the default
    kept = tmp_path / "kept.toml"
    kept.write_text(text)
    scenario = load_scenario(kept)  # what the user keeps loads as the scenario it is
    customer = scenario.pki.cert("customer-ca")
    assert customer.from_file is not None and customer.from_file.key is not None
    assert "Customer Root CA" in scenario.title


def _args(**options: str | None) -> argparse.Namespace:
    values: dict[str, object] = dict.fromkeys(("scenario", "ca", "ca_key", "rsigner", "rkey",
                                               "index"))  # fmt: skip
    values.update(options)
    values["print_scenario"] = True
    return argparse.Namespace(**values)


def test_print_scenario_with_rsigner_and_index_names_both(ca: OpenSSLCA, tmp_path: Path) -> None:
    index = tmp_path / "index.txt"
    index.write_text("")
    text = ca_scenario(
        _args(ca=str(ca.cert), rsigner=str(ca.dir / "ocsp.pem"), rkey=str(ca.dir / "ocsp.key"),
              index=str(index))
    )  # fmt: skip
    assert text is not None
    data = tomllib.loads(text)
    assert data["pki"]["cert"] == [
        {"name": "customer-ca", "cert_file": str(ca.cert)},
        {"name": "customer-responder", "cert_file": str(ca.dir / "ocsp.pem"),
         "key_file": str(ca.dir / "ocsp.key")},
    ]  # fmt: skip
    assert data["responder"] == {
        "signers": {"customer-ca": "customer-responder"},
        "index": {"customer-ca": str(index)},
    }
    # Delegated by the CA (RFC 6960 4.2.2.2): only the CA goes in the trust store.
    assert data["client"] == {"trust": ["customer-ca"]}


def test_print_scenario_with_index_loads(
    ca: OpenSSLCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index.txt"
    index.write_text("")
    text = _printed(capsys, "--ca", str(ca.cert), "--ca-key", str(ca.key), "--index", str(index))
    assert tomllib.loads(text)["responder"]["index"] == {"customer-ca": str(index)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--ca", "{cert}"], "--ca {cert}: without --ca-key the lab cannot sign answers"),
        (["--ca-key", "{key}"], "--ca-key: only with --ca"),
        (["--ca", "{cert}", "--rsigner", "{cert}"], "--rsigner: expected --rkey too"),
        (["--ca", "{key}", "--ca-key", "{key}"], "--ca {key}: expected a certificate file"),
        (["--ca", "{cert}", "--ca-key", "{dir}/phone.key"],
         "--ca-key {dir}/phone.key: expected the unencrypted private key"),
        (["{dir}/x.toml", "--ca", "{cert}", "--ca-key", "{key}"],
         "--ca {cert}: either a SCENARIO or --ca, not both"),
    ],
    ids=["no key nor signer", "key without CA", "rsigner without rkey", "not a certificate",
         "key of another certificate", "scenario and --ca"],
)  # fmt: skip
def test_serve_ca_option_mistakes_are_one_line(
    ca: OpenSSLCA, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    fill = {"cert": str(ca.cert), "key": str(ca.key), "dir": str(ca.dir)}
    argv = ["serve", *(o.format(**fill) for o in options), "--print-scenario"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ocsp-lab: error: " + message.format(**fill)), err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(out: Path, port: int, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", *options, "--port", str(port), "--out", str(out),
         "--workers", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''!r}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.interop
@pytest.mark.parametrize(
    "signing",
    ["ca-key", "rsigner"],
    ids=["the CA signs with its key", "a delegated responder signs for a CA without its key"],
)
def test_openssl_ocsp_asks_the_served_customer_ca(
    ca: OpenSSLCA, tmp_path: Path, signing: str
) -> None:
    options = ["--ca", str(ca.cert)]
    if signing == "ca-key":
        options += ["--ca-key", str(ca.key)]
    else:
        options += ["--rsigner", str(ca.dir / "ocsp.pem"), "--rkey", str(ca.dir / "ocsp.key")]
    out = tmp_path / "served"
    port = _free_port()
    with _serving(out, port, *options):
        url = f"http://127.0.0.1:{port}/"
        for cert, status in (("ca.pem", "good"), ("phone.pem", "unknown")):
            answer = openssl_ocsp_client(
                ["-issuer", "ca.pem", "-cert", cert, "-CAfile", "ca.pem", "-url", url], cwd=ca.dir
            )
            assert answer.statuses == {cert: status}, answer.output
            assert answer.verified, answer.output
    # The export copies the customer's files and writes only the keys it was given.
    assert (out / "customer-ca.pem").read_bytes() != b""
    assert (out / "customer-ca.key").exists() is (signing == "ca-key")
    assert (out / "customer-responder.key").exists() is (signing == "rsigner")


@pytest.mark.interop
def test_a_customer_ca_and_its_index_are_answered_as_openssl_ocsp_index_answers(
    tmp_path: Path,
) -> None:
    """``serve --ca --ca-key --index``: the customer's CA, key and ``openssl ca`` database.

    Serial by serial (good, revoked with its reason, held, a serial the
    database never had), ``openssl ocsp`` asking the lab gets what it gets
    from ``openssl ocsp -index`` on the same files, and so does the lab's
    own ``check``.
    """
    made = OpenSSLCA.backdated(tmp_path / "customer", "ca", subject=CUSTOMER)
    revocations = {
        "good": None,
        "stolen": ["-crl_reason", "keyCompromise"],
        "moved": ["-crl_reason", "superseded"],
        "paused": ["-crl_hold", "holdInstructionCallIssuer"],
    }
    for name, revoke in revocations.items():
        made.issue(name, subject=f"/O=Customer/CN={name}.example.com")
        if revoke is not None:
            subprocess.run(
                ["openssl", "ca", "-config", "openssl.cnf", "-cert", "ca.pem", "-keyfile",
                 "ca.key", "-md", "sha256", "-revoke", f"{name}.pem", *revoke],
                cwd=made.dir, check=True, capture_output=True, timeout=30,
            )  # fmt: skip
    serials = [
        "0x" + line.split("\t")[3] for line in (made.dir / "index.txt").read_text().splitlines()
    ]
    serials.append("0x0DDBA11")  # in no database
    asked = ["-issuer", "ca.pem", "-CAfile", "ca.pem", "-VAfile", "ca.pem"]

    def answers(url: str) -> list[tuple[str | None, list[str], bool]]:
        out = []
        for serial in serials:
            answer = openssl_ocsp_client([*asked, "-serial", serial, "-url", url], cwd=made.dir)
            out.append((answer.statuses.get(serial), answer.reasons, answer.verified))
        return out

    with openssl_ocsp_responder(
        made.dir, index="index.txt", ca="ca.pem", rsigner="ca.pem", rkey="ca.key"
    ) as url:
        expected = answers(url)
    # The first line is the CA itself (openssl ca -selfsign records it), good.
    statuses = [status for status, _, _ in expected]
    assert statuses == ["good", "good", "revoked", "revoked", "revoked", "unknown"], expected
    assert all(verified for _, _, verified in expected), expected
    assert [reasons for _, reasons, _ in expected[2:5]] == [
        ["keyCompromise"],
        ["superseded"],
        ["certificateHold"],
    ]
    port = _free_port()
    options = [
        "--ca",
        str(made.cert),
        "--ca-key",
        str(made.key),
        "--index",
        str(made.dir / "index.txt"),
    ]
    with _serving(tmp_path / "served", port, *options):
        lab_url = f"http://127.0.0.1:{port}/"
        assert answers(lab_url) == expected
        # The lab's own check, as a product would ask: the same statuses.
        for name, status in zip(revocations, statuses[1:5], strict=True):
            checked = subprocess.run(
                [sys.executable, "-m", "lab", "check", str(made.dir / f"{name}.pem"), "--issuer",
                 str(made.cert), "--url", lab_url, "--trust", str(made.cert), "--json"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert f'"status": "{status}"' in checked.stdout, checked.stdout + checked.stderr
