"""``ocsp-lab explain``: the story of a scenario, for a learner."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main

ROOT = Path(__file__).parent
CATALOG = ROOT.parent / "scenarios"


def test_explain_tells_the_pki_responder_checks_and_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", str(ROOT / "data" / "runner" / "good" / "unknown.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Fixture: unknown, the modes part (holds)")
    assert "└─ " in out and "root  (ca" in out  # the tree
    assert "signs OCSP answers for certificates of intermediate" in out
    assert "answers about certificates issued by intermediate are signed by responder" in out
    assert "signer      pass dtm:" in out  # which model accepted the signer
    assert "cc-on  refused (row 'unknown', Common Criteria ON" in out
    assert "cc-off allowed (row 'unknown', Common Criteria OFF" in out
    assert "every expectation holds" in out
    assert "\033[" not in out


def test_explain_timeline_step_by_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(ROOT / "data" / "timeline" / "cache-expired.toml")]) == 0
    out = capsys.readouterr().out
    assert "re-checks every 6h (revocation_check)" in out
    assert "faults: nothing listens" in out
    assert "+6h  re-check of the connection presenting server: dropped" in out
    assert "+6h  re-check of the connection presenting server: kept" in out


def test_explain_says_when_an_expectation_does_not_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", str(ROOT / "data" / "runner" / "wrong" / "wrong-mode.toml")]) == 1
    out = capsys.readouterr().out
    assert "NOT as expected: connection: expected refused, got allowed" in out


def test_explain_bad_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(ROOT / "data" / "runner" / "bad" / "unknown-key.toml")]) == 2


@pytest.mark.parametrize(
    "path", sorted(CATALOG.rglob("*.toml"))[:400], ids=lambda p: str(p.relative_to(CATALOG))
)
def test_explain_tells_every_catalog_scenario(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explain", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "The PKI" in out and "The responder" in out and "The validator" in out
