"""A TLS server endpoint on loopback that presents a certificate, staples, and records.

:class:`TlsEndpoint` listens (port 0: the kernel picks), presents a
certificate with its chain, staples an OCSP answer when the client asks
(RFC 6066 8 status_request; pyOpenSSL's OCSP server callback) from a
:class:`~lab.tls.staple.StapleSource`, and records what every connection
came to (:class:`~lab.tls.record.ConnectionRecord`): the handshake completed
and data flowed, the peer aborted with an alert (read from OpenSSL's info
callback: the alert's own code), or it timed out. Each connection runs on
its own thread with bounded waits, so a client that sends nothing or leaves
mid-handshake never holds the others.

With ``check_client`` the endpoint asks for a client certificate (mutual
TLS) and decides it during the handshake (:mod:`lab.tls.peer_check`);
``on_connection`` hears of each record on the thread that served it.
After the handshake it writes one greeting line, then reads until the peer
closes or is idle for ``idle_timeout``. With ``hold_open`` a connection is
long-lived instead (a link that a product keeps, as Unified CM keeps its
SIP/TLS links): it stays open, idle or not, until the peer closes it or the
endpoint closes (:meth:`TlsEndpoint.close`), bounded by ``hold_limit``
seconds. :meth:`TlsEndpoint.wait_open` sees such a connection once data has
flowed both ways; :meth:`TlsEndpoint.record_of` waits for how it ended.
``security_level`` 0 lets it present any key the PKI makes (RSA-1024, a
SHA-1 chain), which OpenSSL's default level refuses to send.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from lab.tls.alerts import Alert, alert_from_openssl_reason
from lab.tls.io import HandshakeTimeout, TlsPrivateKey, drive, set_security_level
from lab.tls.peer_check import PeerCheck, PeerDecision, install_peer_check
from lab.tls.record import ConnectionRecord, HandshakeOutcome
from lab.tls.staple import StapleSource
from lab.tls.watch import ConnectionWatch, watch_alerts

__all__ = ["GREETING", "TlsEndpoint"]


class _EndpointClosed(Exception):
    """A held-open connection ended by the endpoint (closing, or ``hold_limit``)."""


GREETING = b"ocsp-lab: hello\n"
#: How a connection's record is made: ``ended(outcome, alert, detail)``.
_Ended = Callable[[HandshakeOutcome, Alert | None, str], ConnectionRecord]
#: How often a held-open connection looks at the endpoint's stop flag (seconds).
_HOLD_POLL = 0.25


class TlsEndpoint:
    """Serve TLS on ``host:port`` presenting ``certificate`` (and ``chain``, deepest first).

    A context manager: ``with TlsEndpoint(...) as endpoint: endpoint.port``.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: TlsPrivateKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        staple: StapleSource | None = None,
        check_client: PeerDecision | None = None,
        on_connection: Callable[[ConnectionRecord], None] | None = None,
        handshake_timeout: float = 5.0,
        idle_timeout: float = 2.0,
        hold_open: bool = False,
        hold_limit: float = 300.0,
        security_level: int | None = None,
    ) -> None:
        self.certificate = certificate
        self._key = private_key
        self._chain = tuple(chain)
        self._staple = staple
        self._check_client = check_client
        # Called with each record on the connection's own thread (where check_client ran).
        self._on_connection = on_connection
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.hold_open = hold_open
        self.hold_limit = hold_limit
        self.security_level = security_level
        self._listener = socket.create_server((host, port), backlog=64)
        self._listener.settimeout(0.2)  # the accept loop looks at the stop flag this often
        self.host, self.port = self._listener.getsockname()[:2]
        self._records: list[ConnectionRecord] = []
        self._open: dict[str, ConnectionRecord] = {}  # by peer: data flowed, not ended yet
        self.accepted = 0  # connections accepted so far (a record comes when each ends)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tls-endpoint", daemon=True)

    # -- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> TlsEndpoint:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self._acceptor.start()

    def close(self) -> None:
        """Stop accepting and wait (bounded) for the connections in flight."""
        self._stop.set()
        # shutdown() wakes an accept() in progress at once (Linux), rather than at its poll.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        self._listener.close()
        linger = _HOLD_POLL if self.hold_open else self.idle_timeout
        for thread in list(self._threads):
            thread.join(timeout=self.handshake_timeout + linger + 1)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- what happened ----------------------------------------------------------------

    def records(self) -> list[ConnectionRecord]:
        """Every finished connection so far, in the order they ended."""
        with self._changed:
            return list(self._records)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ConnectionRecord]:
        """The records once ``count`` connections have ended (else ``TimeoutError``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._records) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._records)} of {count} connections ended within {timeout} s"
                    )
                self._changed.wait(left)
            return list(self._records)

    def record_of(self, peer: str, timeout: float = 10.0) -> ConnectionRecord:
        """How the connection from ``peer`` (``host:port``) ended, once it has (or TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self._records:
                    if record.peer == peer:
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the connection from {peer} did not end within {timeout} s")
                self._changed.wait(left)

    def wait_open(self, peer: str, timeout: float = 10.0) -> ConnectionRecord:
        """The connection from ``peer`` once data has flowed both ways, or how it ended.

        The record of an open connection says ``completed`` with no ``closed_by``.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._open.get(peer)
                if found is not None:
                    return found
                for record in self._records:
                    if record.peer == peer:
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no data from {peer} within {timeout} s")
                self._changed.wait(left)

    def _flowed(self, record: ConnectionRecord) -> None:
        with self._changed:
            self._open[record.peer] = record
            self._changed.notify_all()

    # -- serving ----------------------------------------------------------------------

    def _context(self) -> tuple[SSL.Context, PeerCheck | None]:
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        set_security_level(context, self.security_level)
        context.use_certificate(self.certificate)
        context.use_privatekey(self._key)
        for cert in self._chain:
            context.add_extra_chain_cert(cert)
        context.check_privatekey()
        context.set_info_callback(watch_alerts)
        if self._staple is not None:
            context.set_ocsp_server_callback(self._staple_callback)
        check = None
        if self._check_client is not None:
            mode = SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            check = install_peer_check(context, self._check_client, mode=mode)
        return context, check

    def _staple_callback(self, conn: SSL.Connection, data: Any) -> bytes:
        # Called only when the client sent status_request (RFC 6066 8).
        seen: ConnectionWatch = conn.get_app_data()
        seen.staple_requested = True
        assert self._staple is not None
        answer = self._staple.staple()
        seen.stapled = len(answer) if answer else None
        return answer or b""  # b"": no CertificateStatus, nothing stapled

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.accepted += 1
            thread = threading.Thread(
                target=self._serve, args=(sock, f"{peer[0]}:{peer[1]}"), daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, peer: str) -> None:
        started = time.monotonic()
        seen = ConnectionWatch()
        record: ConnectionRecord
        try:
            record = self._handshake(sock, peer, seen, started)
        except Exception as exc:  # never let one connection end the endpoint
            record = ConnectionRecord(
                peer, HandshakeOutcome.ERROR, detail=f"{type(exc).__name__}: {exc}"
            )
        finally:
            sock.close()
        if self._on_connection is not None:
            self._on_connection(record)
        with self._changed:
            self._open.pop(peer, None)
            self._records.append(record)
            self._changed.notify_all()

    def _handshake(
        self, sock: socket.socket, peer: str, seen: ConnectionWatch, started: float
    ) -> ConnectionRecord:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as in lab.tls.client
        sock.setblocking(False)
        context, check = self._context()
        conn = SSL.Connection(context, sock)
        conn.set_app_data(seen)
        conn.set_accept_state()

        def ended(
            outcome: HandshakeOutcome,
            alert: Alert | None = None,
            detail: str = "",
            closed_by: str | None = None,
        ) -> ConnectionRecord:
            client = check.chain[0].subject.rfc4514_string() if check and check.chain else None
            return ConnectionRecord(
                peer,
                outcome,
                alert=alert,
                detail=detail,
                protocol=conn.get_protocol_version_name() if done else None,
                staple_requested=seen.staple_requested,
                stapled=seen.stapled,
                peer_certificate=client,
                received=received,
                seconds=time.monotonic() - started,
                closed_by=closed_by,
            )

        received = 0
        done = False  # the handshake completed: a protocol was negotiated
        try:
            drive(sock, conn.do_handshake, started + self.handshake_timeout)
            done = True
        except HandshakeTimeout as exc:
            return ended(HandshakeOutcome.TIMEOUT, detail=f"during the handshake: {exc}")
        except SSL.Error as exc:
            return self._failed(ended, seen, check, exc)
        # The handshake is done: say hello, then read until the peer closes or goes idle
        # (held open: until the peer closes, the endpoint closes, or hold_limit).
        closed_by = "peer"
        try:
            drive(sock, lambda: conn.sendall(GREETING), time.monotonic() + self.idle_timeout)
            if self.hold_open:
                limit = started + self.hold_limit
                while True:
                    if self._stop.is_set() or time.monotonic() >= limit:
                        raise _EndpointClosed
                    try:
                        deadline = time.monotonic() + _HOLD_POLL  # a short slice: see stop soon
                        data = drive(sock, lambda: conn.recv(16384), deadline)
                    except HandshakeTimeout:
                        continue
                    first = data and not received
                    received += len(data)
                    if first:  # data flowed both ways (the greeting out, this in): the link is up
                        self._flowed(ended(HandshakeOutcome.COMPLETED, None, "open"))
            else:
                deadline = time.monotonic() + self.idle_timeout
                while True:
                    received += len(drive(sock, lambda: conn.recv(16384), deadline))
        except SSL.ZeroReturnError:
            pass  # close_notify: an orderly end
        except _EndpointClosed:
            closed_by = "endpoint"  # held open until the endpoint (or hold_limit) ended it
        except HandshakeTimeout:
            closed_by = "endpoint"  # idle after the handshake: the connection served its purpose
        except SSL.Error as exc:
            if seen.alert_read is not None:
                return ended(
                    HandshakeOutcome.PEER_ALERT, seen.alert_read, "after the handshake", "peer"
                )
            if not isinstance(exc, SSL.SysCallError):
                return ended(HandshakeOutcome.ERROR, detail=f"after the handshake: {exc}")
        with contextlib.suppress(SSL.Error):
            conn.shutdown()
        return ended(
            HandshakeOutcome.COMPLETED,
            detail=f"{len(GREETING)} bytes sent, {received} received",
            closed_by=closed_by,
        )

    @staticmethod
    def _failed(
        ended: _Ended, seen: ConnectionWatch, check: PeerCheck | None, exc: SSL.Error
    ) -> ConnectionRecord:
        if seen.alert_read is not None:
            return ended(HandshakeOutcome.PEER_ALERT, seen.alert_read, "")
        if check is not None and check.alert is not None:
            return ended(HandshakeOutcome.LOCAL_ALERT, check.alert, "refused the client")
        if isinstance(exc, SSL.SysCallError | SSL.ZeroReturnError):
            return ended(HandshakeOutcome.CLOSED, None, "the peer left mid-handshake")
        if seen.alert_written is not None:
            return ended(HandshakeOutcome.LOCAL_ALERT, seen.alert_written, str(exc))
        alert = alert_from_openssl_reason(str(exc))
        if alert is not None:
            return ended(HandshakeOutcome.PEER_ALERT, alert, "")
        return ended(HandshakeOutcome.ERROR, None, str(exc))
