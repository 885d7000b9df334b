"""Issue a product's certificate from its CSR and make the responder know it (status good).

One path for ``ocsp-lab pki sign`` and the admin API's ``POST /~admin/sign``:
:func:`pki.csr.sign_csr` makes the certificate (the CSR's subject and SANs,
the lab's AIA URL), then its record goes into the live state
(:meth:`responder.state.ResponderState.add_signed`) so that the served
responder answers ``good`` for it — and ``revoked`` once revoked by name,
like any lab certificate.
"""

from __future__ import annotations

import datetime as dt
import re

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from pki import PKI, PKIError, Record
from pki.csr import SignedCert, SignProfile, load_csr, sign_csr
from pki.database import oneline_subject
from pki.spec import RecordStatus
from responder.state import ResponderState, StateError

__all__ = ["NAME", "issue_from_csr"]


#: A signed certificate's name: also its file name (``DIR/NAME.pem``) and the admin API's key.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _default_name(signed: SignedCert, pki: PKI) -> str:
    """The CSR's CN when it makes a name no lab certificate has, else ``signed-<serial>``."""
    cns = signed.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    if NAME.fullmatch(cn) and cn not in pki:
        return cn
    return f"signed-{signed.serial:X}"


def issue_from_csr(
    pki: PKI,
    state: ResponderState,
    csr_data: bytes,
    *,
    issuer: str,
    profile: SignProfile,
    now: dt.datetime,
    name: str | None = None,
) -> tuple[SignedCert, Record]:
    """Sign ``csr_data`` (PEM or DER) with ``issuer`` and file it as ``name`` (status good).

    A CSR that does not verify, an unknown issuer, or a taken name is a
    :class:`StateError` with one line saying what was expected; nothing is filed.
    """
    try:
        signed = sign_csr(pki, load_csr(csr_data), issuer=issuer, profile=profile, now=now)
    except PKIError as exc:
        raise StateError(str(exc)) from None
    if name is not None and not NAME.fullmatch(name):
        raise StateError(f"name: expected letters, digits, '.', '_' or '-', found {name!r}")
    if name is not None and name in pki:
        raise StateError(f"certificate name {name!r} is a lab certificate's: expected a new one")
    record = Record(
        ca=issuer,
        serial=signed.serial,
        status=RecordStatus.GOOD,
        not_after=signed.certificate.not_valid_after_utc,
        subject=oneline_subject(signed.certificate.subject),
        name=name or _default_name(signed, pki),
    )
    state.add_signed(record, signed.certificate.public_bytes(Encoding.DER), now)
    return signed, record
