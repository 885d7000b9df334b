"""Write a PKI to a directory, ready to import into a product under test.

``<name>.pem`` and ``<name>.key`` (PKCS#8 PEM, mode 0600) for every
certificate, ``chain.pem``, ``<leaf>.p12`` for leaves, ``<ca>.index.txt`` (with
``.attr``) per CA and a ``README.txt`` that says what each file is and which
lab secret made the keys. The directory is made mode 0700: it holds private
keys. Every file but the ``.p12`` is byte-identical across builds of the same
PKI: the README carries no "written at" time. A ``.p12`` (random salt) is
kept as it is when a re-build finds it holding the same key and certificates.

Where it writes is checked first (:func:`check_out_dir`): never through a
symbolic link, never into a non-empty directory the lab did not make (the
README's first line marks one it did), so a mistyped ``--out`` cannot chmod
or litter someone's directory.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import urllib.parse
from collections.abc import Collection
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from pki.builder import PKI, IssuedCert
from pki.database import CertificateDatabase, atomic_write
from pki.errors import PKIError
from pki.openssl_index import UNREPRESENTABLE_REASONS, write_index
from pki.secret import PUBLIC_SECRET, LabSecret
from pki.spec import Profile

__all__ = ["P12_PASSWORD", "README_FIRST_LINE", "check_out_dir", "write_pki"]

#: How every exported README.txt begins: the mark of a directory the lab made.
README_FIRST_LINE = "ocsp-lab PKI"

#: Password of every ``.p12`` (many products refuse an unprotected PKCS#12).
P12_PASSWORD = b"ocsp-lab"


def _pem(cert: IssuedCert) -> bytes:
    return cert.certificate.public_bytes(serialization.Encoding.PEM)


def _pkcs8_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_pem(cert: IssuedCert) -> bytes:
    return _pkcs8_pem(cert.private_key)


def _p12(pki: PKI, cert: IssuedCert) -> bytes:
    # AES-256 and PBKDF2-SHA-256, OpenSSL 3's defaults; the salt is random, so
    # .p12 files are the one output that is not byte-identical across runs.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(P12_PASSWORD)
    )
    issuers = [c.certificate for c in pki.chain(cert.name)[1:]]
    return pkcs12.serialize_key_and_certificates(
        cert.name.encode(), cert.private_key, cert.certificate, issuers or None, encryption
    )


def _same_p12(path: Path, pki: PKI, cert: IssuedCert) -> bool:
    """Whether ``path`` already holds this key, certificate and issuers (a re-build)."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        old = pkcs12.load_pkcs12(path.read_bytes(), P12_PASSWORD)
    except (OSError, ValueError):
        return False
    issuers = [c.certificate for c in pki.chain(cert.name)[1:]]
    return (
        old.key is not None
        and _pkcs8_pem(old.key) == _key_pem(cert)
        and old.cert is not None
        and old.cert.certificate == cert.certificate
        and [c.certificate for c in old.additional_certs] == issuers
    )


def _file_note(cert: IssuedCert) -> str:
    """For a certificate from a file (``cert_file``): where from, and whether its key came too."""
    material = cert.spec.from_file
    if material is None:
        return ""
    key = "its key from " + Path(material.key_path).name if material.key_path else "no key"
    return f" (copied from {Path(material.path).name}; {key})"


def _depth(pki: PKI, cert: IssuedCert) -> int:
    return len(pki.chain(cert.name))


def _readme(pki: PKI, database: CertificateDatabase, secret: LabSecret) -> str:
    rows = []
    for cert in pki:
        issuer = cert.issuer or "itself"
        record = database.by_name(cert.name)
        status = record.status.value if record else "unknown (no record)"
        rows.append(
            f"  {cert.name + '.pem':28} {cert.profile.value:15} issued by {issuer:18} {status}"
            + _file_note(cert)
        )
    cas = [c.name for c in pki.cas()]
    leaves = [c.name for c in pki if c.profile is Profile.LEAF]
    lossy = sorted({r.reason for r in database.records() if r.reason in UNREPRESENTABLE_REASONS})
    note = (
        f"\nNote: OpenSSL's index.txt has no name for {', '.join(lossy)}; "
        "those revocations are written there as 'unspecified'.\n"
        if lossy
        else ""
    )
    # OpenSSL's responder serves on the port the certificates' AIA names (80 for plain http)
    base = urllib.parse.urlsplit(pki.base_url)
    port = base.port or (443 if base.scheme == "https" else 80)
    return f"""{README_FIRST_LINE} — t0 {pki.t0.isoformat()}
OCSP responder URL in the certificates (AIA): {pki.base_url}
Keys and serials derived from: {secret.describe()}

Certificates (<name>.pem, PEM) and their private keys (<name>.key, PKCS#8 PEM,
unencrypted, mode 0600 — test keys, never production):
{chr(10).join(rows)}

chain.pem          every CA certificate, deepest first (for a server's chain file)
<leaf>.p12         {", ".join(leaves) or "none"}: key, certificate and issuers;
                   password "{P12_PASSWORD.decode()}"
<ca>.index.txt     {", ".join(cas)}: OpenSSL CA database (with .attr), so
                   `openssl ocsp -index` or `openssl ca` can use the same PKI
{note}
Importing into a product under test (Cisco Unified CM as the example):
  1. Upload root.pem (and intermediate.pem) to tomcat-trust / CallManager-trust.
  2. For the Trusted Responder model, also upload trusted-responder.pem to
     tomcat-trust: it is a designated OCSP signing certificate.
  3. Give the product a leaf to present (server.p12) or make it connect to a
     peer that presents server.pem with chain.pem.
  4. Point OCSP at the URL above (Use OCSP URI from Certificate), or enter it
     as the OCSP Configured URI.

Serving this PKI with OpenSSL instead of the lab:
  openssl ocsp -port {port} -index intermediate.index.txt -CA intermediate.pem \\
      -rsigner responder.pem -rkey responder.key
Checking a certificate by hand:
  openssl ocsp -issuer intermediate.pem -cert server.pem -url {pki.base_url} \\
      -CAfile root.pem -resp_text
"""


def _made_by_lab(out: Path) -> bool:
    readme = out / "README.txt"
    try:
        if not stat.S_ISREG(readme.lstat().st_mode):
            return False
        with readme.open("rb") as f:
            return f.readline().startswith(README_FIRST_LINE.encode())
    except OSError:
        return False


def check_out_dir(out: Path) -> None:
    """Refuse a directory the PKI must not be written to (a :class:`PKIError` naming it).

    A new or empty directory is fine (it is made, or made mode 0700), and so is
    one an earlier export wrote (a re-build overwrites its files). A symbolic
    link is refused, not followed: chmod 0700 and private keys would land
    wherever it points. So is a non-empty directory without the lab's README.
    """
    out = Path(out)
    if out.is_symlink():
        raise PKIError(
            f"{out}: is a symbolic link (expected a directory path of its own; "
            f"give the target, {os.path.realpath(out)}, if that is meant)"
        )
    if not out.exists():
        return
    if not out.is_dir():
        raise PKIError(f"{out}: exists and is not a directory (expected a directory for the PKI)")
    if next(out.iterdir(), None) is None or _made_by_lab(out):
        return
    raise PKIError(
        f"{out}: a non-empty directory that ocsp-lab did not make (no ocsp-lab README.txt); "
        "expected a new or empty directory, or one an earlier pki build or serve wrote"
    )


def write_pki(
    pki: PKI,
    database: CertificateDatabase,
    out: Path,
    *,
    now: dt.datetime | None = None,
    secret: LabSecret | None = None,
    keep_index: Collection[str] = (),
) -> list[Path]:
    """Write every file of ``pki`` into ``out``; return the paths written.

    ``keep_index`` names CAs whose ``<ca>.index.txt`` someone else writes
    (``serve`` with ``[responder] index``: the imported, live one).

    ``now`` decides which certificates index.txt lists as expired (default:
    t0). ``secret`` is the lab secret ``pki`` was built with, for the README
    to name (by fingerprint); by default it is recognised as the public one or
    named by fingerprint alone. :func:`check_out_dir` is applied first.
    """
    now = now or pki.t0
    if secret is None:
        secret = LabSecret(pki.spec.seed, "a lab secret")
        secret = PUBLIC_SECRET if secret.is_public else secret
    elif secret.value != pki.spec.seed:
        raise ValueError("write_pki: secret is not the one the PKI was built with")
    out = Path(out)
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Opened without following a link, so the chmod lands on this directory even
    # if the path was swapped for a symlink since check_out_dir looked.
    dir_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchmod(dir_fd, 0o700)
    finally:
        os.close(dir_fd)
    written: list[Path] = []

    def put(name: str, data: bytes, mode: int = 0o644) -> None:
        path = out / name
        atomic_write(path, data, mode=mode)
        written.append(path)

    # The README first: it marks the directory as the lab's, so a build cut
    # short can be run again into the same directory.
    put("README.txt", _readme(pki, database, secret).encode())
    for cert in pki:
        put(f"{cert.name}.pem", _pem(cert))
        if cert.key is None:
            # A certificate from a file without key_file: the lab never holds a key the
            # user did not give, so it writes none (and no .p12, which would need it).
            continue
        put(f"{cert.name}.key", _key_pem(cert), mode=0o600)
        if cert.profile is Profile.LEAF:
            # A new .p12 differs by its random salt alone: a re-build keeps the
            # one already there if it holds the same key and certificates.
            p12 = out / f"{cert.name}.p12"
            if _same_p12(p12, pki, cert):
                os.chmod(p12, 0o600)
                written.append(p12)
            else:
                put(p12.name, _p12(pki, cert), mode=0o600)
    cas = sorted(pki.cas(), key=lambda c: -_depth(pki, c))
    put("chain.pem", b"".join(_pem(c) for c in cas))
    for ca in pki.cas():
        if ca.name in keep_index:
            continue
        path = write_index(database, ca.name, out, now=now)
        written += [path, path.with_name(path.name + ".attr")]
    return written
