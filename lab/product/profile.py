"""Product profiles (SCENARIOS.md "Product profiles"): read, checked, turned into values.

A profile says how a product under test is reached (``[product]``) and how it
is set up, in the words of a scenario's ``[client]`` table — read by the
scenario loader's own code (:func:`lab.scenario.read_client_table`), so the
two cannot drift. Reading is as strict as for scenarios: an unknown key, a
wrong type or a missing key is a :class:`~lab.errors.ScenarioError` naming
the file, the key and what was expected (the CLI: one line, exit 2).

``product.command`` is split as a shell would (:func:`shlex.split`, no shell
runs it) and each argument's placeholders are filled in per connection
(:func:`command_line`): the contract's ``{host}``, ``{port}``, ``{trust}``,
``{cert}``, and two extensions (docs/scenario-format-extensions.md):
``{ocsp_lab}``, an argument of its own, becomes the command line of the very
``ocsp-lab`` running the product run (this interpreter,
:mod:`lab.product.launcher`), and
``{cc}`` the Common Criteria mode of the run, ``on`` or ``off``.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from lab.errors import ScenarioError
from lab.scenario import read_client_table, read_toml_file
from lab.settings import ClientSettings
from lab.timespec import POSITIVE_DURATION_EXPECTED, TimeSpecError, parse_duration

__all__ = [
    "PLACEHOLDERS",
    "ProductKind",
    "ProductProfile",
    "command_line",
    "load_profile",
]


class ProductKind(StrEnum):
    """How the product meets the lab (``product.kind``)."""

    CLIENT = "client"  # the lab runs ``command``; the product connects to a lab endpoint
    SERVER = "server"  # the lab connects to ``target`` presenting expect.cert (mutual TLS)
    MANUAL = "manual"  # a person makes the product connect; the lab shows where and waits


#: What a placeholder of ``product.command`` becomes (one table: loader and filler read it).
PLACEHOLDERS: Mapping[str, str] = {
    "host": "the lab endpoint's address",
    "port": "the lab endpoint's port",
    "trust": "a PEM file of the profile's [client] trust certificates",
    "cert": "a PEM file of the presented certificate",
    "ocsp_lab": "the running ocsp-lab's own command line (an argument of its own)",
    "cc": "the Common Criteria mode of this run: on or off",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TOP_KEYS = ("title", "product", "client")
_PRODUCT_KEYS = ("kind", "command", "target", "host", "timeout")
#: The keys each kind reads besides ``kind``, ``host`` and ``timeout``.
_KIND_KEYS: Mapping[ProductKind, tuple[str, ...]] = {
    ProductKind.CLIENT: ("command",),
    ProductKind.SERVER: ("target",),
    ProductKind.MANUAL: (),
}
_DEFAULT_TIMEOUT = dt.timedelta(seconds=10)
_HOST = re.compile(r"[A-Za-z0-9.:_-]+")


@dataclass(frozen=True)
class ProductProfile:
    """One profile, read and checked."""

    path: Path
    title: str
    kind: ProductKind
    client: ClientSettings = field(default_factory=ClientSettings)
    command: tuple[str, ...] = ()  # split, placeholders not yet filled
    target: tuple[str, int] | None = None
    host: str = "127.0.0.1"
    timeout: dt.timedelta = _DEFAULT_TIMEOUT

    @property
    def seconds(self) -> float:
        return self.timeout.total_seconds()

    def modes(self) -> tuple[bool, ...]:
        """The Common Criteria modes the model runs in: the profile's ``[client]`` decides."""
        return self.client.modes()

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "title": self.title,
            "kind": self.kind.value,
            "command": list(self.command) or None,
            "target": None if self.target is None else f"{self.target[0]}:{self.target[1]}",
            "host": self.host,
            "timeout": self.seconds,
            "common_criteria": self.client.common_criteria,
            "trust": list(self.client.trust),
        }


def command_line(command: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The argv to run: each argument with its placeholders filled in from ``values``.

    ``{ocsp_lab}`` as a whole argument becomes ``sys.executable -m
    lab.product.launcher``: the lab that runs the product run, whatever PATH
    holds (:mod:`lab.product.launcher`: ``ocsp-lab``, lean for ``connect``).
    """
    argv: list[str] = []
    for argument in command:
        if argument == "{ocsp_lab}":
            argv += [sys.executable, "-m", "lab.product.launcher"]
            continue
        argv.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], argument))
    return argv


def load_profile(path: str | Path) -> ProductProfile:
    """Read and check the profile at ``path`` (:class:`~lab.errors.ScenarioError` if wrong)."""
    file = str(path)
    data = read_toml_file(path, "product profile")
    _known(file, "", data, _TOP_KEYS)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or "\n" in title:
        raise ScenarioError(file, "title", 'a one-line title (title = "…")', title)
    product = data.get("product")
    if not isinstance(product, dict):
        raise ScenarioError(file, "product", "a table ([product]) with kind", product)
    _known(file, "product", product, _PRODUCT_KEYS)
    kind_value = product.get("kind")
    kinds = ", ".join(f'"{k.value}"' for k in ProductKind)
    if kind_value not in {k.value for k in ProductKind}:
        raise ScenarioError(file, "product.kind", f"one of {kinds}", kind_value)
    kind = ProductKind(kind_value)
    for key in _PRODUCT_KEYS:
        if key in ("kind", "host", "timeout") or key not in product:
            continue
        if key not in _KIND_KEYS[kind]:
            raise ScenarioError(file, f"product.{key}", f'no {key} with kind = "{kind.value}"')
    for key in _KIND_KEYS[kind]:
        if key not in product:
            raise ScenarioError(file, f"product.{key}", f'a {key} (kind = "{kind.value}")')
    command = _command(file, product["command"]) if "command" in product else ()
    target = _target(file, product["target"]) if "target" in product else None
    host = product.get("host", "127.0.0.1")
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise ScenarioError(file, "product.host", "a host name or IP address", host)
    timeout = _timeout(file, product.get("timeout", "10s"))
    client = read_client_table(file, "client", data.get("client", {}))
    return ProductProfile(
        path=Path(path),
        title=title,
        kind=kind,
        client=client,
        command=command,
        target=target,
        host=host,
        timeout=timeout,
    )


def _known(file: str, key: str, table: Mapping[str, object], allowed: Sequence[str]) -> None:
    for name in table:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise ScenarioError(file, where, f"one of the keys {', '.join(allowed)}")


def _command(file: str, value: object) -> tuple[str, ...]:
    expected = 'a command line, e.g. "gnutls-cli --ocsp -p {port} {host}"'
    if not isinstance(value, str):
        raise ScenarioError(file, "product.command", expected, value)
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise ScenarioError(file, "product.command", f"{expected} ({exc})", value) from None
    if not argv:
        raise ScenarioError(file, "product.command", expected, value)
    names = ", ".join(f"{{{n}}}" for n in PLACEHOLDERS)
    for argument in argv:
        for name in _PLACEHOLDER.findall(argument):
            if name not in PLACEHOLDERS:
                raise ScenarioError(
                    file, "product.command", f"placeholders among {names}", f"{{{name}}}"
                )
        if "{ocsp_lab}" in argument and argument != "{ocsp_lab}":
            raise ScenarioError(
                file, "product.command", "{ocsp_lab} as an argument of its own", argument
            )
    return tuple(argv)


def _target(file: str, value: object) -> tuple[str, int]:
    expected = "HOST:PORT with a port from 1 to 65535"
    if not isinstance(value, str):
        raise ScenarioError(file, "product.target", expected, value)
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ScenarioError(file, "product.target", expected, value)
    return host, int(port)


def _timeout(file: str, value: object) -> dt.timedelta:
    if not isinstance(value, str):
        raise ScenarioError(file, "product.timeout", POSITIVE_DURATION_EXPECTED, value)
    try:
        timeout = parse_duration(value)
    except TimeSpecError as exc:
        raise ScenarioError(file, "product.timeout", exc.expected, value) from None
    if not timeout:
        raise ScenarioError(file, "product.timeout", POSITIVE_DURATION_EXPECTED, value)
    return timeout
