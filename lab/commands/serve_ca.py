"""``serve --ca ca.pem --ca-key ca.key [--rsigner r.pem --rkey r.key] [--index index.txt]``.

The common case of serving a customer's CA, spelt as options. It means a
scenario and nothing else: :func:`ca_scenario` writes that scenario as TOML
text — the CA as a ``[[pki.cert]]`` from files (SCENARIOS.md ``cert_file``,
``key_file``), the responder's signer, ``[responder] index`` for the CA's
OpenSSL database — and ``serve`` loads it with the one scenario loader,
exactly as if the user had written it. ``--print-scenario`` prints it (so the
user can keep it, edit it, serve it again by name) and exits 0.

The files are checked here first, so a wrong one is a one-line error naming
the option (exit 2); what only the scenario can say (a CA without its key
signing its own answers…) comes from the loader. Paths in the scenario are
absolute: the scenario means the same files wherever it is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509

from lab.cert_files import CertFileError, issued_by, read_certificate_file, read_key_file
from lab.errors import UsageError

__all__ = ["CA_NAME", "RESPONDER_NAME", "add_ca_options", "ca_scenario", "scenario_file"]

#: The names the served scenario gives the customer's CA and its responder certificate.
CA_NAME = "customer-ca"
RESPONDER_NAME = "customer-responder"

#: The options that only make sense with --ca, as argparse stores them.
_WITH_CA = (("ca_key", "--ca-key"), ("rsigner", "--rsigner"), ("rkey", "--rkey"),
            ("index", "--index"), ("print_scenario", "--print-scenario"))  # fmt: skip


def add_ca_options(serve: argparse.ArgumentParser) -> None:
    """``--ca``, ``--ca-key``, ``--rsigner``, ``--rkey``, ``--index``, ``--print-scenario``."""
    group = serve.add_argument_group(
        "a customer's CA (instead of SCENARIO: the scenario these options mean)"
    )
    group.add_argument("--ca", metavar="CERT", help="the CA certificate (PEM or DER)")
    group.add_argument("--ca-key", metavar="KEY", help="its private key: the lab signs for it")
    group.add_argument("--rsigner", metavar="CERT", help="a responder certificate to sign answers")
    group.add_argument("--rkey", metavar="KEY", help="the private key of --rsigner")
    group.add_argument("--index", metavar="FILE", help="the CA's OpenSSL database (index.txt)")
    group.add_argument(
        "--print-scenario",
        action="store_true",
        help="print the scenario these options mean (TOML) and exit",
    )


def _toml_string(text: str) -> str:
    """A TOML basic string (TOML 1.0: escape '"', '\\' and every control character)."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _certificate(option: str, path: str) -> x509.Certificate:
    try:
        return read_certificate_file(Path(path))
    except CertFileError as exc:
        raise UsageError(f"{option} {path}: expected {_plain(exc.expected)}") from None


def _check_key(option: str, path: str, certificate: x509.Certificate) -> None:
    try:
        read_key_file(Path(path), certificate)
    except CertFileError as exc:
        raise UsageError(f"{option} {path}: expected {_plain(exc.expected)}") from None


def _plain(expected: str) -> str:
    # The loader's words name a scenario file; here the path is the option's own.
    return expected.replace(" (PEM or DER, relative to the scenario file)", " (PEM or DER)")


def _check_options(args: argparse.Namespace) -> None:
    if args.ca is None:
        for attribute, option in _WITH_CA:
            if getattr(args, attribute, None):
                raise UsageError(f"{option}: only with --ca (the customer's CA certificate)")
        return
    if args.scenario is not None:
        raise UsageError(
            f"--ca {args.ca}: either a SCENARIO or --ca, not both "
            "(--print-scenario shows the scenario --ca means; add to that)"
        )
    if (args.rsigner is None) != (args.rkey is None):
        given, missing = ("--rsigner", "--rkey") if args.rkey is None else ("--rkey", "--rsigner")
        raise UsageError(f"{given}: expected {missing} too (a responder's certificate and key)")
    if args.ca_key is None and args.rsigner is None:
        raise UsageError(
            f"--ca {args.ca}: without --ca-key the lab cannot sign answers for this CA "
            "(expected --ca-key, or --rsigner and --rkey for a responder that may sign them)"
        )


def ca_scenario(args: argparse.Namespace) -> str | None:
    """The scenario TOML the ``--ca`` options mean; None without ``--ca``.

    A :class:`UsageError` for options that do not go together or files that
    cannot be used, naming the option.
    """
    _check_options(args)
    if args.ca is None:
        return None
    ca = _certificate("--ca", args.ca)
    if args.ca_key is not None:
        _check_key("--ca-key", args.ca_key, ca)
    rsigner = _certificate("--rsigner", args.rsigner) if args.rsigner is not None else None
    if rsigner is not None:
        _check_key("--rkey", args.rkey, rsigner)
    if args.index is not None and not Path(args.index).is_file():
        raise UsageError(f"--index {args.index}: expected an OpenSSL index.txt file")

    def path(text: str) -> str:
        return _toml_string(os.path.abspath(text))

    names = ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    subject = str(names[0].value) if names else ca.subject.rfc4514_string()
    lines = [
        "# The scenario of: ocsp-lab serve " + _command(args),
        "# Keep it (ocsp-lab serve ... --print-scenario > customer.toml) and serve it by name.",
        f"title = {_toml_string(f'The customer CA {subject}, served by the lab')}",
        "about = " + _toml_string(_about(args, subject)),
        "",
        "[[pki.cert]]",
        f'name = "{CA_NAME}"',
        f"cert_file = {path(args.ca)}",
    ]
    if args.ca_key is not None:
        lines.append(f"key_file = {path(args.ca_key)}")
    trust = [CA_NAME]
    if rsigner is not None:
        lines += [
            "",
            "[[pki.cert]]",
            f'name = "{RESPONDER_NAME}"',
            f"cert_file = {path(args.rsigner)}",
            f"key_file = {path(args.rkey)}",
        ]
        if not issued_by(rsigner, ca):
            # Not delegated by the CA (RFC 6960 4.2.2.2): trusted only from the trust store.
            trust.append(RESPONDER_NAME)
    responder = []
    if rsigner is not None:
        responder.append(f'signers = {{ {CA_NAME} = "{RESPONDER_NAME}" }}')
    if args.index is not None:
        responder.append(f"index = {{ {CA_NAME} = {path(args.index)} }}")
    if responder:
        lines += ["", "[responder]", *responder]
    lines += ["", "[client]", "trust = [" + ", ".join(f'"{n}"' for n in trust) + "]", ""]
    return "\n".join(lines)


def _command(args: argparse.Namespace) -> str:
    words = [f"--ca {args.ca}"]
    for attribute, option in _WITH_CA[:4]:
        value = getattr(args, attribute)
        if value is not None:
            words.append(f"{option} {value}")
    return " ".join(words)


def _about(args: argparse.Namespace, subject: str) -> str:
    signer = (
        "its responder certificate (--rsigner)"
        if args.rsigner is not None
        else "the CA itself, with its key"
    )
    statuses = (
        "the statuses of its index.txt (--index), as openssl ocsp -index gives them"
        if args.index is not None
        else "good for the CA itself; a serial it has no record of is unknown"
    )
    return (
        f"The customer's CA {subject}, read from its files. The lab answers OCSP requests "
        f"about its certificates, signed by {signer}, with {statuses}. "
        "The lab's own default PKI is served beside it."
    )


@contextlib.contextmanager
def scenario_file(text: str) -> Iterator[str]:
    """The scenario ``text`` as a file, for as long as ``serve`` runs.

    Removed when the block ends, by this process only: gunicorn's workers,
    forked inside the block, unwind through it too when they exit.
    """
    owner = os.getpid()
    directory = tempfile.mkdtemp(prefix="ocsp-lab-serve-ca-")
    path = Path(directory) / "customer-ca.toml"
    path.write_text(text, encoding="utf-8")
    try:
        yield str(path)
    finally:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)


def print_scenario(text: str, check: Any) -> int:
    """``--print-scenario``: load ``text`` as ``serve`` would (``check``), then print it."""
    with scenario_file(text) as path:
        check(path)
    print(text, end="")
    return 0
