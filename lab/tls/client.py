"""A TLS client: connect, optionally present a certificate (mutual TLS), decide, record.

:func:`tls_connect` asks for a staple (status_request, RFC 6066 8), decides
the server's chain during the handshake when given ``decide``
(:mod:`lab.tls.peer_check`: the refusal is a real alert), and records how the
connection ended as this side saw it. After the handshake it reads what the
server says first (the lab's endpoints greet), so a server that refuses the
client's certificate after a TLS 1.3 handshake (RFC 8446 4.4.2.4: the
client's Finished is already sent) is seen too. Every wait is bounded.
:func:`tls_open` leaves a completed connection open (:class:`ClientLink`),
for a link that lives on until this side drops it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from OpenSSL import SSL

from lab.tls.alerts import Alert, alert_from_openssl_reason
from lab.tls.io import HandshakeTimeout, TlsPrivateKey, drive, set_security_level
from lab.tls.peer_check import PeerDecision, install_peer_check
from lab.tls.record import ConnectionRecord, HandshakeOutcome
from lab.tls.watch import ConnectionWatch, watch_alerts

__all__ = ["ClientLink", "ClientResult", "tls_connect", "tls_open"]


@dataclass(frozen=True)
class ClientResult:
    """The connection as the client saw it, the chain the server presented, its staple."""

    record: ConnectionRecord
    chain: list[x509.Certificate] = field(default_factory=list)
    staple: bytes | None = None
    greeting: bytes = b""


def _accept_all(chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
    return None


class ClientLink:
    """A client connection left open after its handshake (:func:`tls_open`).

    ``result`` is the handshake as the client saw it; ``local`` this side's
    ``host:port``, which is what the server records as its peer. A refused
    or failed handshake leaves nothing open. :meth:`close` ends the link in
    order (close_notify, RFC 8446 6.1) — how the reference product drops a
    connection whose re-check refuses.
    """

    def __init__(
        self,
        result: ClientResult,
        local: str,
        conn: SSL.Connection | None,
        sock: socket.socket,
    ) -> None:
        self.result = result
        self.local = local
        self._conn = conn
        self._sock = sock

    @property
    def open(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        """close_notify, then close the socket (idempotent; never waits for the peer)."""
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                with contextlib.suppress(SSL.Error):
                    conn.shutdown()
        finally:
            self._sock.close()


def tls_connect(
    host: str,
    port: int,
    *,
    decide: PeerDecision | None = None,
    certificate: x509.Certificate | None = None,
    private_key: TlsPrivateKey | None = None,
    chain: Sequence[x509.Certificate] = (),
    server_name: str | None = None,
    request_staple: bool = True,
    tls13_only: bool = False,
    timeout: float = 5.0,
    send: bytes = b"",
    security_level: int | None = None,
) -> ClientResult:
    """Connect to ``host:port`` and run one handshake (``OSError`` if nothing listens).

    ``decide(chain, staple)`` returns the alert to refuse the server with, or
    ``None`` to go on; without it every chain is accepted. ``tls13_only`` when
    ``decide`` judges staples (see :mod:`lab.tls.peer_check`).
    """
    link = tls_open(
        host,
        port,
        decide=decide,
        certificate=certificate,
        private_key=private_key,
        chain=chain,
        server_name=server_name,
        request_staple=request_staple,
        tls13_only=tls13_only,
        timeout=timeout,
        send=send,
        security_level=security_level,
    )
    link.close()
    return link.result


def tls_open(
    host: str,
    port: int,
    *,
    decide: PeerDecision | None = None,
    certificate: x509.Certificate | None = None,
    private_key: TlsPrivateKey | None = None,
    chain: Sequence[x509.Certificate] = (),
    server_name: str | None = None,
    request_staple: bool = True,
    tls13_only: bool = False,
    timeout: float = 5.0,
    send: bytes = b"",
    chain_as_sent: bool = False,
    security_level: int | None = None,
) -> ClientLink:
    """:func:`tls_connect`, but a completed connection is left open: close the link after.

    The record says ``completed`` once the handshake is done, ``send`` is
    sent and the server's first line (or nothing, within the bound) is read.
    ``chain_as_sent``: ``decide`` gets the server's certificates exactly as
    sent (:func:`lab.tls.peer_check.install_peer_check`); ``security_level``
    as :func:`lab.tls.io.set_security_level`.
    """
    started = time.monotonic()
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_3_VERSION if tls13_only else SSL.TLS1_2_VERSION)
    set_security_level(context, security_level)
    if certificate is not None and private_key is not None:
        context.use_certificate(certificate)
        context.use_privatekey(private_key)
        for cert in chain:
            context.add_extra_chain_cert(cert)
    context.set_info_callback(watch_alerts)
    check = install_peer_check(
        context, decide or _accept_all, mode=SSL.VERIFY_PEER, as_sent=chain_as_sent
    )
    watch = ConnectionWatch()
    sock = socket.create_connection((host, port), timeout=timeout)
    # Handshake flights are small writes: without this, Nagle's algorithm meets the peer's
    # delayed ACK and each round trip waits some 40 ms (RFC 1122 4.2.3.2).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    local_host, local_port = sock.getsockname()[:2]
    local = f"{local_host}:{local_port}"
    conn = SSL.Connection(context, sock)
    conn.set_app_data(watch)
    conn.set_connect_state()
    if server_name:
        conn.set_tlsext_host_name(server_name.encode("idna"))
    if request_staple:
        conn.request_ocsp()
    greeting = b""
    done = False  # the handshake completed: a protocol was negotiated

    def ended(
        outcome: HandshakeOutcome, alert: Alert | None = None, detail: str = ""
    ) -> ClientLink:
        record = ConnectionRecord(
            f"{host}:{port}",
            outcome,
            alert=alert,
            detail=detail,
            protocol=conn.get_protocol_version_name() if done else None,
            staple_requested=request_staple,
            stapled=len(check.staple) if check.staple else None,
            peer_certificate=check.chain[0].subject.rfc4514_string() if check.chain else None,
            received=len(greeting),
            seconds=time.monotonic() - started,
        )
        result = ClientResult(record, check.chain, check.staple, greeting)
        kept = conn if outcome is HandshakeOutcome.COMPLETED else None
        link = ClientLink(result, local, kept, sock)
        if kept is None:
            link.close()
        return link

    try:
        try:
            drive(sock, conn.do_handshake, started + timeout)
            done = True
        except HandshakeTimeout as exc:
            return ended(HandshakeOutcome.TIMEOUT, detail=f"during the handshake: {exc}")
        except SSL.Error as exc:
            if check.problem is not None:
                raise check.problem from None
            if check.alert is not None:
                return ended(HandshakeOutcome.LOCAL_ALERT, check.alert, "refused the server")
            if watch.alert_read is not None:
                return ended(HandshakeOutcome.PEER_ALERT, watch.alert_read)
            if isinstance(exc, SSL.SysCallError | SSL.ZeroReturnError):
                return ended(HandshakeOutcome.CLOSED, detail="the server left mid-handshake")
            alert = alert_from_openssl_reason(str(exc))
            if alert is not None:
                return ended(HandshakeOutcome.PEER_ALERT, alert)
            return ended(HandshakeOutcome.ERROR, detail=str(exc))
        try:
            if send:
                drive(sock, lambda: conn.sendall(send), started + timeout)
            deadline = time.monotonic() + min(timeout, 2.0)
            while b"\n" not in greeting:
                greeting += drive(sock, lambda: conn.recv(4096), deadline)
        except (HandshakeTimeout, SSL.ZeroReturnError):
            pass  # a server that says nothing, or closes in order, still completed
        except SSL.Error as exc:
            if watch.alert_read is not None:
                return ended(HandshakeOutcome.PEER_ALERT, watch.alert_read, "after the handshake")
            if not isinstance(exc, SSL.SysCallError):
                return ended(HandshakeOutcome.ERROR, detail=f"after the handshake: {exc}")
        return ended(HandshakeOutcome.COMPLETED)
    except BaseException:
        sock.close()
        raise
