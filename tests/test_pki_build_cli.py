"""``ocsp-lab pki build``: the files, their modes, and bad input (exit 2, one line)."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from lab.cli import main
from pki.export import P12_PASSWORD
from pki.secret import LabSecret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_build_writes_every_file_with_private_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pki"
    assert main(["pki", "build", "--out", str(out), "--t0", "2026-01-01"]) == 0
    names = {p.name for p in out.iterdir()}
    certs = ["root", "intermediate", "server", "responder", "root-responder", "trusted-responder"]
    for name in certs:
        assert {f"{name}.pem", f"{name}.key"} <= names
        assert _mode(out / f"{name}.key") == 0o600
        key = load_pem_private_key((out / f"{name}.key").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((out / f"{name}.pem").read_bytes())
        assert key.public_key() == cert.public_key()
    assert {"chain.pem", "server.p12", "README.txt"} <= names
    assert {"root.index.txt", "intermediate.index.txt", "intermediate.index.txt.attr"} <= names
    assert (out / "intermediate.index.txt.attr").read_text() == "unique_subject = no\n"
    assert _mode(out) == 0o700
    assert _mode(out / "server.p12") == 0o600
    chain = x509.load_pem_x509_certificates((out / "chain.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=intermediate,O=ocsp-lab",
        "CN=root,O=ocsp-lab",
    ]
    p12 = pkcs12.load_pkcs12((out / "server.p12").read_bytes(), P12_PASSWORD)
    assert p12.cert is not None and len(p12.additional_certs) == 2
    readme = (out / "README.txt").read_text()
    assert "server.p12" in readme and "openssl ocsp" in readme
    printed = capsys.readouterr().out
    assert "└─ responder" in printed and "t0 2026-01-01" in printed


def test_build_is_byte_identical_across_runs(tmp_path: Path) -> None:
    # Every file but the .p12 (PKCS#12's salt is random): the README included.
    for run in ("a", "b"):
        assert main(["pki", "build", "--out", str(tmp_path / run), "--t0", "2026-01-01"]) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    for path in (tmp_path / "a").iterdir():
        if path.suffix != ".p12":
            assert path.read_bytes() == first[path.name], path.name
    assert "written" not in (tmp_path / "a" / "README.txt").read_text().splitlines()[0]
    # A re-build into the directory it made keeps even the .p12 as it was.
    assert main(["pki", "build", "--out", str(tmp_path / "b"), "--t0", "2026-01-01"]) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == first
    # ...but not one that holds something else.
    (tmp_path / "b" / "server.p12").write_bytes(first["server.p12"][:-1])
    assert main(["pki", "build", "--out", str(tmp_path / "b"), "--t0", "2026-01-01"]) == 0
    p12 = (tmp_path / "b" / "server.p12").read_bytes()
    assert p12 != first["server.p12"] and pkcs12.load_pkcs12(p12, P12_PASSWORD).key is not None


def test_readme_names_the_secret_by_path_and_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "team-secret"
    secret.write_bytes(bytes(range(32)))
    secret.chmod(0o600)
    out = tmp_path / "pki"
    assert main(["pki", "build", "--out", str(out), "--secret-file", str(secret)]) == 0
    fingerprint = LabSecret(bytes(range(32)), "").fingerprint
    line = f"Keys and serials derived from: shared secret {secret}, fingerprint {fingerprint}"
    readme = (out / "README.txt").read_text()
    assert line in readme.splitlines()
    assert bytes(range(32)).hex() not in readme
    assert f"fingerprint {fingerprint}" in capsys.readouterr().out


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of ``ocsp-lab ARGS``, usage errors from argparse included."""
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    return code, capsys.readouterr().err


def _one_line(err: str) -> str:
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_out_that_is_a_symlink_is_refused_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "shared"
    target.mkdir(mode=0o755)
    link = tmp_path / "link"
    link.symlink_to(target)
    for out in (str(link), f"{link}/"):
        code, err = _cli(["pki", "build", "--out", out], capsys)
        assert code == 2
        assert f"{link}: is a symbolic link" in _one_line(err)
    assert list(target.iterdir()) == [] and _mode(target) == 0o755


def test_out_that_is_someone_elses_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "notes.txt").write_text("mine")
    code, err = _cli(["pki", "build", "--out", str(home)], capsys)
    assert code == 2
    assert f"{home}: a non-empty directory that ocsp-lab did not make" in _one_line(err)
    assert [p.name for p in home.iterdir()] == ["notes.txt"] and _mode(home) == 0o755
    # A README.txt of someone else's does not make it the lab's either.
    (home / "README.txt").write_text("my project\n")
    assert _cli(["pki", "build", "--out", str(home)], capsys)[0] == 2


def test_out_that_is_empty_or_the_labs_own_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    assert _cli(["pki", "build", "--out", str(empty)], capsys)[0] == 0
    assert _mode(empty) == 0o700 and (empty / "root.pem").exists()
    (empty / "notes.txt").write_text("kept")  # the lab's directory, with a file of the user's
    assert _cli(["pki", "build", "--out", str(empty)], capsys)[0] == 0
    assert (empty / "notes.txt").read_text() == "kept"


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("", "argument --out: expected a directory path, found ''"),
        ("file", "file: exists and is not a directory"),
    ],
)
def test_out_that_is_not_a_directory_path_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    out: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # '' would be here
    (tmp_path / "file").write_text("x")
    before = _mode(tmp_path)
    code, err = _cli(["pki", "build", "--out", out], capsys)
    assert code == 2 and expected in err.splitlines()[-1] and "Traceback" not in err
    assert _mode(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "http://",
        "http:///path",
        "127.0.0.1:8080",
        "http://host:99999/",
        "http://host:port/",
        "http://a b/",
        "http://host/\nX-Injected: 1",
        "",
    ],
)
def test_base_url_must_be_http_with_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, err = _cli(["pki", "build", "--out", str(tmp_path / "o"), "--base-url", url], capsys)
    assert code == 2
    assert "argument --base-url: expected an http:// or https:// URL with a host" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("t0", "expected"),
    [
        ("9999-12-31", "--t0 9999-12-31: certificate 'root' would be valid past 9999-12-31"),
        ("1949-06-01", "--t0 1949-06-01: certificate 'root' would be valid from 1949-05-31"),
    ],
)
def test_t0_whose_validity_cannot_be_encoded_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], t0: str, expected: str
) -> None:
    code, err = _cli(["pki", "build", "--out", str(tmp_path / "o"), "--t0", t0], capsys)
    assert code == 2 and expected in _one_line(err)


def _scenario(tmp_path: Path, certs: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text('title = "t"\n' + certs + '\n[[expect]]\ncert = "server"\nstatus = "good"\n')
    return path


def test_subject_with_a_tab_or_newline_cannot_inject_an_index_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _scenario(
        tmp_path,
        '[[pki.cert]]\nname = "server"\nissuer = "intermediate"\n'
        'subject = "evil\\tE\\n261231235959Z\\t\\t01\\tunknown\\t/CN=forged+é"\n',
    )
    out = tmp_path / "pki"
    code, err = _cli(["pki", "build", str(scenario), "--out", str(out)], capsys)
    assert code == 0, err
    lines = (out / "intermediate.index.txt").read_text().splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 6 for line in lines)
    # The oracle: OpenSSL's own one-line form (X509_NAME_oneline, which `openssl
    # ca` writes into index.txt) of the certificate's subject.
    printed = subprocess.run(
        ["openssl", "x509", "-in", str(out / "server.pem"), "-noout", "-subject",
         "-nameopt", "compat"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    openssl_subject = printed.removeprefix("subject=").rstrip("\n")
    assert "\\x09" in openssl_subject and "\\x0A" in openssl_subject
    assert openssl_subject in [line.split("\t")[5] for line in lines]


def test_two_certificates_of_one_issuer_with_one_serial_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _scenario(
        tmp_path,
        '[[pki.cert]]\nname = "server"\nissuer = "intermediate"\nserial = 4660\n'
        '[[pki.cert]]\nname = "other"\nissuer = "intermediate"\nserial = "0x1234"\n',
    )
    code, err = _cli(["pki", "build", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert (
        f"{scenario}: certificates 'server' and 'other' of issuer 'intermediate' have the same "
        "serial 0x1234" in _one_line(err)
    )
    assert not (tmp_path / "o").exists()


def test_base_url_reaches_the_certificates(tmp_path: Path) -> None:
    assert (
        main(["pki", "build", "--out", str(tmp_path), "--base-url", "http://10.0.0.5:2560/"]) == 0
    )
    assert "http://10.0.0.5:2560/" in (tmp_path / "README.txt").read_text()
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://10.0.0.5:2560/"


def test_bad_t0_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pki", "build", "--out", str(tmp_path), "--t0", "tomorrow"])
    assert exit_info.value.code == 2
    assert "--t0: expected a date like 2026-01-01" in capsys.readouterr().err


def test_missing_scenario_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "build", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "missing.toml" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unwritable_out_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["pki", "build", "--out", str(blocker / "sub")]) == 2
    assert "cannot write the PKI" in capsys.readouterr().err


def test_console_script_runs_as_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "pki", "build", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "PKI written to" in proc.stdout


def test_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    # `ocsp-lab … | head`: the reader leaves early (`true` reads nothing at all).
    proc = subprocess.run(
        f"{sys.executable} -m lab pki build --out {tmp_path} | true",
        shell=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A subprocess with a timeout: should serve not refuse, it would serve forever.
    return subprocess.run(
        [sys.executable, "-m", "lab", "serve", "--port", str(_free_port()), *args],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip


def test_serve_out_follows_the_same_rules(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.sqlite3").write_text("not the lab's")
    link = tmp_path / "link"
    link.symlink_to(home)
    for out, expected in ((home, "did not make"), (link, "is a symbolic link")):
        proc = _serve(tmp_path, "--out", str(out), "--fresh")
        assert proc.returncode == 2 and expected in _one_line(proc.stderr)
    # --fresh did not get to remove a file the lab does not own
    assert (home / "state.sqlite3").read_text() == "not the lab's"


def test_serve_refuses_a_bad_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"k" * 32)
    secret.chmod(0o644)
    proc = _serve(tmp_path, "--out", str(tmp_path / "o"), "--secret-file", str(secret))
    assert proc.returncode == 2
    assert f"{secret}: mode 0644 lets others read or change it" in _one_line(proc.stderr)


def test_readme_commands_use_the_served_port(tmp_path: Path) -> None:
    # `openssl ocsp -port` serves where the certificates' AIA points, not a fixed 8080.
    out = tmp_path / "pki"
    assert main(["pki", "build", "--out", str(out), "--base-url", "http://lab.example:9123/"]) == 0
    readme = (out / "README.txt").read_text()
    assert "openssl ocsp -port 9123 -index" in readme and "-port 8080" not in readme
    assert "-url http://lab.example:9123/" in readme


def test_serve_warns_when_the_aia_points_at_loopback_but_it_listens_elsewhere(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--host", "0.0.0.0", "--port", str(port),
         "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert line.startswith("warning: listening on 0.0.0.0 but the certificates' AIA points at")
    assert "--host ADDRESS" in line
