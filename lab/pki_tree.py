"""The PKI drawn as a tree: who issued whom, and who may sign OCSP answers for whom."""

from __future__ import annotations

from pki import PKI, IssuedCert, Profile
from pki.database import RecordReader

__all__ = ["render_tree"]


def _describe(cert: IssuedCert, database: RecordReader | None) -> str:
    words = [cert.profile.value, _key_name(cert), f"serial {cert.serial:X}"]
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

    key = cert.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"ec-p{key.curve.key_size}"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    return "?"


def render_tree(pki: PKI, database: RecordReader | None = None) -> str:
    """One line per certificate, children indented under their issuer."""
    lines: list[str] = []

    def walk(cert: IssuedCert, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{cert.name}  ({_describe(cert, database)})")
        children = pki.issued_by(cert.name)
        inner = prefix + ("" if top else ("   " if last else "│  "))
        for i, child in enumerate(children):
            walk(child, inner, i == len(children) - 1, False)

    for cert in pki:
        if cert.issuer is None:
            walk(cert, "", True, True)
    return "\n".join(lines)
