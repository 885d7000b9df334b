"""No input ends in a traceback: each gives exit 2 and one line naming it (issue 11 §4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_SCENARIOS = {
    "offset-overflow": (
        'title = "x"\n[database]\nserver = { status = "revoked", since = "-3000000d" }\n'
        '[[expect]]\nstatus = "revoked"\n',
        "database.server.since",
    ),
    "rechecks-without-end": (
        'title = "x"\n[client]\nrevocation_check = "1ms"\n[[step]]\nat = "+1000d"\n',
        "client.revocation_check",
    ),
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.mark.parametrize("name", sorted(_SCENARIOS))
def test_scenario_input_is_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    text, key = _SCENARIOS[name]
    (tmp_path / f"{name}.toml").write_text(text)
    done = _run(["run", f"{name}.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and key in errors[0] and f"{name}.toml" in errors[0]


@pytest.mark.parametrize(
    "option, value",
    [("--port", "99999"), ("--port", "-1"), ("--port", "http"), ("--workers", "0"),
     ("--threads", "0")],
)  # fmt: skip
def test_serve_option_out_of_range_is_one_line_and_exit_2(
    tmp_path: Path, option: str, value: str
) -> None:
    done = _run(["serve", option, value, "--out", str(tmp_path / "out")], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and option in done.stderr
    assert not (tmp_path / "out").exists()
