"""What OpenSSL's callbacks see of one connection: alerts read and written, stapling.

OpenSSL's info callback reports every alert with its own code
(``ret = level << 8 | description``, RFC 8446 6), which is more exact than
the error string a failed handshake raises; both ends of the lab use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from OpenSSL import SSL

from lab.tls.alerts import Alert

__all__ = ["ConnectionWatch", "watch_alerts"]

_DESCRIPTION = 0xFF


@dataclass
class ConnectionWatch:
    """Set as a connection's app data; filled by the callbacks."""

    alert_read: Alert | None = None  # the first non-close_notify alert the peer sent
    alert_written: Alert | None = None  # the first one this side sent
    staple_requested: bool = False  # (server) the client sent status_request
    stapled: int | None = None  # (server) bytes stapled; (client) bytes received


def _alert(ret: int) -> Alert | None:
    try:
        return Alert(ret & _DESCRIPTION)
    except ValueError:
        return None


def watch_alerts(conn: SSL.Connection, where: int, ret: int) -> None:
    """The info callback: note the first alert each way (close_notify is no abort)."""
    watch = conn.get_app_data()
    if not isinstance(watch, ConnectionWatch):
        return
    if where & SSL.SSL_CB_READ_ALERT == SSL.SSL_CB_READ_ALERT:
        alert = _alert(ret)
        if alert is not Alert.CLOSE_NOTIFY and watch.alert_read is None:
            watch.alert_read = alert
    elif where & SSL.SSL_CB_WRITE_ALERT == SSL.SSL_CB_WRITE_ALERT:
        alert = _alert(ret)
        if alert is not Alert.CLOSE_NOTIFY and watch.alert_written is None:
            watch.alert_written = alert
