"""A scenario's ``[[step]]``s on the real clock, for ``ocsp-lab serve`` (issue 13).

``serve`` has no connection of its own to open or judge: a product under test
does that. What it does run are the steps that change the responder —
``revoke``, ``hold``, ``release``, ``faults`` — at their offsets from the
moment serving starts, committed to the live state so every worker answers
with them. Each change, and what comes next and when, goes to the log
(``responder.timeline``). Steps that only open a connection, upload or check
are announced as what a product would be expected to see; nothing is
simulated for them. There is no speed-up: real products keep real time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lab.runner import apply_change
from lab.scenario import Hold, Release, Revoke, Scenario, SetFaults, Step
from lab.timeline import step_label
from lab.timespec import format_offset
from responder.state import ResponderState, StateError, StorageError

__all__ = ["RealClockTimeline", "planned"]

LOG = logging.getLogger("responder.timeline")
Changes = (Revoke, Hold, Release, SetFaults)


@dataclass(frozen=True)
class Planned:
    """One step as serve runs it: when (from start), its words, whether it changes anything."""

    at: dt.timedelta
    label: str
    changes: bool


def planned(scenario: Scenario) -> list[Planned]:
    """The steps of ``scenario`` in order, each with its offset and its label."""
    return [
        Planned(step.at, step_label(i, step), isinstance(step.action, Changes))
        for i, step in enumerate(scenario.steps)
    ]


class RealClockTimeline:
    """Runs ``scenario``'s changing steps at start + ``at`` (a daemon thread)."""

    def __init__(
        self,
        scenario: Scenario,
        state: ResponderState,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.scenario = scenario
        self.state = state
        self._now = now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)
        self.started: dt.datetime | None = None
        self.done: list[str] = []  # labels of the steps run, in order

    def start(self) -> None:
        self.started = self._now()
        steps = planned(self.scenario)
        if steps:
            LOG.warning("timeline: %d step(s); %s", len(steps), self._next_words(0))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _next_words(self, index: int) -> str:
        steps = planned(self.scenario)
        if index >= len(steps):
            return "no step comes next"
        step = steps[index]
        assert self.started is not None
        when = self.started + step.at
        return f"next: {step.label} at {when:%Y-%m-%d %H:%M:%S}Z ({format_offset(step.at)})"

    def _run(self) -> None:
        assert self.started is not None
        for index, step in enumerate(self.scenario.steps):
            due = self.started + step.at
            while not self._stop.is_set():
                left = (due - self._now()).total_seconds()
                if left <= 0:
                    break
                self._stop.wait(min(left, 1.0))  # bounded: a stop is seen within a second
            if self._stop.is_set():
                return
            self._run_step(index, step)

    def _run_step(self, index: int, step: Step) -> None:
        label = step_label(index, step)
        action = step.action
        if isinstance(action, Changes):
            try:
                apply_change(self.state, action, self._now())
            except (StateError, StorageError) as exc:
                LOG.error("timeline: %s could not be made: %s", label, exc)
            else:
                LOG.warning("timeline: %s done; %s", label, self._next_words(index + 1))
        else:
            # A product's part: serve has no connection to open or check.
            LOG.warning(
                "timeline: %s is the product's part (expected: %s); %s",
                label,
                step.expect or "nothing checked",
                self._next_words(index + 1),
            )
        self.done.append(label)
