"""Closing servers off the product run's path: each close on a thread, all joined at the end.

A werkzeug server's shutdown waits up to its poll interval and a TLS
endpoint's accept loop looks at its stop flag every 0.2 s: closed in line,
they would be most of the lab's overhead per scenario (bench/product_run.py).
What they served is recorded before they are handed here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Closer", "close_now"]


def close_now(close: Callable[[], None]) -> None:
    """The default: close in line."""
    close()


class Closer:
    """``closer(server.stop)`` runs it on a daemon thread; :meth:`join` waits for them all."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, close: Callable[[], None]) -> None:
        thread = threading.Thread(target=close, name="product-close", daemon=True)
        thread.start()
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def join(self, timeout: float = 10.0) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
