"""The PKI drawn as a tree: who issued whom, and who may sign OCSP answers for whom."""

from __future__ import annotations

from pathlib import Path

from pki import PKI, IssuedCert, Profile
from pki.database import RecordReader

__all__ = ["render_tree"]


def _describe(cert: IssuedCert, database: RecordReader | None) -> str:
    words = [cert.profile.value, _key_name(cert), f"serial {cert.serial:X}"]
    material = cert.spec.from_file
    if material is not None:
        # A customer's certificate: say so, and whether the lab holds its key (it can sign).
        words.append(f"from {Path(material.path).name}" + ("" if cert.key else ", without its key"))
    if cert.profile is Profile.OCSP_RESPONDER:
        words.append(
            f"signs OCSP answers for certificates of {cert.issuer}"
            if cert.issuer
            else "designated OCSP signer (trusted only from the trust store)"
        )
    if database is not None:
        record = database.by_name(cert.name)
        words.append(record.status.value if record else "no record (unknown)")
    return ", ".join(words)


def _key_name(cert: IssuedCert) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    # The certificate's public key: a certificate from a file may come without its private one.
    key = cert.certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ec-p{key.curve.key_size}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    return "?"


def render_tree(pki: PKI, database: RecordReader | None = None) -> str:
    """One line per certificate, children indented under their issuer.

    Drawn with an explicit stack, not recursion: a scenario may chain
    thousands of CAs, one under the other, and the drawing must not depend
    on Python's recursion limit.
    """
    children: dict[str, list[IssuedCert]] = {}
    for cert in pki:
        if cert.issuer is not None:
            children.setdefault(cert.issuer, []).append(cert)
    lines: list[str] = []
    # (certificate, prefix of its line, last of its siblings, a top-level root)
    stack: list[tuple[IssuedCert, str, bool, bool]] = [
        (cert, "", True, True) for cert in reversed(list(pki)) if cert.issuer is None
    ]
    while stack:
        cert, prefix, last, top = stack.pop()
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{cert.name}  ({_describe(cert, database)})")
        inner = prefix + ("" if top else ("   " if last else "│  "))
        below = children.get(cert.name, [])
        # Pushed in reverse, so the first child is drawn first (as issued_by orders them).
        for i in reversed(range(len(below))):
            stack.append((below[i], inner, i == len(below) - 1, False))
    return "\n".join(lines)
