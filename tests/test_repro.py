"""``ocsp-lab repro``: a capture in, a scenario out — and the round trip is the test.

For every capture here, the verdict ``inspect`` gives on it (``--json``, both
Common Criteria modes) must be the verdict :mod:`lab.runner` gets by running
the scenario ``repro`` wrote: the same status, reason, error code, trust model
and connection decision per mode. The captures come from the lab's own
responder with every fault of the format on (saved by the ``check --save``
recorder), from ``openssl ocsp -index`` responders (``-respout``), and in the
forms the field sends: DER, PEM, base64, an HTTP message, a pcap, a saved
folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dpkt
import pytest

from lab.chain_check import CheckOptions, check_chain
from lab.cli import main
from lab.commands.repro import write_repro
from lab.errors import UsageError
from lab.evidence import CertStatus, Evidence
from lab.policy import Policy
from lab.repro import Repro
from lab.runner import ScenarioLab, ScenarioResult, run_scenario
from lab.saved import Recorder, SavedCheck, exchanges_of, save
from lab.scenario import load_scenario
from lab.settings import CheckScope, HttpMethod
from pki import EPOCH, CertificateDatabase, build_pki, calendar_t0, write_pki
from responder.fault_table import FAULT_KEYS
from responder.protocol import NonceForm
from responder.testing import demo_spec, ocsp_request
from tests.peers import openssl_ocsp_responder
from tests.test_pcap import CLIENT, SERVER, Conversation, _answer, _get, _post

#: One capture per fault of the format (responder/fault_table.py), and each value that
#: changes the verdict another way; ``client`` is how the capturing check asked.
FAULT_CASES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "down": ({"down": True}, {}),
    "delay": ({"delay": "1s"}, {"timeout": 0.3}),
    "http_status": ({"http_status": 500}, {}),
    "http_status-404": ({"http_status": 404}, {}),
    "content_type": ({"content_type": "text/html"}, {}),
    "content_type-plain": ({"content_type": "text/plain"}, {}),
    "body-empty": ({"body": "empty"}, {}),
    "body-garbage": ({"body": "garbage"}, {}),
    "body-truncated": ({"body": "truncated"}, {}),
    "captive-portal": ({"content_type": "text/html", "body": "garbage"}, {}),
    **{
        f"status-{word}": ({"status": word}, {})
        for word in ("malformedRequest", "internalError", "tryLater", "sigRequired", "unauthorized")
    },
    "answer-unknown": ({"answer": "unknown"}, {}),
    "answer-revoked": ({"answer": "revoked"}, {}),
    "answer-good": ({"answer": "good"}, {}),
    "signature": ({"signature": "corrupt"}, {}),
    "this_update": ({"this_update": "+1h"}, {}),
    "this_update-within-skew": ({"this_update": "+4m"}, {}),
    "next_update": ({"next_update": "-1h"}, {}),
    "nonce-omit": ({"nonce": "omit"}, {}),
    "nonce-omit-required": ({"nonce": "omit"}, {"require_nonce": True}),
    "nonce-wrong": ({"nonce": "wrong"}, {}),
    "cert_id-wrong-serial": ({"cert_id": "wrong-serial"}, {}),
    "cert_id-wrong-issuer": ({"cert_id": "wrong-issuer"}, {}),
    "cert_id-sha256": ({"cert_id": "sha256"}, {}),
    "cert_id-sha1": ({"cert_id": "sha1"}, {"hash": "sha256"}),
    "critical_extension": ({"critical_extension": True}, {}),
    "responder_id": ({"responder_id": "wrong"}, {}),
    "raw_nonce": ({"raw_nonce": "refuse"}, {"raw": True}),
}


def test_every_fault_of_the_format_has_a_capture() -> None:
    covered = {key for faults, _ in FAULT_CASES.values() for key in faults}
    assert covered == {row.key for row in FAULT_KEYS}


def _scenario_text(faults: dict[str, object], extra: str = "") -> str:
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in faults.items())
    return (
        'title = "the customer\'s responder"\n'
        f"{extra}\n"
        f"[responder.faults]\n{table}\n\n"
        '[[expect]]\nconnection = "allowed"\n'
    )


def _capture_from_lab(
    directory: Path, faults: dict[str, object], client: dict[str, object], extra: str = ""
) -> Path:
    """The lab's responder with ``faults`` on, asked once; the exchange saved as check --save."""
    path = directory / "customer.toml"
    path.write_text(_scenario_text(faults, extra))
    lab = ScenarioLab(load_scenario(path))
    try:
        server = lab.pki["server"].certificate
        issuer = lab.pki["intermediate"].certificate
        root = lab.pki["root"].certificate
        saved = directory / "saved"
        if client.get("raw"):
            # An older client's request: the nonce raw in extnValue (RFC 6960 4.4.1's loose form).
            request = ocsp_request(
                lab.pki, ["server"], nonce=b"\x5a" * 32, nonce_form=NonceForm.RAW
            )
            recorder = Recorder()
            recorder(lab.url, request, HttpMethod.POST, 5.0)
        else:
            recorder = Recorder()
            options = CheckOptions(
                policy=Policy(common_criteria=True),
                check=CheckScope.LEAF,
                hash_algorithm=str(client.get("hash", "sha1")),
                timeout=float(str(client.get("timeout", 5.0))),
            )
            check_chain([server], options=options, now=EPOCH, trust=[root], issuer=issuer,
                        fetcher=recorder)  # fmt: skip
        exchanges = exchanges_of(recorder.exchanges, [server, issuer, root])
        save(saved, SavedCheck(EPOCH, exchanges, (root,)))
    finally:
        lab.close()
    return saved


@dataclass(frozen=True)
class Judged:
    """What ``inspect --json`` said, in one mode."""

    status: str
    reason: str | None
    error: str | None
    trusted_by: str
    delegated: bool  # signed by a delegated responder, not the CA itself
    allowed: bool


def _inspect(capsys: pytest.CaptureFixture[str], args: Sequence[str], cc: str) -> Judged:
    capsys.readouterr()
    main(["inspect", *args, "--cc", cc, "--json"])
    document = json.loads(capsys.readouterr().out)
    evidence = document["evidence"]
    return Judged(
        evidence["status"],
        evidence["reason"],
        evidence["error"],
        evidence["trusted_by"],
        evidence["delegated_responder"],
        document["verdict"]["decision"] == "allowed",
    )


def _ran(result: ScenarioResult) -> dict[str, Judged]:
    ran = {}
    for mode in result.modes:
        assert mode.error is None, mode.error
        (expectation,) = mode.expectations
        record = expectation.actual.record
        assert record is not None and record.evidence is not None
        evidence = record.evidence
        ran[mode.mode] = Judged(
            evidence.status.value,
            evidence.reason,
            None if evidence.error is None else evidence.error.value,
            evidence.trusted_by.value,
            evidence.delegated_responder,
            record.allowed,
        )
    return ran


def round_trip(
    capsys: pytest.CaptureFixture[str], args: Sequence[str], out: Path, *more: str
) -> tuple[dict[str, Judged], str]:
    """inspect in both modes, repro, run: the two verdicts must be the same. The file written."""
    modes: tuple[str, ...] = ("on", "off")
    if "--cc" in more:  # one mode only
        modes = (more[more.index("--cc") + 1],)
    inspected = {f"cc-{cc}": _inspect(capsys, [*args, *more], cc) for cc in modes}
    capsys.readouterr()
    assert main(["repro", *args, *more, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    text = out.read_text()
    result = run_scenario(load_scenario(out))
    assert result.error is None, result.error
    assert _ran(result) == inspected, text
    assert result.holds, text  # and the [[expect]] it wrote says so
    return inspected, text


@pytest.mark.parametrize("case", sorted(FAULT_CASES))
def test_a_capture_of_each_fault_round_trips(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults, client = FAULT_CASES[case]
    saved = _capture_from_lab(tmp_path, faults, client)
    more = ["--require-nonce"] if client.get("require_nonce") else []
    _, text = round_trip(capsys, [str(saved)], tmp_path / "case.toml", *more)
    written = tomllib.loads(text)
    assert written["tags"][:2] == ["field", "repro"]
    # The fault that made the verdict is written as that fault, where one must be.
    written_faults = written.get("responder", {}).get("faults", {})
    for key, value in faults.items():
        if key in ("answer", "raw_nonce", "delay", "this_update"):
            continue  # written as what it did: a database status, a status, a delay, an offset
        if key == "status" and value == "unauthorized":
            assert written["responder"]["not_found"] == "unauthorized"
            continue
        assert written_faults.get(key) == value, (key, text)


# ---- captures of openssl ocsp -index responders ----------------------------------------------

#: The responders: a name, what signs (rsigner / rkey), and their extra flags.
OPENSSL_RESPONDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "delegated": ("responder", ()),
    "ca": ("intermediate", ()),
    "no-certs": ("responder", ("-resp_no_certs",)),
    "ca-no-certs": ("intermediate", ("-resp_no_certs",)),
    "badsig": ("responder", ("-badsig",)),
    "key-id": ("responder", ("-resp_key_id",)),
    # -ndays 0 (nextUpdate = thisUpdate) is what the issue asks; OpenSSL 3 refuses it
    # ("Non-positive number "0" for option -ndays"), so the shortest it gives is -nmin 1.
    "nmin-1": ("responder", ("-nmin", "1")),
    "ndays-1": ("intermediate", ("-ndays", "1", "-resp_key_id")),
    "trp": ("trusted-responder", ("-ndays", "1")),
    "sha1": ("responder", ("-rmd", "sha1", "-ndays", "1")),
}

#: (capture, responder, what is asked, openssl client flags, extra inspect/repro options)
OPENSSL_CAPTURES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "good": ("delegated", "server", (), ()),
    "good-no-nonce": ("delegated", "server", ("-no_nonce",), ()),
    "revoked": ("delegated", "revoked-leaf", (), ()),
    "hold": ("ca", "held-leaf", ("-no_nonce",), ()),
    "unknown-serial": ("delegated", "0x1234ABCD", (), ()),
    "ca-good": ("ca", "server", (), ()),
    "no-certs-untrusted": ("no-certs", "server", (), ()),
    "no-certs-trusted": ("no-certs", "server", (), ("--trust", "responder.pem")),
    "ca-no-certs": ("ca-no-certs", "revoked-leaf", (), ()),
    "badsig": ("badsig", "server", (), ()),
    "key-id": ("key-id", "server", ("-no_nonce",), ()),
    "nmin-1": ("nmin-1", "server", (), ()),
    "nmin-1-an-hour-later": ("nmin-1", "server", (), ("--later", "1h")),
    "no-next-update-two-days-later": ("delegated", "server", (), ("--later", "2d")),
    "no-issuer": ("ndays-1", "server", (), ("--trust", "intermediate.pem", "--no-issuer")),
    "trp": ("trp", "server", (), ("--trust", "trusted-responder.pem")),
    "trp-untrusted": ("trp", "revoked-leaf", (), ()),
    "ndays-1-cc-off": ("ndays-1", "revoked-leaf", (), ("--cc", "off")),
    "sha256-certid": ("ca", "server", ("-sha256",), ()),
    "sha1-signature": ("sha1", "revoked-leaf", (), ()),
    "judged-after-expiry": ("delegated", "server", (), ("--later", "400d")),
}


@pytest.fixture(scope="module")
def openssl_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo PKI on the real clock (openssl ocsp judges against now), written with its index."""
    directory = tmp_path_factory.mktemp("openssl-ca")
    pki = build_pki(demo_spec(), t0=calendar_t0(dt.datetime.now(dt.UTC)))
    write_pki(pki, CertificateDatabase.from_pki(pki), directory)
    return directory


@pytest.fixture(scope="module")
def openssl_captures(openssl_pki: Path) -> dict[str, tuple[Path, dt.datetime]]:
    """Every capture of :data:`OPENSSL_CAPTURES`: its folder, and when it was taken."""
    captures: dict[str, tuple[Path, dt.datetime]] = {}
    for responder, (signer, flags) in OPENSSL_RESPONDERS.items():
        wanted = {k: v for k, v in OPENSSL_CAPTURES.items() if v[0] == responder}
        if not wanted:
            continue
        with openssl_ocsp_responder(
            openssl_pki, index="intermediate.index.txt", ca="intermediate.pem",
            rsigner=f"{signer}.pem", rkey=f"{signer}.key", extra=flags,
        ) as url:  # fmt: skip
            for name, (_, asked, client, _) in wanted.items():
                folder = openssl_pki / name
                folder.mkdir()
                what = ["-serial", asked] if asked.startswith("0x") else ["-cert", f"{asked}.pem"]
                proc = subprocess.run(
                    ["openssl", "ocsp", *client, "-issuer", "intermediate.pem", *what,
                     "-url", url, "-reqout", f"{name}/req.der", "-respout", f"{name}/resp.der",
                     "-noverify"],
                    cwd=openssl_pki, capture_output=True, text=True, timeout=20,
                )  # fmt: skip
                assert (folder / "resp.der").exists(), proc.stdout + proc.stderr
                captures[name] = (folder, dt.datetime.now(dt.UTC))
    return captures


def _at(when: dt.datetime) -> str:
    return (when + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _openssl_args(
    openssl_pki: Path, name: str, folder: Path, taken: dt.datetime
) -> tuple[list[str], list[str]]:
    """The capture's files for inspect / repro, and the judging switches."""
    _, asked, _, extra = OPENSSL_CAPTURES[name]
    options = list(extra)
    later = dt.timedelta(0)
    if "--later" in options:
        index = options.index("--later")
        later = {
            "1h": dt.timedelta(hours=1),
            "2d": dt.timedelta(days=2),
            "400d": dt.timedelta(days=400),
        }[options[index + 1]]
        del options[index : index + 2]
    args = [str(folder / "resp.der"), "--request", str(folder / "req.der")]
    if "--no-issuer" in options:
        options.remove("--no-issuer")
    else:
        args += ["--issuer", str(openssl_pki / "intermediate.pem")]
    if not asked.startswith("0x"):
        args += ["--cert", str(openssl_pki / f"{asked}.pem")]
    if "--trust" in options:
        index = options.index("--trust")
        args += ["--trust", str(openssl_pki / options[index + 1])]
        del options[index : index + 2]
    args += ["--at", _at(taken + later)]
    return args, options


#: What each openssl capture must come to, as inspect judged it (status, error, trusted_by).
OPENSSL_EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "good": ("good", None, "dtm"),
    "good-no-nonce": ("good", None, "dtm"),
    "revoked": ("revoked", None, "dtm"),
    "hold": ("revoked", None, "dtm"),
    "unknown-serial": ("unknown", None, "dtm"),
    "ca-good": ("good", None, "dtm"),
    "no-certs-untrusted": ("error", "signer-not-authorized", "none"),
    "no-certs-trusted": ("good", None, "dtm"),
    "ca-no-certs": ("revoked", None, "dtm"),
    "badsig": ("error", "bad-signature", "none"),
    "key-id": ("good", None, "dtm"),
    "nmin-1": ("good", None, "dtm"),
    "nmin-1-an-hour-later": ("error", "stale-response", "dtm"),
    "no-next-update-two-days-later": ("error", "stale-response", "dtm"),
    "no-issuer": ("error", "signer-not-authorized", "none"),
    "trp": ("good", None, "trp"),
    "trp-untrusted": ("error", "signer-not-authorized", "none"),
    "ndays-1-cc-off": ("revoked", None, "dtm"),
    "sha256-certid": ("good", None, "dtm"),
    "sha1-signature": ("revoked", None, "dtm"),
    # A year on, the responder's certificate has expired too: nobody is authorised.
    "judged-after-expiry": ("error", "signer-not-authorized", "none"),
}


@pytest.mark.parametrize("name", sorted(OPENSSL_CAPTURES))
def test_an_openssl_index_capture_round_trips(
    name: str,
    openssl_pki: Path,
    openssl_captures: dict[str, tuple[Path, dt.datetime]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, taken = openssl_captures[name]
    args, options = _openssl_args(openssl_pki, name, folder, taken)
    inspected, text = round_trip(capsys, args, folder / "case.toml", *options)
    (judged, *_) = inspected.values()
    assert (judged.status, judged.error, judged.trusted_by) == OPENSSL_EXPECTED[name], text
    # The answers' signature hash as openssl signed (-rmd): what [responder] signature_hash says.
    hashed = "sha1" if name == "sha1-signature" else "sha256"
    written = tomllib.loads(text)
    assert written["responder"]["signature_hash"] == hashed, text
    if name == "judged-after-expiry":  # the certificate's own window, as offsets from t0
        (cert,) = written["pki"]["cert"]
        assert cert["name"] == "server" and cert["valid"]["to"].startswith("-"), text
        assert (
            "connection" in written["expect"][0] and written["expect"][0]["connection"] == "refused"
        )


# ---- the forms a capture comes in -----------------------------------------------------------


def _http(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def forms(
    openssl_pki: Path, openssl_captures: dict[str, tuple[Path, dt.datetime]]
) -> tuple[Path, dt.datetime]:
    """One openssl capture (revoked, with a nonce) in every form, and a pcap of four exchanges."""
    source, taken = openssl_captures["revoked"]
    good, _ = openssl_captures["good-no-nonce"]
    directory = openssl_pki / "forms"
    directory.mkdir()
    response = (source / "resp.der").read_bytes()
    request = (source / "req.der").read_bytes()
    (directory / "resp.der").write_bytes(response)
    (directory / "req.der").write_bytes(request)
    (directory / "resp.pem").write_text(
        "-----BEGIN OCSP RESPONSE-----\n"
        + base64.encodebytes(response).decode()
        + "-----END OCSP RESPONSE-----\n"
    )
    (directory / "resp.b64").write_text(base64.b64encode(response).decode() + "\n")
    (directory / "http-200.txt").write_bytes(
        _http("HTTP/1.1 200 OK\nContent-Type: application/ocsp-response", response)
    )
    (directory / "http-200-wrong-type.txt").write_bytes(
        _http("HTTP/1.1 200 OK\nContent-Type: application/octet-stream", response)
    )
    (directory / "http-500.txt").write_bytes(
        _http(
            "HTTP/1.1 500 Internal Server Error\nContent-Type: text/html",
            b"<html><body>Internal Server Error</body></html>",
        )
    )
    (directory / "http-200-html.txt").write_bytes(
        _http("HTTP/1.1 200 OK\nContent-Type: text/html", b"<html><body>log in</body></html>")
    )
    at = taken.timestamp()
    talk = Conversation()
    talk.open(at - 5, CLIENT, SERVER)
    talk.send(at - 4, CLIENT, SERVER, _post(request))
    talk.send(at - 3, SERVER, CLIENT, _answer(response), parts=3, reorder=True)
    talk.send(at - 2, CLIENT, SERVER, _get((good / "req.der").read_bytes()))
    talk.send(at - 1, SERVER, CLIENT, _answer((good / "resp.der").read_bytes()))
    proxy = (CLIENT[0], 50010)
    talk.open(at - 0.9, proxy, SERVER)
    talk.send(at - 0.8, proxy, SERVER, _post(request))
    talk.send(
        at - 0.7, SERVER, proxy, _answer(b"<html>down</html>", "503 Unavailable", "text/html")
    )
    unanswered = (CLIENT[0], 50011)
    talk.open(at - 0.5, unanswered, SERVER)
    talk.send(at - 0.4, unanswered, SERVER, _post(request))
    frames = sorted(talk.frames, key=lambda f: f[0])
    for suffix, writer in (("pcap", dpkt.pcap.Writer), ("pcapng", dpkt.pcapng.Writer)):
        out = io.BytesIO()
        w = writer(out)
        for when, frame in frames:
            w.writepkt(frame, ts=when)
        (directory / f"capture.{suffix}").write_bytes(out.getvalue())
    return directory, taken


#: form -> (file, --exchange, status, error) of what inspect found.
FORMS: dict[str, tuple[str, int | None, str, str | None]] = {
    "der": ("resp.der", None, "revoked", None),
    "pem": ("resp.pem", None, "revoked", None),
    "base64": ("resp.b64", None, "revoked", None),
    "http-200": ("http-200.txt", None, "revoked", None),
    "http-200-wrong-type": ("http-200-wrong-type.txt", None, "revoked", None),
    "http-500": ("http-500.txt", None, "error", "http-status"),
    "http-200-html": ("http-200-html.txt", None, "error", "malformed-response"),
    "pcap-post": ("capture.pcap", 1, "revoked", None),
    "pcap-get": ("capture.pcap", 2, "good", None),
    "pcap-503": ("capture.pcap", 3, "error", "http-status"),
    "pcap-unanswered": ("capture.pcap", 4, "error", "unreachable"),
    "pcapng-post": ("capture.pcapng", 1, "revoked", None),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_of_capture_round_trips(
    form: str,
    openssl_pki: Path,
    forms: tuple[Path, dt.datetime],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    directory, taken = forms
    name, exchange, status, error = FORMS[form]
    args = [str(directory / name), "--issuer", str(openssl_pki / "intermediate.pem")]
    if exchange is None:
        args += ["--request", str(directory / "req.der"), "--at", _at(taken)]
    else:
        args += ["--exchange", str(exchange)]  # judged as of when it was answered
    inspected, text = round_trip(capsys, args, tmp_path / "case.toml")
    assert (inspected["cc-on"].status, inspected["cc-on"].error) == (status, error), text
    written = tomllib.loads(text)
    faults = written.get("responder", {}).get("faults", {})
    if form == "http-500":
        assert faults == {"http_status": 500}
    if form == "http-200-html":
        assert faults == {"content_type": "text/html", "body": "garbage"}
    if form == "http-200-wrong-type":
        assert faults["content_type"] == "application/octet-stream"
    if form == "pcap-unanswered":
        assert faults == {"down": True}


# ---- the command line -----------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
FIELD = "scenarios/field/openssl-resp-no-certs.toml"
#: How the catalog's example was made, from the capture kept under tests/data/repro/.
FIELD_COMMAND = [
    "repro", "tests/data/repro/openssl-resp-no-certs.der",
    "--request", "tests/data/repro/openssl-resp-no-certs.req.der",
    "--issuer", "tests/data/repro/intermediate.pem", "--cert", "tests/data/repro/server.pem",
    "--at", "2026-12-01T12:50:25Z",
    "--title", "openssl ocsp -resp_no_certs: the delegated responder's certificate is not in "
    "the answer",
]  # fmt: skip


def test_the_catalog_example_is_what_repro_writes_from_its_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "again.toml"
    assert main([*FIELD_COMMAND, "--out", str(out)]) == 0
    assert out.read_text() == (REPO / FIELD).read_text()
    printed = capsys.readouterr().out
    assert "reproduces status error, error signer-not-authorized, trusted_by none" in printed
    assert "verdict refused (row 'error', Common Criteria ON" in printed
    assert "verdict allowed, flagged soft-fail (row 'error', Common Criteria OFF" in printed
    result = run_scenario(load_scenario(REPO / FIELD))
    assert result.holds and [m.mode for m in result.modes] == ["cc-on", "cc-off"]


def test_cc_names_one_mode_and_the_switches_become_client_settings(
    openssl_pki: Path,
    openssl_captures: dict[str, tuple[Path, dt.datetime]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, taken = openssl_captures["good"]
    args, _ = _openssl_args(openssl_pki, "good", folder, taken)
    out = tmp_path / "case.toml"
    switches = ["--cc", "on", "--soft-fail", "--clock-skew", "90s", "--require-nonce"]
    assert main(["repro", *args, *switches, "--out", str(out)]) == 0
    written = tomllib.loads(out.read_text())
    assert written["client"] | {"hash": None} == {
        "hash": None, "check": "leaf", "common_criteria": True, "soft_fail": True,
        "clock_skew": "1m30s", "require_nonce": True,
    }  # fmt: skip
    assert written["expect"] == [{"status": "good", "trusted_by": "dtm", "connection": "allowed"}]
    printed = capsys.readouterr().out
    assert "Common Criteria OFF" not in printed and f"wrote {out}" in printed
    assert run_scenario(load_scenario(out)).holds


def _error(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocsp-lab: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(
    openssl_pki: Path,
    openssl_captures: dict[str, tuple[Path, dt.datetime]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, _ = openssl_captures["good"]
    out = tmp_path / "case.toml"
    missing = tmp_path / "nothing.der"
    assert f"{missing}: cannot read" in _error(capsys, ["repro", str(missing), "--out", str(out)])
    # A request where the response should be: said what it is, as inspect says it.
    line = _error(capsys, ["repro", str(folder / "req.der"), "--out", str(out)])
    assert "an OCSP request" in line and "expected an OCSP response" in line
    line = _error(
        capsys, ["repro", str(folder / "resp.der"), "--issuer", str(folder / "req.der"),
                 "--out", str(out)],
    )  # fmt: skip
    assert "req.der" in line
    out.write_text("mine\n")
    line = _error(capsys, ["repro", str(folder / "resp.der"), "--out", str(out)])
    assert line.endswith(f"{out}: exists already (--force replaces it)")
    assert out.read_text() == "mine\n"  # untouched
    nowhere = tmp_path / "no-such-folder" / "case.toml"
    assert "cannot write" in _error(
        capsys, ["repro", str(folder / "resp.der"), "--out", str(nowhere)]
    )
    line = _error(capsys, ["repro", str(folder / "resp.der"), "--title", " ", "--out", str(out)])
    assert "--title" in line
    assert main(["repro", str(folder / "resp.der"), "--force", "--out", str(out)]) == 0
    assert tomllib.loads(out.read_text())["tags"][:2] == ["field", "repro"]
    assert list(tmp_path.glob(".repro-*")) == []  # no temporary file left behind


def test_repro_writes_nothing_its_run_does_not_reproduce(tmp_path: Path) -> None:
    """The last guard: a scenario whose run disagrees with the verdict is refused, not written."""
    text = 'title = "says revoked"\n\n[[expect]]\nstatus = "revoked"\nconnection = "refused"\n'
    repro = Repro(text, "says revoked", (), Evidence(status=CertStatus.REVOKED))
    out = tmp_path / "case.toml"
    with pytest.raises(UsageError, match=r"not written, the lab cannot reproduce") as raised:
        write_repro(repro, out)
    assert "status: expected revoked, got good" in str(raised.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    write_repro(repro, out, check=False)  # the loader alone accepts it
    assert out.read_text() == text


def test_a_finding_no_fault_can_say_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _capture_from_lab(tmp_path, {"http_status": 500}, {})
    index = json.loads((saved / "exchanges.json").read_text())
    (entry,) = index["exchanges"]
    del entry["files"]["response"]  # no answer kept: the body went over fetch's size cap
    entry |= {"error": "malformed-response", "message": "response body larger than 1 bytes"}
    (saved / "exchanges.json").write_text(json.dumps(index))
    line = _error(capsys, ["repro", str(saved), "--out", str(tmp_path / "case.toml")])
    assert "malformed-response without an answer (response body larger than 1 bytes)" in line
    assert "no fault of the scenario format reproduces it" in line
    assert not (tmp_path / "case.toml").exists()
