"""Real TLS: endpoints that present, staple and observe (pyOpenSSL).

- :class:`TlsEndpoint` (:mod:`.server`): a server on loopback presenting a
  certificate with its chain, stapling from a :class:`StapleSource`
  (:mod:`.staple`), recording every connection (:mod:`.record`);
- :func:`tls_connect` (:mod:`.client`): a client, with a client certificate
  for mutual TLS; :func:`tls_open` the same, left open (:class:`ClientLink`);
- :mod:`.peer_check`: the peer's chain decided during the handshake, refused
  with the alert the decision names (:class:`Alert`, :mod:`.alerts`).
"""

from __future__ import annotations

from lab.tls.alerts import Alert
from lab.tls.client import ClientLink, ClientResult, tls_connect, tls_open
from lab.tls.peer_check import PeerDecision
from lab.tls.record import ConnectionRecord, HandshakeOutcome
from lab.tls.server import GREETING, TlsEndpoint
from lab.tls.staple import StapleFetch, StapleSource

__all__ = [
    "GREETING",
    "Alert",
    "ClientLink",
    "ClientResult",
    "ConnectionRecord",
    "HandshakeOutcome",
    "PeerDecision",
    "StapleFetch",
    "StapleSource",
    "TlsEndpoint",
    "tls_connect",
    "tls_open",
]
