"""The lab in other projects' tests: a pytest plugin (entry point ``pytest11``).

Installing ocsp-lab registers it; ``pytest_plugins = ["lab.pytest_plugin"]``
in a ``conftest.py`` does the same where plugin autoloading is off. Fixtures:

``ocsp_pki``
    Session-scoped: the default PKI (or ``--ocsp-lab-scenario FILE``'s, also
    the ini key ``ocsp_lab_scenario``) written to a temporary folder, each
    file's path at hand (:class:`LabFiles`). Real clock: t0 is 1 January of
    this year (UTC), as for ``ocsp-lab serve``, so a client checking dates
    against its own clock accepts the answers.
``ocsp_responder``
    The in-process responder serving that PKI on a loopback port picked by
    the kernel, with ``url``, ``revoke`` / ``hold`` / ``release`` /
    ``set_faults`` / ``clear_faults``; the database and faults are reset
    after each test (:class:`LabResponderHandle`).
``ocsp_scenario``
    ``ocsp_scenario("file.toml")``: a scenario's own lab (virtual clock at the
    scenario's t0), to run it or point a client at it (:class:`ScenarioHandle`).

An exception raised inside the responder while a test uses these fixtures
(answered as ``internalError``, on the server's thread) fails that test,
with the traceback. Scenario files become test items with one line in a
``conftest.py``: ``pytest_collect_file = scenario_files("scenarios")`` (or
the ini key ``ocsp_lab_scenarios``), one item per scenario, failing with
what was expected, what came and the evidence.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cryptography import x509
    from flask import Flask

    from lab.chain_check import ChainResult
    from lab.runner import ScenarioLab, ScenarioResult
    from lab.scenario import Scenario
    from pki import PKI
    from responder.app import LabResponder
    from responder.requestlog import RequestLogEntry

__all__ = [
    "LabFiles",
    "LabResponderHandle",
    "ResponderFailure",
    "ScenarioFailed",
    "ScenarioHandle",
    "scenario_files",
]

_HOST = "127.0.0.1"
_FIXTURES = ("ocsp_pki", "ocsp_responder", "ocsp_scenario")


# ---- options ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocsp-lab")
    group.addoption(
        "--ocsp-lab-scenario",
        metavar="FILE",
        help="the scenario whose PKI and responder ocsp_pki / ocsp_responder serve",
    )
    parser.addini("ocsp_lab_scenario", "scenario file for ocsp_pki / ocsp_responder", default="")
    parser.addini(
        "ocsp_lab_scenarios",
        "folders whose scenario files (*.toml) are collected as test items",
        type="paths",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ocsp_scenario: a scenario file run as a test item (set by ocsp-lab)"
    )
    errors = _ResponderErrors()
    logging.getLogger("responder").addHandler(errors)
    config.stash[_ERRORS] = errors


def pytest_unconfigure(config: pytest.Config) -> None:
    errors = config.stash.get(_ERRORS, None)
    if errors is not None:
        logging.getLogger("responder").removeHandler(errors)


# ---- errors on the responder's thread -----------------------------------------------------


class ResponderFailure(AssertionError):
    """The responder raised while answering this test's requests (it answered internalError)."""


class _ResponderErrors(logging.Handler):
    """Collects what the responder logs with a traceback: its handler of any exception does."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._lock_records = threading.Lock()
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            with self._lock_records:
                self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock_records:
            taken, self.records = self.records, []
        return taken


_ERRORS = pytest.StashKey[_ResponderErrors]()
_HANDLE = pytest.StashKey["LabResponderHandle"]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test using the lab's fixtures when the responder raised meanwhile."""
    errors = item.config.stash.get(_ERRORS, None)
    watched = errors is not None and any(
        name in getattr(item, "fixturenames", ()) for name in _FIXTURES
    )
    if errors is not None and watched:
        errors.take()  # what earlier tests left is theirs
    outcome = yield
    if errors is not None and watched:
        raised = errors.take()
        if raised:
            text = "\n".join(errors.format(record) for record in raised)
            raise ResponderFailure(
                f"the OCSP responder raised while answering this test's requests:\n{text}"
            )
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that used ``ocsp_responder`` shows what the responder answered it."""
    report = yield
    handle = item.stash.get(_HANDLE, None)
    if handle is not None and report.when == "call" and report.failed:
        lines = [
            f"{entry.line()} certs={','.join(n or '?' for n in entry.names) or '-'}"
            for entry in handle.requests()
        ]
        report.sections.append(
            ("ocsp-lab: requests answered during the test", "\n".join(lines) or "none")
        )
    return report


# ---- one lab: PKI, responder, files -------------------------------------------------------


@dataclass
class LabFiles:
    """``ocsp_pki``: the PKI and where its files were written (``<name>.pem`` / ``.key``…)."""

    pki: PKI
    directory: Path
    url: str  # the responder's URL, also the certificates' AIA OCSP URL

    def cert_path(self, name: str) -> Path:
        """``<name>.pem``: the certificate."""
        return self.directory / f"{name}.pem"

    def key_path(self, name: str) -> Path:
        """``<name>.key``: its private key (PKCS#8 PEM)."""
        return self.directory / f"{name}.key"

    @property
    def chain_path(self) -> Path:
        """``chain.pem``: every CA certificate, deepest first."""
        return self.directory / "chain.pem"

    def certificate(self, name: str) -> x509.Certificate:
        """Certificate ``name`` as a cryptography object."""
        return self.pki[name].certificate

    def issuer(self, name: str) -> x509.Certificate:
        """The certificate that issued ``name`` (itself when self-signed)."""
        cert = self.pki[name]
        return self.pki[cert.issuer or cert.name].certificate


class _Lab:
    """A PKI and its responder on a free loopback port, real clock (the session's lab)."""

    def __init__(self, scenario: Scenario | None, directory: Path) -> None:
        from pki import CertificateDatabase, PKISpec, build_pki, calendar_t0, write_pki
        from responder.app import create_app, lab_responder
        from responder.config import ResponderConfig
        from responder.server import serve_on_a_free_port

        spec = scenario.pki if scenario is not None else PKISpec()
        self.config = scenario.responder if scenario is not None else ResponderConfig()
        self.scenario = scenario
        t0 = calendar_t0(dt.datetime.now(dt.UTC))

        def build(url: str) -> Flask:
            self.pki = build_pki(spec, base_url=url, t0=t0)
            return create_app(self.pki, config=self.config)

        self.app, self.server = serve_on_a_free_port(build, host=_HOST)
        self.responder: LabResponder = lab_responder(self.app)
        url = self.server.url
        self.url = url
        write_pki(self.pki, CertificateDatabase.from_pki(self.pki), directory)
        self.files = LabFiles(self.pki, directory, url)
        self._database = CertificateDatabase

    def reset(self) -> None:
        """The PKI's own database and the configured faults again."""
        state = self.responder.state
        state.replace_database(self._database.from_pki(self.pki))
        if state.faults != self.config.faults:
            state.set_faults(self.config.faults)

    def close(self) -> None:
        self.server.stop()


@dataclass
class LabResponderHandle:
    """``ocsp_responder``: the running responder and what a test may change on it."""

    lab: _Lab
    #: When the test began on the responder's clock: its requests are those answered since.
    since: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``: POST a DER OCSPRequest here, or GET base64 after it."""
        return self.lab.url

    @property
    def pki(self) -> PKI:
        return self.lab.pki

    @property
    def files(self) -> LabFiles:
        return self.lab.files

    def revoke(self, name: str, reason: str | None = None) -> None:
        """Revoke certificate ``name`` now (an RFC 5280 reason name, or none)."""
        self.lab.responder.state.revoke(name, self.lab.responder.clock(), reason)

    def hold(self, name: str) -> None:
        """Put ``name`` on hold (revoked, reason certificateHold)."""
        self.lab.responder.state.hold(name, self.lab.responder.clock())

    def release(self, name: str) -> None:
        """Release ``name`` from hold: good again."""
        self.lab.responder.state.release(name)

    def set_faults(self, **faults: Any) -> None:
        """Misbehave from now on: the ``[responder.faults]`` keys (``delay="2s"``, ``down=True``).

        Replaces the faults active before; ``set_faults()`` clears them.
        """
        from responder.fault_table import faults_from_json

        self.lab.responder.state.set_faults(faults_from_json(faults))

    def clear_faults(self) -> None:
        """Behave again."""
        from responder.config import Faults

        self.lab.responder.state.set_faults(Faults())

    def requests(self) -> list[RequestLogEntry]:
        """The requests answered during this test, oldest first."""
        return [e for e in self.lab.responder.requests.entries() if e.at >= self.since]

    def check(self, name: str, *, common_criteria: bool = True) -> ChainResult:
        """The lab's validator on certificate ``name`` against this responder, now."""
        from lab.chain_check import CheckOptions, check_chain
        from lab.settings import ClientSettings

        settings = ClientSettings()
        options = CheckOptions.from_settings(
            settings, common_criteria=common_criteria, lab_url=self.url
        )
        return check_chain(
            [self.pki[name].certificate],
            options=options,
            now=dt.datetime.now(dt.UTC),
            trust=[self.pki[t].certificate for t in settings.trust],
            issuer=self.files.issuer(name),
        )

    def assert_status(self, name: str, expected: str) -> None:
        """The lab's validator gets ``expected`` (good / revoked / unknown / error) for ``name``.

        Fails with the validator's evidence, step by step, when it does not.
        """
        from lab.commands.check import format_evidence

        result = self.check(name)
        evidence = result.checks[0].evidence
        if evidence.status.value != expected:
            lines = "\n".join(format_evidence(evidence))
            raise AssertionError(
                f"{name}: expected status {expected}, the lab's validator got "
                f"{evidence.status.value}; evidence:\n{lines}"
            )


@pytest.fixture(scope="session")
def _ocsp_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from lab.scenario import load_scenario

    config = request.config
    given = config.getoption("--ocsp-lab-scenario") or config.getini("ocsp_lab_scenario")
    scenario = None
    if given:
        path = Path(given)
        scenario = load_scenario(path if path.is_absolute() else config.rootpath / path)
    lab = _Lab(scenario, tmp_path_factory.mktemp("ocsp-pki"))
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def ocsp_pki(_ocsp_lab: _Lab) -> LabFiles:
    """The session's PKI (default, or ``--ocsp-lab-scenario``'s), written to a temporary folder."""
    return _ocsp_lab.files


@pytest.fixture
def ocsp_responder(request: pytest.FixtureRequest, _ocsp_lab: _Lab) -> Iterator[LabResponderHandle]:
    """The responder serving ``ocsp_pki``; its database and faults are reset after the test."""
    handle = LabResponderHandle(_ocsp_lab, _ocsp_lab.responder.clock())
    request.node.stash[_HANDLE] = handle
    try:
        yield handle
    finally:
        _ocsp_lab.reset()


# ---- scenarios ----------------------------------------------------------------------------


@dataclass
class ScenarioHandle:
    """``ocsp_scenario(path)``: a scenario's PKI and responder, on its virtual clock."""

    scenario: Scenario
    lab: ScenarioLab

    @property
    def url(self) -> str:
        return self.lab.url

    @property
    def pki(self) -> PKI:
        return self.lab.pki

    def run(self) -> ScenarioResult:
        """Run the scenario's expectations (every mode it names) on this lab."""
        from lab.runner import ScenarioResult, run_mode

        modes = tuple(run_mode(self.lab, cc_on) for cc_on in self.scenario.client.modes())
        return ScenarioResult(self.scenario, modes, responder_url=self.url)

    def assert_holds(self) -> None:
        """Every expectation of the scenario holds; else fail with what differed and why."""
        result = self.run()
        if not result.holds:
            raise ScenarioFailed(_failure_text(result))


@pytest.fixture
def ocsp_scenario(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str | Path], ScenarioHandle]]:
    """A factory: ``ocsp_scenario("x.toml")`` (relative to the test file) gives its lab."""
    from lab.runner import ScenarioLab
    from lab.scenario import load_scenario

    labs: list[ScenarioLab] = []
    here = Path(str(request.path)).parent

    def open_scenario(path: str | Path) -> ScenarioHandle:
        file = Path(path)
        scenario = load_scenario(file if file.is_absolute() else here / file)
        lab = ScenarioLab(scenario)
        labs.append(lab)
        return ScenarioHandle(scenario, lab)

    try:
        yield open_scenario
    finally:
        for lab in labs:
            lab.close()


class ScenarioFailed(AssertionError):
    """A scenario item whose expectations did not all hold."""


def _failure_text(result: ScenarioResult) -> str:
    from lab.report import failure_details

    lines = [f"{result.id}: {result.scenario.title}"]
    if result.error:
        lines.append(f"could not set up: {result.error}")
    for mode in result.modes:
        for expectation in mode.expectations:
            if not expectation.holds:
                lines.append(f"[{mode.mode}] " + failure_details(expectation))
        if mode.error:
            lines.append(f"[{mode.mode}] could not run: {mode.error}")
    return "\n".join(lines)


class ScenarioItem(pytest.Item):
    """One scenario file run as a test: every mode it names.

    A file the loader refuses is an item too, failing with the loader's
    message (every mistake of it): a collection error would stop the whole run.
    """

    def __init__(
        self, *, scenario: Scenario | None, problem: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.problem = problem
        self.add_marker(pytest.mark.ocsp_scenario)
        if scenario is not None:
            self.user_properties.append(("title", scenario.title))
            self.user_properties.append(("tags", " ".join(scenario.tags)))

    def runtest(self) -> None:
        from lab.runner import run_scenario

        if self.scenario is None:
            raise ScenarioFailed(self.problem or "the scenario could not be read")
        result = run_scenario(self.scenario)
        if not result.holds:
            raise ScenarioFailed(_failure_text(result))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)  # the evidence is the story; a traceback is noise
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        what = self.scenario.title if self.scenario is not None else "a bad scenario file"
        return self.path, None, f"scenario {self.name}: {what}"


class ScenarioFile(pytest.File):
    """A scenario file: one :class:`ScenarioItem`."""

    def __init__(self, *, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root

    def collect(self) -> Iterator[ScenarioItem]:
        from lab.errors import LabError
        from lab.scenario import load_scenario, scenario_id

        try:
            scenario = load_scenario(self.path, root=self.root)
        except LabError as exc:
            name = scenario_id(self.path, self.root)
            yield ScenarioItem.from_parent(self, name=name, scenario=None, problem=str(exc))
            return
        yield ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)


def _collector(
    folders: Callable[[pytest.Config], Sequence[Path]],
) -> Callable[[Path, pytest.Collector], ScenarioFile | None]:
    def collect(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
        if file_path.suffix != ".toml":
            return None
        for folder in folders(parent.config):
            if file_path.is_relative_to(folder):
                return ScenarioFile.from_parent(parent, path=file_path, root=folder)
        return None

    return collect


def scenario_files(*folders: str | Path) -> Callable[[Path, pytest.Collector], Any]:
    """A ``pytest_collect_file`` hook making the scenario files under ``folders`` test items.

    One line in a ``conftest.py``: ``pytest_collect_file = scenario_files("scenarios")``.
    Relative folders are relative to pytest's rootdir.
    """

    def resolved(config: pytest.Config) -> list[Path]:
        return [Path(f) if Path(f).is_absolute() else config.rootpath / f for f in folders]

    return _collector(resolved)


_from_ini = _collector(lambda config: [Path(p) for p in config.getini("ocsp_lab_scenarios")])


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Scenario files under the ini key ``ocsp_lab_scenarios``' folders are test items."""
    return _from_ini(file_path, parent)
