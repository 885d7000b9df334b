"""gunicorn's asyncio worker, with a bound on how long a request's headers may take.

gunicorn's asgi worker closes a connection that stays idle between two
requests (``keepalive``), but waits without end for the *first* request of a
connection: a client that connects and sends nothing, or never finishes its
headers (slowloris), holds a connection for good. This worker's protocol
arms a timer when a connection is made, cancels it once the first request's
headers are complete, and closes the connection when it fires — the way
gunicorn's keepalive timer closes it, which bounds every later request (it is
armed while the next request is awaited and cancelled only by its headers).

``serve`` names this class as its worker (``worker_class``); nothing else
of gunicorn's behaviour changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi
from gunicorn.workers.gasgi import ASGIWorker

__all__ = ["HEADER_TIMEOUT_S", "HeaderBoundProtocol", "LabAsgiWorker"]

#: Seconds a client may take from connecting (or from its last answer) to the
#: end of its request's headers.
HEADER_TIMEOUT_S = 10.0


class HeaderBoundProtocol(ASGIProtocol):  # type: ignore[misc]
    """gunicorn's HTTP/1 protocol; a connection whose headers do not come is closed."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.worker.loop.call_later(HEADER_TIMEOUT_S, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_headers_complete(self) -> Any:
        self._cancel_header_timer()
        return super()._on_headers_complete()

    def _header_timeout(self) -> None:
        self._header_timer = None
        self._keepalive_timeout()  # gunicorn's own close of an idle connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


class LabAsgiWorker(ASGIWorker):  # type: ignore[misc]
    """gunicorn's asgi worker serving :class:`HeaderBoundProtocol` connections."""

    def init_process(self) -> None:
        # The worker builds its servers with ``lambda: ASGIProtocol(self)``, a name it
        # looks up in its module at connection time: point it at the bounded protocol.
        gasgi.ASGIProtocol = HeaderBoundProtocol
        super().init_process()
