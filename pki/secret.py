"""The lab secret: what every derived key and serial is keyed by (DESIGN.md "Whose keys").

Determinism must never make the keys public. Two kinds of secret:

* :data:`PUBLIC_SECRET`, fixed and published in this file: scenario runs,
  ``explain`` and the tests use it, so their bytes are the same on every
  machine. Nothing made with it may ever be imported into a product.
* a per-installation secret: 32 random bytes made on first use in
  ``$XDG_CONFIG_HOME/ocsp-lab/secret`` (``~/.config/ocsp-lab/secret``), mode
  0600 in a 0700 directory. ``pki build`` and ``serve`` use it, so two
  installations never share a root key by accident while one installation
  keeps its root across runs and upgrades. A team shares one on purpose
  with ``--secret-file`` or ``OCSP_LAB_SECRET_FILE``.

A secret is named by its :attr:`LabSecret.fingerprint` (never by its bytes),
so an exported README can say which secret made a PKI.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pki.errors import PKIError

__all__ = [
    "PUBLIC_SECRET",
    "SECRET_BYTES",
    "SECRET_FILE_ENV",
    "LabSecret",
    "default_secret_path",
    "installation_secret",
    "read_secret",
]

#: Length of a per-installation secret: 256 bits, HMAC-SHA-256's key size.
SECRET_BYTES = 32
#: Environment variable naming a shared secret file (``--secret-file`` wins over it).
SECRET_FILE_ENV = "OCSP_LAB_SECRET_FILE"

# Domain separation: a fingerprint is never an HMAC output of the key derivation.
_FINGERPRINT_LABEL = b"ocsp-lab secret fingerprint/v1\x00"


@dataclass(frozen=True)
class LabSecret:
    """Secret bytes and where they came from (``source`` is for people, never the bytes)."""

    value: bytes = field(repr=False)
    source: str

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 over a label and the secret: names it, hides it."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.value).hexdigest()[:16]

    @property
    def is_public(self) -> bool:
        return self.value == PUBLIC_SECRET.value

    def describe(self) -> str:
        """One line for a README: which secret made this PKI."""
        if self.is_public:
            return "the public scenario secret (every installation derives the same keys)"
        return f"{self.source}, fingerprint {self.fingerprint}"


#: The scenario secret: public on purpose, the same bytes as ever, so scenario
#: runs stay byte-identical everywhere (and with earlier versions of the lab).
PUBLIC_SECRET = LabSecret(b"ocsp-lab/v1", "the public scenario secret")


def default_secret_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/ocsp-lab/secret``; XDG Base Directory: ``~/.config`` when unset.

    The XDG spec says a relative ``XDG_CONFIG_HOME`` is invalid and must be
    ignored, so it is.
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "ocsp-lab" / "secret"


def installation_secret(
    secret_file: str | None = None, environ: Mapping[str, str] | None = None
) -> LabSecret:
    """The secret for what a product may trust.

    ``secret_file`` (``--secret-file``), else ``$OCSP_LAB_SECRET_FILE``: a
    shared secret, which must exist (a typo must not silently make a new root).
    Else the default per-installation file, made on first use.
    """
    env = os.environ if environ is None else environ
    if secret_file == "":
        raise PKIError("--secret-file: expected the path of a secret file, found ''")
    # An empty variable counts as unset, as shells and most tools treat it.
    chosen = secret_file or env.get(SECRET_FILE_ENV) or None
    if chosen is not None:
        return read_secret(Path(chosen), kind="shared secret")
    path = default_secret_path(env)
    _create_if_missing(path)
    return read_secret(path, kind="per-installation secret")


def read_secret(path: Path, *, kind: str = "secret") -> LabSecret:
    """Read a secret file, refusing anything but a private, regular file of 32 bytes."""
    expected = f"a regular file of {SECRET_BYTES} bytes, mode 0600, owned by you"
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang us before fstat refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PKIError(
            f"{path}: no such secret file (expected {expected}; "
            f"the default one, {default_secret_path()}, is made on first use)"
        ) from None
    except OSError as exc:
        raise PKIError(f"{path}: cannot read the secret file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PKIError(f"{path}: not a regular file (expected {expected})")
        if info.st_uid != os.getuid():
            raise PKIError(f"{path}: owned by uid {info.st_uid}, not you (expected {expected})")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise PKIError(
                f"{path}: mode {mode:04o} lets others read or change it "
                f"(expected {expected}; chmod 600 {path})"
            )
        data = os.read(fd, SECRET_BYTES + 1)
    except OSError as exc:
        raise PKIError(f"{path}: cannot read the secret file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) != SECRET_BYTES:
        found = f"{SECRET_BYTES}+" if len(data) > SECRET_BYTES else str(len(data))
        raise PKIError(f"{path}: {found} bytes (expected {expected})")
    return LabSecret(data, f"{kind} {path}")


def _create_if_missing(path: Path) -> None:
    """Make the secret file once, race-free: it appears whole or not at all.

    The bytes go to a private temporary file (``O_CREAT | O_EXCL``, 0600),
    which is then hard-linked to the final name: ``link`` fails if the name
    exists, so of two first runs at once one wins and the other reads the
    winner's secret, never a half-written one.
    """
    if os.path.lexists(path):
        return  # read_secret judges what is there
    directory = path.parent
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise PKIError(f"{directory}: not a directory (expected one for the lab secret)")
        if info.st_mode & 0o022:
            mode = stat.S_IMODE(info.st_mode)
            raise PKIError(
                f"{directory}: mode {mode:04o} lets others replace the lab secret "
                f"(expected a directory of mode 0700; chmod 700 {directory})"
            )
        tmp = directory / f".secret.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # whatever the umask
                os.write(fd, secrets.token_bytes(SECRET_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # another first run won: use its secret
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new name must survive a power cut: it is the root key
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise PKIError(f"{path}: cannot make the lab secret ({exc.strerror})") from None
