"""The scenario loader: every mistake names the file, the key path and what was expected.

Fixtures are inline TOML written under ``tmp_path/scenarios``. Error cases are
data: (TOML, key path, a fragment of ``expected``).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from cryptography.x509.ocsp import OCSPResponseStatus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.errors import ScenarioError, UsageError
from lab.evidence import CertStatus, ErrorCode, TrustedBy
from lab.scenario import (
    Connect,
    ConnectionOutcome,
    Expect,
    Hold,
    ModeOutcome,
    Release,
    Revoke,
    Scenario,
    SetFaults,
    Upload,
    UploadOutcome,
    Wait,
    load_scenario,
    load_scenarios,
    scenario_id,
)
from lab.settings import (
    CertIdHash,
    CheckScope,
    ClientSettings,
    Delegation,
    HttpMethod,
    UriSource,
)
from pki.spec import CertSpec, EntrySpec, KeyType, Profile, RecordStatus, SignatureHash
from responder.config import (
    BodyFault,
    CertIdFault,
    CertsIncluded,
    Faults,
    NonceFault,
    NotFound,
    RawNonceFault,
    ResponderConfig,
    ResponderIdKind,
)

TITLE = 'title = "t"\n'

SMALLEST = """\
title = "Delegated responder: the server certificate is revoked"

[database]
server = { status = "revoked", reason = "keyCompromise", since = "-1d" }

[[expect]]
status = "revoked"
trusted_by = "dtm"
connection = "refused"
"""

TIMELINE = """\
title = "Revoked mid-session: the next periodic re-check drops the CTI link"

[client]
revocation_check = "6h"

[[step]]
at = "0"
connect = "server"
expect = { connection = "allowed" }

[[step]]
at = "+1h"
revoke = "server"

[[step]]
at = "+5h59m"
expect = { connection = "allowed" }

[[step]]
at = "+6h"
expect = { connection = "dropped", status = "revoked" }
"""

# A step that opens a connection, for cases about later steps.
CONNECT = '[[step]]\nat = "0"\nconnect = "server"\n'


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / "scenarios" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Scenario:
    return load_scenario(write(tmp_path, text))


def rejected(tmp_path: Path, text: str) -> ScenarioError:
    """The error loading ``text`` raises, after checking it names the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path)
    assert str(path) in str(err)
    assert f"expected {err.expected}" in str(err)
    if err.key:
        assert f"{path}: {err.key}:" in str(err)
    return err


def assert_rejected(tmp_path: Path, text: str, key: str, expected: str) -> ScenarioError:
    err = rejected(tmp_path, text)
    assert (err.key, expected in err.expected) == (key, True), err
    return err


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def test_load_rejects_toml_syntax_error(tmp_path: Path) -> None:
    err = rejected(tmp_path, TITLE + "[client\nocsp = true\n")
    assert err.key == ""
    assert "valid TOML" in err.expected
    # The line and column lead the message, as compilers write them: file:line:column.
    assert (err.line, err.column) == (2, 8)
    assert str(err).startswith(f"{err.file}:2:8: expected valid TOML (")


def test_load_rejects_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'title = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.file, info.value.key) == (str(path), "")
    assert "UTF-8" in info.value.expected


def test_load_reports_missing_file_as_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.toml"):
        load_scenario(tmp_path / "nope.toml")


def test_load_rejects_missing_title(tmp_path: Path) -> None:
    assert_rejected(tmp_path, 'about = "no title"\n', "title", "title")


@pytest.mark.parametrize("title", ['""', '"two\\nlines"', "1", '["t"]'])
def test_load_rejects_bad_title(tmp_path: Path, title: str) -> None:
    assert_rejected(tmp_path, f"title = {title}\n", "title", "one-line string")


# --------------------------------------------------------------------------
# Unknown keys, at every level
# --------------------------------------------------------------------------

UNKNOWN_KEYS = {
    "top": (TITLE + "titel = 'x'\n", "titel", "about"),
    "pki": (TITLE + "[pki]\nkeys = 'rsa-2048'\n", "pki.keys", 'did you mean "key"'),
    "pki.cert": (
        TITLE + "[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\nsans = []\n",
        "pki.cert[0].sans",
        "san",
    ),
    "pki.cert.valid": (
        TITLE + "[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\nvalid = { until = '+1d' }\n",
        "pki.cert[0].valid.until",
        "from, to",
    ),
    "database entry": (
        TITLE + "[database]\nserver = { status = 'revoked', when = '-1d' }\n",
        "database.server.when",
        "since",
    ),
    "responder": (
        TITLE + "[responder]\nsigner_cert = 'responder'\n",
        "responder.signer_cert",
        "signer",
    ),
    "faults": (TITLE + "[responder.faults]\nslow = '5s'\n", "responder.faults.slow", "delay"),
    "client": (TITLE + "[client]\nocps = true\n", "client.ocps", 'did you mean "ocsp"'),
    "expect": (TITLE + "[[expect]]\nstats = 'good'\n", "expect[0].stats", "status"),
    "connection modes": (
        TITLE + "[[expect]]\nconnection = { cc_on = 'refused', cc_of = 'allowed' }\n",
        "expect[0].connection.cc_of",
        "cc_off",
    ),
    "step": (TITLE + "[[step]]\nat = '0'\nconnnect = 'server'\n", "step[0].connnect", "connect"),
    "step expect": (
        TITLE + CONNECT + "expect = { conection = 'allowed' }\n",
        "step[0].expect.conection",
        "connection",
    ),
    "step faults": (
        TITLE + "[[step]]\nat = '0'\nfaults = { dwn = true }\n",
        "step[0].faults.dwn",
        "down",
    ),
}


@pytest.mark.parametrize(("text", "key", "expected"), UNKNOWN_KEYS.values(), ids=UNKNOWN_KEYS)
def test_load_rejects_unknown_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert_rejected(tmp_path, text, key, expected)


def test_load_rejects_unknown_key_listing_allowed_keys(tmp_path: Path) -> None:
    err = rejected(tmp_path, TITLE + "[client]\nverbose = true\n")
    assert err.expected.startswith("one of the keys ocsp, uri, configured_uri, common_criteria")


def test_load_quotes_odd_key_names(tmp_path: Path) -> None:
    assert_rejected(
        tmp_path, TITLE + '[database]\n"my server" = "good"\n', 'database."my server"', "root"
    )


# --------------------------------------------------------------------------
# Wrong types
# --------------------------------------------------------------------------

WRONG_TYPES = {
    "tags not a list": (TITLE + "tags = 'dtm'\n", "tags", "list of words"),
    "tag not a word": (TITLE + "tags = ['two words']\n", "tags[0]", "a word"),
    "about not a string": (TITLE + "about = 1\n", "about", "a string"),
    "pki not a table": (TITLE + "pki = 'rsa'\n", "pki", "[pki]"),
    "pki.cert not an array": (TITLE + "[pki.cert]\nname = 'x'\n", "pki.cert", "[[pki.cert]]"),
    "expect not an array": (TITLE + "[expect]\nstatus = 'good'\n", "expect", "[[expect]]"),
    "step element not a table": (TITLE + "step = [1]\n", "step[0]", "a table"),
    "int for bool": (TITLE + "[client]\nocsp = 1\n", "client.ocsp", "true or false"),
    "string for bool": (TITLE + "[client]\nnonce = 'true'\n", "client.nonce", "true or false"),
    "int for bool in faults": (
        TITLE + "[responder.faults]\ndown = 1\n",
        "responder.faults.down",
        "true or false",
    ),
    "bool for int": (
        TITLE + "[responder.faults]\nhttp_status = true\n",
        "responder.faults.http_status",
        "HTTP status",
    ),
    "int for duration": (TITLE + "[client]\ntimeout = 5\n", "client.timeout", 'like "30s"'),
    "int for offset": (TITLE + "[[step]]\nat = 0\n", "step[0].at", "offset from t0"),
    "float for duration": (TITLE + "[client]\nclock_skew = 1.5\n", "client.clock_skew", "duration"),
    "string for trust list": (
        TITLE + "[client]\ntrust = 'root'\n",
        "client.trust",
        "list of certificate",
    ),
    "table for enum": (TITLE + "[client]\nhash = { sha = 1 }\n", "client.hash", '"sha1", "sha256"'),
    "list for name": (TITLE + "[responder]\nsigner = ['responder']\n", "responder.signer", "root"),
    "bool for connection": (
        TITLE + "[[expect]]\nconnection = true\n",
        "expect[0].connection",
        "cc_on",
    ),
    "string for step expect": (
        TITLE + CONNECT + "expect = 'allowed'\n",
        "step[0].expect",
        "a table",
    ),
    "string for faults": (
        TITLE + "[[step]]\nat = '0'\nfaults = 'down'\n",
        "step[0].faults",
        "{} clears",
    ),
    "date-time for offset": (
        TITLE + "[[step]]\nat = 2025-01-01T00:00:00Z\n",
        "step[0].at",
        "offset",
    ),
}


@pytest.mark.parametrize(("text", "key", "expected"), WRONG_TYPES.values(), ids=WRONG_TYPES)
def test_load_rejects_wrong_type(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert_rejected(tmp_path, text, key, expected)


# --------------------------------------------------------------------------
# Names: every reference to a certificate must name one of the scenario's
# --------------------------------------------------------------------------

UNKNOWN_NAMES = {
    "database key": (TITLE + "[database]\nsrever = 'revoked'\n", "database.srever"),
    "responder.signer": (TITLE + "[responder]\nsigner = 'nobody'\n", "responder.signer"),
    "responder.signers key": (
        TITLE + "[responder.signers]\nnobody = 'responder'\n",
        "responder.signers.nobody",
    ),
    "responder.signers value": (
        TITLE + "[responder.signers]\nintermediate = 'nobody'\n",
        "responder.signers.intermediate",
    ),
    "client.trust": (TITLE + "[client]\ntrust = ['root', 'nobody']\n", "client.trust[1]"),
    "expect.cert": (TITLE + "[[expect]]\ncert = 'nobody'\nstatus = 'good'\n", "expect[0].cert"),
    "step connect": (TITLE + "[[step]]\nat = '0'\nconnect = 'nobody'\n", "step[0].connect"),
    "step upload": (TITLE + "[[step]]\nat = '0'\nupload = 'nobody'\n", "step[0].upload"),
    "step revoke": (TITLE + "[[step]]\nat = '0'\nrevoke = 'nobody'\n", "step[0].revoke"),
    "step hold": (TITLE + "[[step]]\nat = '0'\nhold = 'nobody'\n", "step[0].hold"),
    "step release": (TITLE + "[[step]]\nat = '0'\nrelease = 'nobody'\n", "step[0].release"),
    "step expect.cert": (
        TITLE + CONNECT + "[[step]]\nat = '1h'\nexpect = { cert = 'nobody', status = 'good' }\n",
        "step[1].expect.cert",
    ),
    "pki.cert issuer": (
        TITLE + "[[pki.cert]]\nname = 'x'\nissuer = 'nobody'\n",
        "pki.cert[0].issuer",
    ),
}


@pytest.mark.parametrize(("text", "key"), UNKNOWN_NAMES.values(), ids=UNKNOWN_NAMES)
def test_load_rejects_unknown_certificate_name(tmp_path: Path, text: str, key: str) -> None:
    err = assert_rejected(tmp_path, text, key, "the name of a certificate of this scenario")
    assert err.found == "nobody" or err.found == "srever"
    assert "trusted-responder" in err.expected  # lists the names there are


def test_load_accepts_added_certificate_names_everywhere(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        TITLE + "[[pki.cert]]\nname = 'client'\nissuer = 'intermediate'\n"
        "[database]\nclient = 'revoked'\n[client]\ntrust = ['root', 'client']\n"
        "[[expect]]\ncert = 'client'\nstatus = 'revoked'\n",
    )
    assert scenario.pki.database == {"client": EntrySpec(RecordStatus.REVOKED)}
    assert scenario.client.trust == ("root", "client")
    assert scenario.expects[0].cert == "client"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (TITLE + "[[pki.cert]]\nname = 'x'\nissuer = 'server'\n", "pki.cert[0].issuer"),
        (TITLE + "[responder.signers]\nserver = 'responder'\n", "responder.signers.server"),
    ],
    ids=["issuer", "signers key"],
)
def test_load_rejects_non_ca_where_a_ca_is_needed(tmp_path: Path, text: str, key: str) -> None:
    err = assert_rejected(tmp_path, text, key, 'profile = "ca"')
    assert "intermediate" in err.expected


def test_load_rejects_default_issuer_replaced_by_non_ca(tmp_path: Path) -> None:
    err = assert_rejected(
        tmp_path,
        TITLE + "[[pki.cert]]\nname = 'intermediate'\nissuer = 'root'\nprofile = 'leaf'\n",
        "pki.cert[0].profile",
        "default certificate 'server' is issued by 'intermediate'",
    )
    assert err.found == "leaf"


@pytest.mark.parametrize(
    ("certs", "key"),
    [
        (
            "[[pki.cert]]\nname = 'root'\nprofile = 'ca'\nissuer = 'intermediate'\n",
            "pki.cert[0].issuer",
        ),
        (
            "[[pki.cert]]\nname = 'a'\nprofile = 'ca'\nissuer = 'b'\n"
            "[[pki.cert]]\nname = 'b'\nprofile = 'ca'\nissuer = 'a'\n",
            "pki.cert[0].issuer",
        ),
        ("[[pki.cert]]\nname = 'a'\nprofile = 'ca'\nissuer = 'a'\n", "pki.cert[0].issuer"),
    ],
    ids=["through a default", "two added", "itself"],
)
def test_load_rejects_issuer_cycle(tmp_path: Path, certs: str, key: str) -> None:
    err = assert_rejected(tmp_path, TITLE + certs, key, "ends at a self-signed certificate")
    assert "→" in str(err.found)


def test_load_rejects_duplicate_cert_name(tmp_path: Path) -> None:
    text = TITLE + "[[pki.cert]]\nname = 'x'\n[[pki.cert]]\nname = 'x'\n"
    assert_rejected(tmp_path, text, "pki.cert[1].name", "pki.cert[0] is also 'x'")


@pytest.mark.parametrize("name", ["../etc", "a b", "", "-x", "chain", "x" * 65])
def test_load_rejects_bad_cert_name(tmp_path: Path, name: str) -> None:
    err = rejected(tmp_path, TITLE + f"[[pki.cert]]\nname = {json.dumps(name)}\n")
    assert err.key == "pki.cert[0].name"


def test_load_rejects_cert_without_name(tmp_path: Path) -> None:
    assert_rejected(tmp_path, TITLE + "[[pki.cert]]\nprofile = 'ca'\n", "pki.cert[0].name", "name")


# --------------------------------------------------------------------------
# Vocabulary: reasons, key types, profiles, enums
# --------------------------------------------------------------------------

BAD_VOCABULARY = {
    "database reason": (
        TITLE + "[database]\nserver = { status = 'revoked', reason = 'stolen' }\n",
        "database.server.reason",
        "keyCompromise",
    ),
    "expect reason": (
        TITLE + "[[expect]]\nstatus = 'revoked'\nreason = 'KeyCompromise'\n",
        "expect[0].reason",
        "RFC 5280",
    ),
    "step reason": (
        TITLE + "[[step]]\nat = '0'\nrevoke = 'server'\nreason = 'lost'\n",
        "step[0].reason",
        "cACompromise",
    ),
    "pki key": (TITLE + "[pki]\nkey = 'rsa-512'\n", "pki.key", '"rsa-1024"'),
    "cert key": (
        TITLE + "[[pki.cert]]\nname = 'x'\nkey = 'p256'\n",
        "pki.cert[0].key",
        '"ed25519"',
    ),
    "pki signature_hash": (
        TITLE + "[pki]\nsignature_hash = 'md5'\n",
        "pki.signature_hash",
        '"sha1", "sha256", "sha384", "sha512"',
    ),
    "pki signature_hash spelling": (
        TITLE + "[pki]\nsignature_hash = 'SHA-256'\n",
        "pki.signature_hash",
        '"sha256"',
    ),
    "cert signature_hash": (
        TITLE + "[[pki.cert]]\nname = 'x'\nissuer = 'root'\nsignature_hash = 'sha224'\n",
        "pki.cert[0].signature_hash",
        '"sha1", "sha256", "sha384", "sha512"',
    ),
    "profile": (
        TITLE + "[[pki.cert]]\nname = 'x'\nprofile = 'responder'\n",
        "pki.cert[0].profile",
        '"ocsp-responder"',
    ),
    "status": (TITLE + "[[expect]]\nstatus = 'ok'\n", "expect[0].status", '"good", "revoked"'),
    "error code": (
        TITLE + "[[expect]]\nstatus = 'error'\nerror = 'stale'\n",
        "expect[0].error",
        '"stale-response"',
    ),
    "trusted_by": (
        TITLE + "[[expect]]\ntrusted_by = 'ca'\n",
        "expect[0].trusted_by",
        '"dtm", "trp"',
    ),
    "upload": (
        TITLE + "[[step]]\nat = '0'\nupload = 'server'\nexpect = { upload = 'ok' }\n",
        "step[0].expect.upload",
        '"accepted", "rejected"',
    ),
    "client uri": (TITLE + "[client]\nuri = 'aia'\n", "client.uri", '"certificate", "configured"'),
    "client check": (TITLE + "[client]\ncheck = 'all'\n", "client.check", '"chain", "leaf"'),
    "client hash": (TITLE + "[client]\nhash = 'md5'\n", "client.hash", '"sha1", "sha256"'),
    "client method": (TITLE + "[client]\nmethod = 'put'\n", "client.method", '"post", "get"'),
    "client delegation": (
        TITLE + "[client]\ndelegation = 'root'\n",
        "client.delegation",
        '"issuing-ca", "any-ca"',
    ),
    "responder certs": (TITLE + "[responder]\ncerts = 'all'\n", "responder.certs", '"chain"'),
    "responder responder_id": (
        TITLE + "[responder]\nresponder_id = 'hash'\n",
        "responder.responder_id",
        '"key", "name"',
    ),
    "responder not_found": (
        TITLE + "[responder]\nnot_found = 'error'\n",
        "responder.not_found",
        '"unauthorized"',
    ),
}


@pytest.mark.parametrize(("text", "key", "expected"), BAD_VOCABULARY.values(), ids=BAD_VOCABULARY)
def test_load_rejects_unknown_word(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert_rejected(tmp_path, text, key, expected)


FAULT_VALUES = {
    "status": ("'successful'", '"tryLater"'),
    "answer": ("'error'", '"unknown"'),
    "body": ("'html'", '"truncated"'),
    "nonce": ("'missing'", '"omit", "wrong"'),
    "cert_id": ("'md5'", '"wrong-serial"'),
    "signature": ("'bad'", '"corrupt"'),
    "responder_id": ("'name'", '"wrong"'),
    "http_status": ("99", "100 to 599"),
    "content_type": ('"text/html\\r\\nX: y"', "content type"),
    "delay": ("'-5s'", "never negative"),
    "this_update": ("'1 hour'", "offset"),
    "next_update": ("'soon'", "offset"),
    "critical_extension": ("'yes'", "true or false"),
    "raw_nonce": ("'accept'", '"refuse"'),
}


@pytest.mark.parametrize(("key", "value", "expected"), [(k, *v) for k, v in FAULT_VALUES.items()])
def test_load_rejects_fault_value(tmp_path: Path, key: str, value: str, expected: str) -> None:
    assert_rejected(
        tmp_path,
        TITLE + f"[responder.faults]\n{key} = {value}\n",
        f"responder.faults.{key}",
        expected,
    )
    # The same reader serves a step's faults, with the step's key path.
    assert_rejected(
        tmp_path,
        TITLE + f"[[step]]\nat = '0'\nfaults = {{ {key} = {value} }}\n",
        f"step[0].faults.{key}",
        expected,
    )


def test_load_reads_raw_nonce_extension(tmp_path: Path) -> None:
    # docs/scenario-format-extensions.md: raw_nonce = "refuse", for strict responders
    scenario = load(tmp_path, TITLE + "[responder.faults]\nraw_nonce = 'refuse'\n")
    assert scenario.responder.faults == Faults(raw_nonce=RawNonceFault.REFUSE)
    step = load(tmp_path, TITLE + "[[step]]\nat = '0'\nfaults = { raw_nonce = 'refuse' }\n")
    assert step.steps[0].action == SetFaults(Faults(raw_nonce=RawNonceFault.REFUSE))


@pytest.mark.parametrize("status", ["99", "600", "'500'", "500.0", "true"])
def test_load_rejects_http_status_out_of_range(tmp_path: Path, status: str) -> None:
    text = TITLE + f"[responder.faults]\nhttp_status = {status}\n"
    assert_rejected(tmp_path, text, "responder.faults.http_status", "from 100 to 599")


@pytest.mark.parametrize("status", [100, 500, 599])
def test_load_accepts_http_status_in_range(tmp_path: Path, status: int) -> None:
    scenario = load(tmp_path, TITLE + f"[responder.faults]\nhttp_status = {status}\n")
    assert scenario.responder.faults.http_status == status


# --------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------

BAD_TIMES = {
    "client timeout": (TITLE + "[client]\ntimeout = '5 s'\n", "client.timeout", 'like "30s"'),
    "client timeout zero": (TITLE + "[client]\ntimeout = '0'\n", "client.timeout", "more than 0"),
    "revocation_check zero": (
        TITLE + "[client]\nrevocation_check = '0'\n",
        "client.revocation_check",
        "more than 0",
    ),
    "validity_check unit": (
        TITLE + "[client]\nvalidity_check = '1w'\n",
        "client.validity_check",
        "duration",
    ),
    "clock_offset": (
        TITLE + "[client]\nclock_offset = '5 minutes'\n",
        "client.clock_offset",
        "offset",
    ),
    "database since": (
        TITLE + "[database]\nserver = { status = 'revoked', since = 'yesterday' }\n",
        "database.server.since",
        '"-1d"',
    ),
    "responder next_update": (
        TITLE + "[responder]\nnext_update = '-1d'\n",
        "responder.next_update",
        '"none"',
    ),
    "faults delay": (
        TITLE + "[responder.faults]\ndelay = '1.5s'\n",
        "responder.faults.delay",
        "duration",
    ),
    "step at": (TITLE + "[[step]]\nat = '1h1h'\n", "step[0].at", "offset from t0"),
    "valid from": (
        TITLE + "[[pki.cert]]\nname = 'x'\nvalid = { from = '1 day ago' }\n",
        "pki.cert[0].valid.from",
        "offset",
    ),
    "valid to before from": (
        TITLE + "[[pki.cert]]\nname = 'x'\nvalid = { from = '+1d', to = '-1d' }\n",
        "pki.cert[0].valid.to",
        "after from (+1d)",
    ),
}


@pytest.mark.parametrize(("text", "key", "expected"), BAD_TIMES.values(), ids=BAD_TIMES)
def test_load_rejects_bad_time(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert_rejected(tmp_path, text, key, expected)


def test_load_rejects_step_going_back_in_time(tmp_path: Path) -> None:
    text = TITLE + "[[step]]\nat = '+2h'\n[[step]]\nat = '+1h'\n"
    err = assert_rejected(tmp_path, text, "step[1].at", "at or after the previous step's (+2h)")
    assert err.found == "+1h"


def test_load_rejects_step_before_t0(tmp_path: Path) -> None:
    assert_rejected(tmp_path, TITLE + "[[step]]\nat = '-1h'\n", "step[0].at", "not before t0")


def test_load_rejects_step_without_at(tmp_path: Path) -> None:
    assert_rejected(
        tmp_path, TITLE + "[[step]]\nconnect = 'server'\n", "step[0].at", "offset from t0"
    )


def test_load_accepts_steps_at_the_same_time(tmp_path: Path) -> None:
    scenario = load(tmp_path, TITLE + "[[step]]\nat = '1h'\n[[step]]\nat = '+1h'\n")
    assert [s.at for s in scenario.steps] == [dt.timedelta(hours=1)] * 2


# --------------------------------------------------------------------------
# Steps and expectations
# --------------------------------------------------------------------------


def test_load_rejects_step_with_two_actions(tmp_path: Path) -> None:
    text = TITLE + "[[step]]\nat = '0'\nconnect = 'server'\nrevoke = 'server'\n"
    assert_rejected(tmp_path, text, "step[0].revoke", "at most one action")


@pytest.mark.parametrize("action", ["connect = 'server'", "hold = 'server'", ""])
def test_load_rejects_reason_without_revoke(tmp_path: Path, action: str) -> None:
    text = TITLE + f"[[step]]\nat = '0'\n{action}\nreason = 'keyCompromise'\n"
    assert_rejected(tmp_path, text, "step[0].reason", "revoke")


@pytest.mark.parametrize("status", ["'good'", "'error'", None])
def test_load_rejects_reason_with_non_revoked_status(tmp_path: Path, status: str | None) -> None:
    line = "" if status is None else f"status = {status}\n"
    text = TITLE + f"[[expect]]\n{line}reason = 'keyCompromise'\n"
    assert_rejected(tmp_path, text, "expect[0].reason", 'status = "revoked"')


def test_load_rejects_error_with_non_error_status(tmp_path: Path) -> None:
    text = TITLE + "[[expect]]\nstatus = 'good'\nerror = 'timeout'\n"
    assert_rejected(tmp_path, text, "expect[0].error", 'status = "error"')


@pytest.mark.parametrize(
    "connection",
    ["'dropped'", "{ cc_on = 'dropped', cc_off = 'allowed' }"],
    ids=["single", "cc_on"],
)
def test_load_rejects_dropped_in_top_level_expect(tmp_path: Path, connection: str) -> None:
    text = TITLE + f"[[expect]]\nconnection = {connection}\n"
    err = rejected(tmp_path, text)
    assert err.key in ("expect[0].connection", "expect[0].connection.cc_on")
    assert "only in the expect of a [[step]]" in err.expected


def test_load_rejects_dropped_in_connect_step(tmp_path: Path) -> None:
    text = TITLE + CONNECT + "expect = { connection = 'dropped' }\n"
    assert_rejected(tmp_path, text, "step[0].expect.connection", "just opened")


def test_load_rejects_connection_modes_missing_one(tmp_path: Path) -> None:
    text = TITLE + "[[expect]]\nconnection = { cc_on = 'refused' }\n"
    assert_rejected(tmp_path, text, "expect[0].connection.cc_off", '"allowed", "refused"')


def test_load_rejects_bad_connection_mode_value(tmp_path: Path) -> None:
    text = TITLE + "[[expect]]\nconnection = { cc_on = 'refused', cc_off = 'maybe' }\n"
    assert_rejected(tmp_path, text, "expect[0].connection.cc_off", '"allowed"')


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (TITLE + "[[expect]]\nupload = 'accepted'\n", "expect[0].upload"),
        (TITLE + CONNECT + "expect = { upload = 'accepted' }\n", "step[0].expect.upload"),
        (
            TITLE + "[[step]]\nat = '0'\nrevoke = 'server'\nexpect = { upload = 'rejected' }\n",
            "step[0].expect.upload",
        ),
    ],
    ids=["top level", "connect step", "revoke step"],
)
def test_load_rejects_upload_outside_upload_step(tmp_path: Path, text: str, key: str) -> None:
    assert_rejected(tmp_path, text, key, "upload only in a step with upload")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (TITLE + "[[expect]]\ncert = 'server'\n", "expect[0]"),
        (TITLE + "[[step]]\nat = '0'\nexpect = {}\n", "step[0].expect"),
    ],
    ids=["top level", "step"],
)
def test_load_rejects_expectation_checking_nothing(tmp_path: Path, text: str, key: str) -> None:
    assert_rejected(tmp_path, text, key, "at least one of status")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (TITLE + "[[step]]\nat = '1h'\nexpect = { connection = 'dropped' }\n", "step[0].expect"),
        (
            TITLE
            + CONNECT
            + "[[step]]\nat = '1h'\nexpect = { cert = 'responder', status = 'good' }\n",
            "step[1].expect.cert",
        ),
        (
            TITLE
            + "[[step]]\nat = '1h'\nexpect = { status = 'good' }\n"
            + CONNECT.replace("'0'", "'2h'"),
            "step[0].expect",
        ),
    ],
    ids=["no connect", "other cert", "connect comes later"],
)
def test_load_rejects_expectation_on_no_connection(tmp_path: Path, text: str, key: str) -> None:
    assert_rejected(tmp_path, text, key, 'an earlier step with connect = "')


def test_load_rejects_connect_step_expecting_another_cert(tmp_path: Path) -> None:
    text = TITLE + CONNECT + "expect = { cert = 'responder', connection = 'allowed' }\n"
    assert_rejected(tmp_path, text, "step[0].expect.cert", "connect = 'server'")


# --------------------------------------------------------------------------
# [database]
# --------------------------------------------------------------------------

BAD_ENTRIES = {
    "status word": ("server = 'revoke'", "database.server", '"good", "revoked", "hold", "unknown"'),
    "hold with another reason": (
        "server = { status = 'hold', reason = 'keyCompromise' }",
        "database.server.reason",
        "certificateHold",
    ),
    "good with a reason": (
        "server = { status = 'good', reason = 'keyCompromise' }",
        "database.server.reason",
        'no reason: only status "revoked" or "hold"',
    ),
    "unknown with since": (
        "server = { status = 'unknown', since = '-1d' }",
        "database.server.since",
        "no since",
    ),
    "table without status": (
        "server = { reason = 'keyCompromise' }",
        "database.server.status",
        "status",
    ),
    "not a string or table": ("server = 1", "database.server", "or a table"),
}


@pytest.mark.parametrize(("entry", "key", "expected"), BAD_ENTRIES.values(), ids=BAD_ENTRIES)
def test_load_rejects_bad_database_entry(
    tmp_path: Path, entry: str, key: str, expected: str
) -> None:
    assert_rejected(tmp_path, TITLE + f"[database]\n{entry}\n", key, expected)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("'good'", EntrySpec(RecordStatus.GOOD)),
        ("'unknown'", EntrySpec(RecordStatus.UNKNOWN)),
        ("'revoked'", EntrySpec(RecordStatus.REVOKED)),
        ("'hold'", EntrySpec(RecordStatus.HOLD, "certificateHold")),
        (
            "{ status = 'hold', since = '-2h' }",
            EntrySpec(RecordStatus.HOLD, "certificateHold", -dt.timedelta(hours=2)),
        ),
        (
            "{ status = 'revoked', reason = 'certificateHold' }",
            EntrySpec(RecordStatus.HOLD, "certificateHold"),
        ),
        (
            "{ status = 'revoked', reason = 'superseded', since = '+1h' }",
            EntrySpec(RecordStatus.REVOKED, "superseded", dt.timedelta(hours=1)),
        ),
        ("{ status = 'revoked' }", EntrySpec(RecordStatus.REVOKED)),
    ],
)
def test_load_reads_database_entry(tmp_path: Path, entry: str, expected: EntrySpec) -> None:
    scenario = load(tmp_path, TITLE + f"[database]\nserver = {entry}\n")
    assert scenario.pki.database == {"server": expected}


# --------------------------------------------------------------------------
# Certificate fields
# --------------------------------------------------------------------------

BAD_CERT_FIELDS = {
    "serial zero": ("serial = 0", "serial", "positive integer"),
    "serial negative": ("serial = -5", "serial", "positive integer"),
    "serial bool": ("serial = true", "serial", "positive integer"),
    "serial decimal string": ("serial = '12'", "serial", '"0x1A2B"'),
    "serial bad hex": ("serial = '0xZZ'", "serial", "hex string"),
    "serial hex zero": ("serial = '0x0'", "serial", "positive"),
    "serial too long": (f"serial = '0x{'F' * 40}'", "serial", "159 bits"),
    "eku name case": ("eku = ['serverauth']", "eku[0]", '"serverAuth"'),
    "eku bad oid": ("eku = ['1.3.6.a']", "eku[0]", "dotted OID"),
    "eku oid bad first arc": ("eku = ['3.1']", "eku[0]", "dotted OID"),
    "eku oid second arc": ("eku = ['1.40.1']", "eku[0]", "dotted OID"),
    "eku not a list": ("eku = 'serverAuth'", "eku", "a list of"),
    "san space": ("san = ['bad host']", "san[0]", "DNS name"),
    "san bad ip": ("san = ['999.1.1.1']", "san[0]", "IP address"),
    "san hyphen": ("san = ['-a.example.com']", "san[0]", "DNS name"),
    "san inner wildcard": ("san = ['a.*.example.com']", "san[0]", "DNS name"),
    "san scoped ipv6": ("san = ['fe80::1%eth0']", "san[0]", "IP address"),
    "ocsp_url scheme": ("ocsp_url = 'ftp://ocsp.example.com/'", "ocsp_url", '"lab", "none"'),
    "ocsp_url word": ("ocsp_url = 'lab2'", "ocsp_url", "http://"),
    "ocsp_url no host": ("ocsp_url = 'http:///x'", "ocsp_url", "URL"),
    "ocsp_url bad port": ("ocsp_url = 'http://h:port/'", "ocsp_url", "URL"),
    "nocheck int": ("nocheck = 0", "nocheck", "true or false"),
    "subject empty": ("subject = ''", "subject", "1 to 64"),
    "subject long": (f"subject = '{'x' * 65}'", "subject", "1 to 64"),
}


@pytest.mark.parametrize(("line", "key", "expected"), BAD_CERT_FIELDS.values(), ids=BAD_CERT_FIELDS)
def test_load_rejects_bad_cert_field(tmp_path: Path, line: str, key: str, expected: str) -> None:
    text = TITLE + f"[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\n{line}\n"
    assert_rejected(tmp_path, text, f"pki.cert[0].{key}", expected)


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("serial = '0x1A2B'", "serial", 0x1A2B),
        ("serial = '0xff'", "serial", 255),
        ("serial = 42", "serial", 42),
        ("eku = ['1.3.6.1.5.5.7.3.9', 'OCSPSigning']", "eku", ("1.3.6.1.5.5.7.3.9", "OCSPSigning")),
        ("eku = []", "eku", ()),
        (
            "san = ['*.example.com', '::1', 'localhost', '10.0.0.1']",
            "san",
            ("*.example.com", "::1", "localhost", "10.0.0.1"),
        ),
        ("san = []", "san", ()),
        ("ocsp_url = 'none'", "ocsp_url", "none"),
        ("signature_hash = 'sha1'", "signature_hash", SignatureHash.SHA1),
        ("signature_hash = 'sha384'", "signature_hash", SignatureHash.SHA384),
        (
            "ocsp_url = 'https://ocsp.example.com:8443/ocsp'",
            "ocsp_url",
            "https://ocsp.example.com:8443/ocsp",
        ),
    ],
)
def test_load_reads_cert_field(tmp_path: Path, line: str, field: str, value: object) -> None:
    scenario = load(
        tmp_path, TITLE + f"[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\n{line}\n"
    )
    assert getattr(scenario.pki.cert("x"), field) == value


ED25519_HASHES = {
    "pki key": (
        "[pki]\nkey = 'ed25519'\nsignature_hash = 'sha256'\n",
        "pki.signature_hash",
        'no signature_hash with key = "ed25519"',
    ),
    "issuer by pki key": (
        "[pki]\nkey = 'ed25519'\n"
        "[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\nkey = 'rsa-1024'\n"
        "signature_hash = 'sha1'\n",
        "pki.cert[0].signature_hash",
        "its issuer 'intermediate' has an ed25519 key",
    ),
    "issuer by its own key": (
        "[[pki.cert]]\nname = 'old-ca'\nprofile = 'ca'\nkey = 'ed25519'\n"
        "[[pki.cert]]\nname = 'x'\nissuer = 'old-ca'\nsignature_hash = 'sha1'\n",
        "pki.cert[1].signature_hash",
        "its issuer 'old-ca' has an ed25519 key",
    ),
    "self-signed": (
        "[[pki.cert]]\nname = 'trusted-responder'\nprofile = 'ocsp-responder'\n"
        "key = 'ed25519'\nsignature_hash = 'sha512'\n",
        "pki.cert[0].signature_hash",
        "its issuer 'trusted-responder' has an ed25519 key",
    ),
}


@pytest.mark.parametrize(("text", "key", "expected"), ED25519_HASHES.values(), ids=ED25519_HASHES)
def test_load_rejects_signature_hash_for_an_ed25519_issuer(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    assert_rejected(tmp_path, TITLE + text, key, expected)


def test_load_reads_pki_signature_hash_beside_an_ed25519_certificate(tmp_path: Path) -> None:
    # The [pki] default reaches only issuers that take a hash: an Ed25519
    # certificate of its own is no mistake (docs/scenario-format-extensions.md).
    text = (
        TITLE + "[pki]\nkey = 'rsa-1024'\nsignature_hash = 'sha1'\n"
        "[[pki.cert]]\nname = 'x'\nissuer = 'intermediate'\nkey = 'ed25519'\n"
    )
    scenario = load(tmp_path, text)
    assert scenario.pki.key is KeyType.RSA_1024
    assert scenario.pki.signature_hash is SignatureHash.SHA1
    assert scenario.pki.cert("x").signature_hash is None


def test_load_leaves_signature_hash_to_the_key_by_default(tmp_path: Path) -> None:
    scenario = load(tmp_path, TITLE)
    assert scenario.pki.signature_hash is None
    assert all(c.signature_hash is None for c in scenario.pki.certs)


# --------------------------------------------------------------------------
# [responder] and [client] specifics
# --------------------------------------------------------------------------


def test_load_reads_next_update_none(tmp_path: Path) -> None:
    scenario = load(tmp_path, TITLE + "[responder]\nnext_update = 'none'\n")
    assert scenario.responder.next_update is None


def test_load_rejects_signer_and_signers(tmp_path: Path) -> None:
    text = TITLE + "[responder]\nsigner = 'responder'\nsigners = { intermediate = 'responder' }\n"
    assert_rejected(tmp_path, text, "responder.signers", "not both")


@pytest.mark.parametrize("uri", ["'none'", "'ocsp.example.com'", "1"])
def test_load_rejects_bad_configured_uri(tmp_path: Path, uri: str) -> None:
    assert_rejected(
        tmp_path,
        TITLE + f"[client]\nconfigured_uri = {uri}\n",
        "client.configured_uri",
        '"lab" or an http',
    )


@pytest.mark.parametrize(
    ("line", "modes", "soft_fail_on", "soft_fail_off"),
    [
        ("", (True, False), False, True),
        ("common_criteria = true", (True,), False, True),
        ("common_criteria = false", (False,), False, True),
        ("soft_fail = true", (True, False), True, True),
        ("soft_fail = false", (True, False), False, False),
    ],
)
def test_load_reads_common_criteria_and_soft_fail(
    tmp_path: Path, line: str, modes: tuple[bool, ...], soft_fail_on: bool, soft_fail_off: bool
) -> None:
    client = load(tmp_path, TITLE + f"[client]\n{line}\n").client
    assert client.modes() == modes
    assert (client.effective_soft_fail(True), client.effective_soft_fail(False)) == (
        soft_fail_on,
        soft_fail_off,
    )


@pytest.mark.parametrize(
    ("line", "interval"),
    [
        ("", None),
        ("validity_check = '1d'", dt.timedelta(days=1)),
        ("revocation_check = '12h'\nvalidity_check = '1d'", dt.timedelta(hours=12)),
    ],
)
def test_recheck_interval_prefers_revocation_check(
    tmp_path: Path, line: str, interval: dt.timedelta | None
) -> None:
    assert load(tmp_path, TITLE + f"[client]\n{line}\n").client.recheck_interval == interval


# --------------------------------------------------------------------------
# Whole scenarios
# --------------------------------------------------------------------------


def test_load_reads_smallest_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, SMALLEST, "dtm/revoked.toml")
    scenario = load_scenario(path)
    assert scenario.id == "dtm/revoked"
    assert scenario.path == path
    assert scenario.title == "Delegated responder: the server certificate is revoked"
    assert (scenario.about, scenario.tags, scenario.steps) == (None, (), ())
    assert scenario.pki.database == {
        "server": EntrySpec(RecordStatus.REVOKED, "keyCompromise", dt.timedelta(days=-1))
    }
    assert [c.name for c in scenario.pki.certs] == [
        "root",
        "intermediate",
        "server",
        "responder",
        "root-responder",
        "trusted-responder",
    ]
    assert scenario.responder == ResponderConfig()
    assert scenario.client == ClientSettings()
    assert scenario.expects == (
        Expect(
            status=CertStatus.REVOKED,
            trusted_by=TrustedBy.DTM,
            connection=ModeOutcome.both(ConnectionOutcome.REFUSED),
        ),
    )


def test_load_reads_timeline_example(tmp_path: Path) -> None:
    scenario = load(tmp_path, TIMELINE)
    assert scenario.client.revocation_check == dt.timedelta(hours=6)
    allowed = Expect(connection=ModeOutcome.both(ConnectionOutcome.ALLOWED))
    steps = [(s.at, s.action, s.expect) for s in scenario.steps]
    assert steps == [
        (dt.timedelta(0), Connect("server"), allowed),
        (dt.timedelta(hours=1), Revoke("server"), None),
        (dt.timedelta(hours=5, minutes=59), Wait(), allowed),
        (
            dt.timedelta(hours=6),
            Wait(),
            Expect(
                status=CertStatus.REVOKED, connection=ModeOutcome.both(ConnectionOutcome.DROPPED)
            ),
        ),
    ]


FULL = """\
title = "Every key of the format"
about = '''
A story
in two lines.'''
tags = ["full", "rfc6960", "trp"]

[pki]
key = "ec-p384"
signature_hash = "sha512"

[[pki.cert]]
name = "policy-ca"
issuer = "root"
profile = "ca"
key = "rsa-2048"
valid = { from = "-2d", to = "+1825d" }
ocsp_url = "none"
signature_hash = "sha1"

[[pki.cert]]
name = "field-leaf"
issuer = "policy-ca"
profile = "leaf"
key = "ed25519"
valid = { from = "-1d", to = "+365d" }
eku = ["serverAuth", "1.3.6.1.4.1.311.10.3.4"]
nocheck = false
ocsp_url = "http://ocsp.example.com/"
san = ["www.example.com", "192.0.2.7"]
serial = "0x1A2B"
subject = "www.example.com"

[[pki.cert]]
name = "server"
issuer = "intermediate"

[database]
server = "hold"
field-leaf = { status = "revoked", reason = "keyCompromise", since = "-3h" }
responder = "unknown"

[responder]
signers = { intermediate = "trusted-responder", policy-ca = "policy-ca" }
certs = "chain"
responder_id = "name"
next_update = "12h"
not_found = "unauthorized"

[responder.faults]
down = false
delay = "2s"
http_status = 503
content_type = "text/html"
body = "garbage"
status = "tryLater"
answer = "unknown"
signature = "corrupt"
this_update = "+1h"
next_update = "-1h"
nonce = "wrong"
cert_id = "sha256"
critical_extension = true
responder_id = "wrong"

[client]
ocsp = false
uri = "configured"
configured_uri = "http://127.0.0.1:9999/ocsp"
common_criteria = true
soft_fail = true
trust = ["root", "trusted-responder"]
check = "leaf"
strict_cert_id = true
nonce = false
require_nonce = true
hash = "sha256"
method = "get"
timeout = "500ms"
clock_skew = "0"
clock_offset = "-5m"
delegation = "any-ca"
revocation_check = "12h"
validity_check = "1d"

[[expect]]
cert = "field-leaf"
status = "revoked"
reason = "keyCompromise"
trusted_by = "trp"
connection = { cc_on = "refused", cc_off = "allowed" }

[[expect]]
status = "error"
error = "signer-not-authorized"
trusted_by = "none"

[[step]]
at = "0"
connect = "server"
expect = { status = "revoked", reason = "certificateHold", connection = "refused" }

[[step]]
at = "+1h"
upload = "field-leaf"
expect = { upload = { cc_on = "rejected", cc_off = "accepted" } }

[[step]]
at = "+2h"
revoke = "field-leaf"
reason = "superseded"

[[step]]
at = "+2h"
revoke = "responder"
reason = "certificateHold"

[[step]]
at = "+3h"
hold = "field-leaf"

[[step]]
at = "3h30m"
release = "server"
expect = { connection = { cc_on = "dropped", cc_off = "allowed" }, trusted_by = "dtm" }

[[step]]
at = "+4h"
faults = { nonce = "omit", delay = "1s" }

[[step]]
at = "+5h"
faults = {}

[[step]]
at = "+1d"
"""


def test_load_reads_every_key(tmp_path: Path) -> None:
    scenario = load(tmp_path, FULL)
    assert scenario.title == "Every key of the format"
    assert scenario.about == "A story\nin two lines."
    assert scenario.tags == ("full", "rfc6960", "trp")

    pki = scenario.pki
    assert pki.key is KeyType.EC_P384
    assert pki.signature_hash is SignatureHash.SHA512
    assert pki.cert("policy-ca") == CertSpec(
        name="policy-ca",
        issuer="root",
        profile=Profile.CA,
        key=KeyType.RSA_2048,
        valid_from=dt.timedelta(days=-2),
        valid_to=dt.timedelta(days=1825),
        ocsp_url="none",
        signature_hash=SignatureHash.SHA1,
    )
    assert pki.cert("field-leaf") == CertSpec(
        name="field-leaf",
        issuer="policy-ca",
        profile=Profile.LEAF,
        key=KeyType.ED25519,
        valid_from=dt.timedelta(days=-1),
        valid_to=dt.timedelta(days=365),
        eku=("serverAuth", "1.3.6.1.4.1.311.10.3.4"),
        nocheck=False,
        ocsp_url="http://ocsp.example.com/",
        san=("www.example.com", "192.0.2.7"),
        serial=0x1A2B,
        subject="www.example.com",
    )
    # Replacing a default by name keeps the others and drops the default's fields.
    assert pki.cert("server") == CertSpec("server", issuer="intermediate")
    assert len(pki.certs) == 8
    assert pki.database == {
        "server": EntrySpec(RecordStatus.HOLD, "certificateHold"),
        "field-leaf": EntrySpec(RecordStatus.REVOKED, "keyCompromise", dt.timedelta(hours=-3)),
        "responder": EntrySpec(RecordStatus.UNKNOWN),
    }

    assert scenario.responder == ResponderConfig(
        signer=None,
        signers={"intermediate": "trusted-responder", "policy-ca": "policy-ca"},
        certs=CertsIncluded.CHAIN,
        responder_id=ResponderIdKind.NAME,
        next_update=dt.timedelta(hours=12),
        not_found=NotFound.UNAUTHORIZED,
        faults=Faults(
            down=False,
            delay=dt.timedelta(seconds=2),
            http_status=503,
            content_type="text/html",
            body=BodyFault.GARBAGE,
            status=OCSPResponseStatus.TRY_LATER,
            answer="unknown",
            signature_corrupt=True,
            this_update=dt.timedelta(hours=1),
            next_update=dt.timedelta(hours=-1),
            nonce=NonceFault.WRONG,
            cert_id=CertIdFault.SHA256,
            critical_extension=True,
            responder_id_wrong=True,
        ),
    )

    assert scenario.client == ClientSettings(
        ocsp=False,
        uri=UriSource.CONFIGURED,
        configured_uri="http://127.0.0.1:9999/ocsp",
        common_criteria=True,
        soft_fail=True,
        trust=("root", "trusted-responder"),
        check=CheckScope.LEAF,
        strict_cert_id=True,
        nonce=False,
        require_nonce=True,
        hash=CertIdHash.SHA256,
        method=HttpMethod.GET,
        timeout=dt.timedelta(milliseconds=500),
        clock_skew=dt.timedelta(0),
        clock_offset=dt.timedelta(minutes=-5),
        delegation=Delegation.ANY_CA,
        revocation_check=dt.timedelta(hours=12),
        validity_check=dt.timedelta(days=1),
    )

    assert scenario.expects == (
        Expect(
            cert="field-leaf",
            status=CertStatus.REVOKED,
            reason="keyCompromise",
            trusted_by=TrustedBy.TRP,
            connection=ModeOutcome(ConnectionOutcome.REFUSED, ConnectionOutcome.ALLOWED),
        ),
        Expect(
            status=CertStatus.ERROR,
            error=ErrorCode.SIGNER_NOT_AUTHORIZED,
            trusted_by=TrustedBy.NONE,
        ),
    )
    assert scenario.expects[0].connection is not None
    assert scenario.expects[0].connection.for_mode(cc_on=True) is ConnectionOutcome.REFUSED
    assert scenario.expects[0].connection.for_mode(cc_on=False) is ConnectionOutcome.ALLOWED

    h = dt.timedelta(hours=1)
    assert [(s.at, s.action) for s in scenario.steps] == [
        (0 * h, Connect("server")),
        (1 * h, Upload("field-leaf")),
        (2 * h, Revoke("field-leaf", "superseded")),
        (2 * h, Hold("responder")),  # revoke with certificateHold is a hold
        (3 * h, Hold("field-leaf")),
        (3.5 * h, Release("server")),
        (4 * h, SetFaults(Faults(nonce=NonceFault.OMIT, delay=dt.timedelta(seconds=1)))),
        (5 * h, SetFaults(Faults())),
        (24 * h, Wait()),
    ]
    assert [s.expect for s in scenario.steps][:2] == [
        Expect(
            status=CertStatus.REVOKED,
            reason="certificateHold",
            connection=ModeOutcome.both(ConnectionOutcome.REFUSED),
        ),
        Expect(upload=ModeOutcome(UploadOutcome.REJECTED, UploadOutcome.ACCEPTED)),
    ]
    assert scenario.steps[5].expect == Expect(
        trusted_by=TrustedBy.DTM,
        connection=ModeOutcome(ConnectionOutcome.DROPPED, ConnectionOutcome.ALLOWED),
    )


def test_load_defaults_connect_step_expect_to_connected_cert(tmp_path: Path) -> None:
    text = TITLE + "[[pki.cert]]\nname = 'phone'\nissuer = 'intermediate'\n"
    text += "[[step]]\nat = '0'\nconnect = 'phone'\nexpect = { connection = 'allowed' }\n"
    text += "[[step]]\nat = '1h'\nexpect = { cert = 'phone', connection = 'allowed' }\n"
    scenario = load(tmp_path, text)
    assert [s.expect.cert for s in scenario.steps if s.expect] == ["phone", "phone"]


# --------------------------------------------------------------------------
# Ids and folders
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("scenarios/dtm/revoked.toml", None, "dtm/revoked"),
        ("x/scenarios/a/scenarios/b.toml", None, "b"),
        ("catalog/trp/x.toml", "catalog", "trp/x"),
        ("catalog/trp/x.toml", "elsewhere", "x"),
        ("catalog/trp/x.toml", None, "x"),
        ("scenarios/dtm/revoked.toml", "scenarios/dtm", "dtm/revoked"),
    ],
)
def test_scenario_id_follows_path(
    tmp_path: Path, path: str, root: str | None, expected: str
) -> None:
    assert scenario_id(tmp_path / path, None if root is None else tmp_path / root) == expected


def test_load_scenarios_walks_folders_sorted(tmp_path: Path) -> None:
    for name in ("b/two.toml", "a/one.toml", "a/z/three.toml", "top.toml"):
        write(tmp_path, TITLE, name)
    (tmp_path / "scenarios" / "notes.txt").write_text("not a scenario")
    scenarios = load_scenarios([tmp_path / "scenarios"])
    assert [s.id for s in scenarios] == ["a/one", "a/z/three", "b/two", "top"]


def test_load_scenarios_reads_a_file_once(tmp_path: Path) -> None:
    path = write(tmp_path, TITLE, "a/one.toml")
    scenarios = load_scenarios([path, tmp_path / "scenarios", str(path)])
    assert [s.id for s in scenarios] == ["a/one"]


def test_load_scenarios_ids_relative_to_folder_given(tmp_path: Path) -> None:
    path = tmp_path / "catalog" / "trp" / "x.toml"
    path.parent.mkdir(parents=True)
    path.write_text(TITLE)
    assert [s.id for s in load_scenarios([tmp_path / "catalog"])] == ["trp/x"]


def test_load_scenarios_rejects_duplicate_ids(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        path = tmp_path / folder / "same.toml"
        path.parent.mkdir()
        path.write_text(TITLE)
    with pytest.raises(ScenarioError) as info:
        load_scenarios([tmp_path / "one", tmp_path / "two"])
    assert info.value.file == str(tmp_path / "two" / "same.toml")
    assert "'same' is also" in info.value.expected


def test_load_scenarios_rejects_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such scenario"):
        load_scenarios([tmp_path / "missing"])


def test_load_scenarios_stops_at_first_bad_file(tmp_path: Path) -> None:
    write(tmp_path, TITLE, "a.toml")
    bad = write(tmp_path, TITLE + "[client]\nocsp = 'yes'\n", "b.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenarios([tmp_path / "scenarios"])
    assert (info.value.file, info.value.key) == (str(bad), "client.ocsp")


# --------------------------------------------------------------------------
# Never a traceback
# --------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["0", "+1h", "-1d", "5s", "root", "server", "good", "revoked", "lab", "none"]),
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3))
_PLACES = [
    ("client", key)
    for key in ("ocsp", "uri", "trust", "timeout", "clock_offset", "revocation_check", "hash")
] + [
    ("responder", "signer"),
    ("responder", "next_update"),
    ("responder.faults", "http_status"),
    ("responder.faults", "delay"),
    ("responder.faults", "status"),
    ("database", "server"),
    ("[pki.cert]", "serial"),
    ("[pki.cert]", "san"),
    ("[pki.cert]", "eku"),
    ("[pki.cert]", "valid"),
    ("[expect]", "connection"),
    ("[expect]", "reason"),
    ("[step]", "at"),
    ("[step]", "faults"),
]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(place=st.sampled_from(_PLACES), value=_VALUES)
def test_load_raises_only_scenario_errors(place: tuple[str, str], value: object) -> None:
    table, key = place
    header = f"[{table}]" + ("\nname = 'x'" if table == "[pki.cert]" else "")
    text = f"{TITLE}{header}\n{key} = {_toml(value)}\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.toml"
        path.write_text(text, encoding="utf-8")
        try:
            load_scenario(path)
        except ScenarioError as err:
            assert err.file == str(path)
            prefix = table.strip("[]")
            assert err.key.startswith(prefix) or err.key == "", err
