"""``ocsp-lab explain``: the story of a scenario, for a learner."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main

ROOT = Path(__file__).parent
CATALOG = ROOT.parent / "scenarios"


def _flat(out: str) -> str:
    """The story with its lines joined (tree verticals too): phrases however they wrap."""
    return " ".join(out.replace("│", " ").split())


def test_explain_tells_the_pki_responder_checks_and_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", str(ROOT / "data" / "runner" / "good" / "unknown.toml")]) == 0
    raw = capsys.readouterr().out
    out = _flat(raw)
    assert out.startswith("Fixture: unknown, the modes part (holds)")
    assert "└─ " in raw and "root  (ca" in raw  # the tree
    assert "signs OCSP answers for certificates of intermediate" in out
    assert "answers about certificates issued by intermediate are signed by responder" in out
    assert "signer      pass dtm:" in raw  # which model accepted the signer
    assert "cc-on  refused (row 'unknown', Common Criteria ON" in raw
    assert "cc-off allowed (row 'unknown', Common Criteria OFF" in raw
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
    out = _flat(capsys.readouterr().out)
    assert "NOT as expected: connection: expected refused, got allowed" in out


SELF_VOUCHING = "note: intermediate signs the answer about itself"


def test_explain_says_when_a_ca_signs_the_answer_about_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", str(CATALOG / "signature" / "ca-signs-about-itself.toml")]) == 0
    out = _flat(capsys.readouterr().out)
    (note,) = [line.strip() for line in out.splitlines() if SELF_VOUCHING in line]
    assert '(signer = "intermediate" gives it the answers about root\'s certificates)' in note
    assert "a CA vouching for its own status" in note
    assert "RFC 6960 4.2.2.2 lets only its issuer (root)" in note
    assert 'use signers = { intermediate = "intermediate" }' in note
    assert "does not ask" not in note  # check = "chain": it is asked about


@pytest.mark.parametrize(
    ("settings", "given", "connection"),
    [
        # Asked about (check = "chain"): the intermediate's answer is not trusted.
        ('[responder]\nsigners = { root = "intermediate" }\n', "signers.root", "'refused'"),
        # Not asked about: the note says so, and the connection is allowed.
        ('[responder]\nsigner = "intermediate"\n[client]\ncheck = "leaf"\n', "signer", None),
    ],
    ids=["signers-root", "signer-leaf-only"],
)
def test_explain_self_vouching_note_names_the_key_that_gave_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: str,
    given: str,
    connection: str | None,
) -> None:
    expected = "{ cc_on = 'refused', cc_off = 'allowed' }" if connection else "'allowed'"
    file = tmp_path / "self.toml"
    file.write_text(f"title = 't'\n{settings}[[expect]]\nconnection = {expected}\n")
    assert main(["explain", str(file)]) == 0
    note = _flat(capsys.readouterr().out)
    assert note.count(SELF_VOUCHING) == 1
    assert f'({given} = "intermediate" gives it' in note
    leaf_only = 'with check = "leaf" the validator does not ask about it here' in note
    assert leaf_only is (connection is None)


@pytest.mark.parametrize(
    "path",
    [
        CATALOG / "dtm" / "ca-direct-good-byname.toml",
        CATALOG / "signature" / "ca-direct-no-certs.toml",
        CATALOG / "dtm" / "delegated-good.toml",
    ],
    ids=lambda p: p.stem,
)
def test_explain_has_no_self_vouching_note_when_each_ca_signs_for_its_own(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(path)]) == 0
    assert "signs the answer about itself" not in capsys.readouterr().out


def test_explain_bad_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(ROOT / "data" / "runner" / "bad" / "unknown-key.toml")]) == 2


def test_explain_takes_the_ids_the_catalog_index_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    ids = re.findall(r"^\| `([a-z0-9/_-]+)` \|", (CATALOG / "README.md").read_text(), re.M)
    assert "basics/good" in ids
    monkeypatch.chdir(CATALOG.parent)
    assert main(["explain", "basics/good"]) == 0
    assert capsys.readouterr().out.startswith("The happy path")
    assert main(["explain", ids[-1]]) in (0, 1)
    assert "(" + ids[-1] + ";" in capsys.readouterr().out


def test_explain_an_unknown_id_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CATALOG.parent)
    assert main(["explain", "basics/no-such"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "basics/no-such: no such scenario file" in err


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
    wide = [line for line in out.splitlines() if len(line) > 100]
    assert not wide, wide  # it reads in a 100-column terminal (issue 15)
