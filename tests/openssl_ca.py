"""A customer-style CA made by the ``openssl`` command line, as field material is.

``openssl req -x509`` for a CA valid from now (real-clock tests: ``pki build``,
``openssl verify``, ``openssl ocsp``), and ``openssl ca`` with ``-startdate``
for certificates valid at the virtual clock's t0 (:data:`pki.EPOCH`, in the
past), which ``req -x509`` of OpenSSL 3.0 cannot back-date. Nothing here is
the lab's: every certificate and key is OpenSSL's own.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OpenSSLCA", "openssl"]

#: Before the virtual clock's t0 (2025-01-01) and long after it.
START = "20240101000000Z"
END = "20450101000000Z"

_CONFIG = """\
[ ca ]
default_ca = lab_test
[ lab_test ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[ ca_own_ski_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
# Not the SHA-1 of the key (RFC 5280 4.2.1.2 allows any method): AKIs must copy it.
subjectKeyIdentifier = 0A:0B:0C:0D:0E:0F:10:11:12:13
[ not_a_ca_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
[ leaf_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:phone.example.com
[ ocsp_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args: str, cwd: Path, input_text: str | None = None) -> str:
    """Run ``openssl ARGS``; its output, or an AssertionError with what it printed."""
    proc = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, input=input_text, timeout=60
    )
    assert proc.returncode == 0, f"openssl {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout + proc.stderr


@dataclass(frozen=True)
class OpenSSLCA:
    """A CA in ``dir``: ``<name>.pem``, ``<name>.key`` and the ``openssl ca`` database."""

    dir: Path
    name: str

    @property
    def cert(self) -> Path:
        return self.dir / f"{self.name}.pem"

    @property
    def key(self) -> Path:
        return self.dir / f"{self.name}.key"

    @classmethod
    def req_x509(
        cls, dir: Path, name: str, *, subject: str, newkey: str = "rsa:2048", own_ski: bool = False
    ) -> OpenSSLCA:
        """A self-signed CA by ``openssl req -x509``, valid from now for ten years.

        ``own_ski``: a subjectKeyIdentifier that is not the SHA-1 of its key.
        """
        ca = cls._prepare(dir, name)
        openssl(
            "req", "-x509", "-newkey", newkey, "-nodes", "-keyout", ca.key.name,
            "-out", ca.cert.name, "-days", "3650", "-subj", subject,
            "-config", "openssl.cnf", "-extensions", "ca_own_ski_ext" if own_ski else "ca_ext",
            cwd=dir,
        )  # fmt: skip
        return ca

    @classmethod
    def backdated(
        cls,
        dir: Path,
        name: str,
        *,
        subject: str,
        newkey: str = "rsa:2048",
        md: str = "sha256",
        extensions: str = "ca_ext",
    ) -> OpenSSLCA:
        """A self-signed CA by ``openssl ca -selfsign``, valid from 2024 to 2045."""
        ca = cls._prepare(dir, name)
        openssl(
            "req", "-new", "-newkey", newkey, "-nodes", "-keyout", ca.key.name,
            "-out", f"{name}.csr", "-subj", subject, "-config", "openssl.cnf", cwd=dir,
        )  # fmt: skip
        openssl(
            "ca", "-batch", "-selfsign", "-config", "openssl.cnf", "-keyfile", ca.key.name,
            "-in", f"{name}.csr", "-out", ca.cert.name, "-startdate", START, "-enddate", END,
            "-md", md, "-extensions", extensions, "-notext", cwd=dir,
        )  # fmt: skip
        return ca

    @classmethod
    def _prepare(cls, dir: Path, name: str) -> OpenSSLCA:
        dir.mkdir(parents=True, exist_ok=True)
        (dir / "issued").mkdir(exist_ok=True)
        (dir / "index.txt").touch()
        serial = dir / "serial"
        if not serial.exists():
            serial.write_text("1000\n")
        (dir / "openssl.cnf").write_text(_CONFIG.format(dir=dir))
        return cls(dir, name)

    def issue(
        self, name: str, *, subject: str, md: str = "sha256", extensions: str = "leaf_ext"
    ) -> Path:
        """A leaf signed by this CA (``openssl ca``, valid from 2024): ``<name>.pem``, ``.key``.

        ``extensions``: ``leaf_ext`` (a TLS leaf) or ``ocsp_ext`` (a delegated OCSP responder).
        """
        openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
            "-config", "openssl.cnf", cwd=self.dir,
        )  # fmt: skip
        openssl(
            "ca", "-batch", "-config", "openssl.cnf", "-cert", self.cert.name,
            "-keyfile", self.key.name, "-in", f"{name}.csr", "-out", f"{name}.pem",
            "-startdate", START, "-enddate", END, "-md", md, "-extensions", extensions,
            "-notext", cwd=self.dir,
        )  # fmt: skip
        return self.dir / f"{name}.pem"
