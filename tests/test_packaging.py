"""The package as a new user gets it: built with ``python -m build``, installed into a fresh venv.

The wheel must carry the scenario catalog (``lab.catalog``), run it with no
checkout around, say its version, and build without a setuptools warning.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
    )
    return [name for name in done.stdout.decode().split("\0") if name]


def test_every_package_of_the_source_is_listed() -> None:
    # The packages are listed (the catalog is mapped from scenarios/, which find cannot do):
    # a new subpackage left out of the list would be missing from the wheel.
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("pki", "responder", "lab")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert set(listed) == found | {"lab.catalog"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel ``python -m build`` makes (sdist first, the wheel from it), and the build log.

    Built from a copy of the tracked files, so the checkout gets no build/ or
    egg-info, and what is not committed cannot leak in.
    """
    source = tmp_path_factory.mktemp("source")
    for name in _tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dist = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1 and len(list(dist.glob("*.tar.gz"))) == 1
    return wheels[0], done.stdout + done.stderr


@pytest.mark.packaging
def test_the_build_gives_no_setuptools_warning(wheel: tuple[Path, str]) -> None:
    _, log = wheel
    warnings = [line for line in log.splitlines() if re.search(r"warn", line, re.IGNORECASE)]
    assert warnings == []


@pytest.mark.packaging
def test_the_wheel_carries_the_catalog_under_the_fixed_top_level_names(
    wheel: tuple[Path, str],
) -> None:
    path, _ = wheel
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "lab.pytest_plugin = lab.pytest_plugin" in archive.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"lab", "pki", "responder"}
    catalog = {n.removeprefix("lab/catalog/") for n in names if n.startswith("lab/catalog/")}
    in_checkout = {
        p.relative_to(ROOT / "scenarios").as_posix()
        # a scenario, the captures its replay serves, the certificates and keys of cert_file
        for pattern in ("*.toml", "*.der", "*.pem", "*.key")
        for p in (ROOT / "scenarios").rglob(pattern)
    }
    assert in_checkout and in_checkout | {"README.md"} == catalog
    assert "responder/templates/status.html" in names


@pytest.mark.packaging
def test_the_wheel_in_a_fresh_venv_runs_the_installed_catalog(
    wheel: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = wheel
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # Its dependencies come from pip's cache when it has them (the index otherwise).
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # Beside the other packages it brought: nothing conflicts, and no other name was taken.
    check = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout
    # A folder with no scenarios/ and no checkout: the installed catalog runs.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = env_dir / "bin" / "ocsp-lab"
    version = subprocess.run(
        [str(cli), "--version"], cwd=elsewhere, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and re.fullmatch(r"ocsp-lab \d+\.\d+\.\d+\n", version.stdout)
    run = subprocess.run(
        [str(cli), "run", "-j", "2", "--junit", "r.xml"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    count = len(list((ROOT / "scenarios").rglob("*.toml")))
    assert f"{count} scenarios, " in run.stdout.splitlines()[-1]
    assert (elsewhere / "r.xml").is_file()
    # The checkout's own lab package is not what ran.
    where = subprocess.run(
        [str(python), "-c", "import lab; print(lab.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(env_dir)), where.stdout
