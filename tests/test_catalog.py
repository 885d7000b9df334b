"""The scenario catalog: every file loads, ids are unique, the index is current,
together the files use every key and value of the format (SCENARIOS.md), and
every expectation of every scenario holds in each Common Criteria mode it runs in
(the catalog is a gate: one test per scenario id)."""

from __future__ import annotations

import threading
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Set
from pathlib import Path
from typing import Any

import pytest

from lab.catalog_index import CATALOG, INDEX, main, render_index
from lab.runner import ScenarioLab, ScenarioResult, mode_name, run_scenario
from lab.scenario import Scenario, load_scenario, load_scenarios

FILES = sorted(CATALOG.rglob("*.toml"))
IDS = [f.relative_to(CATALOG).with_suffix("").as_posix() for f in FILES]
#: Loaded once at collection: a file that does not load fails test_scenario_loads_… by name.
SCENARIOS = load_scenarios([CATALOG])

# ---- SCENARIOS.md, written out: every key, and every value with a closed list ----------

TOP_KEYS = {
    "title", "about", "tags", "pki", "database", "responder", "client", "tls", "expect", "step",
}  # fmt: skip
TLS_KEYS = {"staple"}
KEY_TYPES = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "ed25519", "rsa-1024"}
PKI_KEYS = {"key", "signature_hash", "cert"}
SIGNATURE_HASHES = {"sha1", "sha256", "sha384", "sha512"}
CERT_KEYS = {
    "name",
    "issuer",
    "profile",
    "key",
    "valid",
    "eku",
    "nocheck",
    "ocsp_url",
    "san",
    "serial",
    "subject",
    "signature_hash",
    "must_staple",
    "cert_file",
    "key_file",
}
PROFILES = {"ca", "leaf", "ocsp-responder"}
DB_STATUSES = {"good", "revoked", "hold", "unknown"}
DB_ENTRY_KEYS = {"status", "reason", "since"}
REASONS = {
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
}
RESPONDER_KEYS = {
    "signer",
    "signers",
    "certs",
    "responder_id",
    "next_update",
    "not_found",
    "faults",
}
RESPONDER_VALUES = {
    "certs": {"none", "signer", "chain"},
    "responder_id": {"key", "name"},
    "not_found": {"unknown", "good", "revoked", "unauthorized"},
}
FAULT_KEYS = {
    "down",
    "delay",
    "http_status",
    "content_type",
    "body",
    "status",
    "answer",
    "signature",
    "this_update",
    "next_update",
    "nonce",
    "cert_id",
    "critical_extension",
    "responder_id",
}
FAULT_VALUES: dict[str, set[object]] = {
    "down": {True},
    "body": {"empty", "garbage", "truncated"},
    "status": {"malformedRequest", "internalError", "tryLater", "sigRequired", "unauthorized"},
    "answer": {"good", "revoked", "unknown"},
    "signature": {"corrupt"},
    "nonce": {"omit", "wrong"},
    "cert_id": {"wrong-serial", "wrong-issuer", "sha256", "sha1"},
    "critical_extension": {True},
    "responder_id": {"wrong"},
}
CLIENT_KEYS = {
    "ocsp",
    "uri",
    "configured_uri",
    "common_criteria",
    "soft_fail",
    "trust",
    "check",
    "strict_cert_id",
    "nonce",
    "require_nonce",
    "hash",
    "method",
    "timeout",
    "clock_skew",
    "clock_offset",
    "delegation",
    "revocation_check",
    "validity_check",
    "stapling",
}
BOTH: set[object] = {True, False}
CLIENT_VALUES: dict[str, set[object]] = {
    "ocsp": BOTH,
    "uri": {"certificate", "configured"},
    "common_criteria": BOTH,
    "soft_fail": BOTH,
    "check": {"chain", "leaf"},
    "strict_cert_id": BOTH,
    "nonce": BOTH,
    "require_nonce": BOTH,
    "hash": {"sha1", "sha256"},
    "method": {"post", "get"},
    "delegation": {"issuing-ca", "any-ca"},
    "stapling": {"ignore", "use", "require"},
}
EXPECT_KEYS = {"cert", "status", "reason", "error", "trusted_by", "connection"}
STATUSES = {"good", "revoked", "unknown", "error"}
ERRORS = {
    "no-ocsp-uri",
    "unreachable",
    "timeout",
    "http-status",
    "malformed-response",
    "malformed-request",
    "internal-error",
    "try-later",
    "sig-required",
    "unauthorized",
    "no-matching-response",
    "bad-signature",
    "signer-not-authorized",
    "stale-response",
    "future-response",
    "nonce-mismatch",
    "nonce-missing",
    "critical-extension",
    "staple-missing",
}
TRUSTED_BY = {"dtm", "trp", "none"}
CONNECTIONS = {"allowed", "refused", "cc-split"}
STEP_CONNECTIONS = {"allowed", "dropped"}
STEP_KEYS = {"at", "connect", "upload", "revoke", "reason", "hold", "release", "faults", "expect"}
STEP_ACTIONS = {"connect", "upload", "revoke", "hold", "release", "faults", "none"}
UPLOADS = {"accepted", "rejected", "cc-split"}


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


class Usage:
    """Every key path used in the catalog, with the values seen there."""

    def __init__(self) -> None:
        self.values: defaultdict[str, set[object]] = defaultdict(set)

    def add(self, path: str, value: object) -> None:
        if isinstance(value, (str, bool, int)):
            self.values[path].add(value)
        else:
            self.values.setdefault(path, set())

    def keys(self, prefix: str) -> set[str]:
        return {p[len(prefix) :] for p in self.values if p.startswith(prefix) and p != prefix}

    def outcome(self, path: str, value: object) -> None:
        """A connection / upload outcome: a word, or a table per mode ("cc-split")."""
        if isinstance(value, dict):
            self.add(path, "cc-split")
            for mode in ("cc_on", "cc_off"):
                self.add(f"{path}.{mode}", value[mode])
        else:
            self.add(path, value)

    def faults(self, path: str, faults: dict[str, object]) -> None:
        if not faults:
            self.add(f"{path}.{{}}", True)
        for key, value in faults.items():
            self.add(f"{path}.{key}", value)

    def expect(self, path: str, expect: dict[str, object]) -> None:
        for key, value in expect.items():
            if key in ("connection", "upload"):
                self.outcome(f"{path}.{key}", value)
            else:
                self.add(f"{path}.{key}", value)


def _walk(usage: Usage, data: dict[str, object]) -> None:
    for key, value in data.items():
        usage.add(key, value)
    pki = data.get("pki", {})
    assert isinstance(pki, dict)
    for key, value in pki.items():
        if key != "cert":
            usage.add(f"pki.{key}", value)
    for cert in pki.get("cert", []):
        for key, value in cert.items():
            usage.add(f"pki.cert.{key}", value)
            if key == "valid":
                for bound in value:
                    usage.add(f"pki.cert.valid.{bound}", value[bound])
    database = data.get("database", {})
    assert isinstance(database, dict)
    for entry in database.values():
        if isinstance(entry, dict):
            for key, value in entry.items():
                usage.add(f"database.{key}", value)
        else:
            usage.add("database.status", entry)
    responder = data.get("responder", {})
    assert isinstance(responder, dict)
    for key, value in responder.items():
        if key == "faults":
            usage.faults("responder.faults", value)
        else:
            usage.add(f"responder.{key}", value)
    client = data.get("client", {})
    assert isinstance(client, dict)
    for key, value in client.items():
        usage.add(f"client.{key}", value)
    tls = data.get("tls", {})
    assert isinstance(tls, dict)
    for key, value in tls.items():
        usage.add(f"tls.{key}", value)
    expects = data.get("expect", [])
    assert isinstance(expects, list)
    for expect in expects:
        usage.expect("expect", expect)
    steps = data.get("step", [])
    assert isinstance(steps, list)
    for step in steps:
        actions = [k for k in step if k in STEP_ACTIONS]
        usage.add("step.action", actions[0] if actions else "none")
        for key, value in step.items():
            if key == "faults":
                usage.faults("step.faults", value)
            elif key == "expect":
                usage.expect("step.expect", value)
            else:
                usage.add(f"step.{key}", value)


@pytest.fixture(scope="module")
def usage() -> Usage:
    found = Usage()
    for file in FILES:
        with file.open("rb") as stream:
            _walk(found, tomllib.load(stream))
    return found


@pytest.fixture(scope="module")
def catalog() -> list[Scenario]:
    return load_scenarios([CATALOG])


# ---- the files --------------------------------------------------------------------------


def test_catalog_size() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_scenario_loads_with_about_and_tags(file: Path) -> None:
    scenario = load_scenario(file)
    assert scenario.about and scenario.about.strip(), f"{scenario.id}: no about"
    assert "What to notice" in scenario.about, f"{scenario.id}: about tells no lesson"
    assert scenario.tags, f"{scenario.id}: no tags"
    assert scenario.expects or scenario.steps, f"{scenario.id}: expects nothing"
    assert "/" in scenario.id, f"{scenario.id}: not in a topic folder"


def test_ids_unique(catalog: list[Scenario]) -> None:
    ids = [s.id for s in catalog]
    assert len(ids) == len(set(ids)) == len(FILES)


def test_index_is_current(catalog: list[Scenario]) -> None:
    assert INDEX.read_text(encoding="utf-8") == render_index(catalog), (
        "scenarios/README.md is out of date: run python -m lab.catalog_index"
    )


def test_index_check_command() -> None:
    assert main(["--check"]) == 0


def test_index_check_detects_drift(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios" / "basics"
    folder.mkdir(parents=True)
    (folder / "good.toml").write_bytes((CATALOG / "basics" / "good.toml").read_bytes())
    assert main(["--check", "--catalog", str(tmp_path / "scenarios")]) == 1
    assert main(["--catalog", str(tmp_path / "scenarios")]) == 0
    assert main(["--check", "--catalog", str(tmp_path / "scenarios")]) == 0
    text = (tmp_path / "scenarios" / "README.md").read_text(encoding="utf-8")
    assert "`basics/good`" in text


# ---- the gate: every expectation holds ---------------------------------------------------


def _what_went_wrong(result: ScenarioResult) -> str:
    """Each mode's failure: the run's error, or each expectation's mismatches and evidence."""
    lines = [f"{result.id} ({result.scenario.path}): {result.error or 'expectations failed'}"]
    for mode in result.modes:
        if mode.error:
            lines.append(f"  {mode.mode}: {mode.error}")
        for expectation in mode.expectations:
            if not expectation.holds:
                mismatches = "; ".join(str(m) for m in expectation.mismatches)
                lines.append(f"  {mode.mode} {expectation.label}: {mismatches}")
                lines.append(f"      actual: {expectation.actual.summary()}")
    return "\n".join(lines)


class _BackgroundClose:
    """Stops each lab's server on a thread (a server's shutdown waits for its poll interval),
    as ``ocsp-lab run`` does; every thread is joined when the module is done."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, lab: ScenarioLab) -> None:
        thread = threading.Thread(target=lab.close, name="stop-responder", daemon=True)
        thread.start()
        self.threads.append(thread)


@pytest.fixture(scope="module")
def close_in_background() -> Iterator[_BackgroundClose]:
    closer = _BackgroundClose()
    yield closer
    for thread in closer.threads:
        thread.join(timeout=10)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_catalog_scenario_holds(scenario: Scenario, close_in_background: _BackgroundClose) -> None:
    result = run_scenario(scenario, stop=close_in_background)
    ran = [m.mode for m in result.modes]
    assert ran == [mode_name(cc_on) for cc_on in scenario.client.modes()], _what_went_wrong(result)
    assert all(m.expectations for m in result.modes), f"{scenario.id}: checked nothing"
    if not result.holds:
        pytest.fail(_what_went_wrong(result), pytrace=False)


# ---- coverage of SCENARIOS.md -----------------------------------------------------------


def _missing(used: Set[Any], wanted: Set[Any]) -> set[Any]:
    return set(wanted) - set(used)


def test_covers_top_level_and_pki(usage: Usage) -> None:
    assert _missing(set(usage.values), set(TOP_KEYS)) == set()
    assert _missing(set(usage.keys("pki.")) | {"cert"}, set(PKI_KEYS)) == set()
    hashes = usage.values["pki.signature_hash"] | usage.values["pki.cert.signature_hash"]
    assert _missing(hashes, set(SIGNATURE_HASHES)) == set()
    # [[pki.cert]].key takes the values of [pki].key: RSA keys are slow to derive, so the
    # catalog gives rsa-3072 to one certificate rather than to a whole PKI.
    key_types = usage.values["pki.key"] | usage.values["pki.cert.key"]
    assert _missing(key_types, set(KEY_TYPES)) == set()
    assert len(usage.values["pki.key"]) >= 4
    assert _missing(set(usage.keys("pki.cert.")), set(CERT_KEYS)) == set()
    assert _missing(usage.values["pki.cert.profile"], set(PROFILES)) == set()
    assert usage.values["pki.cert.key"], "no [[pki.cert]] sets its own key"
    assert {"from", "to"} <= usage.keys("pki.cert.valid.")
    assert {True, False} <= usage.values["pki.cert.nocheck"]
    assert True in usage.values["pki.cert.must_staple"]
    urls = usage.values["pki.cert.ocsp_url"]
    assert {"lab", "none"} <= urls and any(_is_url(u) for u in urls)
    assert any(isinstance(s, str) for s in usage.values["pki.cert.serial"])


def test_covers_database(usage: Usage) -> None:
    assert _missing(usage.values["database.status"], set(DB_STATUSES)) == set()
    assert _missing(set(usage.keys("database.")), set(DB_ENTRY_KEYS)) == set()
    assert _missing(usage.values["database.reason"], set(REASONS)) == set()


def test_covers_responder(usage: Usage) -> None:
    assert _missing(set(usage.keys("responder.")) | {"faults"}, set(RESPONDER_KEYS)) == set()
    for key, values in RESPONDER_VALUES.items():
        assert _missing(usage.values[f"responder.{key}"], set(values)) == set(), key
    next_updates = usage.values["responder.next_update"]
    assert "none" in next_updates and len(next_updates) > 1


def test_covers_faults(usage: Usage) -> None:
    used_keys = usage.keys("responder.faults.") | usage.keys("step.faults.")
    assert _missing(set(used_keys), set(FAULT_KEYS)) == set()
    for key, values in FAULT_VALUES.items():
        used = usage.values[f"responder.faults.{key}"] | usage.values[f"step.faults.{key}"]
        assert _missing(used, values) == set(), key


def test_covers_client(usage: Usage) -> None:
    assert _missing(set(usage.keys("client.")), set(CLIENT_KEYS)) == set()
    for key, values in CLIENT_VALUES.items():
        assert _missing(usage.values[f"client.{key}"], values) == set(), key
    configured = usage.values["client.configured_uri"]
    assert "lab" in configured and any(_is_url(u) for u in configured)


def test_covers_tls(usage: Usage) -> None:
    assert _missing(set(usage.keys("tls.")), set(TLS_KEYS)) == set()
    assert {True, False} <= usage.values["tls.staple"]


def test_covers_expect(usage: Usage) -> None:
    assert _missing(set(usage.keys("expect.")), set(EXPECT_KEYS)) == set()
    statuses = usage.values["expect.status"] | usage.values["step.expect.status"]
    assert _missing(statuses, set(STATUSES)) == set()
    errors = usage.values["expect.error"] | usage.values["step.expect.error"]
    assert _missing(errors, set(ERRORS)) == set()
    assert _missing(usage.values["expect.trusted_by"], set(TRUSTED_BY)) == set()
    assert _missing(usage.values["expect.connection"], set(CONNECTIONS)) == set()
    assert usage.values["expect.reason"]


def test_covers_steps(usage: Usage) -> None:
    used = {key.split(".", 1)[0] for key in usage.keys("step.")}
    assert _missing(used, set(STEP_KEYS)) == set()
    assert _missing(usage.values["step.action"], set(STEP_ACTIONS)) == set()
    assert True in usage.values["step.faults.{}"], "no step clears the faults with {}"
    step_connections = usage.values["step.expect.connection"] | usage.values.get(
        "step.expect.connection.cc_on", set()
    )
    assert _missing(step_connections, STEP_CONNECTIONS) == set()
    uploads = usage.values["step.expect.upload"]
    assert _missing(uploads, set(UPLOADS)) == set()
    split = usage.values["step.expect.upload.cc_on"] | usage.values["step.expect.upload.cc_off"]
    assert {"accepted", "rejected"} <= split
