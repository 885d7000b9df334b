"""``[responder] index``: an index.txt made by real ``openssl ca``, served by the lab.

The oracle is ``openssl ocsp -index`` on the very same files: the lab
responder (asked by the ``openssl ocsp`` client, and by the lab's own
``check``) must say what it says, serial by serial — good, revoked with its
time and reason, unknown. The CA is the lab's own intermediate (written by
``write_pki``), so both responders sign with the same delegated responder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from lab.cli import main
from pki import CertificateDatabase, PKIError, build_pki, calendar_t0, write_pki
from responder.app import create_app, lab_responder
from responder.config import ResponderConfig
from responder.server import InProcessServer
from tests.peers import openssl_ocsp_client, openssl_ocsp_responder

pytestmark = pytest.mark.interop

_CA_CONFIG = """\
[ca]
default_ca = lab
[lab]
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
default_days = 90
policy = any
unique_subject = no
[any]
commonName = supplied
"""
#: name -> how `openssl ca` revokes it (None: left valid)
_ISSUED: dict[str, list[str] | None] = {
    "good": None,
    "key-compromise": ["-crl_reason", "keyCompromise"],
    "hold": ["-crl_hold", "holdInstructionNone"],
    "hold-reason": ["-crl_reason", "certificateHold"],
    "key-time": ["-crl_compromise", "20240101000000Z"],
    "superseded": ["-crl_reason", "superseded"],
    "no-reason": [],
}
_UNKNOWN = "0xDEAD01"
_NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
_TIME = re.compile(r"Revocation Time: (.+)$", re.M)


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab PKI written out, and an `openssl ca` database of its intermediate."""
    now = dt.datetime.now(dt.UTC)
    lab_pki = build_pki(t0=calendar_t0(now))
    out = tmp_path_factory.mktemp("openssl-index")
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), out, now=now)
    (out / "ca.cnf").write_text(_CA_CONFIG)
    (out / "issued").mkdir()
    (out / "index.txt").write_text("")
    (out / "serial").write_text("5000\n")
    ca = ["-config", "ca.cnf", "-cert", "intermediate.pem", "-keyfile", "intermediate.key"]
    for name, revoke in _ISSUED.items():
        _openssl(out, "req", "-new", *_NEW_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}")  # fmt: skip
        _openssl(out, "ca", "-batch", *ca, "-in", f"{name}.csr", "-out", f"{name}.pem")
        if revoke is not None:
            _openssl(out, "ca", *ca, "-revoke", f"{name}.pem", *revoke)
    # A certificate of another issuer, made valid in this database (`openssl ca -valid`).
    _openssl(out, "req", "-x509", *_NEW_KEY, "-keyout", "foreign.key", "-out", "foreign.pem",
             "-subj", "/CN=foreign", "-days", "30", "-set_serial", "0x77")  # fmt: skip
    _openssl(out, "ca", *ca, "-valid", "foreign.pem")
    # One that expired: `openssl ca -updatedb` marks its line E.
    _openssl(out, "req", "-new", *_NEW_KEY, "-keyout", "expired.key", "-out", "expired.csr",
             "-subj", "/CN=expired")  # fmt: skip
    _openssl(out, "ca", "-batch", *ca, "-in", "expired.csr", "-out", "expired.pem",
             "-startdate", "20200101000000Z", "-enddate", "20210101000000Z")  # fmt: skip
    _openssl(out, "ca", *ca, "-updatedb")
    assert "\nE\t" in (out / "index.txt").read_text()
    return out


def _serials(field: Path) -> list[str]:
    """Every serial of the database, and one it does not have."""
    lines = (field / "index.txt").read_text().splitlines()
    return ["0x" + line.split("\t")[3] for line in lines] + [_UNKNOWN]


def _ask(field: Path, url: str, serial: str) -> tuple[str, str | None, str | None, bool]:
    answer = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-serial", serial, "-url", url,
         "-CAfile", "root.pem", "-verify_other", "intermediate.pem"],
        cwd=field,
    )  # fmt: skip
    time = _TIME.search(answer.output)
    status = answer.statuses.get(serial)
    if status is None:
        # An E line: openssl's answer has no SingleResponse for the serial at all.
        status = "no status" if "No Status found" in answer.output else answer.output
    reason = answer.reasons[0] if answer.reasons else None
    return status, reason, time.group(1) if time else None, answer.verified


def _scenario(field: Path, name: str = "case.toml") -> Path:
    path = field / name
    path.write_text(
        'title = "a customer CA database"\n[responder]\nindex = { intermediate = "index.txt" }\n'
    )
    return path


@pytest.fixture(scope="module")
def openssl_url(field: Path) -> Iterator[str]:
    with openssl_ocsp_responder(
        field, index="index.txt", ca="intermediate.pem", rsigner="responder.pem",
        rkey="responder.key",
    ) as url:  # fmt: skip
        yield url


def _lab_config(field: Path) -> ResponderConfig:
    from lab.scenario import load_scenario

    return load_scenario(_scenario(field)).responder


def test_lab_answers_every_serial_as_openssl_does(field: Path, openssl_url: str) -> None:
    lab_pki = build_pki(t0=calendar_t0(dt.datetime.now(dt.UTC)))
    with InProcessServer(create_app(lab_pki, config=_lab_config(field))) as server:
        for serial in _serials(field):
            theirs = _ask(field, openssl_url, serial)
            ours = _ask(field, server.url, serial)
            assert ours == theirs, serial
            # (openssl stops at "No Status found" before it verifies: an E line)
            assert ours[3] or ours[0] == "no status", f"{serial}: the lab's answer did not verify"
    by_serial = dict(
        zip(_serials(field), [_ask(field, openssl_url, s) for s in _serials(field)], strict=True)
    )
    # The oracle itself said what the test means (so agreement is about something).
    assert by_serial["0x5000"][:2] == ("good", None)
    assert by_serial["0x5001"][:2] == ("revoked", "keyCompromise")
    assert by_serial["0x5002"][:2] == ("revoked", "certificateHold")
    assert by_serial["0x5003"][:2] == ("revoked", "certificateHold")
    assert by_serial["0x5004"][:2] == ("revoked", "keyCompromise")
    assert by_serial["0x5006"][:2] == ("revoked", None)
    assert by_serial["0x77"][:2] == ("good", None)
    assert by_serial["0x5007"][:2] == ("no status", None)  # the E line
    assert by_serial[_UNKNOWN][:2] == ("unknown", None)


def test_lab_check_agrees_with_openssl(
    field: Path, openssl_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(field)
    lab_pki = build_pki(t0=calendar_t0(dt.datetime.now(dt.UTC)))
    with InProcessServer(create_app(lab_pki, config=_lab_config(field))) as server:
        for name in _ISSUED:
            cert = x509.load_pem_x509_certificate((field / f"{name}.pem").read_bytes())
            want = _ask(field, openssl_url, f"0x{cert.serial_number:X}")
            for url in (server.url, openssl_url):
                args = ["--issuer", "intermediate.pem", "--url", url, "--trust", "root.pem"]
                main(["check", f"{name}.pem", *args, "--json"])
                evidence = json.loads(capsys.readouterr().out)["checks"][0]["evidence"]
                got = evidence["status"], evidence["reason"]
                assert got == want[:2], (name, url, evidence)
                assert evidence["trusted_by"] == "dtm", (name, url, evidence)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("V\t301231235959Z\t\t0A\tunknown", "expected 6 tab-separated fields, found 5"),
        ("X\t301231235959Z\t\t0A\tunknown\t/CN=x", "status 'X' is not V, R or E"),
        ("V\t301331235959Z\t\t0A\tunknown\t/CN=x", "expiry date '301331235959Z' is not a date"),
        ("V\t300231235959Z\t\t0A\tunknown\t/CN=x", "expiry date '300231235959Z' is not a date"),
        ("V\t301231235959Z\t\t0a\tunknown\t/CN=x", "not upper-case hexadecimal"),
        ("R\t301231235959Z\t\t0A\tunknown\t/CN=x", "status R needs a revocation date"),
        ("R\t301231235959Z\t250101000000Z,oops\t0A\tunknown\t/CN=x", "unknown revocation reason"),
        ("R\t301231235959Z\t250101000000Z,keyTime\t0A\tunknown\t/CN=x", "needs an argument"),
        ("V\t301231235959Z\t\t01\tunknown\t/CN=twice", "serial 1 is on an earlier line too"),
    ],
)
def test_bad_index_line_is_one_line_naming_file_line_and_key(
    tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "index.txt").write_text(f"V\t301231235959Z\t\t01\tunknown\t/CN=a\n{line}\n")
    scenario = _scenario(tmp_path)
    assert main(["explain", str(scenario)]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert "responder.index.intermediate" in error
    assert f"{tmp_path / 'index.txt'}:2: " in error
    assert message in error


def test_index_path_must_exist_and_ca_must_be_a_lab_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "case.toml"
    scenario.write_text('title = "t"\n[responder]\nindex = { intermediate = "nope.txt" }\n')
    assert main(["explain", str(scenario)]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert "responder.index.intermediate" in error and "nope.txt: cannot read" in error
    (tmp_path / "index.txt").write_text("")
    scenario.write_text('title = "t"\n[responder]\nindex = { server = "index.txt" }\n')
    assert main(["explain", str(scenario)]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert "responder.index.server" in error and "the name of a CA certificate" in error


def test_a_bad_line_deep_in_a_big_file_is_found_at_import(tmp_path: Path) -> None:
    """The loader checks the start of a big file; the import, the rest (same one line)."""
    lines = [
        f"V\t301231235959Z\t\t{n:06X}\tunknown\t/CN=device-{n}-{'x' * 900}\n" for n in range(10_050)
    ]
    lines[10_020] = "V\tnever\t\t01\tunknown\t/CN=x\n"
    (tmp_path / "index.txt").write_text("".join(lines))
    from lab.scenario import load_scenario

    config = load_scenario(_scenario(tmp_path)).responder  # the first 10,000 lines are fine
    with pytest.raises(
        PKIError, match=r"index\.txt:10021: expiry date 'never'.*responder\.index\.intermediate"
    ):
        create_app(build_pki(), config=config)
    (tmp_path / "serve").mkdir()
    with pytest.raises(
        PKIError, match=r"index\.txt:10021: expiry date 'never'.*responder\.index\.intermediate"
    ):
        create_app(build_pki(), config=config, state_dir=tmp_path / "serve")


# ---- live state: import, write-back, restart --------------------------------------------------


def _post(url: str, action: str, body: dict[str, str]) -> dict[str, str]:
    import urllib.request

    request = urllib.request.Request(
        f"{url}~admin/{action}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, str] = json.loads(answer.read())
        return result


def test_revoke_by_serial_is_written_back_and_openssl_agrees(field: Path, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    lab_pki = build_pki(t0=calendar_t0(now))
    serve_dir = tmp_path / "serve"
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), serve_dir, now=now,
              keep_index={"intermediate"})  # fmt: skip
    config = _lab_config(field)
    app = create_app(lab_pki, config=config, state_dir=serve_dir)
    exported = serve_dir / "intermediate.index.txt"
    source = (field / "index.txt").read_text()
    assert source in exported.read_text()  # a copy, with the lab's own records after it
    with InProcessServer(app) as server:
        assert _post(server.url, "revoke", {"serial": "5000", "reason": "keyCompromise"}) == {
            "issuer": "intermediate", "serial": "5000", "status": "revoked",
        }  # fmt: skip
        _post(server.url, "release", {"serial": "5002"})  # a hold released: good again
        _post(server.url, "revoke", {"name": "server", "reason": "superseded"})
        with openssl_ocsp_responder(
            serve_dir, index="intermediate.index.txt", ca="intermediate.pem",
            rsigner="responder.pem", rkey="responder.key",
        ) as written:  # fmt: skip
            for serial in ["0x5000", "0x5002", "0x5001", _UNKNOWN]:
                assert _ask(field, written, serial) == _ask(field, server.url, serial), serial
            assert _ask(field, written, "0x5000")[:2] == ("revoked", "keyCompromise")
            assert _ask(field, written, "0x5002")[:2] == ("good", None)
            server_serial = "0x" + format(lab_pki["server"].serial, "X")
            assert _ask(field, written, server_serial)[:2] == ("revoked", "superseded")
    assert source == (field / "index.txt").read_text()  # the customer's file is never written
    assert not (serve_dir / "intermediate.index.txt-journal").exists()
    # Restart on the same files: the imported state is kept, the changes too.
    again = create_app(lab_pki, config=config, state_dir=serve_dir)
    state = lab_responder(again).state
    assert state.store is not None and state.store.kept
    assert state.reader.lookup("intermediate", 0x5000).status.value == "revoked"  # type: ignore[union-attr]
    assert state.reader.lookup("intermediate", 0x5001).reason == "keyCompromise"  # type: ignore[union-attr]


def test_interrupted_write_back_is_replayed_at_start(field: Path, tmp_path: Path) -> None:
    """A crash after the journal was written: the next start makes both writes."""
    now = dt.datetime.now(dt.UTC)
    lab_pki = build_pki(t0=calendar_t0(now))
    serve_dir = tmp_path / "serve"
    serve_dir.mkdir()
    config = _lab_config(field)
    app = create_app(lab_pki, config=config, state_dir=serve_dir)
    index = lab_responder(app).state.index
    assert index is not None
    exported = serve_dir / "intermediate.index.txt"
    text = exported.read_bytes()
    at = text.index(b"\t5001\t")
    start = text.rindex(b"\n", 0, at) + 1
    old = text[start : text.index(b"\n", at) + 1]
    new = old.replace(b",keyCompromise", b",superseded")
    fd = __import__("os").open(exported, __import__("os").O_RDWR)
    try:
        index._apply("intermediate", fd, [_write(start, b"#" + b" " * (len(old) - 2) + b"\n"),
                                          _write(len(text), new)])  # fmt: skip
    finally:
        __import__("os").close(fd)
    exported.write_bytes(text)  # as if the two writes never reached the disk
    again = create_app(lab_pki, config=config, state_dir=serve_dir)
    assert not (serve_dir / "intermediate.index.txt-journal").exists()
    assert exported.read_bytes().endswith(new)
    record = lab_responder(again).state.index.lookup("intermediate", 0x5001)  # type: ignore[union-attr]
    assert record is not None and record.reason == "superseded"


def _write(offset: int, data: bytes) -> object:
    from responder.index_state import _Write

    return _Write(offset, data)


def test_a_lab_record_wins_over_the_line_of_its_serial(tmp_path: Path) -> None:
    lab_pki = build_pki()
    serial = f"{lab_pki['server'].serial:X}"
    (tmp_path / "index.txt").write_text(
        f"R\t301231235959Z\t250101000000Z,keyCompromise\t{serial}\tunknown\t/CN=server\n"
        "R\t301231235959Z\t250101000000Z,superseded\t0A\tunknown\t/CN=other\n"
    )
    config = _lab_config(tmp_path)
    for state_dir in (None, tmp_path / "serve"):
        if state_dir is not None:
            state_dir.mkdir()
        state = lab_responder(create_app(lab_pki, config=config, state_dir=state_dir)).state
        server = state.reader.lookup("intermediate", lab_pki["server"].serial)
        assert server is not None and server.status.value == "good"
        other = state.reader.lookup("intermediate", 0x0A)
        assert other is not None and other.reason == "superseded"
    exported = (tmp_path / "serve" / "intermediate.index.txt").read_text()
    (line,) = [x for x in exported.splitlines() if f"\t{serial}\t" in x]  # one line per serial
    assert not line.startswith("R\t")  # the lab's (good; E by now on the real clock)


def test_serve_answers_the_index_and_writes_changes_back(field: Path, tmp_path: Path) -> None:
    """``ocsp-lab serve`` (gunicorn, 2 workers, live state) beside openssl on the same files."""
    import shutil
    import sys

    from tests.test_serve import _free_port, _wait_listening

    shutil.copy(field / "index.txt", tmp_path / "index.txt")
    scenario = _scenario(tmp_path)
    out, port = tmp_path / "out", _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", str(scenario), "--port", str(port),
         "--out", str(out), "--workers", "2", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        signer = {"ca": "intermediate.pem", "rsigner": "responder.pem", "rkey": "responder.key"}
        with openssl_ocsp_responder(out, index=str(tmp_path / "index.txt"), **signer) as theirs:
            for serial in _serials(field):
                assert _ask(out, url, serial) == _ask(out, theirs, serial), serial
        assert _post(url, "revoke", {"serial": "5000", "reason": "cACompromise"})["status"] == (
            "revoked"
        )
        with openssl_ocsp_responder(out, index="intermediate.index.txt", **signer) as written:
            for serial in ("0x5000", "0x5001", _UNKNOWN):
                assert _ask(out, written, serial) == _ask(out, url, serial), serial
            assert _ask(out, written, "0x5000")[:2] == ("revoked", "cACompromise")
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_a_serial_twice_is_refused_at_import_too(tmp_path: Path) -> None:
    (tmp_path / "index.txt").write_text(
        "V\t301231235959Z\t\t0A\tunknown\t/CN=a\nV\t301231235959Z\t\t000A\tunknown\t/CN=b\n"
    )
    config = ResponderConfig(index={"intermediate": tmp_path / "index.txt"})
    (tmp_path / "serve").mkdir()
    with pytest.raises(PKIError, match=r"index\.txt:2: serial A is on an earlier line too"):
        create_app(build_pki(), config=config, state_dir=tmp_path / "serve")


def test_the_page_changes_an_index_serial_by_its_form(field: Path) -> None:
    from responder.admin_guard import CSRF_COOKIE

    lab_pki = build_pki(t0=calendar_t0(dt.datetime.now(dt.UTC)))
    app = create_app(lab_pki, config=_lab_config(field))
    client = app.test_client()
    page = client.get("/~admin/")
    assert 'action="/~admin/revoke" class="by-serial"' in page.text
    cookie = client.get_cookie(CSRF_COOKIE, path="/~admin")
    assert cookie is not None
    form = {
        "csrf": cookie.value,
        "issuer": "intermediate",
        "serial": "5000",
        "reason": "superseded",
    }
    reply = client.post("/~admin/revoke", data=form, headers={"Origin": "http://localhost"})
    assert reply.status_code == 303
    record = lab_responder(app).state.reader.lookup("intermediate", 0x5000)
    assert record is not None and record.reason == "superseded"
    form = {"csrf": cookie.value, "issuer": "intermediate", "serial": "0x5002"}
    assert (
        client.post(
            "/~admin/release", data=form, headers={"Origin": "http://localhost"}
        ).status_code
        == 303
    )
    assert lab_responder(app).state.reader.lookup("intermediate", 0x5002).status.value == "good"  # type: ignore[union-attr]
    # without an index the page has no such form
    assert "by-serial" not in create_app(lab_pki).test_client().get("/~admin/").text
