"""``ocsp-lab run --product``: the catalog against a product, the model as the oracle (issue 13)."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.errors import ScenarioError
from lab.product.compare import ProductScenarioResult
from lab.product.profile import ProductKind, ProductProfile, command_line, load_profile
from lab.product.run import run_product
from lab.scenario import Scenario, load_scenario, load_scenarios
from pki import build_pki
from tests.conftest import require_program

ROOT = Path(__file__).resolve().parents[1]
PRODUCTS = ROOT / "products"
DATA = Path(__file__).parent / "data" / "products"
PYTHON = shlex.quote(sys.executable)
_PEM = serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8

#: What gnutls-cli 3.7.9 decides otherwise than the model, Common Criteria ON (each one's
#: why is in products/gnutls-cli.toml).
GNUTLS_DEVIATIONS = {
    # unknown taken as "not revoked"
    "basics/unknown",
    "chain/intermediate-unknown",
    "common-criteria/off-unknown-allowed",
    "common-criteria/on-unknown-refused",
    "common-criteria/soft-fail-does-not-cover-unknown",
    "status/answer-unknown",
    # an answer it cannot verify is ignored: soft-fail
    "dtm/delegated-expired",
    "dtm/delegated-no-eku",
    "dtm/delegated-not-yet-valid",
    "dtm/delegated-wrong-eku",
    "dtm/key-rollover",
    "dtm/lookalike-responder",
    "dtm/root-responder-any-ca",
    "dtm/root-responder-for-intermediate-leaf",
    "dtm/subca-responder",
    "signature/ca-signs-about-itself",
    "trp/dtm-fails-wrong-cert-uploaded",
    "trp/root-responder-uploaded",
    # an error responseStatus is ignored
    "status/not-found-unauthorized",
    "field/adcs-missing-revocation-config",  # (and its intermediate: the host name check)
    # freshness
    "freshness/future",
    "freshness/wide-skew-tolerance",
    "freshness/no-next-update-old",
    "freshness/next-update-within-skew",
    # an unknown critical extension is ignored
    "signature/critical-extension",
    # no URI in the leaf: the issuer's AIA is asked
    "uri/aia-missing",
    # must-staple enforced
    "stapling/must-staple-missing-ignored",
    "stapling/must-staple-missing-required",
    # the host name is checked
    "chain/leaf-under-root",
    # a chain signed with SHA-1 is refused as insecure
    "field/legacy-sha1-ca-from-file",
}


def _catalog() -> list[Scenario]:
    return load_scenarios([ROOT / "scenarios"])


def _profile(tmp_path: Path, text: str, name: str = "profile.toml") -> ProductProfile:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_profile(path)


def _scenario(tmp_path: Path, name: str, text: str) -> Scenario:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return load_scenario(path)


def _differing(results: list[ProductScenarioResult]) -> set[str]:
    return {r.id for r in results if not r.agrees}


# ---- the profile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[product]\nkind = "client"\ncommand = "x"\n', "title", "title"),
        ('title = "t"\n', "product", "[product]"),
        ('title = "t"\n[product]\nkind = "browser"\n', "product.kind", '"client"'),
        ('title = "t"\n[product]\nkind = "client"\n', "product.command", "a command"),
        ('title = "t"\n[product]\nkind = "server"\ntarget = "x"\n', "product.target", "HOST:PORT"),
        (
            'title = "t"\n[product]\nkind = "client"\ncommand = "x {prot}"\n',
            "product.command",
            "placeholders",
        ),
        (
            'title = "t"\n[product]\nkind = "server"\ntarget = "h:1"\ncommand = "x"\n',
            "product.command",
            'no command with kind = "server"',
        ),
        (
            'title = "t"\n[product]\nkind = "manual"\ntimeout = "0"\n',
            "product.timeout",
            "more than",
        ),
        ('title = "t"\n[product]\nkind = "manual"\nport = 1\n', "product.port", "one of the keys"),
        ('title = "t"\n[product]\nkind = "manual"\n[client]\nhsh = "sha1"\n', "client.hsh", "hash"),
        (
            'title = "t"\n[product]\nkind = "manual"\n[client]\ntrust = ["-x"]\n',
            "client.trust[0]",
            "a name of letters",
        ),
    ],
)
def test_a_bad_profile_names_the_file_the_key_and_what_was_expected(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_profile(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert expected in caught.value.expected


def test_a_bad_profile_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('title = "t"\n[product]\nkind = "client"\n')
    code = main(["run", str(ROOT / "scenarios/basics/good.toml"), "--product", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f'ocsp-lab: error: {path}: product.command: expected a command (kind = "client")'
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--timeline", "real"],
        ["--product", "products/reference.toml", "--cc", "on"],
        ["--product", "no/such/profile.toml"],
        ["--secret-file", "some-secret"],  # only a product may be given a secret
        ["--product", "products/reference.toml", "--secret-file", "no/such/secret"],
    ],
)
def test_product_options_misused_are_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["run", "scenarios/basics/good.toml", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ocsp-lab: error: ")


def test_the_profile_of_the_contract_reads_as_written() -> None:
    profile = load_profile(PRODUCTS / "gnutls-cli.toml")
    assert profile.kind is ProductKind.CLIENT
    assert profile.client.common_criteria is True
    assert profile.client.trust == ("root",)
    assert profile.seconds == 10
    values = {"host": "127.0.0.1", "port": "4433", "trust": "/t.pem", "cert": "/c.pem"}
    assert command_line(profile.command, values) == [
        "gnutls-cli", "--ocsp", "--x509cafile", "/t.pem", "-p", "4433", "127.0.0.1",
    ]  # fmt: skip
    reference = load_profile(PRODUCTS / "reference.toml")
    argv = command_line(reference.command, {**values, "cc": "off"})
    assert argv[:3] == [sys.executable, "-m", "lab.product.launcher"]
    assert argv[3:] == ["connect", "127.0.0.1:4433", "--trust", "/t.pem", "--cc", "off"]


# ---- the reference product: the harness agrees with itself ------------------------------


#: It presents a certificate from a file without its key: judged, never presented.
KEYLESS = "field/customer-ca-without-key"


def _expected_skips(catalog: list[Scenario]) -> set[str]:
    timelines_and_replays = {s.id for s in catalog if s.steps or s.responder.replay is not None}
    return timelines_and_replays | {KEYLESS}


def test_the_reference_client_agrees_with_the_model_on_the_whole_catalog(
    tmp_path: Path,
) -> None:
    # Common Criteria ON here; the reference server below runs OFF: both modes, both kinds.
    text = (
        (PRODUCTS / "reference.toml")
        .read_text()
        .replace("[client]\n", "[client]\ncommon_criteria = true\n")
    )
    profile = _profile(tmp_path, text)
    catalog = _catalog()
    results = run_product(catalog, profile, jobs=4)
    skipped = {r.id for r in results if r.skipped}
    assert skipped == _expected_skips(catalog)
    assert [r.error for r in results if r.error] == []
    assert _differing(results) == set(), [c.difference() for r in results for c in r.differences()]
    compared = [c for r in results for m in r.modes for c in m.comparisons]
    assert len(compared) >= 130
    # The product's own OCSP requests were seen: the reference asks with a nonce and SHA-1.
    good = next(r for r in results if r.id == "basics/good")
    requests = good.modes[0].comparisons[0].product.requests
    assert [(q.method, q.hash, q.nonce) for q in requests] == [("POST", "sha1", "wrapped")] * 2


@pytest.fixture
def reference_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``ocsp-lab listen`` set up as its profile says: the trust bundle imported once.

    Its own certificate from ``pki build``, its trust the ``root.pem`` of
    ``pki trust-bundle``, both from this installation's secret (the one the
    product run then uses).
    """
    bundle, out = tmp_path / "bundle", tmp_path / "pki"
    for command in (
        ["pki", "trust-bundle", "--out", str(bundle)],
        ["pki", "build", "--out", str(out)],
    ):
        subprocess.run(
            [sys.executable, "-m", "lab", *command], check=True, capture_output=True, cwd=ROOT
        )
    # Exactly the profile's [client] trust (root), from the bundle: trusting more than the
    # profile says (bundle.pem has trusted-responder too) would make TRP answers count.
    files = {"server": out / "server.pem", "root": bundle / "root.pem"}
    key = out / "server.key"
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "listen", "--cert", str(files["server"]), "--key",
         str(key), "--trust", str(files["root"]), "--cc", "off", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on "), line
    yield line.split()[-1], process
    process.kill()
    process.wait()


def test_the_reference_server_agrees_with_the_model_on_the_catalog(
    tmp_path: Path, reference_server: tuple[str, subprocess.Popen[str]]
) -> None:
    address, _ = reference_server
    text = (
        (PRODUCTS / "reference-server.toml")
        .read_text()
        .replace('target = "127.0.0.1:8443"', f'target = "{address}"')
    )
    profile = _profile(tmp_path, text)
    catalog = _catalog()
    results = run_product(catalog, profile, jobs=4)
    assert [r.error for r in results if r.error] == []
    assert _differing(results) == set(), [c.difference() for r in results for c in r.differences()]
    skipped = {r.id: r.skipped for r in results if r.skipped}
    assert set(skipped) >= _expected_skips(catalog)
    others = {sid: why for sid, why in skipped.items() if sid not in _expected_skips(catalog)}
    # What only a product that imported the bundle once cannot meet: a replaced root.
    replaced = {sid for sid, why in others.items() if "the product would need to import" in why}
    assert replaced >= {"keys/rsa-2048", "keys/ed25519"}, others
    assert all("clientAuth" in why for sid, why in others.items() if sid not in replaced), others
    compared = [c for r in results for m in r.modes for c in m.comparisons]
    assert len(compared) >= 120
    revoked = next(r for r in results if r.id == "basics/revoked").modes[0].comparisons[0]
    assert revoked.product.record is not None
    assert revoked.product.why == "aborted with 44 certificate_revoked"
    assert len(revoked.product.requests) >= 1  # the listening product asked the responder


# ---- gnutls-cli --ocsp: an outside product ------------------------------------------------


def test_gnutls_cli_deviates_from_the_model_exactly_where_its_profile_says(
    tmp_path: Path,
) -> None:
    require_program("gnutls-cli")
    profile = load_profile(PRODUCTS / "gnutls-cli.toml")
    results = run_product(_catalog(), profile, jobs=4)
    assert [r.error for r in results if r.error] == []
    assert _differing(results) == GNUTLS_DEVIATIONS
    # Each difference shows both sides: here, a signed unknown it took for good.
    unknown = next(r for r in results if r.id == "basics/unknown").differences()[0]
    assert unknown.expected.value == "refused" and unknown.product.allowed
    assert "row 'unknown'" in unknown.model_words()
    assert "unknown" in [q.answer for q in unknown.product.requests]
    assert unknown.product.exit_status == 0
    assert "OCSP server flags certificate not revoked" in unknown.product.output
    # The profile documents every deviation by its id.
    comments = (PRODUCTS / "gnutls-cli.toml").read_text()
    assert [sid for sid in sorted(GNUTLS_DEVIATIONS) if sid not in comments] == []


# ---- a product that caches --------------------------------------------------------------


def test_a_caching_product_is_judged_right_in_two_scenarios_with_opposite_statuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _scenario(tmp_path, "cache-a-good", 'title = "good"\n[[expect]]\nstatus = "good"\n')
    revoked = _scenario(
        tmp_path,
        "cache-b-revoked",
        'title = "revoked"\n[database]\nserver = "revoked"\n[[expect]]\nstatus = "revoked"\n',
    )
    cache = tmp_path / "cache.json"
    client = DATA / "caching_client.py"
    profile = _profile(
        tmp_path,
        f"""
        title = "a caching client"
        [product]
        kind = "client"
        command = "{PYTHON} {client} {{host}} {{port}} {cache}"
        timeout = "20s"
        [client]
        common_criteria = true
        """,
    )
    results = run_product([good, revoked], profile)
    assert [r.agrees for r in results] == [True, True], [
        c.difference() for r in results for c in r.differences()
    ]
    assert len(json.loads(cache.read_text())) == 2  # it cached; the second CertID was new
    assert "cache miss" in results[1].modes[0].comparisons[0].product.output
    # The control: with the same leaves in both scenarios, its cache carries "good" over.
    import lab.product.situation as situation

    monkeypatch.setattr(
        situation,
        "build_product_pki",
        lambda scenario, base_url, t0, secret, trust: build_pki(
            dataclasses.replace(scenario.pki, seed=secret.value), base_url=base_url, t0=t0
        ),
    )
    cache.unlink()
    results = run_product([good, revoked], profile)
    assert [r.agrees for r in results] == [True, False]
    assert "cache hit" in results[1].modes[0].comparisons[0].product.output


# ---- products that misbehave --------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "why", "status", "output"),
    [
        (
            "import time; print('waiting', flush=True); time.sleep(60)",
            "no connection",
            None,
            "waiting",
        ),
        ("import sys; print('boom'); sys.exit(3)", "no connection", 3, "boom"),
        (
            "import socket, sys, time; s = socket.create_connection(('{host}', {port})); "
            "print('silent', flush=True); time.sleep(60)",
            "closed mid-handshake without an alert",  # killed at the bound, mid-handshake
            None,
            "silent",
        ),
    ],
    ids=["hangs", "crashes", "stalls-mid-handshake"],
)
def test_a_product_that_hangs_crashes_or_never_connects_is_reported_and_the_run_goes_on(
    tmp_path: Path, code: str, why: str, status: int | None, output: str
) -> None:
    command = json.dumps(f"{PYTHON} -c {shlex.quote(code)}")  # a TOML basic string
    profile = _profile(
        tmp_path,
        f"""
        title = "misbehaving"
        [product]
        kind = "client"
        command = {command}
        timeout = "1s"
        [client]
        common_criteria = true
        """,
    )
    scenarios = [
        load_scenario(ROOT / "scenarios/basics/good.toml"),
        load_scenario(ROOT / "scenarios/basics/revoked.toml"),
    ]
    started = time.monotonic()
    results = run_product(scenarios, profile)
    assert time.monotonic() - started < 2 * (1 + 3) + 2  # each within its bound
    good, revoked = (r.modes[0].comparisons[0] for r in results)
    for observed in (good.product, revoked.product):
        assert observed.why == why
        assert observed.exit_status == status
        assert observed.timed_out is (status is None)
        assert output in observed.output
        assert observed.seconds < 1 + 3
    assert not good.agrees and revoked.agrees  # the run went on to the second scenario


def test_the_reports_show_both_sides_and_the_exit_code_says_whether_all_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "crash.toml"
    command = json.dumps(f"{PYTHON} -c \"import sys; print('boom'); sys.exit(3)\"")
    profile.write_text(
        'title = "crashes"\n[product]\nkind = "client"\n'
        f"command = {command}\n"
        'timeout = "2s"\n[client]\ncommon_criteria = true\n'
    )
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    good = str(ROOT / "scenarios/basics/good.toml")
    code = main(
        ["run", good, "--product", str(profile), "--junit", str(junit), "--json", str(report)]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "model allowed, product refused (no connection)" in out
    assert "exit status 3" in out and "boom" in out
    case = ET.parse(junit).getroot().find("testcase")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "model:   allowed: status good" in failure.text
    assert "exit status 3" in failure.text and "output:  boom" in failure.text
    document = json.loads(report.read_text())
    assert document["format"] == "ocsp-lab product-run/1"
    comparison = document["scenarios"][0]["modes"][0]["comparisons"][0]
    assert comparison["model"]["connection"] == "allowed"
    assert comparison["product"]["exit_status"] == 3
    assert comparison["product"]["ocsp_requests"] == []
    revoked = str(ROOT / "scenarios/basics/revoked.toml")
    assert main(["run", revoked, "--product", str(profile)]) == 0  # refused = refused


# ---- timelines on the real clock -----------------------------------------------------------


def test_a_timeline_runs_on_the_real_clock_and_a_product_that_never_rechecks_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_path = tmp_path / "scenarios" / "revoked-in-flight.toml"
    scenario_path.parent.mkdir()
    scenario_path.write_text(
        textwrap.dedent(
            """
            title = "revoked two seconds into a long-lived connection"
            [[step]]
            at = "0"
            connect = "server"
            expect = { connection = "allowed" }
            [[step]]
            at = "+2s"
            revoke = "server"
            [[step]]
            at = "+3s"
            expect = { connection = "dropped" }
            """
        )
    )
    client = DATA / "holding_client.py"
    profile = _profile(
        tmp_path,
        f"""
        title = "holds its connection, never re-checks"
        [product]
        kind = "client"
        command = "{PYTHON} {client} {{host}} {{port}} 30"
        timeout = "1s"
        [client]
        common_criteria = true
        revocation_check = "1s"
        """,
    )
    skipped = run_product([load_scenario(scenario_path)], profile)
    assert skipped[0].skipped == "a timeline ([[step]]s): runs only with --timeline real"
    started = time.monotonic()
    (result,) = run_product([load_scenario(scenario_path)], profile, timeline=True)
    assert 3 <= time.monotonic() - started < 10  # real seconds: the steps' own offsets
    (mode,) = result.modes
    agreed = {c.label: c.agrees for c in mode.comparisons}
    assert agreed == {"step[0] at 0 (connect server)": True, "step[2] at +3s (wait)": False}
    dropped = next(c for c in mode.comparisons if not c.agrees)
    assert dropped.expected.value == "dropped" and dropped.product.connection.value == "allowed"
    assert dropped.product.requests == ()  # it never re-checked
    assert "step done: step[1] at +2s (revoke server)" in mode.events


def test_a_manual_product_is_told_where_to_connect_and_waited_for_within_its_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(
        tmp_path,
        """
        title = "a person at the product's console"
        [product]
        kind = "manual"
        timeout = "1s"
        [client]
        common_criteria = true
        """,
    )
    started = time.monotonic()
    (result,) = run_product([load_scenario(ROOT / "scenarios/basics/good.toml")], profile)
    assert time.monotonic() - started < 5
    told = capsys.readouterr().err
    assert "connect the product to 127.0.0.1:" in told
    assert result.scenario.title in told
    assert "trust.pem" in told
    (comparison,) = result.modes[0].comparisons
    assert comparison.product.why == "no connection" and not comparison.agrees
