"""Errors of the PKI layer: plain sentences naming the certificate and the field."""

from __future__ import annotations

__all__ = ["PKIError"]


class PKIError(ValueError):
    """A PKI that cannot be built or a database that cannot be read."""
