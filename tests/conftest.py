"""Shared fixtures: the expensive things once per session, cheap resets per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from pki import PKI, build_pki


def require_program(name: str) -> str:
    """The path of outside program ``name`` (a peer a test needs).

    Missing: the test fails under CI (``CI`` set: ``.ci/run`` installs it), and
    is skipped with the reason elsewhere.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def default_pki() -> PKI:
    """The six default certificates at the fixed epoch (never mutate it)."""
    return build_pki()


@pytest.fixture(scope="session", autouse=True)
def _require_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is required: it is the tests' independent peer")


@pytest.fixture(scope="session", autouse=True)
def _private_lab_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`pki build` and `serve` make a per-installation secret: never in the real home.

    Set in os.environ, so the CLI's subprocesses inherit it too.
    """
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "OCSP_LAB_SECRET_FILE")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    os.environ.pop("OCSP_LAB_SECRET_FILE", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
