"""``ocsp-lab run``: exit codes, table, -k, JUnit XML and JSON reports, paths anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.cli import main

DATA = Path(__file__).parent / "data" / "runner"


def test_run_all_holding_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(DATA / "good")]) == 0
    out = capsys.readouterr().out
    assert "revoked   cc-on   ok" in out
    assert "2 scenarios, 4 scenario × mode runs: 4 hold, 0 failed" in out


def test_run_wrong_expectation_exits_1_with_what_differed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", str(DATA / "wrong" / "wrong-status.toml")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  expect[0]: status: expected good, got revoked" in out
    assert "connection: expected allowed, got refused" in out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unknown-key.toml", "client.revocation_interval: expected one of the keys"),
        ("dangling-name.toml", "expect[0].cert: expected the name of a certificate"),
    ],
)
def test_run_bad_file_exits_2_with_the_loader_message(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(DATA / "bad" / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ocsp-lab: error: ")
    assert name in err and message in err
    assert len(err.strip().splitlines()) == 1


def test_run_missing_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(DATA / "nowhere")]) == 2
    assert "no such scenario file or folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("expression", "ids"),
    [
        ("unknown", ["good/unknown", "wrong/wrong-mode"]),
        ("wrong and not unknown", ["wrong/wrong-status", "wrong/wrong-step"]),
        (
            "revoked or (timeline and wrong)",
            ["good/revoked", "wrong/wrong-status", "wrong/wrong-step"],
        ),
        ("REVOKED and not wrong", ["good/revoked"]),
    ],
)
def test_run_keyword_selects_on_id_title_and_tags(
    expression: str, ids: list[str], tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    main(["run", str(DATA / "good"), str(DATA / "wrong"), "-k", expression, "--json", str(report)])
    # ids are relative to the folder given: good/… and wrong/… come from two folders
    found = [s["id"] for s in json.loads(report.read_text())["scenarios"]]
    assert sorted(f"{Path(s).parent.name}/{Path(s).name}" for s in _paths(report)) == ids
    assert len(found) == len(ids)


def _paths(report: Path) -> list[str]:
    return [
        str(Path(s["path"]).with_suffix("")) for s in json.loads(report.read_text())["scenarios"]
    ]


def test_run_bad_keyword_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(DATA / "good"), "-k", "good and"]) == 2
    assert "-k 'good and'" in capsys.readouterr().err


def test_run_junit_has_one_testcase_per_scenario_mode_and_step(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    assert main(["run", str(DATA / "wrong"), "--junit", str(report)]) == 1
    suite = ET.parse(report).getroot()
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases)
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert ("wrong-status", "cc-on") in names and ("wrong-status", "cc-off") in names
    assert ("wrong-step", "cc-on step[0] at 0 (connect server)") in names
    assert ("wrong-step", "cc-off step[2] at +6h (wait)") in names
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "-1")) == len(failures) == 2 + 1 + 2
    status = next(c.find("failure") for c in cases if c.get("classname") == "wrong-status")
    assert status is not None
    message = status.get("message", "")
    assert "status: expected good, got revoked" in message
    assert "evidence: status revoked" in (status.text or "")
    assert "signer" in (status.text or "") and "cert-status" in (status.text or "")


def test_run_json_round_trips_with_full_evidence(tmp_path: Path) -> None:
    from lab.report import results_json
    from lab.runner import run_scenarios
    from lab.scenario import load_scenarios

    report = tmp_path / "r.json"
    assert main(["run", str(DATA / "wrong" / "wrong-status.toml"), "--json", str(report)]) == 1
    document = json.loads(report.read_text())
    assert json.loads(json.dumps(document)) == document
    assert document["format"] == "ocsp-lab run/1" and document["holds"] is False
    expectation = document["scenarios"][0]["modes"][0]["expectations"][0]
    assert expectation["expected"] == {
        "cert": "server",
        "status": "good",
        "trusted_by": "dtm",
        "connection": "allowed",
    }
    assert expectation["actual"]["status"] == "revoked"
    leaf = expectation["actual"]["check"]["chain"]["checks"][0]["evidence"]
    assert leaf["trusted_by"] == "dtm" and leaf["steps"]
    # The same run in-process gives the same document, apart from timings and nonces.
    results = run_scenarios(load_scenarios([DATA / "wrong" / "wrong-status.toml"]))
    again = results_json(results, 0.0)
    assert (
        again["scenarios"][0]["modes"][0]["expectations"][0]["mismatches"]
        == (expectation["mismatches"])
    )


def test_run_cli_on_files_outside_the_project(tmp_path: Path) -> None:
    other = tmp_path / "some" / "other" / "dir"
    shutil.copytree(DATA / "good", other / "topic")
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", "some/other/dir", "--junit", "r.xml", "-j", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "topic/revoked" in done.stdout
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert {c.get("classname") for c in suite.iter("testcase")} == {
        "topic.revoked",
        "topic.unknown",
    }


def test_run_default_folder_is_scenarios_in_cwd(tmp_path: Path) -> None:
    shutil.copytree(DATA / "good", tmp_path / "scenarios" / "basics")
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "basics/unknown" in done.stdout
    assert "\033[" not in done.stdout  # not a terminal: no colour
