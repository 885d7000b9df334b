"""An in-process threaded HTTP server for tests and scenario runs.

``InProcessServer(app)`` binds a loopback port (0: the kernel picks one),
serves on a background thread, one thread per connection, and exposes its
``url``. A connection that sends nothing, or half a request, ties up only
its own thread, and only until the socket timeout.

``down`` (SCENARIOS.md: "nothing listens: connection refused") is honoured
for real: when the responder state's faults turn ``down`` on, the server
stops and closes its listening socket, so a connect gets RST; when they turn
it off again, it binds the same port anew. An admin request that sets
``down`` is still answered: only the listening socket closes.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from responder.app import lab_responder
from responder.config import Faults

__all__ = ["InProcessServer", "serve_on_a_free_port"]

_log = logging.getLogger("responder.server")


class _RequestHandler(WSGIRequestHandler):
    #: Seconds a connection may stay silent (socketserver applies it to the socket).
    timeout = 10

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The responder logs each OCSP request itself; werkzeug's line would repeat it."""

    def log_error(self, format: str, *args: Any) -> None:
        _log.debug(format, *args)


class InProcessServer:
    """A threaded werkzeug server for ``app`` on ``host``:``port`` (0 = any free port)."""

    def __init__(
        self, app: Flask, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10
    ) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._timeout = timeout
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._started = False
        lab_responder(app).state.on_faults(self._on_faults)

    # ---- lifecycle --------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/`` — the responder's URL."""
        return f"http://{self.host}:{self._port}/"

    def start(self) -> InProcessServer:
        """Bind and serve on a background thread (unless the ``down`` fault is on)."""
        with self._lock:
            self._started = True
            if not lab_responder(self.app).state.faults.down:
                self._listen()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        with self._lock:
            self._started = False
            self._close()

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- the socket -------------------------------------------------------------------

    def _listen(self) -> None:
        if self._server is not None:
            return
        handler = type("_Handler", (_RequestHandler,), {"timeout": self._timeout})
        server = make_server(
            self.host, self._port, self.app, threaded=True, request_handler=handler
        )
        server.daemon_threads = True  # type: ignore[attr-defined]  # stop() never waits
        self._port = server.server_port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ocsp-responder:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _on_faults(self, faults: Faults) -> None:
        # Called on the thread that changed the faults: never the serve_forever thread
        # (each connection has its own thread), so shutdown() cannot deadlock.
        with self._lock:
            if not self._started:
                return
            if faults.down:
                self._close()
            else:
                self._listen()


def serve_on_a_free_port(
    build: Callable[[str], Flask], *, host: str = "127.0.0.1", attempts: int = 5
) -> tuple[Flask, InProcessServer]:
    """Build the app for ``http://host:<free port>/`` (its AIA URL names the port) and serve it.

    The port is probed first, since the PKI must know its URL before the
    server binds; another process taking the port in between means another
    try with another port.
    """
    for attempt in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        app = build(f"http://{host}:{port}/")
        server = InProcessServer(app, host=host, port=port)
        try:
            server.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            continue
        return app, server
    raise AssertionError("unreachable")  # the last attempt returns or raises
