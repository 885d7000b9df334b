"""ocsp-lab: the validator, the revocation policy, scenarios, runner and CLI."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]

try:
    #: The installed distribution's version (``ocsp-lab --version``).
    __version__ = metadata.version("ocsp-lab")
except metadata.PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
