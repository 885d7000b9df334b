"""The status page's TLS section: the connections ``serve --tls`` logged, newest last.

The rows are plain JSON written by the lab (``lab.connection_story``: what
the peer did, in words) into the live state's ``connections`` table
(:class:`responder.store.ConnectionLog`); this module only reads them for the
feed, and tells the event stream when a new one came. A responder without a
live-state directory (scenario runs, tests in memory) has no TLS endpoint:
no rows.
"""

from __future__ import annotations

from typing import Any

from responder.app import LabResponder

__all__ = ["FEED_CONNECTIONS", "connections_mark", "recent_connections"]

#: The connections every feed carries (the page keeps what it has shown, by id).
FEED_CONNECTIONS = 30


def recent_connections(responder: LabResponder, limit: int = FEED_CONNECTIONS) -> list[Any]:
    """The newest ``limit`` connections, oldest first, each with its row ``id``."""
    store = responder.state.store
    if store is None:
        return []
    return [{**entry, "id": row_id} for row_id, entry in store.connections.recent(limit)]


def connections_mark(responder: LabResponder) -> int:
    """The newest connection's id (0: none): it moves when the endpoint logs one."""
    store = responder.state.store
    return 0 if store is None else store.connections.newest_id()
