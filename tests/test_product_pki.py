"""Stable trust, fresh leaves (lab.product_pki) and ``ocsp-lab pki trust-bundle``.

A product imports the trust bundle once: its CAs and trusted responders must
be the ones every scenario (and ``pki build``) makes, while each scenario's
leaves are new, so a product's OCSP cache never carries an answer across.
OpenSSL is the oracle where a chain is judged.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.product_pki import build_for_product, build_trust_bundle, fingerprint, skip_reason
from lab.scenario import Scenario, load_scenario
from pki import PKISpec, build_pki
from pki.secret import LabSecret, installation_secret

SECRET = LabSecret(bytes(range(32)), "a test secret")
URL = "http://127.0.0.1:8080/"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

GOOD = 'title = "good"\n[[expect]]\nstatus = "good"\n'
CHANGED_ROOT = GOOD + '[[pki.cert]]\nname = "root"\nprofile = "ca"\nvalid = { to = "+1825d" }\n'
PINNED = GOOD + '[client]\ntrust = ["root", "trusted-responder"]\n'


def _scenario(tmp_path: Path, name: str, text: str) -> Scenario:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return load_scenario(path)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_cas_and_responders_stay_while_each_scenario_gets_its_own_leaf(tmp_path: Path) -> None:
    one = build_for_product(_scenario(tmp_path, "one", GOOD), URL, SECRET, T0)
    two = build_for_product(_scenario(tmp_path, "two", GOOD), URL, SECRET, T0)
    again = build_for_product(_scenario(tmp_path, "one", GOOD), URL, SECRET, T0)
    for name in ("root", "intermediate", "responder", "root-responder", "trusted-responder"):
        assert _der(one[name].certificate) == _der(two[name].certificate), name
    # The leaf: another key and serial in another scenario, hence another CertID.
    assert one["server"].serial != two["server"].serial
    assert one["server"].certificate.public_key() != two["server"].certificate.public_key()
    # ... and the same ones for the same scenario id: deterministic.
    assert _der(one["server"].certificate) == _der(again["server"].certificate)
    assert one.leaf_namespace == "one"


def test_the_default_pki_built_for_a_product_is_what_pki_build_makes(tmp_path: Path) -> None:
    # build_pki without a namespace keeps the plain names' keys and serials.
    plain = build_pki(PKISpec(seed=SECRET.value), base_url=URL, t0=T0)
    product = build_for_product(_scenario(tmp_path, "basics", GOOD), URL, SECRET, T0)
    for name in ("root", "intermediate", "responder", "trusted-responder"):
        assert _der(plain[name].certificate) == _der(product[name].certificate)
    assert plain["server"].serial != product["server"].serial


def test_an_explicit_serial_wins_over_the_namespace(tmp_path: Path) -> None:
    text = GOOD + '[[pki.cert]]\nname = "server"\nissuer = "intermediate"\nserial = 4660\n'
    built = build_for_product(_scenario(tmp_path, "fixed", text), URL, SECRET, T0)
    assert built["server"].serial == 4660


def test_skip_reason_compares_certificates_not_names(tmp_path: Path) -> None:
    good = _scenario(tmp_path, "good", GOOD)
    pinned = _scenario(tmp_path, "pinned", PINNED)
    changed = _scenario(tmp_path, "changed", CHANGED_ROOT)
    bundle = build_trust_bundle([good, pinned], base_url=URL, secret=SECRET, t0=T0)
    assert [e.file for e in bundle.entries] == ["root.pem", "trusted-responder.pem"]
    assert skip_reason(good, bundle) is None
    assert skip_reason(pinned, bundle) is None
    # Same name, another validity: another certificate the product never imported.
    assert skip_reason(changed, bundle) == (
        "replaces CA `root` (its key or validity differs from the bundle's) "
        "— the product would need to import it"
    )
    only_root = build_trust_bundle([good], base_url=URL, secret=SECRET, t0=T0)
    reason = skip_reason(pinned, only_root)
    assert reason is not None and "`trusted-responder`, which is not in the bundle" in reason
    # The profile's trust list in place of the scenario's.
    assert skip_reason(good, only_root, trust=["root", "trusted-responder"]) == reason
    assert "does not have" in str(skip_reason(good, bundle, trust=["root", "nobody"]))
    # A bundle of another secret holds other certificates than this run's PKI.
    other = build_trust_bundle(
        [good], base_url=URL, secret=LabSecret(b"\x01" * 32, "another"), t0=T0
    )
    built = build_for_product(good, URL, SECRET, T0)
    assert skip_reason(good, bundle, lab_pki=built) is None
    assert "replaces CA `root`" in str(skip_reason(good, other, lab_pki=built))


def test_a_changed_certificate_is_a_variant_of_its_own(tmp_path: Path) -> None:
    scenarios = [_scenario(tmp_path, n, t) for n, t in [("a", GOOD), ("b", CHANGED_ROOT)]]
    bundle = build_trust_bundle(scenarios, base_url=URL, secret=SECRET, t0=T0)
    changed = build_for_product(scenarios[1], URL, SECRET, T0)["root"].certificate
    files = {e.file: e for e in bundle.entries}
    variant = f"root-{fingerprint(changed)[:12]}.pem"
    assert set(files) == {"root.pem", variant}
    assert files[variant].scenarios == ("b",) and files[variant].is_variant
    assert files["root.pem"].scenarios == ("a",)
    assert skip_reason(scenarios[1], bundle) is None
    assert skip_reason(scenarios[1], bundle.without_variants()) is not None


def _write_catalog(folder: Path) -> None:
    folder.mkdir()
    (folder / "good.toml").write_text(GOOD)
    (folder / "pinned.toml").write_text(PINNED)
    (folder / "changed.toml").write_text(CHANGED_ROOT)


def test_trust_bundle_writes_deterministic_files_pki_build_agrees_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "scenarios"
    _write_catalog(catalog)
    for out in ("a", "b"):
        args = ["pki", "trust-bundle", "--out", str(tmp_path / out), "--t0", "2026-01-01"]
        assert main([*args, str(catalog)]) == 0
    assert main(["pki", "build", "--out", str(tmp_path / "pki"), "--t0", "2026-01-01"]) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for path in a.iterdir():
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name
    # The stable certificates are byte for byte what pki build wrote.
    for name in ("root.pem", "trusted-responder.pem"):
        assert (a / name).read_bytes() == (tmp_path / "pki" / name).read_bytes()
    bundle = x509.load_pem_x509_certificates((a / "bundle.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in bundle] == [
        "CN=root,O=ocsp-lab",
        "CN=trusted-responder,O=ocsp-lab",
    ]
    readme = (a / "README.txt").read_text()
    fingerprint_line = next(
        line for line in (tmp_path / "pki" / "README.txt").read_text().splitlines()
        if line.startswith("Keys and serials derived from:")
    )  # fmt: skip
    assert fingerprint_line in readme
    assert "keytool -importcert" in readme and "certutil -A" in readme
    assert "-CAfile bundle.pem" in readme and "tomcat-trust" in readme
    assert "  changed: replaces CA `root`" in readme
    assert len([p for p in a.iterdir() if p.name.startswith("root-")]) == 1
    assert "3 scenarios" in capsys.readouterr().out


def test_openssl_verifies_a_fresh_leaf_against_the_bundle(tmp_path: Path) -> None:
    catalog = tmp_path / "scenarios"
    _write_catalog(catalog)
    out = tmp_path / "bundle"
    assert main(["pki", "trust-bundle", "--out", str(out), "--t0", "2026-01-01", str(catalog)]) == 0
    lab_pki = build_for_product(
        load_scenario(catalog / "pinned.toml"), URL, installation_secret(), T0
    )
    (tmp_path / "server.pem").write_bytes(
        lab_pki["server"].certificate.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "chain.pem").write_bytes(
        lab_pki["intermediate"].certificate.public_bytes(serialization.Encoding.PEM)
    )
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(out / "bundle.pem"),
         "-untrusted", str(tmp_path / "chain.pem"), "-attime", "1767312000",
         str(tmp_path / "server.pem")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.stdout.strip().endswith(": OK"), proc.stdout + proc.stderr


def test_trust_bundle_refuses_bad_input_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["pki", "trust-bundle", "--out", str(foreign), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not make" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.toml").write_text('title = "x"\n[client]\ntrust = ["nobody"]\n')
    assert main(["pki", "trust-bundle", "--out", str(tmp_path / "o"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.toml" in err and "trust" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("t0", ["1900-01-01", "9999-01-01"])
def test_trust_bundle_refuses_a_t0_x509_cannot_encode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], t0: str
) -> None:
    catalog = tmp_path / "scenarios"
    _write_catalog(catalog)
    out = tmp_path / "o"
    assert main(["pki", "trust-bundle", "--out", str(out), "--t0", t0, str(catalog)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"ocsp-lab: error: --t0 {t0}: a validity window would fall outside 1950-9999, "
        "what X.509 can encode (expected another date)\n"
    )
    assert not out.exists()


def test_a_scenario_whose_pki_cannot_be_built_is_listed_not_a_traceback(tmp_path: Path) -> None:
    # A root of 100 years from a t0 in 9950 ends past 9999; the default PKI's ten fit.
    far = _scenario(
        tmp_path, "far", GOOD + '[[pki.cert]]\nname = "root"\nprofile = "ca"\n'
        'valid = { to = "+36500d" }\n',
    )  # fmt: skip
    late = dt.datetime(9950, 1, 1, tzinfo=dt.UTC)
    bundle = build_trust_bundle([far], base_url=URL, secret=SECRET, t0=late)
    assert bundle.entries == () and [sid for sid, _ in bundle.unbuildable] == ["far"]
    assert "cannot be built for a product: t0 9950-01-01" in str(skip_reason(far, bundle))


def test_trust_bundle_rewrites_its_own_directory_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "scenarios"
    _write_catalog(catalog)
    out = tmp_path / "bundle"
    args = ["pki", "trust-bundle", "--out", str(out), "--t0", "2026-01-01"]
    assert main([*args, str(catalog)]) == 0
    assert len(list(out.glob("root-*.pem"))) == 1
    # Again with fewer scenarios: the variant the first bundle had is gone.
    assert main([*args, str(catalog / "good.toml")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "bundle.pem", "root.pem"]
    # Never into an exported PKI: its README and keys would be mixed with the bundle.
    pki_dir = tmp_path / "pki"
    assert main(["pki", "build", "--out", str(pki_dir)]) == 0
    capsys.readouterr()
    assert main(["pki", "trust-bundle", "--out", str(pki_dir), str(catalog)]) == 2
    assert "holds a PKI that pki build or serve wrote" in capsys.readouterr().err
    assert (pki_dir / "README.txt").read_text().startswith("ocsp-lab PKI — ")
