"""``ocsp-lab run``: exit codes, table, -k, JUnit XML and JSON reports, paths anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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


# ---- CI-friendly runs ---------------------------------------------------------------------

GOOD_REVOKED = (DATA / "good" / "revoked.toml").read_text()

#: Five mistakes, each of its own, and two follow-ons that must not be reported.
MANY_MISTAKES = """\
title = "many mistakes"
tags = ["ok", "not a word"]

[client]
ocsp = 1
hsh = "sha1"

[[expect]]
status = "goood"
reason = "keyCompromise"   # follow-on: checked against the mistyped status
trusted_by = "nobody"

[[step]]
at = 6
connect = "server"
expect = { connection = "allowed" }
"""


def _catalog(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "catalog"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_run_goes_on_past_a_bad_file_and_exits_2_at_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _catalog(tmp_path, {"a/bad.toml": MANY_MISTAKES, "b/revoked.toml": GOOD_REVOKED})
    report = tmp_path / "r.xml"
    assert (
        main(["run", str(folder), "--junit", str(report), "--json", str(tmp_path / "r.json")]) == 2
    )
    captured = capsys.readouterr()
    assert "b/revoked  cc-on   ok" in captured.out  # the good file ran
    assert "1 bad file (not run); 1 scenario, 2 scenario × mode runs: 2 hold" in captured.out
    # Every mistake, one line each, naming the file; no follow-on of a mistake.
    errors = captured.err.strip().splitlines()
    assert [line.split(": ")[3] for line in errors] == [
        "tags[1]",
        "client.hsh",
        "client.ocsp",
        "expect[0].status",
        "expect[0].trusted_by",
        "step[0].at",
    ]
    assert all(
        line.startswith(f"ocsp-lab: error: {folder / 'a' / 'bad.toml'}: ") for line in errors
    )
    assert 'write it as a string with a unit, like "+6h"' in errors[-1]
    assert 'did you mean "hash"?' in errors[1]
    # JUnit: the bad file is an error testcase with the loader's messages.
    suite = ET.parse(report).getroot()
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("3", "1", "0")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "load")
    error = case.find("error")
    assert error is not None and error.get("type") == "ScenarioMistakes"
    assert error.get("message") == errors[0].removeprefix("ocsp-lab: error: ")
    assert (error.text or "").splitlines() == [e.removeprefix("ocsp-lab: error: ") for e in errors]
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["holds"] is False
    assert [m["key"] for m in document["bad_files"][0]["mistakes"]][-1] == "step[0].at"


def test_run_a_mistaken_pki_stops_before_the_names_it_would_define(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sub's profile is mistyped: "leaf2's issuer is no CA" and every later use of leaf2
    # would be follow-ons of that one mistake.
    text = (
        'title = "t"\n[[pki.cert]]\nname = "sub"\nissuer = "intermediate"\nprofile = "caa"\n'
        '[[pki.cert]]\nname = "leaf2"\nissuer = "sub"\n'
        '[database]\nleaf2 = "revoked"\n[[expect]]\ncert = "leaf2"\nstatus = "revoked"\n'
    )
    folder = _catalog(tmp_path, {"pki.toml": text})
    assert main(["run", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pki.cert[0].profile: expected one of" in err[0]


def test_run_junit_carries_title_and_tags_as_properties(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    assert main(["run", str(DATA / "good" / "revoked.toml"), "--junit", str(report)]) == 0
    case = ET.parse(report).getroot().find("testcase")
    assert case is not None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["title"] == "Fixture: revoked, expected revoked (holds)"
    assert properties["tags"] == "fixture revoked"


def test_run_cc_runs_one_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed_on = GOOD_REVOKED.replace("[database]", "[client]\ncommon_criteria = true\n\n[database]")
    folder = _catalog(tmp_path, {"both.toml": GOOD_REVOKED, "on-only.toml": fixed_on})
    report = tmp_path / "r.json"
    assert main(["run", str(folder), "--cc", "off", "--json", str(report)]) == 0
    modes = {
        s["id"]: [m["mode"] for m in s["modes"]]
        for s in json.loads(report.read_text())["scenarios"]
    }
    assert modes == {"both": ["cc-off"]}
    captured = capsys.readouterr()
    assert "1 scenario, 1 scenario × mode run: 1 hold" in captured.out  # singular, too
    assert "1 scenario fixing Common Criteria on: not run" in captured.err
    assert main(["run", str(folder), "--cc", "on", "--json", str(report)]) == 0
    modes = {
        s["id"]: [m["mode"] for m in s["modes"]]
        for s in json.loads(report.read_text())["scenarios"]
    }
    assert modes == {"both": ["cc-on"], "on-only": ["cc-on"]}


def test_run_skips_other_extensions_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _catalog(
        tmp_path, {"revoked.toml": GOOD_REVOKED, "notes.txt": "hello", "x.toml.bak": ""}
    )
    assert main(["run", str(folder)]) == 0
    err = capsys.readouterr().err
    assert f"ocsp-lab: note: {folder / 'notes.txt'}: skipped (not a .toml file)" in err
    assert f"{folder / 'x.toml.bak'}: skipped (not a .toml file)" in err


def test_run_toml_error_gives_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _catalog(tmp_path, {"broken.toml": 'title = "t"\n\n[client\nocsp = true\n'})
    assert main(["run", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'broken.toml'}:3:8: expected valid TOML (" in err


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a = " + "[" * 900 + "]" * 900 + "\n", "nest less deep"),
        ("x" * (1 << 20) + "\n", "at most 1024 KiB"),
    ],
)
def test_run_file_too_deep_or_too_big_exits_2_with_one_line(
    tmp_path: Path, text: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.toml"
    path.write_text(text)
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and why in err[0]


def test_run_fifo_or_device_is_refused_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # opening it would block until a writer came
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        assert main(["explain", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"ocsp-lab: error: {path}: expected a regular scenario file (.toml), found {kind}"
        ]
    assert main(["run", str(fifo)]) == 2
    assert "found a FIFO" in capsys.readouterr().err


def test_run_piped_prints_a_line_per_scenario_as_it_finishes(tmp_path: Path) -> None:
    # The second scenario takes a second of real time (the responder's delay fault):
    # the first line must be read that long before the run's last line.
    slow = GOOD_REVOKED.replace("[database]", '[responder.faults]\ndelay = "1s"\n\n[database]')
    slow = slow.replace('title = "Fixture', 'title = "Slow fixture')
    folder = _catalog(tmp_path, {"a-fast.toml": GOOD_REVOKED, "b-slow.toml": slow})
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(folder), "--cc", "on"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Python buffers a piped stdout unless told otherwise: it must not need telling.
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"NO_COLOR": "1"},
    )
    assert process.stdout is not None
    arrivals = [(time.monotonic(), line.rstrip("\n")) for line in process.stdout]
    assert process.wait(timeout=60) == 0
    lines = [line for _, line in arrivals]
    assert lines[0].startswith("[1/2] a-fast: cc-on ok (") and lines[1].startswith("[2/2] b-slow")
    assert "\r" not in "".join(lines) and "\033[" not in "".join(lines)  # no cursor tricks
    assert arrivals[-1][0] - arrivals[0][0] > 0.5, arrivals


# ---- --version and shell completion -------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"ocsp-lab {version('ocsp-lab')}\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is the completion's peer")
def test_bash_completion_completes_subcommands_and_options(tmp_path: Path) -> None:
    script = tmp_path / "ocsp-lab.bash"
    script.write_text(
        subprocess.run(
            [sys.executable, "-m", "lab", "completion", "bash"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )

    def complete(*words: str) -> set[str]:
        # What bash itself offers for `ocsp-lab WORDS<TAB>`, from the generated function.
        line = " ".join(["ocsp-lab", *words])
        program = (
            f"source {script}\n"
            f"COMP_WORDS=(ocsp-lab {' '.join(words)}); COMP_CWORD={len(words)}\n"
            f"COMP_LINE='{line}'; COMP_POINT={len(line)}\n"
            "$(complete -p ocsp-lab | sed -E 's/.*-F ([^ ]+).*/\\1/') ocsp-lab\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        done = subprocess.run(
            ["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return set(done.stdout.split())

    assert {"run", "explain", "serve", "completion"} <= complete("")
    assert {"--cc", "--junit", "--json"} <= complete("run", "--")
    assert complete("run", "--cc", "") == {"on", "off"}


def test_zsh_completion_is_generated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef ocsp-lab") and "--cc" in out


def test_run_junit_times_each_step_by_what_it_took(tmp_path: Path) -> None:
    # The re-check at +1h meets a real 300 ms delay: that step's testcase carries it.
    (tmp_path / "slow-step.toml").write_text(
        'title = "a slow re-check"\n[client]\ncommon_criteria = true\nrevocation_check = "1h"\n'
        '[[step]]\nat = "0"\nconnect = "server"\nexpect = { connection = "allowed" }\n'
        '[[step]]\nat = "+30m"\nfaults = { delay = "300ms" }\n'
        '[[step]]\nat = "+1h"\nexpect = { connection = "allowed" }\n'
    )
    report = tmp_path / "r.xml"
    assert main(["run", str(tmp_path / "slow-step.toml"), "--junit", str(report)]) == 0
    times = {c.get("name"): float(c.get("time", "0")) for c in ET.parse(report).iter("testcase")}
    fast = times["cc-on step[0] at 0 (connect server)"]
    slow = next(t for name, t in times.items() if name.startswith("cc-on step[2]"))
    assert slow >= 0.3 > fast, times
