"""Same scenario, same bytes: in two processes, and for every key type."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from pki import KeyType, PKISpec, SignatureHash, build_pki
from pki.keys import derive_key

_DIGEST_ALL = """
import hashlib, sys
from cryptography.hazmat.primitives import serialization as s
from pki import PKISpec, KeyType, SignatureHash, build_pki
h = hashlib.sha256()
hash_ = SignatureHash(sys.argv[2]) if len(sys.argv) > 2 else None
for c in build_pki(PKISpec(key=KeyType(sys.argv[1]), signature_hash=hash_)):
    h.update(c.certificate.public_bytes(s.Encoding.DER))
    h.update(c.private_key.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()))
print(h.hexdigest())
"""


def _digest_in_subprocess(
    key: KeyType, cache: Path, signature_hash: SignatureHash | None = None
) -> str:
    env = {"OCSP_LAB_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    extra = [] if signature_hash is None else [signature_hash.value]
    proc = subprocess.run(
        [sys.executable, "-c", _DIGEST_ALL, key.value, *extra],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return proc.stdout.strip()


@pytest.mark.parametrize("key", [KeyType.EC_P256, KeyType.ED25519])
def test_two_processes_build_byte_identical_pkis(key: KeyType, tmp_path: Path) -> None:
    assert _digest_in_subprocess(key, tmp_path) == _digest_in_subprocess(key, tmp_path)


@pytest.mark.parametrize("key", [KeyType.EC_P256, KeyType.RSA_1024])
def test_sha1_signed_pkis_are_byte_identical_too(key: KeyType, tmp_path: Path) -> None:
    # The SHA-1 path signs outside cryptography's builder (pki.legacy): RFC
    # 6979 ECDSA and PKCS#1 v1.5 keep it deterministic, and it is really SHA-1.
    first = _digest_in_subprocess(key, tmp_path, SignatureHash.SHA1)
    assert first == _digest_in_subprocess(key, tmp_path, SignatureHash.SHA1)
    assert first != _digest_in_subprocess(key, tmp_path)


def test_rsa_keys_are_identical_with_and_without_the_disk_cache(tmp_path: Path) -> None:
    # First process derives and fills an empty cache; the second reads it; a
    # third derives again after the cache is wiped.
    first = _digest_in_subprocess(KeyType.RSA_2048, tmp_path / "a")
    second = _digest_in_subprocess(KeyType.RSA_2048, tmp_path / "a")
    assert list((tmp_path / "a" / "keys").iterdir())
    third = _digest_in_subprocess(KeyType.RSA_2048, tmp_path / "b")
    assert first == second == third


def test_damaged_cache_entry_is_derived_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCSP_LAB_CACHE", str(tmp_path))
    derive_key.cache_clear()
    good = derive_key(b"seed", "x", KeyType.RSA_2048)
    (entry,) = (tmp_path / "keys").iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    entry.write_bytes(b"garbage")
    derive_key.cache_clear()
    again = derive_key(b"seed", "x", KeyType.RSA_2048)
    assert again.private_numbers() == good.private_numbers()


def test_planted_cache_entry_is_detected_and_derived_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache is writable by anyone with the user's rights; an entry is only
    # taken if it is sealed under the secret that derives it.
    monkeypatch.setenv("OCSP_LAB_CACHE", str(tmp_path))
    derive_key.cache_clear()
    good = derive_key(b"secret-a", "root", KeyType.RSA_2048)
    (entry,) = (tmp_path / "keys").iterdir()
    sealed = entry.read_bytes()
    other = derive_key(b"secret-b", "root", KeyType.RSA_2048)
    assert len(list((tmp_path / "keys").iterdir())) == 2  # keyed by the secret
    other_entry = next(p for p in (tmp_path / "keys").iterdir() if p != entry)
    stranger = other.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    plants = [
        other_entry.read_bytes(),  # a valid entry, sealed by another secret
        sealed[:32] + stranger,  # the right seal over another key
        stranger,  # a bare key, as the cache held before it was sealed
    ]
    for planted in plants:
        entry.write_bytes(planted)
        derive_key.cache_clear()
        again = derive_key(b"secret-a", "root", KeyType.RSA_2048)
        assert again.private_numbers() == good.private_numbers()
        assert entry.read_bytes() == sealed  # replaced by the derived key


def test_cache_hits_do_not_derive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCSP_LAB_CACHE", str(tmp_path))
    derive_key.cache_clear()
    good = derive_key(b"secret-a", "x", KeyType.RSA_2048)
    derive_key.cache_clear()
    from Crypto.PublicKey import RSA

    def no_generation(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit derived the key again")

    monkeypatch.setattr(RSA, "generate", no_generation)
    assert derive_key(b"secret-a", "x", KeyType.RSA_2048).private_numbers() == (
        good.private_numbers()
    )


def test_different_names_and_seeds_give_different_keys() -> None:
    def fingerprint(seed: bytes, name: str) -> bytes:
        key = derive_key(seed, name, KeyType.EC_P256)
        return hashlib.sha256(str(key.private_numbers().private_value).encode()).digest()

    assert fingerprint(b"s", "a") != fingerprint(b"s", "b")
    assert fingerprint(b"s", "a") != fingerprint(b"t", "a")


def test_renaming_one_certificate_leaves_the_others_alone() -> None:
    base = build_pki()
    spec = PKISpec.with_defaults()
    other = build_pki(PKISpec(key=spec.key, certs=spec.certs, seed=spec.seed))
    assert base["root"].certificate == other["root"].certificate
    assert base["server"].serial == other["server"].serial
