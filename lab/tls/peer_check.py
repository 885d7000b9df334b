"""Decide the peer's certificate *during* the handshake and abort with the alert it calls for.

The reference product checks the peer's chain with the lab's validator while
the handshake runs, and refuses with the alert a TLS stack sends for that
reason: ``certificate_revoked`` (44) for a revoked certificate,
``certificate_unknown`` (46) when no answer vouches for it, and
``bad_certificate`` (42) otherwise (RFC 8446 6.2).

pyOpenSSL's verify callback can say only yes or no (OpenSSL then sends
certificate_unknown), and cannot read a TLS 1.3 staple, which arrives inside
the Certificate message (RFC 8446 4.4.2.1) before the chain is verified.
So this module, and only this one, uses pyOpenSSL's cffi bindings to the
OpenSSL API (``OpenSSL._util``): its verify callback sets the X509 error that
OpenSSL turns into the alert (``ssl_x509err2alert``: CERT_REVOKED → 44,
CERT_REJECTED → 42, OCSP_CERT_UNKNOWN → 46, UNABLE_TO_GET_ISSUER_CERT → 48),
and reads the staple with ``SSL_get_tlsext_status_ocsp_resp``. A TLS 1.2 staple comes after the
certificate (RFC 6066 8, CertificateStatus) and is not seen here: a client
that judges staples speaks TLS 1.3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from OpenSSL import SSL, crypto
from OpenSSL._util import ffi, lib

from lab.tls.alerts import Alert

__all__ = ["PeerCheck", "PeerDecision", "install_peer_check"]

#: ``decide(presented chain leaf first, staple or None)`` → the alert to refuse with, or None.
PeerDecision = Callable[[list[x509.Certificate], bytes | None], Alert | None]

# The X509 verify error whose alert (OpenSSL ssl_x509err2alert) is the one wanted.
_ERROR_FOR_ALERT = {
    Alert.CERTIFICATE_REVOKED: lib.X509_V_ERR_CERT_REVOKED,
    Alert.BAD_CERTIFICATE: lib.X509_V_ERR_CERT_REJECTED,
    # X509_V_ERR_OCSP_CERT_UNKNOWN (x509_vfy.h, OpenSSL 3.0; not in the bindings): it has
    # no entry of its own in OpenSSL's table, so it gets the table's default, 46.
    Alert.CERTIFICATE_UNKNOWN: 75,
    Alert.UNKNOWN_CA: lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
    Alert.HANDSHAKE_FAILURE: lib.X509_V_ERR_APPLICATION_VERIFICATION,  # the check itself failed
}


@dataclass
class PeerCheck:
    """What the in-handshake check saw and decided (for one connection)."""

    decided: bool = False
    alert: Alert | None = None
    chain: list[x509.Certificate] = field(default_factory=list)
    staple: bytes | None = None
    problem: BaseException | None = None  # an exception raised by ``decide``


def _chain(store_ctx: Any) -> list[x509.Certificate]:
    stack = lib.X509_STORE_CTX_get1_chain(store_ctx)
    if stack == ffi.NULL:
        return []
    try:
        certs = []
        for index in range(lib.sk_X509_num(stack)):
            # get1_chain took a reference to each: the X509 object owns (and frees) it.
            pointer = lib.sk_X509_value(stack, index)
            certs.append(crypto.X509._from_raw_x509_ptr(pointer).to_cryptography())
        return certs
    finally:
        lib.sk_X509_free(stack)


def _as_sent(store_ctx: Any) -> list[x509.Certificate]:
    """The peer's certificates in the order it sent them (RFC 8446 4.4.2), leaf first.

    ``SSL_get_peer_cert_chain`` is the received list (set before it is verified,
    OpenSSL 3.0 and later); a server's lacks the client's own certificate, so the
    leaf being verified is put first when it is not. Empty when OpenSSL has none.
    """
    ssl = _ssl_of(store_ctx)
    if ssl == ffi.NULL:
        return []
    stack = lib.SSL_get_peer_cert_chain(ssl)
    if stack == ffi.NULL:
        return []
    certs = []
    for index in range(lib.sk_X509_num(stack)):
        pointer = lib.sk_X509_value(stack, index)
        lib.X509_up_ref(pointer)  # the stack keeps its reference; the X509 object owns this one
        certs.append(crypto.X509._from_raw_x509_ptr(pointer).to_cryptography())
    leaf = lib.X509_STORE_CTX_get_current_cert(store_ctx)
    if leaf != ffi.NULL:
        lib.X509_up_ref(leaf)
        current = crypto.X509._from_raw_x509_ptr(leaf).to_cryptography()
        if not certs or certs[0] != current:
            certs.insert(0, current)
    return certs


def _ssl_of(store_ctx: Any) -> Any:
    ssl = lib.X509_STORE_CTX_get_ex_data(store_ctx, lib.SSL_get_ex_data_X509_STORE_CTX_idx())
    return ffi.NULL if ssl == ffi.NULL else ffi.cast("SSL *", ssl)


def _staple(store_ctx: Any) -> bytes | None:
    ssl = _ssl_of(store_ctx)
    if ssl == ffi.NULL:
        return None
    out = ffi.new("unsigned char **")
    length = lib.SSL_get_tlsext_status_ocsp_resp(ssl, out)
    if length <= 0 or out[0] == ffi.NULL:
        return None
    return bytes(ffi.buffer(out[0], length))


def install_peer_check(
    context: SSL.Context, decide: PeerDecision, *, mode: int, as_sent: bool = False
) -> PeerCheck:
    """Make ``context`` decide each peer chain with ``decide`` (one context per connection).

    ``mode`` is :data:`OpenSSL.SSL.VERIFY_PEER`, with
    ``VERIFY_FAIL_IF_NO_PEER_CERT`` for a server that requires a client
    certificate. OpenSSL's own trust decisions are set aside (the validator
    owns them); the decision is made once, at the leaf. ``decide`` returns an
    alert of :data:`_ERROR_FOR_ALERT` (42, 44, 46, 48) or ``None``; any other
    alert, or an exception, refuses with handshake_failure (40).

    ``decide`` gets the chain as OpenSSL built it from what the peer sent, or
    with ``as_sent`` the certificates exactly as the peer sent them, in its
    order (what a validator judges as "presented"; the built one if OpenSSL
    does not give that list).
    """
    check = PeerCheck()

    def callback(ok: int, store_ctx: Any) -> int:
        try:
            if not check.decided and ok and lib.X509_STORE_CTX_get_error_depth(store_ctx) == 0:
                check.decided = True
                check.chain = (as_sent and _as_sent(store_ctx)) or _chain(store_ctx)
                check.staple = _staple(store_ctx)
                check.alert = decide(check.chain, check.staple)
            if check.alert is not None:
                if check.alert not in _ERROR_FOR_ALERT:
                    raise ValueError(f"no X509 error sends {check.alert.describe()}")
                lib.X509_STORE_CTX_set_error(store_ctx, _ERROR_FOR_ALERT[check.alert])
                return 0
            lib.X509_STORE_CTX_set_error(store_ctx, lib.X509_V_OK)
            return 1
        except BaseException as exc:  # a callback must not raise into C: record, refuse
            check.problem = exc
            check.decided = True
            check.alert = Alert.HANDSHAKE_FAILURE
            lib.X509_STORE_CTX_set_error(store_ctx, _ERROR_FOR_ALERT[check.alert])
            return 0

    c_callback = ffi.callback("int(int, X509_STORE_CTX *)", callback)
    lib.SSL_CTX_set_verify(context._context, mode, c_callback)
    # Kept alive with the context: OpenSSL holds only the C pointer.
    context._lab_peer_check = (c_callback, check)  # type: ignore[attr-defined]
    return check
