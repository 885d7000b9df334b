"""The pytest plugin, as a downstream project uses it: tests/downstream/ run with pytester."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Imported here, not first inside a pytester run: pytester drops the modules a run
# imported, and asn1crypto's and cryptography's classes must stay one set of objects.
import lab.chain_check
import lab.commands.check
import lab.report
import lab.runner  # noqa: F401
import responder.faults  # noqa: F401

pytest_plugins = ["pytester"]

DOWNSTREAM = Path(__file__).parent / "downstream"
GOOD_REVOKED = (Path(__file__).parent / "data" / "runner" / "good" / "revoked.toml").read_text()


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The downstream project; plugin autoload off, so only its one-line conftest loads the lab."""
    shutil.copytree(DOWNSTREAM, pytester.path, dirs_exist_ok=True)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def test_downstream_project_passes(project: pytest.Pytester) -> None:
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=8)
    # Its scenario folder is part of the run: one item per scenario file.
    result.stdout.fnmatch_lines(["PASSED scenarios/revoked.toml::revoked"])


def test_without_the_conftest_line_there_are_no_fixtures(project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text("")
    result = project.runpytest("test_client.py::test_good")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'ocsp_pki' not found*"])


def test_expecting_good_for_a_revoked_certificate_fails_with_the_evidence(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_wrong="""
        from ocsp_client import ocsp_status

        def test_lab_check(ocsp_responder):
            ocsp_responder.revoke("server", "keyCompromise")
            ocsp_responder.assert_status("server", "good")

        def test_own_client(ocsp_pki, ocsp_responder):
            ocsp_responder.revoke("server", "keyCompromise")
            issuer = ocsp_pki.cert_path("intermediate")
            assert ocsp_status(ocsp_pki.cert_path("server"), issuer, ocsp_responder.url) == "good"
        """
    )
    result = project.runpytest("test_wrong.py")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*server: expected status good, the lab's validator got revoked; evidence:*",
            "*cert-status*revoked*",
            "*reason      keyCompromise*",
        ]
    )
    # The client's own assert: the report shows what the responder answered it.
    result.stdout.fnmatch_lines(
        [
            "*ocsp-lab: requests answered during the test*",
            "*POST serials=* answer=revoked * certs=server",
        ]
    )


def test_a_wrong_scenario_item_fails_with_what_differed(project: pytest.Pytester) -> None:
    wrong = 'title = "revoked, expected good"\n[database]\nserver = "revoked"\n'
    (project.path / "scenarios" / "wrong.toml").write_text(wrong + '[[expect]]\nstatus = "good"\n')
    (project.path / "scenarios" / "bad.toml").write_text('title = "t"\n[client]\nocsp = 1\n')
    result = project.runpytest("scenarios")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*[[]cc-on[]] expect[[]0[]]: status: expected good, got revoked*",
            "evidence: status revoked*",
        ]
    )
    # A bad file fails with the loader's message, not a traceback, and the run goes on.
    result.stdout.fnmatch_lines(["*bad.toml: client.ocsp: expected true or false, found 1"])
    assert "Traceback" not in result.stdout.str()


def test_scenario_files_in_one_conftest_line(project: pytest.Pytester) -> None:
    (project.path / "pytest.ini").write_text("[pytest]\n")  # no ocsp_lab_scenarios
    (project.path / "conftest.py").write_text(
        'pytest_plugins = ["lab.pytest_plugin"]\n'
        "from lab.pytest_plugin import scenario_files\n"
        'pytest_collect_file = scenario_files("scenarios")\n'
    )
    result = project.runpytest(
        "-rA", "scenarios", "-W", "ignore::pytest.PytestAssertRewriteWarning"
    )
    result.assert_outcomes(passed=1)


def test_an_exception_in_the_responder_fails_the_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_broken="""
        import pytest
        from ocsp_client import OcspError, ocsp_status

        class Broken:
            def respond(self, der):
                raise RuntimeError("the responder broke")

        def test_breaks(ocsp_pki, ocsp_responder, monkeypatch):
            monkeypatch.setattr(ocsp_responder.lab.responder, "source", Broken())
            with pytest.raises(OcspError, match="INTERNAL_ERROR"):
                ocsp_status(
                    ocsp_pki.cert_path("server"),
                    ocsp_pki.cert_path("intermediate"),
                    ocsp_responder.url,
                )

        def test_after_it(ocsp_pki, ocsp_responder):
            pass  # the earlier test's error is not this one's
        """
    )
    result = project.runpytest("test_broken.py")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*ResponderFailure: the OCSP responder raised while answering this test's requests:",
            "*RuntimeError: the responder broke",
        ]
    )
