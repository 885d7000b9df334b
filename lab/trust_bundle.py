"""Write a :class:`~lab.product_pki.TrustBundle` to a directory, with how to import it.

``<name>.pem`` per certificate (a variant, another certificate under a name
the bundle already holds, is ``<name>-<fingerprint[:12]>.pem``),
``bundle.pem`` (every plain ``<name>.pem``, in file order: one file for
OpenSSL's ``-CAfile``) and a ``README.txt`` saying what each file is, which
secret made it, how to import it into Unified CM, a Java keystore, NSS and
OpenSSL, and which scenarios need a certificate outside it. Every byte is
deterministic: the same scenarios, secret, URL and t0 give the same files.
No private key is written: a product only ever needs the certificates.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from lab.product_pki import BundleEntry, TrustBundle, skip_reason
from lab.scenario import Scenario
from pki import PKIError, Profile
from pki.database import atomic_write
from pki.export import README_FIRST_LINE, check_out_dir

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_FIRST_LINE",
    "check_bundle_dir",
    "skipped_scenarios",
    "write_trust_bundle",
]

#: The one PEM file holding the bundle's stable certificates.
BUNDLE_FILE = "bundle.pem"
#: How a trust bundle's README.txt begins (an exported PKI's begins "ocsp-lab PKI —").
BUNDLE_FIRST_LINE = f"{README_FIRST_LINE} trust bundle"


def _pem(entry: BundleEntry) -> bytes:
    return entry.certificate.public_bytes(serialization.Encoding.PEM)


def skipped_scenarios(scenarios: Sequence[Scenario], bundle: TrustBundle) -> list[tuple[str, str]]:
    """(id, reason) of each scenario a product holding only ``bundle.pem`` cannot meet."""
    stable = bundle.without_variants()
    skipped = []
    for scenario in scenarios:
        reason = skip_reason(scenario, stable)
        if reason is not None:
            skipped.append((scenario.id, reason))
    return skipped


def _kind(entry: BundleEntry) -> str:
    if entry.profile is Profile.CA:
        self_signed = entry.certificate.issuer == entry.certificate.subject
        return "trust anchor (CA)" if self_signed else "CA"
    if entry.profile is Profile.OCSP_RESPONDER:
        return "trusted responder"
    return "trusted leaf"


def _alias(entry: BundleEntry) -> str:
    return entry.file.removesuffix(".pem")


def _readme(bundle: TrustBundle, skipped: Sequence[tuple[str, str]], count: int) -> str:
    plain = [e for e in bundle.entries if not e.is_variant]
    variants = [e for e in bundle.entries if e.is_variant]
    rows = []
    for e in bundle.entries:
        users = len(e.scenarios)
        rows.append(
            f"  {e.file:36} {_kind(e):20} needed by {users} scenario{'s' * (users != 1)}\n"
            f"  {'':36} SHA-256 {e.fingerprint}"
        )
    variant_rows = [f"  {e.file}: {', '.join(e.scenarios)}" for e in variants]
    skipped_rows = [f"  {sid}: {why}" for sid, why in skipped]
    skipped_rows += [f"  {sid}: its PKI cannot be built ({why})" for sid, why in bundle.unbuildable]
    keytool = "\n".join(
        f"  keytool -importcert -noprompt -keystore lab-trust.p12 -storetype PKCS12 "
        f"-storepass changeit -alias {_alias(e)} -file {e.file}"
        for e in plain
    )
    certutil = "\n".join(
        f"  certutil -A -d sql:nssdb -n {_alias(e)} "
        f"-t {'C,,' if e.profile is Profile.CA else 'P,,'} -i {e.file}"
        for e in plain
    )
    trusted = [e.file for e in plain if e.profile is not Profile.CA]
    cas = [e.file for e in plain if e.profile is Profile.CA]
    unified_cm = textwrap.fill(
        "Cisco Unified CM: Cisco Unified OS Administration > Security > Certificate "
        "Management > Upload Certificate/Certificate chain; purpose tomcat-trust (and "
        "CallManager-trust for SIP TLS), one file per upload: "
        f"{', '.join(cas) or 'no CA'}, then {', '.join(trusted) or 'no trusted responder'} "
        "(a Trusted Responder is a tomcat-trust entry with the OCSPSigning EKU).",
        width=78,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    return f"""{BUNDLE_FIRST_LINE} — t0 {bundle.t0.isoformat()}
OCSP responder URL in the certificates (AIA): {bundle.base_url}
Keys and serials derived from: {bundle.secret.describe()}
Made from {count} scenario{"s" * (count != 1)}: every certificate their [client] trust names.

Import it once. It stays valid across runs and upgrades as long as the same
secret, responder URL and t0 are used: CAs and responder certificates are
derived from the secret and their names alone; each scenario's leaves get a
key and serial of their own in product runs, so they are never imported.

Certificates (PEM; no private keys):
{chr(10).join(rows)}

{BUNDLE_FILE:36} every file above without a "-<fingerprint>" suffix, in this order

Variants: a scenario that changes a CA or a trusted responder (its key type,
its validity) needs another certificate under the same name. A trust store that
keeps one certificate per subject (Unified CM names entries by their CN) cannot
hold both: import the plain files, and product runs skip those scenarios.
{chr(10).join(variant_rows) or "  none"}

Scenarios that need a certificate outside {BUNDLE_FILE} (skipped in product runs
unless the product also imports the variant they name):
{chr(10).join(skipped_rows) or "  none"}

Importing:
{unified_cm}
  Java (a PKCS#12 keystore for -Djavax.net.ssl.trustStore=lab-trust.p12):
{keytool}
  NSS (a database made with certutil -N -d sql:nssdb --empty-password; C: a CA
    trusted to issue server certificates, P: a trusted peer):
{certutil}
  OpenSSL: -CAfile {BUNDLE_FILE} (openssl s_client, openssl verify, openssl ocsp);
    a trusted responder for openssl ocsp: -VAfile <its file>.
"""


def check_bundle_dir(out: Path) -> None:
    """Refuse a directory a trust bundle must not be written to (a :class:`PKIError`).

    As :func:`pki.export.check_out_dir`, and never into an exported PKI (``pki
    build``, ``serve``): its README and files would be mixed with the bundle's.
    """
    check_out_dir(out)
    readme = out / "README.txt"
    if readme.is_file() and not readme.read_bytes().startswith(BUNDLE_FIRST_LINE.encode()):
        raise PKIError(
            f"{out}: holds a PKI that pki build or serve wrote; expected a new or empty "
            "directory, or one an earlier pki trust-bundle wrote"
        )


def write_trust_bundle(bundle: TrustBundle, scenarios: Sequence[Scenario], out: Path) -> list[Path]:
    """Write ``bundle`` (made from ``scenarios``) into ``out``; return the paths written.

    ``out`` is checked as ``pki build`` checks it (:func:`pki.export.check_out_dir`):
    never through a symbolic link, never into a non-empty directory the lab did not make.
    """
    out = Path(out)
    check_bundle_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = out / name
        atomic_write(path, data)
        written.append(path)

    skipped = skipped_scenarios(scenarios, bundle)
    # The README first: its first line marks the directory as the lab's.
    put("README.txt", _readme(bundle, skipped, len(scenarios)).encode())
    for entry in bundle.entries:
        put(entry.file, _pem(entry))
    put(BUNDLE_FILE, b"".join(_pem(e) for e in bundle.entries if not e.is_variant))
    # An earlier bundle's certificates that this one no longer has: gone, so the
    # directory holds exactly what its README lists.
    keep = {p.name for p in written}
    for stale in sorted(out.glob("*.pem")):
        if stale.name not in keep and stale.is_file() and not stale.is_symlink():
            stale.unlink()
    return written
