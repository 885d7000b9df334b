"""Bounded TLS I/O: every OpenSSL operation on a non-blocking socket, with a deadline.

OpenSSL reads and writes the socket's file descriptor itself, so Python's
socket timeout never applies to it: a peer that sends nothing would block a
handshake for ever. Each operation here runs on a non-blocking socket, and a
``WantRead`` / ``WantWrite`` waits in ``select`` only until the deadline
(:class:`HandshakeTimeout`).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from OpenSSL import SSL

__all__ = ["HandshakeTimeout", "TlsPrivateKey", "drive"]

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
