"""Getting the product to connect, one way per ``product.kind``, and observing what it did.

- ``client``: the lab's :class:`~lab.tls.server.TlsEndpoint` presents the
  certificate; ``command`` runs (no shell), bounded by ``timeout``; its exit
  status and the tail of its output are kept. A process that outlives the
  bound is killed with its whole process group (it runs in a session of its
  own), so a hanging product never stalls the run.
- ``server``: the lab connects to ``target`` with
  :func:`~lab.tls.client.tls_connect`, presenting the certificate, its chain
  and key as the client certificate (mutual TLS).
- ``manual``: the lab prints where to connect and what to trust, and waits
  up to ``timeout`` for one connection.

The outcome is read where the lab sees it: a handshake that completed with
data flowing is ``allowed``; one aborted (with its alert), closed, timed out
or never made is ``refused`` with why. The OCSP requests are the responder's
log entries of the connection's time, less the endpoint's own staple fetches.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.ocsp_request import build_request
from lab.product.observed import OUTPUT_TAIL, ProductObservation, seen_request
from lab.product.profile import ProductKind, command_line
from lab.product.situation import ProductLab
from lab.scenario import ConnectionOutcome
from lab.tls.client import tls_connect
from lab.tls.io import sni_for
from lab.tls.record import ConnectionRecord, HandshakeOutcome
from lab.tls.server import TlsEndpoint
from lab.tls.staple import StapleSource
from responder.requestlog import RequestLogEntry

__all__ = ["DRIVERS", "Connection", "drive"]

#: After a client product's process ends, how long its connection may take to end at
#: the endpoint (the peer is gone: the server's thread sees it at once, but is a thread).
_SETTLE = 2.0


@dataclass(frozen=True)
class Connection:
    """What one product connection is asked to do: present ``cert``, and for how long."""

    cert: str
    cc_on: bool
    #: seconds the connection is to be held open (``--timeline real``); None: one check
    hold: float | None = None
    #: announced to a person (manual kind): what this connection is about
    title: str = ""


def _outcome(record: ConnectionRecord | None) -> tuple[ConnectionOutcome, str]:
    """allowed / refused, and why, from how the lab saw the connection end."""
    if record is None:
        return ConnectionOutcome.REFUSED, "no connection"
    match record.outcome:
        case HandshakeOutcome.COMPLETED:
            return ConnectionOutcome.ALLOWED, f"completed, {record.protocol or 'TLS'}"
        case HandshakeOutcome.PEER_ALERT | HandshakeOutcome.LOCAL_ALERT:
            alert = record.alert.describe() if record.alert else "an alert"
            return ConnectionOutcome.REFUSED, f"aborted with {alert}"
        case HandshakeOutcome.TIMEOUT:
            return ConnectionOutcome.REFUSED, "the handshake timed out"
        case HandshakeOutcome.CLOSED:
            return ConnectionOutcome.REFUSED, "closed mid-handshake without an alert"
        case _:
            return ConnectionOutcome.REFUSED, f"error: {record.detail}"


def _product_requests(
    entries: list[RequestLogEntry], staple_der: bytes | None, staple_fetches: int
) -> list[RequestLogEntry]:
    """The entries less the endpoint's own staple fetches (same DER, as many as it made)."""
    left = staple_fetches
    kept = []
    for entry in entries:
        if left and staple_der is not None and entry.request_der == staple_der:
            left -= 1
            continue
        kept.append(entry)
    return kept


class _Watch:
    """The requests logged from now on, less the staple fetches the endpoint makes meanwhile."""

    def __init__(self, lab: ProductLab, cert: str, staple: StapleSource | None) -> None:
        self.lab = lab
        self.mark = lab.request_mark()
        self.staple = staple
        self.fetches = len(staple.fetches) if staple else 0
        self.staple_der: bytes | None = None
        if staple is not None:
            issued = lab.pki[cert]
            issuer = lab.pki[issued.issuer].certificate if issued.issuer else issued.certificate
            # The request StapleSource sends (SHA-1 CertID, no nonce: RFC 5019 2.1).
            self.staple_der = build_request(issued.certificate, issuer, nonce=None).der

    def observe(self, record: ConnectionRecord | None, **process: Any) -> ProductObservation:
        connection, why = _outcome(record)
        fetched = len(self.staple.fetches) - self.fetches if self.staple else 0
        entries = _product_requests(self.lab.requests_after(self.mark), self.staple_der, fetched)
        return ProductObservation(
            connection=connection,
            why=why,
            record=record,
            requests=tuple(seen_request(e) for e in entries),
            **process,
        )


def _tail(output: bytes) -> str:
    return output.decode("utf-8", "replace")[-OUTPUT_TAIL:]


def _endpoint_record(endpoint: TlsEndpoint) -> tuple[ConnectionRecord | None, int]:
    """The first connection's record once every accepted one has ended; how many came."""
    accepted = endpoint.accepted
    if not accepted:
        return None, 0
    bound = endpoint.handshake_timeout + endpoint.idle_timeout + _SETTLE
    try:
        records = endpoint.wait_for(accepted, timeout=bound)
    except TimeoutError:
        records = endpoint.records()
    return (records[0] if records else None), accepted


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the product and everything it started: its own session's process group."""
    with contextlib.suppress(ProcessLookupError):  # it ended in between
        os.killpg(process.pid, signal.SIGKILL)


def _drive_client(lab: ProductLab, connection: Connection) -> ProductObservation:
    profile = lab.profile
    staple = lab.staple_source(connection.cert)
    if staple is not None:
        staple.staple()  # fetched before the product starts: its requests stay its own
    hold = connection.hold
    idle = hold + profile.seconds if hold is not None else min(profile.seconds, 2.0)
    endpoint = lab.endpoint(connection.cert, idle_timeout=idle, staple=staple)
    endpoint.start()
    try:
        values = {
            "host": profile.host,
            "port": str(endpoint.port),
            "trust": str(lab.trust_file),
            "cert": str(lab.cert_file(connection.cert)),
            "cc": "on" if connection.cc_on else "off",
        }
        argv = command_line(profile.command, values)
        watch = _Watch(lab, connection.cert, staple)
        bound = profile.seconds + (hold or 0.0)
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole at the bound
            )
        except OSError as exc:
            return watch.observe(
                None,
                argv=tuple(argv),
                output=f"cannot start {argv[0]}: {exc.strerror or exc}",
                notes=("the product did not start",),
            )
        timed_out = False
        try:
            output, _ = process.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            try:
                output, _ = process.communicate(timeout=_SETTLE)
            except subprocess.TimeoutExpired:
                # Something it started left its process group and holds the pipe open.
                output = b"(its output pipe stayed open after the kill: not read)"
                if process.stdout is not None:
                    process.stdout.close()
                process.wait()
        seconds = time.monotonic() - started
        record, count = _endpoint_record(endpoint)
    finally:
        lab.closer(endpoint.close)  # its records are in: the close need not be waited for
    notes = (f"{count} connections (the first is judged)",) if count > 1 else ()
    return watch.observe(
        record,
        argv=tuple(argv),
        exit_status=None if timed_out else process.returncode,
        timed_out=timed_out,
        output=_tail(output),
        seconds=seconds,
        dropped_after=_dropped_after(record, hold),
        notes=notes,
    )


def _dropped_after(record: ConnectionRecord | None, hold: float | None) -> float | None:
    """For a held connection: seconds until it ended, if before the hold was over."""
    if hold is None or record is None or not record.completed:
        return None
    return record.seconds if record.seconds < hold else None


def _drive_server(lab: ProductLab, connection: Connection) -> ProductObservation:
    profile = lab.profile
    assert profile.target is not None
    host, port = profile.target
    cert = connection.cert
    watch = _Watch(lab, cert, None)
    started = time.monotonic()
    try:
        result = tls_connect(
            host,
            port,
            certificate=lab.pki[cert].certificate,
            private_key=lab.key(cert),
            chain=lab.chain(cert),
            server_name=sni_for(host),
            request_staple=False,
            timeout=profile.seconds,
            security_level=0,  # present any key the PKI makes (RSA-1024): the product judges
        )
    except OSError as exc:
        return watch.observe(
            None,
            seconds=time.monotonic() - started,
            notes=(f"cannot connect to {host}:{port} ({exc.strerror or exc})",),
        )
    record = result.record
    if record.completed and not result.greeting and connection.hold is None:
        notes: tuple[str, ...] = ("completed; the server said nothing",)
    else:
        notes = ()
    return watch.observe(record, seconds=time.monotonic() - started, notes=notes)


def _drive_manual(lab: ProductLab, connection: Connection) -> ProductObservation:
    profile = lab.profile
    staple = lab.staple_source(connection.cert)
    if staple is not None:
        staple.staple()
    hold = connection.hold
    idle = hold + profile.seconds if hold is not None else min(profile.seconds, 2.0)
    endpoint = lab.endpoint(connection.cert, idle_timeout=idle, staple=staple)
    endpoint.start()
    try:
        trust = ", ".join(profile.client.trust)
        print(
            f"ocsp-lab: connect the product to {endpoint.address} now ({connection.title}); "
            f"it must trust {trust} ({lab.trust_file}); waiting {profile.seconds:g} s",
            file=sys.stderr,
            flush=True,
        )
        watch = _Watch(lab, connection.cert, staple)
        started = time.monotonic()
        try:
            records = endpoint.wait_for(1, timeout=profile.seconds + (hold or 0.0))
        except TimeoutError:
            records = []
        seconds = time.monotonic() - started
    finally:
        lab.closer(endpoint.close)
    record = records[0] if records else None
    return watch.observe(record, seconds=seconds, dropped_after=_dropped_after(record, hold))


#: One driver per kind (one table).
DRIVERS: dict[ProductKind, Callable[[ProductLab, Connection], ProductObservation]] = {
    ProductKind.CLIENT: _drive_client,
    ProductKind.SERVER: _drive_server,
    ProductKind.MANUAL: _drive_manual,
}


def drive(lab: ProductLab, connection: Connection) -> ProductObservation:
    """Get the product of ``lab.profile`` to make ``connection``; what the lab observed."""
    return DRIVERS[lab.profile.kind](lab, connection)
