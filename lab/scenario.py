"""Scenario files: read, checked, and turned into the lab's values (SCENARIOS.md).

:func:`load_scenario` reads one TOML file into a :class:`Scenario`: the PKI
(:class:`pki.PKISpec`, with the ``[database]`` entries), the responder's
configuration and faults (:class:`responder.config.ResponderConfig`), the
validator's settings (:class:`lab.settings.ClientSettings`), the expectations
at t0 and the timeline. The format is a contract kept for years, so reading
is strict: every unknown key, wrong type, dangling name or impossible
combination is a :class:`lab.errors.ScenarioError` naming the file, the key
path (``pki.cert[2].issuer``, ``step[3].expect.status``; list indexes count
from 0) and what was expected. Nothing is silently defaulted or dropped.

Compatible extensions of the format are listed in
``docs/scenario-format-extensions.md``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import ipaddress
import os
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, NoReturn, TypeAlias, TypeVar

from lab.errors import ScenarioError, UsageError
from lab.evidence import CertStatus, ErrorCode, TrustedBy
from lab.settings import CertIdHash, CheckScope, ClientSettings, Delegation, HttpMethod, UriSource
from lab.timespec import (
    DURATION_EXPECTED,
    OFFSET_EXPECTED,
    POSITIVE_DURATION_EXPECTED,
    TimeSpecError,
    format_offset,
    parse_duration,
    parse_offset,
)
from pki.profiles import EKU_NAMES
from pki.spec import (
    LAB_URL,
    NO_URL,
    REASONS,
    CertSpec,
    EntrySpec,
    KeyType,
    PKISpec,
    Profile,
    RecordStatus,
    SignatureHash,
)
from responder.config import (
    CertsIncluded,
    Faults,
    NotFound,
    ResponderConfig,
    ResponderIdKind,
)
from responder.fault_table import FAULT_KEYS, HEADER_VALUE, FaultValueError, fault_key

__all__ = [
    "Action",
    "Connect",
    "ConnectionOutcome",
    "Expect",
    "Hold",
    "ModeOutcome",
    "Release",
    "Revoke",
    "Scenario",
    "SetFaults",
    "Step",
    "Upload",
    "UploadOutcome",
    "Wait",
    "load_scenario",
    "load_scenarios",
    "scenario_id",
]

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


# --------------------------------------------------------------------------
# What a scenario is
# --------------------------------------------------------------------------


class ConnectionOutcome(StrEnum):
    """What became of a connection (``connection`` in an expectation)."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    DROPPED = "dropped"  # a re-check tore it down; only a [[step]] can expect it


class UploadOutcome(StrEnum):
    """What became of an upload to the trust store (``expect.upload``)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ModeOutcome(Generic[T]):
    """An outcome per Common Criteria mode: ``"refused"`` holds in both, a table names each."""

    cc_on: T
    cc_off: T

    @classmethod
    def both(cls, value: T) -> ModeOutcome[T]:
        """The same outcome with Common Criteria ON and OFF."""
        return cls(cc_on=value, cc_off=value)

    def for_mode(self, cc_on: bool) -> T:
        """The outcome expected when Common Criteria is ``cc_on``."""
        return self.cc_on if cc_on else self.cc_off


@dataclass(frozen=True)
class Expect:
    """One expectation (``[[expect]]``, or a step's ``expect``): only the keys given are checked.

    ``status`` / ``reason`` / ``error`` / ``trusted_by`` describe the OCSP check
    of ``cert``; ``connection`` the verdict on the connection presenting it;
    ``upload`` (steps with ``upload`` only) the verdict on the upload.
    """

    cert: str = "server"
    status: CertStatus | None = None
    reason: str | None = None  # RFC 5280 CRLReason name; only with status revoked
    error: ErrorCode | None = None  # only with status error
    trusted_by: TrustedBy | None = None
    connection: ModeOutcome[ConnectionOutcome] | None = None
    upload: ModeOutcome[UploadOutcome] | None = None


@dataclass(frozen=True)
class Connect:
    """Open a long-lived connection presenting ``cert`` (with its chain)."""

    cert: str
    kind: ClassVar[str] = "connect"


@dataclass(frozen=True)
class Upload:
    """Upload ``cert`` to the trust store; it is checked at upload."""

    cert: str
    kind: ClassVar[str] = "upload"


@dataclass(frozen=True)
class Revoke:
    """Revoke ``cert`` at the responder, now, with an optional reason.

    A ``certificateHold`` reason is read as :class:`Hold` (SCENARIOS.md: hold is
    revoked with reason certificateHold), so this reason is never that.
    """

    cert: str
    reason: str | None = None
    kind: ClassVar[str] = "revoke"


@dataclass(frozen=True)
class Hold:
    """Put ``cert`` on hold (revoked, reason certificateHold) at the responder."""

    cert: str
    kind: ClassVar[str] = "hold"


@dataclass(frozen=True)
class Release:
    """Release ``cert`` from hold: the responder says good again."""

    cert: str
    kind: ClassVar[str] = "release"


@dataclass(frozen=True)
class SetFaults:
    """From now on the responder misbehaves as ``faults`` says (``{}`` clears)."""

    faults: Faults
    kind: ClassVar[str] = "faults"


@dataclass(frozen=True)
class Wait:
    """No action: advance the clock to the step's ``at`` and check."""

    kind: ClassVar[str] = "none"


#: What a step does; at most one per step.
Action: TypeAlias = Connect | Upload | Revoke | Hold | Release | SetFaults | Wait


@dataclass(frozen=True)
class Step:
    """One ``[[step]]`` of a timeline: at ``at``, do ``action``, then check ``expect``."""

    at: dt.timedelta  # offset from t0, never before the previous step's
    action: Action
    expect: Expect | None = None


@dataclass(frozen=True)
class Scenario:
    """One scenario file, read and checked."""

    id: str  # path below scenarios/ without .toml: "dtm/revoked"
    path: Path
    title: str
    about: str | None
    tags: tuple[str, ...]
    pki: PKISpec
    responder: ResponderConfig
    client: ClientSettings
    expects: tuple[Expect, ...]
    steps: tuple[Step, ...]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def scenario_id(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """A scenario's id: its path below the nearest ``scenarios`` folder, without ``.toml``.

    A file under no ``scenarios`` folder gets its path below ``root`` when it
    lies there, else its file name without ``.toml``. Ids use ``/`` on every
    platform.
    """
    full = Path(os.path.abspath(path))
    parents = full.parts[:-1]
    if "scenarios" in parents:
        base = Path(*full.parts[: len(parents) - parents[::-1].index("scenarios")])
    elif root is not None and full.is_relative_to(os.path.abspath(root)):
        base = Path(os.path.abspath(root))
    else:
        return full.stem
    return full.relative_to(base).with_suffix("").as_posix()


def load_scenario(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> Scenario:
    """Read and check one scenario file.

    ``root`` names the folder ids are relative to when the file is under no
    ``scenarios`` folder (see :func:`scenario_id`). Raises
    :class:`~lab.errors.ScenarioError` for anything that does not follow
    SCENARIOS.md, :class:`~lab.errors.UsageError` for a file that cannot be read.
    """
    file = str(path)
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise UsageError(f"{file}: cannot read the scenario: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            file, "", "a UTF-8 text file", f"byte {exc.start}: {exc.reason}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries the line and column.
        raise ScenarioError(file, "", f"valid TOML ({exc})") from None
    return _read_scenario(_Node(file, "", data), scenario_id(path, root), Path(path))


def load_scenarios(paths: Iterable[str | os.PathLike[str]]) -> list[Scenario]:
    """Read every scenario of ``paths``: files as given, folders recursively (``*.toml``, sorted).

    A file named twice is read once; two files with the same id are an error
    (ids name results in reports and ``-k`` filters).
    """
    files: list[tuple[Path, Path | None]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend((found, path) for found in sorted(path.rglob("*.toml")) if found.is_file())
        elif path.exists():
            files.append((path, None))
        else:
            raise UsageError(f"{path}: no such scenario file or folder")
    scenarios: list[Scenario] = []
    seen_files: set[str] = set()
    seen_ids: dict[str, Path] = {}
    for file, root in files:
        real = os.path.realpath(file)
        if real in seen_files:
            continue
        seen_files.add(real)
        scenario = load_scenario(file, root=root)
        if scenario.id in seen_ids:
            raise ScenarioError(
                str(file),
                "",
                f"a scenario id of its own ({scenario.id!r} is also {seen_ids[scenario.id]})",
            )
        seen_ids[scenario.id] = file
        scenarios.append(scenario)
    return scenarios


# --------------------------------------------------------------------------
# The reader: a value with its file and key path, and the checks on it
# --------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _join(parent: str, name: str) -> str:
    """The key path of ``name`` in ``parent``, quoted as TOML would when not a bare key."""
    shown = name if _BARE_KEY.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'
    return f"{parent}.{shown}" if parent else shown


class _Shown:
    """How a found value too large to print is described in an error."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shown(value: object) -> object:
    if isinstance(value, dict):
        return _Shown("a table") if len(repr(value)) > 60 else value
    if isinstance(value, list):
        return _Shown(f"a list of {len(value)}") if len(repr(value)) > 60 else value
    return value


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


@dataclass(frozen=True)
class _Node:
    """A value read from the file, with where it was: every check raises a ScenarioError."""

    file: str
    key: str
    value: object

    def fail(self, expected: str, *, key: str | None = None) -> NoReturn:
        raise ScenarioError(
            self.file, self.key if key is None else key, expected, _shown(self.value)
        )

    def string(self) -> str:
        if not isinstance(self.value, str):
            self.fail("a string")
        return self.value

    def boolean(self) -> bool:
        # TOML has real booleans; 0 / 1 / "true" are mistakes, not switches.
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value

    def integer(self, expected: str = "an integer") -> int:
        # bool is a subclass of int in Python: true is not 1 here.
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(expected)
        return self.value

    def duration(self) -> dt.timedelta:
        try:
            return parse_duration(self.text(DURATION_EXPECTED))
        except TimeSpecError as exc:
            self.fail(exc.expected)

    def positive_duration(self) -> dt.timedelta:
        duration = self.duration()
        if not duration:
            self.fail(POSITIVE_DURATION_EXPECTED)
        return duration

    def offset(self) -> dt.timedelta:
        try:
            return parse_offset(self.text(OFFSET_EXPECTED))
        except TimeSpecError as exc:
            self.fail(exc.expected)

    def text(self, expected: str) -> str:
        """A string, where the expected form is more telling than "a string"."""
        if not isinstance(self.value, str):
            self.fail(expected)
        return self.value

    def one_of(self, allowed: Sequence[str], note: str = "") -> str:
        text = self.text(f"one of {_quoted(allowed)}{note}")
        if text not in allowed:
            self.fail(f"one of {_quoted(allowed)}{note}")
        return text

    def choice(self, enum: type[E], allowed: Sequence[E] | None = None, note: str = "") -> E:
        members = list(enum) if allowed is None else list(allowed)
        text = self.one_of([str(m.value) for m in members], note)
        return next(m for m in members if m.value == text)

    def items(self, expected: str) -> list[_Node]:
        """A list, each element a node of its own (``key[0]``, ``key[1]``, …)."""
        if not isinstance(self.value, list):
            self.fail(expected)
        return [_Node(self.file, f"{self.key}[{i}]", v) for i, v in enumerate(self.value)]

    def table(self, allowed: Collection[str] | None, expected: str = "a table") -> _Table:
        """A table whose keys are all in ``allowed`` (``None``: any key)."""
        if not isinstance(self.value, dict):
            self.fail(expected)
        if allowed is not None:
            for name in self.value:
                if name not in allowed:
                    hint = difflib.get_close_matches(name, list(allowed), n=1)
                    more = f' (did you mean "{hint[0]}"?)' if hint else ""
                    raise ScenarioError(
                        self.file,
                        _join(self.key, name),
                        f"one of the keys {', '.join(allowed)}{more}",
                    )
        return _Table(self.file, self.key, self.value)


@dataclass(frozen=True)
class _Table:
    """A TOML table whose keys have been checked; reads its values by name."""

    file: str
    key: str
    data: Mapping[str, object]

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def node(self, name: str) -> _Node:
        return _Node(self.file, _join(self.key, name), self.data[name])

    def nodes(self) -> list[tuple[str, _Node]]:
        return [(name, self.node(name)) for name in self.data]

    def optional(self, name: str, read: Callable[[_Node], T]) -> T | None:
        return read(self.node(name)) if name in self.data else None

    def get(self, name: str, read: Callable[[_Node], T], default: T) -> T:
        return read(self.node(name)) if name in self.data else default

    def required(self, name: str, read: Callable[[_Node], T], expected: str) -> T:
        if name not in self.data:
            raise ScenarioError(self.file, _join(self.key, name), expected)
        return read(self.node(name))

    def section(self, name: str, allowed: Collection[str] | None) -> _Table:
        """A sub-table (``[client]``), empty when absent."""
        if name not in self.data:
            return _Table(self.file, _join(self.key, name), {})
        return self.node(name).table(allowed, f"a table ([{_join(self.key, name)}])")

    def array(self, name: str) -> list[_Node]:
        """An array of tables (``[[step]]``), empty when absent."""
        if name not in self.data:
            return []
        header = f"an array of tables ([[{_join(self.key, name)}]])"
        nodes = self.node(name).items(header)
        for node in nodes:
            if not isinstance(node.value, dict):
                node.fail(f"a table (each [[{_join(self.key, name)}]] is one)")
        return nodes


def _choice(enum: type[E]) -> Callable[[_Node], E]:
    """A reader of one of ``enum``'s values."""
    return lambda node: node.choice(enum)


# --------------------------------------------------------------------------
# Values of the format
# --------------------------------------------------------------------------

_TOP_KEYS = ("title", "about", "tags", "pki", "database", "responder", "client", "expect", "step")
_PKI_KEYS = ("key", "signature_hash", "cert")
_CERT_KEYS = (
    "name",
    "issuer",
    "profile",
    "key",
    "valid",
    "eku",
    "nocheck",
    "ocsp_url",
    "san",
    "serial",
    "subject",
    "signature_hash",
)
_ENTRY_KEYS = ("status", "reason", "since")
_RESPONDER_KEYS = (
    "signer",
    "signers",
    "certs",
    "responder_id",
    "next_update",
    "not_found",
    "faults",
)
#: [responder.faults]: the keys of the one fault table (responder.fault_table).
_FAULT_KEYS = tuple(row.key for row in FAULT_KEYS)
_CLIENT_KEYS = (
    "ocsp",
    "uri",
    "configured_uri",
    "common_criteria",
    "soft_fail",
    "trust",
    "check",
    "strict_cert_id",
    "nonce",
    "require_nonce",
    "hash",
    "method",
    "timeout",
    "clock_skew",
    "clock_offset",
    "delegation",
    "revocation_check",
    "validity_check",
)
_EXPECT_KEYS = ("cert", "status", "reason", "error", "trusted_by", "connection")
_CHECK_KEYS = ("status", "reason", "error", "trusted_by", "connection")
_ACTIONS = ("connect", "upload", "revoke", "hold", "release", "faults")
_STEP_KEYS = ("at", *_ACTIONS, "reason", "expect")

# Names become file names on export (<name>.pem) and the default subject
# common name, whose upper bound is 64 characters (RFC 5280 ub-common-name).
_CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CERT_NAME_EXPECTED = (
    "a name of letters, digits, '.', '_', '-' (at most 64, not starting with a symbol)"
)
# pki.export writes chain.pem next to <name>.pem.
_RESERVED_NAMES = frozenset({"chain"})
_TAG = re.compile(r"[A-Za-z0-9_.-]+")
_OID = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HEX_SERIAL = re.compile(r"0x[0-9A-Fa-f]+")
# RFC 5280 4.1.2.2: at most 20 octets; cryptography refuses 160 bits and more.
_MAX_SERIAL = 2**159 - 1


def _title(node: _Node) -> str:
    title = node.text("a one-line string")
    if not title.strip() or "\n" in title or "\r" in title:
        node.fail("a one-line string")
    return title


def _tags(node: _Node) -> tuple[str, ...]:
    tags: list[str] = []
    for item in node.items("a list of words"):
        tag = item.text("a word (letters, digits, '_', '.', '-')")
        if not _TAG.fullmatch(tag):
            item.fail("a word (letters, digits, '_', '.', '-')")
        tags.append(tag)
    return tuple(tags)


def _reason(node: _Node) -> str:
    return node.one_of(list(REASONS), " (an RFC 5280 reason)")


def _cert_name(node: _Node) -> str:
    name = node.text(_CERT_NAME_EXPECTED)
    if not _CERT_NAME.fullmatch(name):
        node.fail(_CERT_NAME_EXPECTED)
    if name in _RESERVED_NAMES:
        node.fail(f"a name other than {_quoted(sorted(_RESERVED_NAMES))} (export writes chain.pem)")
    return name


def _eku(node: _Node) -> tuple[str, ...]:
    expected = f"{_quoted(EKU_NAMES)} or a dotted OID like 1.3.6.1.5.5.7.3.9"
    ekus: list[str] = []
    for item in node.items(f"a list of {expected}"):
        eku = item.text(expected)
        if eku not in EKU_NAMES and not _is_oid(eku):
            item.fail(expected)
        ekus.append(eku)
    return tuple(ekus)


def _is_oid(text: str) -> bool:
    if not _OID.fullmatch(text):
        return False
    first, second = (int(arc) for arc in text.split(".")[:2])
    # X.660: under arcs 0 and 1 the second arc is below 40.
    return first == 2 or second < 40


def _is_dns_name(text: str) -> bool:
    labels = text.split(".")
    if labels[0] == "*" and len(labels) > 1:  # a wildcard, leftmost only (RFC 6125 6.4.3)
        labels = labels[1:]
    return (
        len(text) <= 253
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        # An all-digit last label is a mistyped IP address, not a host name (RFC 3696 2).
        and not labels[-1].isdigit()
    )


def _san(node: _Node) -> tuple[str, ...]:
    expected = "a DNS name (like localhost or *.example.com) or an IP address"
    names: list[str] = []
    for item in node.items("a list of DNS names and IP addresses"):
        entry = item.text(expected)
        try:
            ipaddress.ip_address(entry)
            is_ip = "%" not in entry  # a scoped IPv6 address cannot go in a certificate
        except ValueError:
            is_ip = False
        if not is_ip and not _is_dns_name(entry):
            item.fail(expected)
        names.append(entry)
    return tuple(names)


def _is_http_url(text: str) -> bool:
    if not HEADER_VALUE.fullmatch(text) or " " in text:
        return False
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _ocsp_url(node: _Node) -> str:
    expected = f'"{LAB_URL}", "{NO_URL}", or an http:// or https:// URL'
    url = node.text(expected)
    if url not in (LAB_URL, NO_URL) and not _is_http_url(url):
        node.fail(expected)
    return url


def _configured_uri(node: _Node) -> str:
    expected = f'"{LAB_URL}" or an http:// or https:// URL'
    url = node.text(expected)
    if url != LAB_URL and not _is_http_url(url):
        node.fail(expected)
    return url


def _serial(node: _Node) -> int:
    expected = 'a positive integer, or a hex string like "0x1A2B" (at most 159 bits)'
    if isinstance(node.value, str):
        if not _HEX_SERIAL.fullmatch(node.value):
            node.fail(expected)
        serial = int(node.value, 16)
    else:
        serial = node.integer(expected)
    if not 0 < serial <= _MAX_SERIAL:
        node.fail(expected)
    return serial


def _subject(node: _Node) -> str:
    expected = "a common name of 1 to 64 characters"
    subject = node.text(expected)
    if not 1 <= len(subject) <= 64:
        node.fail(expected)
    return subject


def _next_update(node: _Node) -> dt.timedelta | None:
    if node.value == "none":
        return None
    try:
        return parse_duration(node.text(f'{DURATION_EXPECTED}, or "none"'))
    except TimeSpecError as exc:
        node.fail(f'{exc.expected}, or "none"')


# --------------------------------------------------------------------------
# The sections
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    """The certificate names of this scenario, to check every reference to one."""

    certs: Mapping[str, CertSpec]

    def _expected(self) -> str:
        return f"the name of a certificate of this scenario: {', '.join(self.certs)}"

    def check(self, node: _Node, name: str) -> str:
        if name not in self.certs:
            node.fail(self._expected())
        return name

    def cert(self, node: _Node) -> str:
        return self.check(node, node.text(self._expected()))

    def ca(self, node: _Node) -> str:
        name = self.cert(node)
        if self.certs[name].profile is not Profile.CA:
            node.fail(f'the name of a CA certificate (profile = "ca"): {", ".join(self._cas())}')
        return name

    def _cas(self) -> list[str]:
        return [n for n, c in self.certs.items() if c.profile is Profile.CA]

    def cert_list(self, node: _Node) -> tuple[str, ...]:
        return tuple(self.cert(item) for item in node.items("a list of certificate names"))


def _read_scenario(top_node: _Node, id_: str, path: Path) -> Scenario:
    # Sections are read in the order SCENARIOS.md documents them, so the first
    # mistake reported is the first one a reader of the file meets.
    top = top_node.table(_TOP_KEYS)
    title = top.required("title", _title, 'a one-line title (title = "…")')
    about = top.optional("about", lambda n: n.text("a string"))
    no_tags: tuple[str, ...] = ()
    tags = top.get("tags", _tags, no_tags)
    pki_table = top.section("pki", _PKI_KEYS)
    key = pki_table.get("key", _choice(KeyType), KeyType.EC_P256)
    signature_hash = pki_table.optional("signature_hash", _choice(SignatureHash))
    certs, origins = _read_certs(pki_table)
    _check_issuers(certs, origins, top.file)
    _check_signature_hashes(pki_table, key, certs, origins)
    names = _Names({c.name: c for c in certs})
    database = _read_database(top.section("database", None), names)
    return Scenario(
        id=id_,
        path=path,
        title=title,
        about=about,
        tags=tags,
        pki=PKISpec.with_defaults(certs, key=key, database=database, signature_hash=signature_hash),
        responder=_read_responder(top.section("responder", _RESPONDER_KEYS), names),
        client=_read_client(top.section("client", _CLIENT_KEYS), names),
        expects=tuple(_read_expect(node, names, in_step=None) for node in top.array("expect")),
        steps=_read_steps(top.array("step"), names),
    )


def _read_certs(pki: _Table) -> tuple[tuple[CertSpec, ...], dict[str, str]]:
    """Every certificate of the scenario (defaults merged), and where each one added was written."""
    added: list[CertSpec] = []
    origins: dict[str, str] = {}  # name -> "pki.cert[2]"
    for node in pki.array("cert"):
        spec = _read_cert(node.table(_CERT_KEYS))
        if spec.name in origins:
            node.fail(
                f"a name no other [[pki.cert]] uses ({origins[spec.name]} is also {spec.name!r})",
                key=_join(node.key, "name"),
            )
        origins[spec.name] = node.key
        added.append(spec)
    return PKISpec.with_defaults(tuple(added)).certs, origins


def _read_cert(cert: _Table) -> CertSpec:
    profile = cert.get("profile", _choice(Profile), Profile.LEAF)
    valid_from, valid_to = cert.optional("valid", _validity) or (None, None)
    return CertSpec(
        name=cert.required("name", _cert_name, 'the certificate\'s name (name = "…")'),
        issuer=cert.optional("issuer", lambda n: n.text("the name of the issuing CA")),
        profile=profile,
        key=cert.optional("key", _choice(KeyType)),
        valid_from=valid_from,
        valid_to=valid_to,
        eku=cert.optional("eku", _eku),
        nocheck=cert.optional("nocheck", _Node.boolean),
        ocsp_url=cert.optional("ocsp_url", _ocsp_url),
        san=cert.optional("san", _san),
        serial=cert.optional("serial", _serial),
        subject=cert.optional("subject", _subject),
        signature_hash=cert.optional("signature_hash", _choice(SignatureHash)),
    )


def _validity(node: _Node) -> tuple[dt.timedelta | None, dt.timedelta | None]:
    valid = node.table(("from", "to"), 'a table like { from = "-1d", to = "+365d" }')
    valid_from = valid.optional("from", _Node.offset)
    valid_to = valid.optional("to", _Node.offset)
    if valid_from is not None and valid_to is not None and valid_from >= valid_to:
        valid.node("to").fail(f"an offset after from ({format_offset(valid_from)})")
    return valid_from, valid_to


def _check_issuers(certs: Sequence[CertSpec], origins: Mapping[str, str], file: str) -> None:
    """Every issuer exists and is a CA, and no issuer chain loops."""
    by_name = {c.name: c for c in certs}
    names = _Names(by_name)
    for cert in certs:
        if cert.issuer is None:
            continue
        if cert.name in origins:
            node = _Node(file, _join(origins[cert.name], "issuer"), cert.issuer)
            names.ca(node)
        elif by_name[cert.issuer].profile is not Profile.CA:
            # A default certificate whose issuer the scenario replaced by a non-CA.
            replaced = by_name[cert.issuer]
            _Node(file, _join(origins[replaced.name], "profile"), replaced.profile.value).fail(
                f'"ca": the default certificate {cert.name!r} is issued by {replaced.name!r}'
            )
    for cert in certs:
        chain = [cert.name]
        while (issuer := by_name[chain[-1]].issuer) is not None:
            if issuer in chain:
                loop = [*chain[chain.index(issuer) :], issuer]
                # A loop always holds a certificate the scenario wrote: the defaults do not loop.
                culprit = next(name for name in loop if name in origins)
                _Node(file, _join(origins[culprit], "issuer"), " → ".join(loop)).fail(
                    "an issuer chain that ends at a self-signed certificate"
                )
            chain.append(issuer)


def _check_signature_hashes(
    pki: _Table, key: KeyType, certs: Sequence[CertSpec], origins: Mapping[str, str]
) -> None:
    """A ``signature_hash`` never asks an Ed25519 issuer for a hash it cannot take.

    An Ed25519 signature has its hash built in (RFC 8032 5.1.6; RFC 8410 3:
    the AlgorithmIdentifier has no parameters), so naming one is a mistake:
    ``[pki].signature_hash`` with ``[pki].key = "ed25519"``, or a
    certificate's own ``signature_hash`` when its issuer (itself, when
    self-signed) has an Ed25519 key. The ``[pki]`` default with another
    ``[pki].key`` reaches only the issuers that can take it
    (docs/scenario-format-extensions.md).
    """
    why = "an ed25519 signature has its hash built in"
    if "signature_hash" in pki and key is KeyType.ED25519:
        pki.node("signature_hash").fail(f'no signature_hash with key = "ed25519": {why}')
    by_name = {c.name: c for c in certs}
    for cert in certs:
        if cert.signature_hash is None:
            continue
        issuer = by_name[cert.issuer] if cert.issuer is not None else cert
        if (issuer.key or key) is KeyType.ED25519:
            # Only a certificate the scenario wrote has a signature_hash of its own.
            where = _join(origins[cert.name], "signature_hash")
            _Node(pki.file, where, cert.signature_hash.value).fail(
                f"no signature_hash: its issuer {issuer.name!r} has an ed25519 key, and {why}"
            )


def _read_database(database: _Table, names: _Names) -> dict[str, EntrySpec]:
    entries: dict[str, EntrySpec] = {}
    for name, node in database.nodes():
        names.check(_Node(node.file, node.key, name), name)
        entries[name] = _read_entry(node)
    return entries


def _read_entry(node: _Node) -> EntrySpec:
    statuses = [s.value for s in RecordStatus]
    if not isinstance(node.value, dict):
        status = node.choice(RecordStatus, note=" or a table { status, reason, since }")
        if status is RecordStatus.HOLD:
            return EntrySpec(RecordStatus.HOLD, reason="certificateHold")
        return EntrySpec(status)
    entry = node.table(_ENTRY_KEYS)
    status = entry.required("status", _choice(RecordStatus), f"status = one of {_quoted(statuses)}")
    reason = entry.optional("reason", _reason)
    since = entry.optional("since", _Node.offset)
    if status in (RecordStatus.GOOD, RecordStatus.UNKNOWN):
        for key in ("reason", "since"):
            if key in entry:
                entry.node(key).fail(f'no {key}: only status "revoked" or "hold" has one')
    if status is RecordStatus.HOLD and reason not in (None, "certificateHold"):
        entry.node("reason").fail('"certificateHold" (or no reason) with status = "hold"')
    if reason == "certificateHold":
        # SCENARIOS.md: hold is revoked with reason certificateHold; one value for one meaning.
        status = RecordStatus.HOLD
    if status is RecordStatus.HOLD:
        reason = "certificateHold"
    return EntrySpec(status, reason, EntrySpec.since if since is None else since)


def _read_responder(responder: _Table, names: _Names) -> ResponderConfig:
    defaults = ResponderConfig()
    signers: dict[str, str] = {}
    for ca, node in responder.section("signers", None).nodes():
        names.ca(_Node(node.file, node.key, ca))
        signers[ca] = names.cert(node)
    if "signer" in responder and signers:
        responder.node("signers").fail("either responder.signer or responder.signers, not both")
    return ResponderConfig(
        signer=responder.optional("signer", names.cert),
        signers=signers,
        certs=responder.get("certs", _choice(CertsIncluded), defaults.certs),
        responder_id=responder.get("responder_id", _choice(ResponderIdKind), defaults.responder_id),
        next_update=responder.get("next_update", _next_update, defaults.next_update),
        not_found=responder.get("not_found", _choice(NotFound), defaults.not_found),
        faults=_read_faults(responder.section("faults", _FAULT_KEYS)),
    )


def _read_faults(faults: _Table) -> Faults:
    """A table of faults, each read by its row of the fault table (as the admin API reads it)."""
    values: dict[str, Any] = {}  # each value is its row's field type
    for name, node in faults.nodes():
        row = fault_key(name)  # the keys were checked against the same table
        try:
            values[row.field] = row.read(node.value)
        except FaultValueError as exc:
            node.fail(exc.expected)
    return Faults(**values)


def _read_client(client: _Table, names: _Names) -> ClientSettings:
    default = ClientSettings()
    return ClientSettings(
        ocsp=client.get("ocsp", _Node.boolean, default.ocsp),
        uri=client.get("uri", _choice(UriSource), default.uri),
        configured_uri=client.get("configured_uri", _configured_uri, default.configured_uri),
        common_criteria=client.optional("common_criteria", _Node.boolean),
        soft_fail=client.optional("soft_fail", _Node.boolean),
        trust=client.get("trust", names.cert_list, default.trust),
        check=client.get("check", _choice(CheckScope), default.check),
        strict_cert_id=client.get("strict_cert_id", _Node.boolean, default.strict_cert_id),
        nonce=client.get("nonce", _Node.boolean, default.nonce),
        require_nonce=client.get("require_nonce", _Node.boolean, default.require_nonce),
        hash=client.get("hash", _choice(CertIdHash), default.hash),
        method=client.get("method", _choice(HttpMethod), default.method),
        timeout=client.get("timeout", _Node.positive_duration, default.timeout),
        clock_skew=client.get("clock_skew", _Node.duration, default.clock_skew),
        clock_offset=client.get("clock_offset", _Node.offset, default.clock_offset),
        delegation=client.get("delegation", _choice(Delegation), default.delegation),
        revocation_check=client.optional("revocation_check", _Node.positive_duration),
        validity_check=client.optional("validity_check", _Node.positive_duration),
    )


def _mode_outcome(node: _Node, enum: type[E], allowed: Sequence[E], note: str) -> ModeOutcome[E]:
    """``"refused"`` for both modes, or ``{ cc_on = "refused", cc_off = "allowed" }``."""
    if isinstance(node.value, dict):
        modes = node.table(("cc_on", "cc_off"))
        values = _quoted(str(a.value) for a in allowed)
        on, off = (
            modes.required(
                mode, lambda n: n.choice(enum, allowed, note), f"{mode} = one of {values}"
            )
            for mode in ("cc_on", "cc_off")
        )
        return ModeOutcome(cc_on=on, cc_off=off)
    if not isinstance(node.value, str):
        values = _quoted(str(a.value) for a in allowed)
        node.fail(f"one of {values}, or a table {{ cc_on = …, cc_off = … }}")
    return ModeOutcome.both(node.choice(enum, allowed, note))


def _read_expect(node: _Node, names: _Names, *, in_step: Action | None) -> Expect:
    """An expectation; ``in_step`` is the action of its step, None for a top-level [[expect]]."""
    keys = (*_EXPECT_KEYS, "upload")
    expect = node.table(keys, 'a table like { status = "good", connection = "allowed" }')
    if in_step is None:
        connections = [ConnectionOutcome.ALLOWED, ConnectionOutcome.REFUSED]
        note = ' ("dropped" only in the expect of a [[step]])'
    elif isinstance(in_step, Connect):
        connections = [ConnectionOutcome.ALLOWED, ConnectionOutcome.REFUSED]
        note = " (a connection just opened cannot be dropped)"
    else:
        connections, note = list(ConnectionOutcome), ""
    if "upload" in expect and not isinstance(in_step, Upload):
        expect.node("upload").fail(
            "one of the keys "
            + ", ".join(_EXPECT_KEYS)
            + ' (upload only in a step with upload = "…")'
        )
    # In a connect step the expectation is about the connection just opened.
    cert = in_step.cert if isinstance(in_step, Connect) else Expect.cert
    if isinstance(in_step, Connect) and "cert" in expect:
        expect.node("cert").one_of([cert], f" (the certificate of connect = {cert!r})")
    status = expect.optional("status", _choice(CertStatus))
    result = Expect(
        cert=expect.get("cert", names.cert, cert),
        status=status,
        reason=expect.optional("reason", _reason),
        error=expect.optional("error", _choice(ErrorCode)),
        trusted_by=expect.optional("trusted_by", _choice(TrustedBy)),
        connection=expect.optional(
            "connection", lambda n: _mode_outcome(n, ConnectionOutcome, connections, note)
        ),
        upload=expect.optional(
            "upload", lambda n: _mode_outcome(n, UploadOutcome, list(UploadOutcome), "")
        ),
    )
    if result.reason is not None and status is not CertStatus.REVOKED:
        expect.node("reason").fail('status = "revoked" alongside reason')
    if result.error is not None and status is not CertStatus.ERROR:
        expect.node("error").fail('status = "error" alongside error')
    if not any(key in expect for key in (*_CHECK_KEYS, "upload")):
        checks = ", ".join(_CHECK_KEYS) + (", upload" if isinstance(in_step, Upload) else "")
        node.fail(f"at least one of {checks}: an expectation that checks nothing always holds")
    return result


def _read_action(step: _Table, names: _Names) -> Action:
    given = [name for name in _ACTIONS if name in step]
    if len(given) > 1:
        step.node(given[1]).fail(f"at most one action per step (this one already has {given[0]})")
    if "reason" in step and given != ["revoke"]:
        step.node("reason").fail('reason only alongside revoke = "…"')
    if not given:
        return Wait()
    node = step.node(given[0])
    match given[0]:
        case "connect":
            return Connect(names.cert(node))
        case "upload":
            return Upload(names.cert(node))
        case "hold":
            return Hold(names.cert(node))
        case "release":
            return Release(names.cert(node))
        case "faults":
            return SetFaults(
                _read_faults(node.table(_FAULT_KEYS, "a table of faults ({} clears them)"))
            )
    cert = names.cert(node)
    reason = step.optional("reason", _reason)
    if reason == "certificateHold":
        return Hold(cert)  # the same meaning as hold = "…" (SCENARIOS.md [database])
    return Revoke(cert, reason)


def _read_steps(nodes: Sequence[_Node], names: _Names) -> tuple[Step, ...]:
    steps: list[Step] = []
    connected: set[str] = set()
    for node in nodes:
        step = node.table(_STEP_KEYS)
        at = step.required("at", _Node.offset, f"at = {OFFSET_EXPECTED}")
        if at < dt.timedelta(0):
            step.node("at").fail(f"{OFFSET_EXPECTED}, not before t0")
        if steps and at < steps[-1].at:
            step.node("at").fail(
                f"an offset at or after the previous step's ({format_offset(steps[-1].at)}): "
                "time never goes back"
            )
        action = _read_action(step, names)
        expect = step.optional(
            "expect", functools.partial(_read_expect, names=names, in_step=action)
        )
        if isinstance(action, Connect):
            connected.add(action.cert)
        elif expect is not None and not isinstance(action, Upload):
            _check_connected(step.node("expect"), expect, connected)
        steps.append(Step(at=at, action=action, expect=expect))
    return tuple(steps)


def _check_connected(node: _Node, expect: Expect, connected: Collection[str]) -> None:
    """A step without connect checks the latest connection presenting expect.cert: one exists."""
    checks_connection = (
        expect.status is not None or expect.trusted_by is not None or expect.connection is not None
    )
    if checks_connection and expect.cert not in connected:
        given = isinstance(node.value, dict) and "cert" in node.value
        node.fail(
            f'an earlier step with connect = "{expect.cert}" '
            "(a step without connect checks the connection presenting expect.cert)",
            key=_join(node.key, "cert") if given else node.key,
        )
