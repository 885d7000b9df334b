"""Bounded TLS I/O: every OpenSSL operation on a non-blocking socket, with a deadline.

OpenSSL reads and writes the socket's file descriptor itself, so Python's
socket timeout never applies to it: a peer that sends nothing would block a
handshake for ever. Each operation here runs on a non-blocking socket, and a
``WantRead`` / ``WantWrite`` waits in ``select`` only until the deadline
(:class:`HandshakeTimeout`).
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from OpenSSL import SSL

__all__ = ["HandshakeTimeout", "TlsPrivateKey", "drive", "set_security_level", "sni_for"]

#: The private keys a TLS endpoint of the lab presents with (what pyOpenSSL accepts).
TlsPrivateKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)

T = TypeVar("T")


class HandshakeTimeout(Exception):
    """The peer did not send (or take) what the operation needed before the deadline."""


def drive(sock: socket.socket, operation: Callable[[], T], deadline: float) -> T:
    """Run ``operation`` (``conn.do_handshake``, ``conn.recv`` …) until it is done or time is up.

    ``deadline`` is a :func:`time.monotonic` value. ``sock`` must be non-blocking.
    """
    while True:
        try:
            return operation()
        except SSL.WantReadError:
            readable, writable = [sock], []
        except SSL.WantWriteError:
            readable, writable = [], [sock]
        left = deadline - time.monotonic()
        if left <= 0:
            raise HandshakeTimeout(f"nothing from the peer within the bound ({left:+.1f} s left)")
        ready = select.select(readable, writable, [], left)
        if not any(ready):
            raise HandshakeTimeout("the peer went silent: the bounded wait ran out")


def set_security_level(context: SSL.Context, level: int | None) -> None:
    """Set OpenSSL's security level of ``context`` (None: leave OpenSSL's default).

    Level 0 allows what old products still present (RSA-1024 keys, SHA-1
    signatures in the chain) — the lab's validator, not OpenSSL, judges
    those. pyOpenSSL has no setter; the cipher string's ``@SECLEVEL=`` sets it.
    """
    if level is not None:
        context.set_cipher_list(f"DEFAULT:@SECLEVEL={level}".encode())


def sni_for(host: str) -> str | None:
    """The server_name to send for ``host``: none for an IP address (RFC 6066 3 forbids it)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None
