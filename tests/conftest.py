"""Shared fixtures: the expensive things once per session, cheap resets per test."""

from __future__ import annotations

import shutil

import pytest

from pki import PKI, build_pki


@pytest.fixture(scope="session")
def default_pki() -> PKI:
    """The six default certificates at the fixed epoch (never mutate it)."""
    return build_pki()


@pytest.fixture(scope="session", autouse=True)
def _require_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is required: it is the tests' independent peer")
