"""The lab secret: made once per installation, private, shared only on purpose.

Every test points XDG_CONFIG_HOME (and OCSP_LAB_SECRET_FILE) at its own tmp
directory: nothing here touches the real home.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from pki import PKISpec
from pki.errors import PKIError
from pki.secret import (
    PUBLIC_SECRET,
    SECRET_BYTES,
    LabSecret,
    default_secret_path,
    installation_secret,
)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("OCSP_LAB_SECRET_FILE", raising=False)
    return home


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _secret_file(path: Path, data: bytes = b"k" * SECRET_BYTES, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _build(out: Path, *extra: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(["pki", "build", "--out", str(out), "--t0", "2026-01-01", *extra])


def test_first_use_makes_a_private_secret_and_keeps_it(config_home: Path) -> None:
    first = installation_secret()
    path = config_home / "ocsp-lab" / "secret"
    assert path.read_bytes() == first.value and len(first.value) == SECRET_BYTES
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert installation_secret().value == first.value
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert not first.is_public and str(path) in first.describe()


def test_xdg_config_home_unset_or_relative_means_dot_config(tmp_path: Path) -> None:
    home = Path.home()
    assert default_secret_path({}) == home / ".config" / "ocsp-lab" / "secret"
    assert default_secret_path({"XDG_CONFIG_HOME": "rel"}) == home / ".config/ocsp-lab/secret"
    assert default_secret_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "ocsp-lab/secret"


def test_two_first_uses_at_once_agree_on_one_secret(config_home: Path) -> None:
    # Eight racers on an empty config directory: the file must appear whole, once.
    results: list[bytes | Exception] = []
    barrier = threading.Barrier(8)

    def racer() -> None:
        barrier.wait()
        try:
            results.append(installation_secret().value)
        except Exception as exc:  # reported below, with what the others got
            results.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1, results
    assert results[0] == (config_home / "ocsp-lab" / "secret").read_bytes()


def test_fingerprint_names_the_secret_without_revealing_it() -> None:
    secret = LabSecret(bytes(range(32)), "test")
    other = LabSecret(bytes(range(1, 33)), "test")
    assert len(secret.fingerprint) == 16 and int(secret.fingerprint, 16) >= 0
    assert secret.fingerprint != other.fingerprint
    assert secret.value.hex()[:16] != secret.fingerprint
    assert secret.fingerprint in secret.describe()
    assert bytes(range(32)).hex() not in repr(secret)


def test_scenario_runs_keep_the_public_secret() -> None:
    assert PKISpec().seed == PUBLIC_SECRET.value
    assert PKISpec.with_defaults().seed == PUBLIC_SECRET.value
    assert "public scenario secret" in PUBLIC_SECRET.describe()


@pytest.mark.parametrize(
    ("data", "mode", "expected"),
    [
        (b"k" * 32, 0o640, "mode 0640 lets others read or change it"),
        (b"k" * 32, 0o604, "mode 0604 lets others read or change it"),
        (b"k" * 31, 0o600, ": 31 bytes (expected a regular file of 32 bytes"),
        (b"k" * 33, 0o600, ": 32+ bytes (expected a regular file of 32 bytes"),
        (b"", 0o600, ": 0 bytes (expected"),
    ],
)
def test_a_bad_secret_file_is_refused_naming_it(
    config_home: Path, tmp_path: Path, data: bytes, mode: int, expected: str
) -> None:
    path = _secret_file(tmp_path / "team-secret", data, mode)
    with pytest.raises(PKIError) as error:
        installation_secret(str(path))
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)


def test_a_secret_that_is_not_a_regular_file_is_refused(config_home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    (tmp_path / "dir").mkdir(mode=0o700)
    for path in (fifo, tmp_path / "dir"):
        with pytest.raises(PKIError, match="not a regular file"):
            installation_secret(str(path))  # and a FIFO does not hang it


def test_the_default_secret_is_checked_like_a_shared_one(config_home: Path) -> None:
    path = installation_secret().source.split()[-1]
    os.chmod(path, 0o644)
    with pytest.raises(PKIError, match=r"mode 0644 .*chmod 600"):
        installation_secret()


def test_a_missing_shared_secret_is_an_error_not_a_new_secret(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo"
    with pytest.raises(PKIError, match="no such secret file"):
        installation_secret(str(missing))
    monkeypatch.setenv("OCSP_LAB_SECRET_FILE", str(missing))
    with pytest.raises(PKIError, match="no such secret file"):
        installation_secret()
    assert not missing.exists() and not config_home.exists()


def test_an_empty_secret_file_option_is_refused_and_an_empty_variable_is_unset(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PKIError, match=r"^--secret-file: expected the path of a secret file"):
        installation_secret("")
    monkeypatch.setenv("OCSP_LAB_SECRET_FILE", "")
    assert installation_secret().source.startswith("per-installation secret ")


def test_secret_file_option_wins_over_the_environment(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_option = _secret_file(tmp_path / "a", b"a" * 32)
    by_env = _secret_file(tmp_path / "b", b"b" * 32)
    monkeypatch.setenv("OCSP_LAB_SECRET_FILE", str(by_env))
    assert installation_secret().value == b"b" * 32
    assert installation_secret(str(by_option)).value == b"a" * 32
    assert installation_secret().describe() == f"shared secret {by_env}, fingerprint " + (
        LabSecret(b"b" * 32, "").fingerprint
    )


def test_a_group_writable_config_directory_is_refused(config_home: Path) -> None:
    (config_home / "ocsp-lab").mkdir(parents=True)
    os.chmod(config_home / "ocsp-lab", 0o777)
    with pytest.raises(PKIError, match="lets others replace the lab secret"):
        installation_secret()


# ---- through the command line ---------------------------------------------------------------


def _root_key(out: Path) -> bytes:
    key = serialization.load_pem_private_key((out / "root.key").read_bytes(), None)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_two_installations_never_share_a_root_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCSP_LAB_SECRET_FILE", raising=False)
    for name in ("alice", "bob"):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / name / "config"))
        assert _build(tmp_path / name / "pki") == 0
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    assert _root_key(alice / "pki") != _root_key(bob / "pki")
    secrets = [(p / "config/ocsp-lab/secret").read_bytes() for p in (alice, bob)]
    assert PUBLIC_SECRET.value not in secrets
    readme = (alice / "pki" / "README.txt").read_text()
    fingerprint = LabSecret(secrets[0], "").fingerprint
    assert (
        f"per-installation secret {alice}/config/ocsp-lab/secret, fingerprint {fingerprint}"
        in readme
    )
    # The same installation again: the same root.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(alice / "config"))
    assert _build(tmp_path / "again") == 0
    assert _root_key(tmp_path / "again") == _root_key(alice / "pki")


def test_a_shared_secret_file_gives_the_same_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = _secret_file(tmp_path / "team", os.urandom(32))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert _build(tmp_path / "one", "--secret-file", str(shared)) == 0
    monkeypatch.setenv("OCSP_LAB_SECRET_FILE", str(shared))
    assert _build(tmp_path / "two") == 0
    assert _root_key(tmp_path / "one") == _root_key(tmp_path / "two")
    assert (tmp_path / "one/root.pem").read_bytes() == (tmp_path / "two/root.pem").read_bytes()
    monkeypatch.delenv("OCSP_LAB_SECRET_FILE")
    assert _build(tmp_path / "own") == 0
    assert _root_key(tmp_path / "one") != _root_key(tmp_path / "own")


@pytest.mark.parametrize("mode", [0o644, 0o600])
def test_a_bad_secret_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    path = _secret_file(tmp_path / "s", b"short" if mode == 0o600 else b"k" * 32, mode)
    assert main(["pki", "build", "--out", str(tmp_path / "o"), "--secret-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(path) in err and "expected" in err
    assert not (tmp_path / "o").exists()
