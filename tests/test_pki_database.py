"""The certificate database: statuses from [database], changes, persistence, index.txt."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pki import (
    EPOCH,
    PKI,
    CertificateDatabase,
    CertSpec,
    EntrySpec,
    PKISpec,
    Profile,
    RecordStatus,
    build_pki,
    calendar_t0,
    write_pki,
)
from pki.errors import PKIError
from pki.openssl_index import export_index, import_index
from tests.peers import openssl_ocsp_client, openssl_ocsp_responder

DAY = dt.timedelta(days=1)


def _pki_with(database: dict[str, EntrySpec], t0: dt.datetime = EPOCH) -> PKI:
    return build_pki(PKISpec.with_defaults(database=database), t0=t0)


def test_statuses_follow_the_database_table() -> None:
    lab_pki = _pki_with(
        {
            "server": EntrySpec(RecordStatus.REVOKED, "keyCompromise", -2 * DAY),
            "responder": EntrySpec(RecordStatus.HOLD),
            "root-responder": EntrySpec(RecordStatus.UNKNOWN),
        }
    )
    db = CertificateDatabase.from_pki(lab_pki)
    server = db.by_name("server")
    assert server is not None and server.status is RecordStatus.REVOKED
    assert server.reason == "keyCompromise" and server.revoked_at == EPOCH - 2 * DAY
    responder = db.by_name("responder")
    assert responder is not None and responder.status is RecordStatus.HOLD
    assert responder.reason == "certificateHold"
    assert db.by_name("root-responder") is None  # unknown: no record at all
    intermediate = db.by_name("intermediate")
    assert intermediate is not None and intermediate.status is RecordStatus.GOOD
    assert intermediate.ca == "root"
    assert db.lookup("intermediate", lab_pki["server"].serial) == server


def test_changes_bump_the_version_and_release_only_a_hold(default_pki: PKI) -> None:
    db = CertificateDatabase.from_pki(default_pki)
    v0 = db.version
    db.hold("server", EPOCH)
    assert db.version == v0 + 1
    assert db.release("server").status is RecordStatus.GOOD
    db.revoke("server", EPOCH, "superseded")
    with pytest.raises(PKIError, match="not on hold"):
        db.release("server")
    db.forget("intermediate", default_pki["server"].serial)
    assert db.by_name("server") is None
    with pytest.raises(PKIError, match="no record"):
        db.revoke("server", EPOCH)
    with pytest.raises(PKIError, match="unknown revocation reason"):
        db.revoke("responder", EPOCH, "becauseISaidSo")


def test_json_round_trip_and_atomic_save(default_pki: PKI, tmp_path: Path) -> None:
    db = CertificateDatabase.from_pki(default_pki)
    db.revoke("server", EPOCH + DAY, "cACompromise")
    path = tmp_path / "state.json"
    db.save(path)
    db.hold("responder", EPOCH)
    db.save(path)  # replaces, never appends or tears
    loaded = CertificateDatabase.load(path)
    assert loaded.records() == db.records()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


def test_unreadable_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": "ocsp-lab database/1", "records": [{"ca": 1}]}')
    with pytest.raises(PKIError, match=r"state\.json: unreadable database"):
        CertificateDatabase.load(path)


def test_index_round_trip_keeps_every_status(default_pki: PKI) -> None:
    db = CertificateDatabase.from_pki(default_pki)
    db.revoke("server", EPOCH + DAY, "keyCompromise")
    db.hold("responder", EPOCH + 2 * DAY)
    text = export_index(db, "intermediate", now=EPOCH)
    back = import_index(text, "intermediate")
    original = db.records("intermediate")
    assert [(r.serial, r.status, r.reason, r.revoked_at, r.not_after, r.subject) for r in back] == [
        (r.serial, r.status, r.reason, r.revoked_at, r.not_after, r.subject) for r in original
    ]
    lines = text.splitlines()
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert any(
        line.startswith("R\t") and ",certificateHold,holdInstructionNone\t" in line
        for line in lines
    )


def test_index_marks_expired_certificates(default_pki: PKI) -> None:
    db = CertificateDatabase.from_pki(default_pki)
    text = export_index(db, "intermediate", now=EPOCH + 400 * DAY)
    assert {line[0] for line in text.splitlines()} == {"E"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("V\t300101000000Z\t\t0A\tunknown", "6 tab-separated fields"),
        ("X\t300101000000Z\t\t0A\tunknown\t/CN=x", "status 'X'"),
        ("V\tyesterday\t\t0A\tunknown\t/CN=x", "not a date"),
        ("V\t300101000000Z\t\tZZ\tunknown\t/CN=x", "not hexadecimal"),
        ("R\t300101000000Z\t250101000000Z,oops\t0A\tunknown\t/CN=x", "unknown revocation reason"),
    ],
)
def test_bad_index_line_names_file_and_line(line: str, message: str) -> None:
    with pytest.raises(PKIError, match=rf"ca\.index\.txt:2: .*{message}"):
        import_index(
            "V\t300101000000Z\t\t0B\tunknown\t/CN=y\n" + line + "\n", "ca", source="ca.index.txt"
        )


def test_existing_openssl_ca_database_is_imported() -> None:
    text = (
        "V\t301231235959Z\t\t1000\tunknown\t/C=US/O=Example/CN=phone\n"
        "R\t301231235959Z\t240301120000Z,superseded\t1001\tunknown\t/CN=old\n"
        "R\t20510101000000Z\t240301120000Z,CACompromise\t1002\tunknown\t/CN=far\n"
    )
    db = CertificateDatabase(import_index(text, "corp-ca"))
    assert db.lookup("corp-ca", 0x1000).status is RecordStatus.GOOD  # type: ignore[union-attr]
    old = db.lookup("corp-ca", 0x1001)
    assert old is not None and old.reason == "superseded"
    assert old.revoked_at == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    far = db.lookup("corp-ca", 0x1002)
    assert far is not None and far.reason == "cACompromise" and far.not_after.year == 2051


@pytest.fixture(scope="module")
def exported_for_openssl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default PKI with a revoked, a held and an unknown certificate, written out.

    Real time: openssl checks validity against the wall clock.
    """
    out = tmp_path_factory.mktemp("exported")
    lab_pki = _pki_with(
        {
            "server": EntrySpec(RecordStatus.REVOKED, "keyCompromise"),
            "responder": EntrySpec(RecordStatus.HOLD),
            "root-responder": EntrySpec(RecordStatus.UNKNOWN),
        },
        t0=calendar_t0(dt.datetime.now(dt.UTC)),
    )
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), out)
    (out / "trust.pem").write_bytes(
        (out / "root.pem").read_bytes() + (out / "intermediate.pem").read_bytes()
    )
    return out


@pytest.mark.interop
@pytest.mark.parametrize(
    ("ca", "signer", "certs", "statuses", "reasons"),
    [
        (
            "intermediate", "responder", ["server", "responder"],
            {"server.pem": "revoked", "responder.pem": "revoked"},
            ["keyCompromise", "certificateHold"],
        ),
        (
            "root", "root-responder", ["intermediate", "root-responder"],
            {"intermediate.pem": "good", "root-responder.pem": "unknown"},  # no line: unknown
            [],
        ),
    ],
)  # fmt: skip
def test_openssl_responder_serves_the_exported_index(
    exported_for_openssl: Path,
    ca: str,
    signer: str,
    certs: list[str],
    statuses: dict[str, str],
    reasons: list[str],
) -> None:
    out = exported_for_openssl
    with openssl_ocsp_responder(
        out, index=f"{ca}.index.txt", ca=f"{ca}.pem", rsigner=f"{signer}.pem", rkey=f"{signer}.key"
    ) as url:
        args = ["-issuer", f"{ca}.pem", "-url", url, "-CAfile", "trust.pem"]
        for cert in certs:
            args += ["-cert", f"{cert}.pem"]
        answer = openssl_ocsp_client(args, cwd=out)
    assert answer.verified, answer.output
    assert answer.statuses == statuses
    assert answer.reasons == reasons


def test_one_serial_twice_under_one_issuer_is_refused() -> None:
    # RFC 5280 4.1.2.2: unique per issuer; self-signed ones are each their own issuer.
    twins = (
        CertSpec("server", issuer="intermediate", serial=7),
        CertSpec("other", issuer="intermediate", serial=7),
        CertSpec("lonely-a", profile=Profile.CA, serial=9),
        CertSpec("lonely-b", profile=Profile.CA, serial=9),
    )
    with pytest.raises(PKIError, match="'server' and 'other' of issuer 'intermediate'"):
        CertificateDatabase.from_pki(build_pki(PKISpec.with_defaults(twins)))
    db = CertificateDatabase.from_pki(build_pki(PKISpec.with_defaults(twins[2:])))
    assert db.lookup("lonely-a", 9) is not None and db.lookup("lonely-b", 9) is not None


def test_subject_control_characters_are_escaped_as_openssl_ca_does() -> None:
    subject = "a\tb\nV\t991231235959Z\t\t01\tunknown\t/CN=x+y é"
    lab_pki = build_pki(
        PKISpec.with_defaults((CertSpec("server", "intermediate", subject=subject),))
    )
    text = export_index(CertificateDatabase.from_pki(lab_pki), "intermediate", now=EPOCH)
    assert len(text.splitlines()) == 2
    serial = lab_pki["server"].serial
    (record,) = [r for r in import_index(text, "intermediate") if r.serial == serial]
    assert record.subject == (
        "/O=ocsp-lab/CN=a\\x09b\\x0AV\\x09991231235959Z\\x09\\x0901\\x09unknown"
        "\\x09\\/CN=x\\+y \\xC3\\xA9"
    )
