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

from lab import scenario as scenario_module
from lab.cli import main
from lab.commands.serve_ca import ca_scenario
from lab.scenario import load_scenario
from tests.openssl_ca import OpenSSLCA
from tests.peers import openssl_ocsp_client

CUSTOMER = "/O=Customer/CN=Customer Root CA"

#: h16's ``[responder] index`` key; until it is in the loader a scenario with it cannot load.
INDEX_LOADS = "index" in scenario_module._RESPONDER_KEYS


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


@pytest.mark.skipif(not INDEX_LOADS, reason="waits for h16's [responder] index in the loader")
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
