"""The status page's Timeline section: the plan ``serve SCENARIO`` runs on the real clock.

The plan is plain JSON written by the lab (``lab.serve_timeline``: each
step's label, its due time, and whether it is pending, done, failed or the
product's part) into the live state's ``timeline`` row
(:class:`responder.store.TimelineBoard`); this module only reads it for the
feed, adds the responder's clock so the page can say "in 4 min" whatever the
browser's own clock says, and tells the event stream when it moved. A
responder without a live-state directory, or a scenario without steps,
serves no timeline: ``None``.
"""

from __future__ import annotations

from typing import Any

from responder.app import LabResponder

__all__ = ["timeline_document", "timeline_mark"]


def timeline_document(responder: LabResponder) -> dict[str, Any] | None:
    """The served timeline's plan and progress, with ``now_t`` (the responder's clock)."""
    store = responder.state.store
    if store is None:
        return None
    plan = store.timeline.read()
    if plan is None:
        return None
    # The page counts down from the responder's clock, not the browser's (another machine).
    return {**plan, "now_t": responder.clock().timestamp()}


def timeline_mark(responder: LabResponder) -> int:
    """The plan's revision (0: none): it moves each time the timeline writes its progress."""
    store = responder.state.store
    return 0 if store is None else store.timeline.revision()
