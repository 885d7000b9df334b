"""A scenario's ``[[step]]``s on the real clock, for ``ocsp-lab serve`` (issue 13).

``serve`` has no connection of its own to open or judge: a product under test
does that. What it does run are the steps that change the responder —
``revoke``, ``hold``, ``release``, ``faults`` — at their offsets from the
moment serving starts, committed to the live state so every worker answers
with them. Each change, and what comes next and when, goes to the log
(``responder.timeline``), and the plan with each step's progress to the live
state (:class:`responder.store.TimelineBoard`), where every worker's status
page reads it. Steps that only open a connection, upload or check are
announced as what a product would be expected to see; nothing is simulated
for them. There is no speed-up: real products keep real time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lab.outcome import expected_json
from lab.runner import apply_change
from lab.scenario import Expect, Hold, Release, Revoke, Scenario, SetFaults, Step
from lab.timeline import step_label
from lab.timespec import format_offset
from responder.state import ResponderState, StateError, StorageError
from responder.store import TimelineBoard

__all__ = ["RealClockTimeline", "StepState", "expected_words", "planned"]

LOG = logging.getLogger("responder.timeline")
Changes = (Revoke, Hold, Release, SetFaults)


@dataclass(frozen=True)
class Planned:
    """One step as serve runs it: when (from start), its words, whether it changes anything."""

    at: dt.timedelta
    label: str
    changes: bool


class StepState(StrEnum):
    """Where a step is, as the status page's Timeline section shows it."""

    PENDING = "pending"  # its due time has not come
    DONE = "done"  # its change is committed: every worker answers with it
    FAILED = "failed"  # its change could not be made (the error says why)
    PRODUCT = "product"  # a connection, upload or check: the product's part, not the lab's


def expected_words(expect: Expect | None) -> str:
    """What a step expects, in words: ``connection allowed`` (``… (CC ON) / … (CC OFF)``)."""
    if expect is None:
        return "nothing checked"
    on, off = expected_json(expect, True), expected_json(expect, False)
    words = [
        f"{key} {on[key]}"
        if on[key] == off[key]
        else f"{key} {on[key]} (CC ON) / {off[key]} (CC OFF)"
        for key in on
        if key != "cert"
    ]
    return f"{expect.cert}: " + (", ".join(words) or "nothing checked")


def _utc(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z"


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
        board: TimelineBoard | None = None,
    ) -> None:
        self.scenario = scenario
        self.state = state
        self._now = now
        # The page's copy of the plan: through the state's own store (never a worker's).
        self._board = board or (state.store.timeline if state.store is not None else None)
        self._steps: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)
        self.started: dt.datetime | None = None
        self.done: list[str] = []  # labels of the steps run, in order

    def start(self) -> None:
        self.started = self._now()
        steps = planned(self.scenario)
        self._steps = [self._entry(i, step) for i, step in enumerate(self.scenario.steps)]
        if steps:
            LOG.warning("timeline: %d step(s); %s", len(steps), self._next_words(0))
            self._publish(0)
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

    def _entry(self, index: int, step: Step) -> dict[str, Any]:
        """One step of the plan as the page shows it (plain JSON: the responder reads it)."""
        assert self.started is not None
        due = self.started + step.at
        changes = isinstance(step.action, Changes)
        return {
            "index": index,
            "label": step_label(index, step),
            "at": format_offset(step.at),
            "due": _utc(due),
            "due_t": due.timestamp(),
            "part": "lab" if changes else "product",
            "expected": None if changes else expected_words(step.expect),
            "state": StepState.PENDING.value,
            "error": None,
            "ran": None,
            "ran_t": None,
        }

    def plan(self, next_index: int) -> dict[str, Any]:
        """The whole plan and its progress; ``next_index`` is the step that comes next."""
        assert self.started is not None
        return {
            "title": self.scenario.title,
            "started": _utc(self.started),
            "started_t": self.started.timestamp(),
            "steps": [dict(step) for step in self._steps],
            "next": next_index if next_index < len(self._steps) else None,
        }

    def _publish(self, next_index: int) -> None:
        if self._board is None:
            return
        try:
            self._board.write(self.plan(next_index))
        except StorageError as exc:
            # The page goes stale; the timeline itself, and its log lines, go on.
            LOG.warning("timeline: the status page's copy of the plan not updated: %s", exc)

    def _mark(self, index: int, state: StepState, error: str | None = None) -> None:
        ran = self._now()
        self._steps[index].update(
            state=state.value, error=error, ran=_utc(ran), ran_t=ran.timestamp()
        )
        self._publish(index + 1)

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
                self._mark(index, StepState.FAILED, str(exc))
            else:
                LOG.warning("timeline: %s done; %s", label, self._next_words(index + 1))
                self._mark(index, StepState.DONE)
        else:
            # A product's part: serve has no connection to open or check.
            LOG.warning(
                "timeline: %s is the product's part (expected: %s); %s",
                label,
                expected_words(step.expect),
                self._next_words(index + 1),
            )
            self._mark(index, StepState.PRODUCT)
        self.done.append(label)
