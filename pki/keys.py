"""Deterministic private keys: the same seed (lab secret) and name give the same key.

A product under test must keep trusting the lab across runs, so every key is
derived, never drawn:

* EC (P-256, P-384): the private scalar is HMAC-SHA-512(seed, label) reduced
  into [1, n-1] — the same construction as FIPS 186-5 A.2.1 ("extra random
  bits", 64 more bits than the order) with a keyed hash instead of a DRBG.
* Ed25519: the 32-octet secret is HMAC-SHA-256(seed, label) (RFC 8032 5.1.5
  takes any 32 octets).
* RSA: pycryptodome's FIPS 186-4 prime generation (``RSA.generate``) fed by a
  deterministic byte stream, HMAC-SHA-256 in counter mode over (seed, label).
  That is the standard generator with its randomness replaced, not a
  home-made prime search. It costs one to two seconds a key in pure Python,
  so RSA keys are also cached on disk (``$OCSP_LAB_CACHE`` or
  ``~/.cache/ocsp-lab/keys``) as PKCS#8 sealed with an HMAC under the seed;
  the cache only saves time, the bytes are the same with or without it, and
  an entry that is damaged, or was written or edited without the seed, is
  derived again.

The seed is the lab secret (:mod:`pki.secret`): public for scenario runs,
per installation for everything a product may trust.

Keys are memoised in-process, so a warm build costs only the certificates.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pki.spec import KeyType

__all__ = ["PrivateKey", "derive_key", "key_cache_dir"]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# Group orders, SEC 2 2.4.2 (secp256r1) and 2.5.1 (secp384r1).
_CURVES: dict[KeyType, tuple[ec.EllipticCurve, int]] = {
    KeyType.EC_P256: (
        ec.SECP256R1(),
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    KeyType.EC_P384: (
        ec.SECP384R1(),
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    ),
}
_RSA_BITS = {KeyType.RSA_1024: 1024, KeyType.RSA_2048: 2048, KeyType.RSA_3072: 3072}


def _label(key_type: KeyType, name: str, namespace: str | None) -> bytes:
    if namespace is None:
        return f"ocsp-lab key/{key_type.value}/{name}".encode()
    # A prefix of its own, so no (namespace, name) meets a plain name; the
    # namespace's length first, so ("a/b", "c") and ("a", "b/c") stay apart.
    return f"ocsp-lab namespaced key/{key_type.value}/{len(namespace)}:{namespace}/{name}".encode()


@functools.lru_cache(maxsize=1024)
def derive_key(
    seed: bytes, name: str, key_type: KeyType, namespace: str | None = None
) -> PrivateKey:
    """The private key of certificate ``name`` under ``seed``, always the same.

    ``namespace`` (None: none) gives the same name a key of its own in each
    namespace: the builder's ``leaf_namespace``, so a leaf of one set of
    certificates never shares its key with the same-named leaf of another.
    """
    label = _label(key_type, name, namespace)
    if key_type in _CURVES:
        curve, order = _CURVES[key_type]
        wide = int.from_bytes(hmac.new(seed, label, hashlib.sha512).digest(), "big")
        return ec.derive_private_key(wide % (order - 1) + 1, curve)
    if key_type is KeyType.ED25519:
        secret = hmac.new(seed, label, hashlib.sha256).digest()
        return ed25519.Ed25519PrivateKey.from_private_bytes(secret)
    return _rsa_key(seed, label, _RSA_BITS[key_type])


class _CounterStream:
    """HMAC-SHA-256(seed, label || counter) blocks, as pycryptodome's ``randfunc``."""

    def __init__(self, seed: bytes, label: bytes) -> None:
        self._seed, self._label = seed, label
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = self._label + self._counter.to_bytes(8, "big")
            self._buffer += hmac.new(self._seed, block, hashlib.sha256).digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def key_cache_dir() -> Path:
    """Where derived RSA keys are cached (``OCSP_LAB_CACHE`` overrides)."""
    base = os.environ.get("OCSP_LAB_CACHE")
    if base:
        return Path(base) / "keys"
    return Path.home() / ".cache" / "ocsp-lab" / "keys"


def _cache_entry(seed: bytes, label: bytes, bits: int) -> tuple[Path, bytes]:
    """The cache file of one RSA key, and the MAC key its entry is sealed with.

    The file name is keyed by the secret (a fingerprint of it, then an HMAC of
    the key's label), so entries of two secrets never meet and a name reveals
    neither the secret nor the certificate.
    """
    fingerprint = hashlib.sha256(b"ocsp-lab rsa-cache name/v1\x00" + seed).hexdigest()[:16]
    name = hmac.new(seed, b"ocsp-lab rsa-cache entry/" + label, hashlib.sha256).hexdigest()[:32]
    mac_key = hmac.new(seed, b"ocsp-lab rsa-cache mac/v1", hashlib.sha256).digest()
    return key_cache_dir() / f"rsa{bits}-{fingerprint}-{name}.der", mac_key


def _seal(mac_key: bytes, label: bytes, der: bytes) -> bytes:
    """A cache entry: HMAC-SHA-256 under the secret over (label, key), then the key."""
    return hmac.new(mac_key, label + b"\x00" + der, hashlib.sha256).digest() + der


def _unseal(mac_key: bytes, label: bytes, entry: bytes) -> bytes | None:
    """The key of an entry whose MAC verifies; None for a planted or damaged one."""
    mac, der = entry[:32], entry[32:]
    expected = hmac.new(mac_key, label + b"\x00" + der, hashlib.sha256).digest()
    return der if hmac.compare_digest(mac, expected) else None


def _rsa_key(seed: bytes, label: bytes, bits: int) -> rsa.RSAPrivateKey:
    # The cache is a file anyone with the user's rights can write: a key is
    # taken from it only if its MAC under the secret verifies, so an entry
    # planted by another secret, or edited, is derived again (and replaced).
    path, mac_key = _cache_entry(seed, label, bits)
    try:
        der = _unseal(mac_key, label, path.read_bytes())
        if der is not None:
            key = serialization.load_der_private_key(der, password=None)
            if isinstance(key, rsa.RSAPrivateKey) and key.key_size == bits:
                return key
    except (OSError, ValueError):
        pass  # no cache entry, or a damaged one: derive it again
    from Crypto.PublicKey import RSA  # imported late: only RSA scenarios pay for it

    generated = RSA.generate(bits, randfunc=_CounterStream(seed, label), e=65537)
    der = generated.export_key(format="DER", pkcs=8)
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    _write_cache(path, _seal(mac_key, label, der))
    return key


def _write_cache(path: Path, der: bytes) -> None:
    """Best effort, atomic, private: a failed cache write only costs time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(der)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
