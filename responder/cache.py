"""Pre-signed answers (RFC 5019 2.1.1 / 6.2): a request without a nonce costs no signature.

The cache key is the request DER itself: the same bytes ask the same CertIDs
without a nonce, and a dictionary lookup on bytes is the leanest path from a
request to a response. An entry holds the generation of the responder state
it was signed from (database version, configuration) and is reused until that
changes, or until 3/4 of its validity window (thisUpdate → nextUpdate) has
passed — RFC 5019 6.2 asks for fresh answers well before nextUpdate.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

from cryptography.x509.ocsp import OCSPResponseStatus

from responder.clock import Clock
from responder.protocol import Reply
from responder.source import Source

__all__ = ["CachingSource"]

#: Without nextUpdate a pre-signed answer is reused this long at most.
NO_NEXT_UPDATE_REUSE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class _Entry:
    reply: Reply
    generation: Hashable
    signed_at: dt.datetime
    refresh_at: dt.datetime


class CachingSource:
    """Wraps a :class:`Source`; keeps nonce-less successful answers, bounded LRU."""

    def __init__(
        self,
        inner: Source,
        *,
        generation: Callable[[], Hashable],
        clock: Clock,
        max_entries: int = 4096,
    ) -> None:
        self.inner = inner
        self._generation = generation
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, der: bytes) -> Reply | None:
        """The pre-signed reply for exactly these request bytes, if still usable."""
        entry = self._entries.get(der)
        if entry is None:
            return None
        now = self._clock()
        if (
            entry.generation != self._generation()
            or now >= entry.refresh_at
            or now < entry.signed_at  # the clock went back: never answer from the future
        ):
            return None
        self.hits += 1
        return entry.reply

    def respond(self, der: bytes) -> Reply:
        """From the cache when possible, else from the inner source (and remembered)."""
        cached = self.lookup(der)
        if cached is not None:
            return cached
        self.misses += 1
        generation = self._generation()
        reply = self.inner.respond(der)
        draft = reply.draft
        if reply.status is not OCSPResponseStatus.SUCCESSFUL or draft is None:
            return reply
        if draft.has_nonce or not draft.singles:
            return reply  # RFC 8954: a nonce asks for a fresh signature; no single, no window
        this_update = min(s.this_update for s in draft.singles)
        next_updates = [s.next_update for s in draft.singles if s.next_update is not None]
        if next_updates and len(next_updates) == len(draft.singles):
            refresh_at = this_update + (min(next_updates) - this_update) * 3 / 4
        else:
            refresh_at = this_update + NO_NEXT_UPDATE_REUSE
        entry = _Entry(replace(reply, cached=True), generation, this_update, refresh_at)
        with self._lock:
            self._entries[der] = entry
            self._entries.move_to_end(der)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return reply

    def clear(self) -> None:
        """Forget every pre-signed answer."""
        with self._lock:
            self._entries.clear()
