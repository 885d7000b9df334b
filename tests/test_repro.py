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

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.chain_check import CheckOptions, check_chain
from lab.cli import main
from lab.policy import Policy
from lab.runner import ScenarioLab, ScenarioResult, run_scenario
from lab.saved import Recorder, SavedCheck, exchanges_of, save
from lab.scenario import load_scenario
from lab.settings import CheckScope, HttpMethod
from pki import EPOCH
from responder.fault_table import FAULT_KEYS
from responder.protocol import NonceForm
from responder.testing import ocsp_request

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


def _pem(path: Path, *certs: object) -> None:
    path.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)  # type: ignore[attr-defined]
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
                timeout=float(client.get("timeout", 5.0)),  # type: ignore[arg-type]
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
            record.allowed,
        )
    return ran


def round_trip(
    capsys: pytest.CaptureFixture[str], args: Sequence[str], out: Path, *more: str
) -> tuple[dict[str, Judged], str]:
    """inspect in both modes, repro, run: the two verdicts must be the same. The file written."""
    inspected = {f"cc-{cc}": _inspect(capsys, [*args, *more], cc) for cc in ("on", "off")}
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
