"""Fault injection on ``serve``: kill -9 workers and the master mid-change, then fill the disk.

After every restart, every acknowledged change is there and no refused one is
(issue 11, "Nothing acknowledged is lost").
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from responder.app import ADMIN_PREFIX

pytestmark = pytest.mark.interop

#: The default PKI's certificates whose hold / release the test toggles.
NAMES = ("server", "responder", "root-responder")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin(port: int, path: str, doc: dict[str, object] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{ADMIN_PREFIX}/{path}",
        data=None if doc is None else json.dumps(doc).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="GET" if doc is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _statuses(port: int) -> dict[str, str]:
    code, state = _admin(port, "state")
    assert code == 200, state
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str) and isinstance(node.get("status"), str):
                found[node["name"]] = node["status"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state)
    return found


@contextlib.contextmanager
def _serving(out: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(out),
         "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            with contextlib.suppress(OSError, AssertionError):
                if _admin(port, "state")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("serve did not answer")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            _wait_port_free(port)


def _wait_port_free(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)


def _workers(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


class _Changer:
    """Toggles hold / release in a thread; remembers what was acknowledged, and what was not."""

    def __init__(self, port: int, seed: int) -> None:
        self.port = port
        self.random = random.Random(seed)
        #: per name: the status of the last acknowledged change, and the statuses an
        #: unanswered change after it may have left (the kill may come before or after commit)
        self.acked: dict[str, str] = dict.fromkeys(NAMES, "good")
        self.maybe: dict[str, set[str]] = {n: set() for n in NAMES}
        self.refused = 0
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()

    def step(self) -> None:
        name = self.random.choice(NAMES)
        current = self.acked[name] if not self.maybe[name] else self.random.choice(["good", "hold"])
        action, after = ("release", "good") if current == "hold" else ("hold", "hold")
        try:
            code, doc = _admin(self.port, action, {"name": name})
        except OSError:
            self.maybe[name].add(after)  # no answer: it may or may not have been committed
            time.sleep(0.05)
            return
        if code == 200:
            assert doc["status"] == after, doc
            self.acked[name] = after
            self.maybe[name] = set()
            self.done += 1
        elif code == 409:
            # refused by the rules (the state was not what we thought after a lost answer)
            self.maybe[name].add(after)
        else:
            self.refused += 1
            assert code == 507, (code, doc)  # the one documented storage error

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()

    def check(self, found: dict[str, str]) -> None:
        for name in NAMES:
            allowed = {self.acked[name], *self.maybe[name]}
            assert found[name] in allowed, (name, found[name], allowed)
            # what is stored is now known: later steps start from it
            self.acked[name], self.maybe[name] = found[name], set()


def test_acknowledged_changes_survive_kill_9_of_workers_and_master(tmp_path: Path) -> None:
    port = _free_port()
    out = tmp_path / "serve"
    changer = _Changer(port, seed=11)
    for _round in range(3):
        with _serving(out, port) as master:
            changer.check(_statuses(port))  # nothing is changing now: what is stored
            changer.start()
            for _ in range(3):
                time.sleep(0.4)
                victims = _workers(master.pid)
                if victims:
                    os.kill(random.choice(victims), signal.SIGKILL)  # gunicorn starts another
            time.sleep(0.3)
            os.kill(master.pid, signal.SIGKILL)  # the master too: its workers die with it
            changer.stop()
    with _serving(out, port):
        changer.check(_statuses(port))
    assert changer.done >= 20, changer.done  # the loop really changed things meanwhile
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") or ".tmp" in p.name]
    assert leftovers == [], leftovers  # kill -9 leaves no temporary files


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_refuses_changes_and_loses_none(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        port = _free_port()
        out = mount / "serve"
        changer = _Changer(port, seed=5)
        with _serving(out, port):
            for _ in range(10):
                changer.step()
            assert changer.refused == 0
            _fill(mount)
            for _ in range(40):  # the WAL must grow: a full disk refuses the commit
                changer.step()
            assert changer.refused >= 1, "the disk never filled"
            first = _statuses(port)
            assert all(_statuses(port) == first for _ in range(4))  # every worker agrees
            changer.check(first)
        (mount / "filler").unlink()
        with _serving(out, port):
            changer.check(_statuses(port))  # acknowledged: all there; refused: none
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> None:
    """Write until the file system says ENOSPC, in ever smaller pieces (unbuffered)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
        with pytest.raises(OSError) as full:
            os.write(fd, b"\0")
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
