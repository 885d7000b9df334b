"""A TLS client that holds its connection open and never checks anything: for a timeline test.

Usage: holding_client.py HOST PORT SECONDS. It completes a handshake
(accepting any certificate), reads the greeting, then keeps the connection
open for SECONDS without asking any responder — a product that never
re-checks a long-lived connection.
"""

from __future__ import annotations

import socket
import ssl
import sys
import time


def main() -> int:
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, port), timeout=5)
    with raw, context.wrap_socket(raw, server_hostname=host) as tls:
        print(tls.recv(100).decode(errors="replace"), flush=True)
        time.sleep(seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
