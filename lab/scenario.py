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
import stat
import tomllib
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, NoReturn, TypeAlias, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from lab.capture import CaptureKind, sniff
from lab.cert_files import (
    CertFileError,
    is_self_signed,
    issued_by,
    profile_facts,
    read_certificate_file,
    read_key_file,
)
from lab.errors import LabError, ScenarioError, ScenarioMistakes, UsageError
from lab.evidence import CertStatus, ErrorCode, TrustedBy
from lab.settings import (
    CertIdHash,
    CheckScope,
    ClientSettings,
    Delegation,
    EndpointSettings,
    HttpMethod,
    Stapling,
    UriSource,
)
from lab.timespec import (
    DURATION_EXPECTED,
    OFFSET_EXPECTED,
    POSITIVE_DURATION_EXPECTED,
    TimeSpecError,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
)
from pki.builder import subject_name
from pki.errors import PKIError
from pki.profiles import EKU_NAMES
from pki.spec import (
    LAB_URL,
    NO_URL,
    REASONS,
    CertFile,
    CertSpec,
    EntrySpec,
    KeyType,
    PKISpec,
    Profile,
    RecordStatus,
    SignatureHash,
)
from responder.config import (
    TRANSPORT_FAULTS,
    CertsIncluded,
    Faults,
    NotFound,
    ResponderConfig,
    ResponderIdKind,
)
from responder.fault_table import (
    FAULT_KEYS,
    HEADER_VALUE,
    FaultValueError,
    beyond_transport,
    fault_key,
)
from responder.source import DEFAULT_SIGNERS

__all__ = [
    "MAX_SCENARIO_BYTES",
    "Action",
    "Catalog",
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
    "read_client_table",
    "read_scenarios",
    "read_toml_file",
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
    #: Files the scenario reads besides itself (``replay``'s capture): not scenarios of a folder.
    material: tuple[Path, ...] = ()
    tls: EndpointSettings = field(default_factory=EndpointSettings)


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


#: A scenario file is a few kilobytes; the cap keeps a wrong path (a log, a disk image)
#: from being read whole.
MAX_SCENARIO_BYTES = 1 << 20
_TOML_POSITION = re.compile(r"^(?P<why>.*?) ?\(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def _read_bytes(path: str | os.PathLike[str], file: str, what: str = "scenario") -> bytes:
    """The file's bytes: a regular file of at most MAX_SCENARIO_BYTES, else a UsageError.

    A FIFO would block the open and ``/dev/zero`` never ends: only regular
    files are opened, and no more than the cap is read even if one grows.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(
                f"{file}: expected a regular {what} file (.toml), found {_kind(info)}",
                file=file,
            )
        with open(path, "rb") as stream:
            data = stream.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{file}: cannot read the {what}: {exc.strerror}", file=file) from None
    if len(data) > MAX_SCENARIO_BYTES:
        raise UsageError(
            f"{file}: expected a {what} file of at most {MAX_SCENARIO_BYTES // 1024} KiB",
            file=file,
        )
    return data


def _kind(info: os.stat_result) -> str:
    """What a path that is not a regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((word for test, word in kinds if test(info.st_mode)), "a special file")


def _parse_toml(data: bytes, file: str) -> dict[str, object]:
    """The file's TOML; a ScenarioError with tomllib's line and column when it is not TOML."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            file, "", "a UTF-8 text file", f"byte {exc.start}: {exc.reason}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno: its message ends "(at line L, column C)".
        message = str(exc)
        position = _TOML_POSITION.match(message)
        if position is None:
            raise ScenarioError(file, "", f"valid TOML ({message})") from None
        raise ScenarioError(
            file,
            "",
            f"valid TOML ({position['why']})",
            line=int(position["line"]),
            column=int(position["column"]),
        ) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise ScenarioError(
            file, "", "TOML whose arrays and inline tables nest less deep (too deep to read)"
        ) from None


def read_toml_file(path: str | os.PathLike[str], what: str) -> dict[str, object]:
    """A TOML file read as scenario files are (size cap, regular files only, errors named).

    For other files of the format's family (product profiles): a
    :class:`~lab.errors.UsageError` or :class:`~lab.errors.ScenarioError` naming the file.
    """
    file = str(path)
    return _parse_toml(_read_bytes(path, file, what), file)


def load_scenario(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> Scenario:
    """Read and check one scenario file.

    ``root`` names the folder ids are relative to when the file is under no
    ``scenarios`` folder (see :func:`scenario_id`). Raises
    :class:`~lab.errors.ScenarioError` for anything that does not follow
    SCENARIOS.md — :class:`~lab.errors.ScenarioMistakes` listing every mistake
    when there are several — and :class:`~lab.errors.UsageError` for a file
    that cannot be read.

    Every mistake is listed, not only the first: each value read through
    :class:`_Table` that is wrong is recorded and its default used, and the
    reading goes on. Follow-on mistakes are not reported: a check that fails
    while reading a value already found wrong is dropped (a reason next to a
    mistyped status), and when ``[pki]`` has a mistake the reading stops after
    it, since every name it should have defined would be reported missing.
    """
    file = str(path)
    data = _parse_toml(_read_bytes(path, file), file)
    mistakes = _Mistakes()
    token = _MISTAKES.set(mistakes)
    try:
        scenario = _read_scenario(_Node(file, "", data), scenario_id(path, root), Path(path))
    except ScenarioError as exc:
        mistakes.last(exc)
    except _Abandoned:
        pass  # its mistake is recorded
    finally:
        _MISTAKES.reset(token)
    if len(mistakes.found) == 1:
        raise mistakes.found[0]
    if mistakes.found:
        raise ScenarioMistakes(mistakes.found)
    check_recheck_bound(scenario)  # a well-formed file can still ask for a run without end
    return scenario


#: Re-checks a scenario may ask for up to its last step (docs/scenario-format-extensions.md).
MAX_RECHECKS = 10_000


def check_recheck_bound(scenario: Scenario) -> None:
    """:class:`ScenarioError` if the timeline would re-check more than :data:`MAX_RECHECKS` times.

    The re-checks fire at k × interval up to the last step's ``at``; the
    error names the key that sets the interval in use and the shortest
    interval that stays within the bound.
    """
    settings = scenario.client
    interval = settings.recheck_interval
    if not scenario.steps or interval is None or interval <= dt.timedelta(0):
        return
    until = max(step.at for step in scenario.steps)
    if until // interval <= MAX_RECHECKS:
        return
    key = "revocation_check" if settings.revocation_check is not None else "validity_check"
    # The ceiling, in whole milliseconds (the unit of durations): until / shortest <= the bound.
    ms = dt.timedelta(milliseconds=1)
    shortest = -(-(until // ms) // MAX_RECHECKS) * ms
    raise ScenarioError(
        str(scenario.path),
        f"client.{key}",
        f"an interval that re-checks at most {MAX_RECHECKS:,} times up to the last step at "
        f"{format_offset(until)}, i.e. {format_duration(shortest)} or more "
        f"({until // interval:,} re-checks asked)",
        found=format_duration(interval),
    )


@dataclass(frozen=True)
class Catalog:
    """What :func:`read_scenarios` found: the scenarios, the bad files, the files skipped."""

    scenarios: tuple[Scenario, ...]
    #: One error per bad file (ScenarioMistakes when it has several), in file order.
    bad: tuple[LabError, ...] = ()
    #: Files that are not scenarios (another extension, not a regular file), with why.
    skipped: tuple[tuple[Path, str], ...] = ()


def read_scenarios(paths: Iterable[str | os.PathLike[str]]) -> Catalog:
    """Read every scenario of ``paths``, keeping going past bad files.

    Files as given, folders recursively (``*.toml``, sorted); other files are
    skipped and listed. A file named twice is read once; two files with the
    same id are an error of the second (ids name results in reports and ``-k``
    filters). A path that does not exist is a :class:`~lab.errors.UsageError`:
    the command line is wrong, not a file.
    """
    files: list[tuple[Path, Path | None]] = []
    skipped: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_dir() or found.suffix == ".md":
                    continue  # a folder's Markdown is its documentation (scenarios/README.md)
                why = _not_a_scenario(found)
                if why is None:
                    files.append((found, path))
                else:
                    skipped.append((found, why))
        elif path.is_file() and path.suffix != ".toml":
            skipped.append((path, "not a .toml file"))
        elif path.exists():
            files.append((path, None))  # named on purpose: anything else is its error
        else:
            raise UsageError(f"{path}: no such scenario file or folder")
    scenarios: list[Scenario] = []
    bad: list[LabError] = []
    seen_files: set[str] = set()
    seen_ids: dict[str, Path] = {}
    for file, root in files:
        real = os.path.realpath(file)
        if real in seen_files:
            continue
        seen_files.add(real)
        try:
            scenario = load_scenario(file, root=root)
        except LabError as exc:
            bad.append(exc)
            continue
        if scenario.id in seen_ids:
            bad.append(
                ScenarioError(
                    str(file),
                    "",
                    f"a scenario id of its own ({scenario.id!r} is also {seen_ids[scenario.id]})",
                )
            )
            continue
        seen_ids[scenario.id] = file
        scenarios.append(scenario)
    material = {os.path.realpath(m) for s in scenarios for m in s.material}
    skipped = [(p, why) for p, why in skipped if os.path.realpath(p) not in material]
    return Catalog(tuple(scenarios), tuple(bad), tuple(skipped))


def _not_a_scenario(path: Path) -> str | None:
    """Why ``path`` found in a folder is not read as a scenario (None: it is one)."""
    if path.suffix != ".toml":
        return "not a .toml file"
    if not path.is_file():
        return "not a regular file"
    return None


def load_scenarios(paths: Iterable[str | os.PathLike[str]]) -> list[Scenario]:
    """Every scenario of ``paths`` (see :func:`read_scenarios`); the first bad file raises."""
    catalog = read_scenarios(paths)
    if catalog.bad:
        raise catalog.bad[0]
    return list(catalog.scenarios)


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


class _Abandoned(Exception):
    """A value without a default could not be read; its mistake is recorded already.

    It unwinds to the nearest reader that has a default (``_Table.get`` /
    ``optional``), which goes on with it; at the top the reading stops.
    """


class _Mistakes:
    """The mistakes found so far in the file being read (see :func:`load_scenario`)."""

    def __init__(self) -> None:
        self.found: list[ScenarioError] = []

    def last(self, error: ScenarioError) -> None:
        """An error that stopped the reading: kept unless it follows from one recorded.

        It follows from one when it is about the same table as a mistake found
        already (``expect[0].reason`` checked against a wrong ``expect[0].status``).
        """
        table = _parent_key(error.key)
        if table and any(_within(m.key, table) for m in self.found):
            return
        self.found.append(error)


#: The file being read's mistakes; None outside load_scenario (every mistake raises).
_MISTAKES: ContextVar[_Mistakes | None] = ContextVar("scenario_mistakes", default=None)


def _parent_key(key: str) -> str:
    """``expect[0]`` for ``expect[0].reason``, ``step`` for ``step[2]``, ``""`` at the top."""
    cut = max(key.rfind("."), key.rfind("["))
    return key[: max(cut, 0)]


def _within(key: str, table: str) -> bool:
    return key == table or key.startswith((table + ".", table + "["))


def _record(error: ScenarioError) -> None:
    """Note a mistake and go on, while a file is being read; raise it otherwise."""
    mistakes = _MISTAKES.get()
    if mistakes is None:
        raise error
    mistakes.found.append(error)


def _each(nodes: Iterable[_Node], read: Callable[[_Node], T]) -> tuple[T, ...]:
    """``read`` of each node; one that cannot be read is left out, its mistake recorded."""
    values: list[T] = []
    for node in nodes:
        try:
            values.append(_guarded(functools.partial(read, node)))
        except _Abandoned:
            continue  # its mistake is recorded
    return tuple(values)


def _mistake_count() -> int:
    mistakes = _MISTAKES.get()
    return 0 if mistakes is None else len(mistakes.found)


_NO_DEFAULT: object = object()


def _guarded(read: Callable[[], T], default: T | object = _NO_DEFAULT) -> T:
    """``read()``; when it fails, its mistake recorded and ``default`` in its place.

    A failure while reading a value that already had a mistake recorded inside
    it is a follow-on of that mistake and dropped. Without a default, the
    failure unwinds to the next reader that has one (:class:`_Abandoned`).
    """
    mistakes = _MISTAKES.get()
    if mistakes is None:
        return read()
    before = len(mistakes.found)
    try:
        return read()
    except ScenarioError as exc:
        if len(mistakes.found) == before:
            mistakes.found.append(exc)
    except _Abandoned:
        pass
    if default is _NO_DEFAULT:
        raise _Abandoned
    return default  # type: ignore[return-value]  # a T whenever given


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
            return parse_duration(
                self.text(DURATION_EXPECTED + self._as_string_hint("s", signed=False))
            )
        except TimeSpecError as exc:
            self.fail(exc.expected)

    def positive_duration(self) -> dt.timedelta:
        duration = self.duration()
        if not duration:
            self.fail(POSITIVE_DURATION_EXPECTED)
        return duration

    def offset(self) -> dt.timedelta:
        try:
            return parse_offset(self.text(OFFSET_EXPECTED + self._as_string_hint("h", signed=True)))
        except TimeSpecError as exc:
            self.fail(exc.expected)

    def _as_string_hint(self, unit: str, *, signed: bool) -> str:
        """For a time given as a TOML number: it is a string with a unit (``at = "+6h"``)."""
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return ""
        if self.value == 0:
            return ' (write it as a string: "0")'
        sign = "-" if self.value < 0 else "+" if signed else ""
        return f' (write it as a string with a unit, like "{sign}{abs(self.value):g}{unit}")'

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
        """A table whose keys are all in ``allowed`` (``None``: any key).

        Each unknown key is a mistake of its own; the table goes on with the keys it knows.
        """
        if not isinstance(self.value, dict):
            self.fail(expected)
        data = self.value
        if allowed is not None:
            for name in self.value:
                if name not in allowed:
                    hint = difflib.get_close_matches(name, list(allowed), n=1)
                    more = f' (did you mean "{hint[0]}"?)' if hint else ""
                    _record(
                        ScenarioError(
                            self.file,
                            _join(self.key, name),
                            f"one of the keys {', '.join(allowed)}{more}",
                        )
                    )
            data = {name: value for name, value in self.value.items() if name in allowed}
        return _Table(self.file, self.key, data)


@dataclass(frozen=True)
class _Table:
    """A TOML table whose keys have been checked; reads its values by name.

    ``get``, ``optional``, ``required``, ``section`` and ``array`` record a
    wrong value's mistake and go on with the default (see :func:`_guarded`).
    """

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
        if name not in self.data:
            return None
        return _guarded(lambda: read(self.node(name)), None)

    def get(self, name: str, read: Callable[[_Node], T], default: T) -> T:
        if name not in self.data:
            return default
        return _guarded(lambda: read(self.node(name)), default)

    def required(self, name: str, read: Callable[[_Node], T], expected: str) -> T:
        if name in self.data:
            return _guarded(lambda: read(self.node(name)))
        mistakes = _MISTAKES.get()
        if mistakes is not None and any(_within(m.key, self.key) for m in mistakes.found):
            # The table has a mistake already, most likely this key misspelt: one report.
            raise _Abandoned
        _record(ScenarioError(self.file, _join(self.key, name), expected))
        raise _Abandoned

    def section(self, name: str, allowed: Collection[str] | None) -> _Table:
        """A sub-table (``[client]``), empty when absent (or when it is no table)."""
        empty = _Table(self.file, _join(self.key, name), {})
        if name not in self.data:
            return empty
        expected = f"a table ([{_join(self.key, name)}])"
        return _guarded(lambda: self.node(name).table(allowed, expected), empty)

    def array(self, name: str) -> list[_Node]:
        """An array of tables (``[[step]]``), empty when absent; an element not a table left out."""
        if name not in self.data:
            return []
        header = f"an array of tables ([[{_join(self.key, name)}]])"
        no_nodes: list[_Node] = []
        nodes = _guarded(lambda: self.node(name).items(header), no_nodes)
        tables = []
        for node in nodes:
            if isinstance(node.value, dict):
                tables.append(node)
            else:
                _record(
                    ScenarioError(
                        node.file,
                        node.key,
                        f"a table (each [[{_join(self.key, name)}]] is one)",
                        _shown(node.value),
                    )
                )
        return tables


def _choice(enum: type[E]) -> Callable[[_Node], E]:
    """A reader of one of ``enum``'s values."""
    return lambda node: node.choice(enum)


# --------------------------------------------------------------------------
# Values of the format
# --------------------------------------------------------------------------

_TOP_KEYS = (
    "title",
    "about",
    "tags",
    "pki",
    "database",
    "responder",
    "client",
    "tls",
    "expect",
    "step",
)
_TLS_KEYS = ("staple",)
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
    "must_staple",
    "cert_file",
    "key_file",
)
#: With cert_file, the file says everything else (SCENARIOS.md [[pki.cert]]).
_FILE_CERT_KEYS = ("name", "cert_file", "key_file")
_ENTRY_KEYS = ("status", "reason", "since")
_RESPONDER_KEYS = (
    "signer",
    "signers",
    "certs",
    "responder_id",
    "next_update",
    "not_found",
    "signature_hash",
    "faults",
    "replay",
    "index",
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
    "stapling",
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
    before_pki = _mistake_count()
    pki_table = top.section("pki", _PKI_KEYS)
    key = pki_table.get("key", _choice(KeyType), KeyType.EC_P256)
    signature_hash = pki_table.optional("signature_hash", _choice(SignatureHash))
    certs, origins = _read_certs(pki_table, path.parent)
    if _mistake_count() > before_pki:
        # A mistaken [pki] makes follow-ons of the checks on its names (a "caa" profile:
        # "issuer is no CA"; a certificate left out: "no such name"): stop here.
        raise _Abandoned
    _check_issuers(certs, origins, top.file)
    _check_signature_hashes(pki_table, key, certs, origins)
    names = _Names({c.name: c for c in certs})
    database = _read_database(top.section("database", None), names)
    responder = _read_responder(top.section("responder", _RESPONDER_KEYS), names, path.parent, key)
    client = _read_client(top.section("client", _CLIENT_KEYS), names)
    tls = _read_tls(top.section("tls", _TLS_KEYS))
    expects = _each(top.array("expect"), lambda node: _read_expect(node, names, in_step=None))
    steps = _read_steps(top.array("step"), names)
    if responder.replay is not None:
        for index, step in enumerate(steps):
            if isinstance(step.action, SetFaults):
                _replay_faults(top.file, f"step[{index}].faults", step.action.faults)
    return Scenario(
        id=id_,
        path=path,
        title=title,
        about=about,
        tags=tags,
        pki=PKISpec.with_defaults(certs, key=key, database=database, signature_hash=signature_hash),
        responder=responder,
        client=client,
        tls=tls,
        expects=expects,
        steps=steps,
        material=_material(top, path.parent),
    )


def _material(top: _Table, base: Path) -> tuple[Path, ...]:
    """The files a scenario reads besides itself: replay, index, cert_file and key_file."""
    responder = top.data.get("responder")
    replay = responder.get("replay") if isinstance(responder, dict) else None
    index = responder.get("index") if isinstance(responder, dict) else None
    found = [base / replay] if isinstance(replay, str) else []
    if isinstance(index, dict):
        found += [base / path for path in index.values() if isinstance(path, str)]
    # [[pki.cert]] cert_file and key_file: a customer's certificates and keys.
    pki = top.data.get("pki")
    certs = pki.get("cert") if isinstance(pki, dict) else None
    for cert in certs if isinstance(certs, list) else ():
        for key in ("cert_file", "key_file"):
            value = cert.get(key) if isinstance(cert, dict) else None
            if isinstance(value, str):
                found.append(base / value)
    return tuple(found)


def _read_certs(pki: _Table, base: Path) -> tuple[tuple[CertSpec, ...], dict[str, str]]:
    """Every certificate of the scenario (defaults merged), and where each one added was written.

    A certificate from a file gets the name of its issuer here, found among
    the others by the file's issuer name and key (:func:`_with_file_issuers`).
    """
    added: list[CertSpec] = []
    origins: dict[str, str] = {}  # name -> "pki.cert[2]"
    for node in pki.array("cert"):
        table = node.table(_CERT_KEYS)
        if "cert_file" in table or "key_file" in table:
            spec = _read_file_cert(table, base)
        else:
            spec = _read_cert(table)
        if spec.name in origins:
            node.fail(
                f"a name no other [[pki.cert]] uses ({origins[spec.name]} is also {spec.name!r})",
                key=_join(node.key, "name"),
            )
        origins[spec.name] = node.key
        added.append(spec)
    return _with_file_issuers(PKISpec.with_defaults(tuple(added)).certs), origins


def _read_file_cert(cert: _Table, base: Path) -> CertSpec:
    """A ``[[pki.cert]]`` with ``cert_file``: the name, the file, and its key if given.

    Its profile is what the file says: a CA when basicConstraints has cA
    (RFC 5280 4.2.1.9), a delegated OCSP signer with EKU OCSPSigning (RFC
    6960 4.2.2.2), else a leaf; its issuer is found later, by name and key.
    """
    name = cert.required("name", _cert_name, 'the certificate\'s name (name = "…")')
    if "cert_file" not in cert:
        cert.node("key_file").fail(
            "no key_file without cert_file (a certificate the lab makes has a key of the lab's)"
        )
    for key in cert.data:
        if key not in _FILE_CERT_KEYS:
            _record(
                ScenarioError(
                    cert.file,
                    _join(cert.key, key),
                    f"no {key} with cert_file: the certificate file says it",
                )
            )
    path, certificate = cert.required(
        "cert_file", lambda node: _certificate_file(node, base), "cert_file"
    )
    given = cert.optional("key_file", lambda node: _key_file(node, base, certificate))
    is_ca, signs_ocsp = profile_facts(certificate)
    profile = Profile.CA if is_ca else Profile.OCSP_RESPONDER if signs_ocsp else Profile.LEAF
    return CertSpec(
        name=name,
        profile=profile,
        from_file=CertFile(
            certificate.public_bytes(Encoding.DER),
            given[1] if given else None,
            path=str(path),
            key_path=str(given[0]) if given else None,
        ),
    )


def _certificate_file(node: _Node, base: Path) -> tuple[Path, x509.Certificate]:
    where = base / node.text("a path to a certificate file (PEM or DER), relative to the scenario")
    try:
        return where, read_certificate_file(where)
    except CertFileError as exc:
        node.fail(exc.expected)


def _key_file(node: _Node, base: Path, certificate: x509.Certificate) -> tuple[Path, bytes]:
    where = base / node.text("a path to a private key file (PEM or DER), relative to the scenario")
    try:
        return where, read_key_file(where, certificate)
    except CertFileError as exc:
        node.fail(exc.expected)


def _file_certificate(cert: CertSpec) -> x509.Certificate | None:
    if cert.from_file is None:
        return None
    return x509.load_der_x509_certificate(cert.from_file.certificate)


def _with_file_issuers(certs: tuple[CertSpec, ...]) -> tuple[CertSpec, ...]:
    """``certs``, each from a file given the name of its issuer (None: self-signed or outside).

    The issuer is the CA of the scenario whose subject is the file's issuer
    name (RFC 5280 4.1.2.4) and, for a CA from a file, whose key verifies the
    signature (so its SKI is the file's AKI, RFC 5280 4.2.1.1). A lab-made CA
    matches by name here; the build checks its key (pki.file_certs), since
    keys exist only once the lab secret is known.
    """
    cas = [c for c in certs if c.profile is Profile.CA]
    found: list[CertSpec] = []
    for cert in certs:
        certificate = _file_certificate(cert)
        if certificate is None or is_self_signed(certificate):
            found.append(cert)
            continue
        issuer: str | None = None
        for ca in cas:
            if ca.name == cert.name:
                continue
            ca_certificate = _file_certificate(ca)
            if ca_certificate is not None and issued_by(certificate, ca_certificate):
                issuer = ca.name
                break
            if ca_certificate is None and subject_name(ca) == certificate.issuer and not issuer:
                issuer = ca.name  # a lab CA of that name; a CA from a file that verifies wins
        found.append(replace(cert, issuer=issuer))
    return tuple(found)


def outside_issuer(cert: CertSpec) -> bool:
    """A certificate from a file whose issuer is no certificate of the scenario."""
    certificate = _file_certificate(cert)
    return certificate is not None and cert.issuer is None and not is_self_signed(certificate)


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
        must_staple=cert.get("must_staple", _Node.boolean, False),
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
        if cert.issuer is None or cert.from_file is not None:
            continue  # a file's issuer was found as a CA by the file's issuer name
        if cert.issuer in by_name:
            _check_file_issuer(cert, by_name[cert.issuer], origins, file)
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


def _check_file_issuer(
    cert: CertSpec, issuer: CertSpec, origins: Mapping[str, str], file: str
) -> None:
    """A certificate the lab makes under a CA from a file: the file is a CA, with its key."""
    material = issuer.from_file
    if material is None:
        return
    where = origins.get(cert.name)
    node = (
        _Node(file, _join(where, "issuer"), cert.issuer)
        if where is not None
        else _Node(file, _join(origins[issuer.name], "key_file"), material.key_path)
    )
    role = "its issuer" if where is not None else f"the issuer of the default {cert.name!r}"
    if issuer.profile is not Profile.CA:
        node.fail(
            f"a CA as {role}: {issuer.name!r} ({material.path}) has no basicConstraints cA "
            "(RFC 5280 4.2.1.9), so it may not issue certificates"
        )
    if material.key is None:
        node.fail(
            f"a CA with its key as {role}: {issuer.name!r} ({material.path}) has no key_file, "
            "so the lab cannot issue certificates for it (it can only judge them)"
        )


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
        issuer_file = _file_certificate(issuer)
        if (
            isinstance(issuer_file.public_key(), ed25519.Ed25519PublicKey)
            if issuer_file is not None
            else (issuer.key or key) is KeyType.ED25519
        ):
            # Only a certificate the scenario wrote has a signature_hash of its own.
            where = _join(origins[cert.name], "signature_hash")
            _Node(pki.file, where, cert.signature_hash.value).fail(
                f"no signature_hash: its issuer {issuer.name!r} has an ed25519 key, and {why}"
            )


def _read_database(database: _Table, names: _Names) -> dict[str, EntrySpec]:
    entries: dict[str, EntrySpec] = {}
    for name, node in database.nodes():
        names.check(_Node(node.file, node.key, name), name)
        cert = names.certs[name]
        if outside_issuer(cert):
            certificate = _file_certificate(cert)
            assert certificate is not None and cert.from_file is not None
            # RFC 6960 4.1.1: a CertID names the issuer; the responder answers per CA it knows.
            _Node(node.file, node.key, name).fail(
                f"a certificate whose issuer is in the scenario: {cert.from_file.path} is issued "
                f"by {certificate.issuer.rfc4514_string()}, which is no [[pki.cert]] "
                "(add that CA with cert_file)"
            )
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


def _replay(node: _Node, base: Path) -> bytes:
    """``replay``: the captured OCSPResponse a path names (relative to the scenario file).

    Read as ``inspect`` reads a capture (:func:`lab.capture.sniff`): DER, PEM or
    base64. An HTTP message is refused: its status line and Content-Type are
    what ``[responder.faults]`` ``http_status`` and ``content_type`` say.
    """
    expected = "a path to a captured OCSP response (DER, PEM or base64), relative to the scenario"
    where = base / node.text(expected)
    try:
        data = where.read_bytes()
    except OSError as exc:
        node.fail(f"{expected}; {where}: cannot read ({exc.strerror})")
    capture = sniff(data)
    if capture.kind is not CaptureKind.OCSP_RESPONSE or capture.der is None or capture.http:
        node.fail(f"{expected}; {where} is {capture.describe()}")
    return capture.der


def _replay_faults(file: str, key: str, faults: Faults) -> None:
    """With ``replay``, only the transport faults: the others rewrite or re-sign the answer."""
    content = beyond_transport(faults)
    if content:
        _record(
            ScenarioError(
                file,
                key,
                f"only the transport faults ({', '.join(TRANSPORT_FAULTS)}) with responder.replay: "
                "the captured bytes are served unchanged",
                _Shown(", ".join(content)),
            )
        )


def _answer_hash(responder: _Table, names: _Names, key: KeyType) -> SignatureHash | None:
    """``[responder] signature_hash``; an error where every signer's key is Ed25519.

    Ed25519 takes no hash (RFC 8032 5.1.6, RFC 8410 3): a scenario whose answers
    are all signed with it cannot mean one. Among several signers, an Ed25519
    one keeps its own (docs/scenario-format-extensions.md).
    """
    wanted = responder.optional("signature_hash", _choice(SignatureHash))
    if wanted is None:
        return None
    named: list[object] = [responder.node("signer").value] if "signer" in responder else []
    signers = responder.node("signers").value if "signers" in responder else {}
    named += list(signers.values()) if isinstance(signers, dict) else []
    keys = [names.certs[n].key or key for n in named if isinstance(n, str) and n in names.certs]
    if (keys and all(k is KeyType.ED25519 for k in keys)) or (not named and key is KeyType.ED25519):
        responder.node("signature_hash").fail(
            "no signature_hash when the answers are signed with Ed25519 (its hash is its own, "
            "RFC 8032 5.1.6)"
        )
    return wanted


def _read_responder(
    responder: _Table, names: _Names, base: Path, key: KeyType = KeyType.EC_P256
) -> ResponderConfig:
    defaults = ResponderConfig()
    replay = responder.optional("replay", lambda node: _replay(node, base))
    faults = _read_faults(responder.section("faults", _FAULT_KEYS))
    if replay is not None:
        _replay_faults(responder.file, _join(responder.key, "faults"), faults)
    signers: dict[str, str] = {}
    for ca, node in responder.section("signers", None).nodes():
        names.ca(_Node(node.file, node.key, ca))
        signers[ca] = names.cert(node)
    if "signer" in responder and signers:
        responder.node("signers").fail("either responder.signer or responder.signers, not both")
    signer = responder.optional("signer", names.cert)
    _check_signer_keys(responder, signer, signers, names)
    index: dict[str, Path] = {}
    for ca, node in responder.section("index", None).nodes():
        names.ca(_Node(node.file, node.key, ca))
        index[ca] = _index_file(node, base)
    return ResponderConfig(
        signer=signer,
        signers=signers,
        certs=responder.get("certs", _choice(CertsIncluded), defaults.certs),
        responder_id=responder.get("responder_id", _choice(ResponderIdKind), defaults.responder_id),
        next_update=responder.get("next_update", _next_update, defaults.next_update),
        not_found=responder.get("not_found", _choice(NotFound), defaults.not_found),
        signature_hash=_answer_hash(responder, names, key),
        faults=faults,
        replay=replay,
        index=index,
    )


def _check_signer_keys(
    responder: _Table, signer: str | None, signers: Mapping[str, str], names: _Names
) -> None:
    """Every CA's answers have a signer with a key (a certificate from a file may have none).

    Who signs is SCENARIOS.md's rule (as :class:`responder.source.SignerPolicy`
    applies it): ``signers[ca]``, else ``signer``, else the default. A CA from
    a file without its key can still be answered for, by another signer — a
    Trusted Responder, a delegated responder with a key — never by itself.
    """
    certs = names.certs

    def keyless(name: str) -> CertFile | None:
        material = certs[name].from_file
        return material if material is not None and material.key is None else None

    for where, name in [("signer", signer), *((f"signers.{ca}", n) for ca, n in signers.items())]:
        material = keyless(name) if name is not None else None
        if material is not None:
            _Node(responder.file, _join(responder.key, where), name).fail(
                f"a signer with its key: {name!r} ({material.path}) has no key_file"
            )
    if signer is not None:
        return
    for ca in (c for c in certs.values() if c.profile is Profile.CA and c.name not in signers):
        default = DEFAULT_SIGNERS.get(ca.name, ca.name)
        chosen = default if default in certs else ca.name
        material = keyless(chosen)
        if material is None:
            continue
        _Node(responder.file, _join(responder.key, "signers"), None).fail(
            f"a signer with a key for the certificates of {ca.name!r}: by default {chosen!r} "
            f"signs them, and {chosen!r} ({material.path}) has no key_file (give it one, or "
            f'name another signer: signers = {{ {ca.name} = "trusted-responder" }})'
        )


#: The loader checks an index.txt this big whole; of a bigger one its first lines
#: (the rest when the responder imports it, with the same one-line errors).
_INDEX_CHECKED_BYTES = 8 << 20
_INDEX_CHECKED_LINES = 10_000


def _index_file(node: _Node, base: Path) -> Path:
    """``index.<ca>``: an OpenSSL CA database (index.txt), relative to the scenario file."""
    from pki.openssl_index import scan_index

    expected = "a path to an OpenSSL CA database (index.txt), relative to the scenario"
    where = (base / node.text(expected)).absolute()
    try:
        size = where.stat().st_size
        if not where.is_file():
            node.fail(f"{expected}; {where} is not a file")
    except OSError as exc:
        node.fail(f"{expected}; {where}: cannot read ({exc.strerror})")
    seen: set[bytes] = set()
    limit = None if size <= _INDEX_CHECKED_BYTES else _INDEX_CHECKED_LINES
    try:
        for number, serial, _offset in scan_index(where):
            if serial in seen:
                raise PKIError(
                    f"{where}:{number}: serial {serial.decode()} is on an earlier line too "
                    "(openssl ocsp -index refuses such a file)"
                )
            seen.add(serial)
            if limit is not None and number >= limit:
                break
    except PKIError as exc:
        node.fail(f"{expected}; {exc}")
    return where


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
        stapling=client.get("stapling", _choice(Stapling), default.stapling),
    )


class _AnyNames(_Names):
    """Certificate names outside a scenario (a product profile): any well-formed name."""

    def _expected(self) -> str:
        return _CERT_NAME_EXPECTED

    def check(self, node: _Node, name: str) -> str:
        if not _CERT_NAME.fullmatch(name):
            node.fail(_CERT_NAME_EXPECTED)
        return name


def read_client_table(file: str, key: str, value: object) -> ClientSettings:
    """A ``[client]`` table outside a scenario (a product profile, SCENARIOS.md), read as here.

    The same reader as a scenario's own ``[client]``; ``trust`` may name any
    well-formed certificate name, since no one scenario's PKI is known yet.
    Raises :class:`~lab.errors.ScenarioError` (every mistake, as :func:`load_scenario`).
    """
    mistakes = _Mistakes()
    token = _MISTAKES.set(mistakes)
    settings = ClientSettings()
    try:
        table = _guarded(lambda: _Node(file, key, value).table(_CLIENT_KEYS, f"a table ([{key}])"))
        settings = _read_client(table, _AnyNames({}))
    except _Abandoned:
        pass  # its mistake is recorded
    finally:
        _MISTAKES.reset(token)
    if len(mistakes.found) == 1:
        raise mistakes.found[0]
    if mistakes.found:
        raise ScenarioMistakes(mistakes.found)
    return settings


def _read_tls(tls: _Table) -> EndpointSettings:
    default = EndpointSettings()
    return EndpointSettings(staple=tls.get("staple", _Node.boolean, default.staple))


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
