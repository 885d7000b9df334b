"""Scripted, deterministic PKI: keys, certificate profiles, the CA database, export.

The common case is one line::

    from pki import build_pki, CertificateDatabase
    lab_pki = build_pki()                      # the six default certificates
    database = CertificateDatabase.from_pki(lab_pki)

``pki`` imports nothing else of the project.
"""

from __future__ import annotations

from pki.builder import PKI, IssuedCert, build_pki
from pki.database import CertificateDatabase, Record
from pki.errors import PKIError
from pki.export import write_pki
from pki.openssl_index import export_index, import_index
from pki.spec import (
    DEFAULT_BASE_URL,
    EPOCH,
    CertSpec,
    EntrySpec,
    KeyType,
    PKISpec,
    Profile,
    RecordStatus,
    SignatureHash,
    calendar_t0,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "EPOCH",
    "PKI",
    "CertSpec",
    "CertificateDatabase",
    "EntrySpec",
    "IssuedCert",
    "KeyType",
    "PKIError",
    "PKISpec",
    "Profile",
    "Record",
    "RecordStatus",
    "SignatureHash",
    "build_pki",
    "calendar_t0",
    "export_index",
    "import_index",
    "write_pki",
]
