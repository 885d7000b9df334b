"""TLS alerts: the one table of AlertDescription codes and names (RFC 8446 6, RFC 5246 7.2).

Names are the RFC's (``certificate_revoked``); OpenSSL's error strings spell
them with spaces (``sslv3 alert certificate revoked``), and
:func:`alert_from_openssl_reason` reads those back.
"""

from __future__ import annotations

import re
from enum import IntEnum

__all__ = ["Alert", "alert_from_openssl_reason"]


class Alert(IntEnum):
    """AlertDescription (RFC 8446 6.2, RFC 5246 7.2.2, RFC 6066 8 for 113)."""

    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    RECORD_OVERFLOW = 22
    HANDSHAKE_FAILURE = 40
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    NO_APPLICATION_PROTOCOL = 120

    @property
    def rfc_name(self) -> str:
        """``certificate_revoked``: the RFC's spelling."""
        return self.name.lower()

    def describe(self) -> str:
        return f"{self.value} {self.rfc_name}"


# OpenSSL's reason strings for a received alert: "<version> alert <name with spaces>".
_OPENSSL_ALERT = re.compile(r"(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+)")
_BY_SPELLING = {a.rfc_name.replace("_", " "): a for a in Alert}


def alert_from_openssl_reason(reason: str) -> Alert | None:
    """The alert an OpenSSL error reason names (``tlsv1 alert unknown ca`` → 48), if any."""
    match = _OPENSSL_ALERT.search(reason.lower())
    if match is None:
        return None
    return _BY_SPELLING.get(match.group(1).strip())
