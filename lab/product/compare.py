"""The model beside the product: one :class:`Comparison` per scenario × mode × expectation.

The model is the lab's validator with the profile's ``[client]`` in place
of the scenario's, run directly (:func:`lab.runner.run_scenario`): its
``connection`` for each expectation is what the product should have done.
The scenario file's own ``[[expect]]`` values are not the oracle here — the
profile's settings may make them meaningless — only which certificate each
expectation presents, and when.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.outcome import Expectation
from lab.product.closing import close_now
from lab.product.observed import ProductObservation
from lab.product.profile import ProductProfile
from lab.runner import ScenarioResult, mode_name, run_scenario
from lab.scenario import ConnectionOutcome, Scenario

__all__ = [
    "Comparison",
    "ProductMode",
    "ProductScenarioResult",
    "model_connection",
    "run_model",
]


def run_model(
    scenario: Scenario,
    profile: ProductProfile,
    closer: Callable[[Callable[[], None]], None] = close_now,
) -> ScenarioResult:
    """The scenario run directly with the profile's ``[client]``: the oracle."""
    return run_scenario(
        dataclasses.replace(scenario, client=profile.client),
        stop=lambda lab: closer(lab.close),
    )


def model_connection(expectation: Expectation) -> ConnectionOutcome:
    """What the model decided for the connection of one expectation."""
    if expectation.actual.connection is not None:
        return expectation.actual.connection
    record = expectation.actual.record
    allowed = record is not None and record.allowed
    return ConnectionOutcome.ALLOWED if allowed else ConnectionOutcome.REFUSED


@dataclass(frozen=True)
class Comparison:
    """One expectation in one mode: the model's decision beside the product's."""

    label: str  # "expect[0]", or a step's label
    cert: str
    model: Expectation
    product: ProductObservation

    @property
    def expected(self) -> ConnectionOutcome:
        return model_connection(self.model)

    @property
    def agrees(self) -> bool:
        return self.expected is self.product.connection

    def model_words(self) -> str:
        """What the model decided and why: its evidence and policy row."""
        return f"{self.expected.value}: {self.model.actual.summary()}"

    def difference(self) -> str:
        """``expect[0] server: model refused, product allowed (completed, TLSv1.3)``."""
        return (
            f"{self.label} {self.cert}: model {self.expected.value}, "
            f"product {self.product.connection.value} ({self.product.why})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cert": self.cert,
            "agrees": self.agrees,
            "model": {
                "connection": self.expected.value,
                "decided_by": None
                if self.model.actual.record is None
                else self.model.actual.record.decided_by,
                "summary": self.model.actual.summary(),
                "check": None
                if self.model.actual.record is None
                else self.model.actual.record.to_json(),
            },
            "product": self.product.to_json(),
        }


@dataclass(frozen=True)
class ProductMode:
    """One scenario in one Common Criteria mode of the profile."""

    cc_on: bool
    comparisons: tuple[Comparison, ...]
    error: str | None = None  # the model (or the lab's set-up for the product) failed
    events: tuple[str, ...] = ()  # a timeline on the real clock: what happened when

    @property
    def mode(self) -> str:
        return mode_name(self.cc_on)

    @property
    def agrees(self) -> bool:
        return self.error is None and all(c.agrees for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "agrees": self.agrees,
            "error": self.error,
            "comparisons": [c.to_json() for c in self.comparisons],
            "events": list(self.events),
        }


@dataclass(frozen=True)
class ProductScenarioResult:
    """One scenario of a product run: skipped (and why), or every mode compared."""

    scenario: Scenario
    modes: tuple[ProductMode, ...] = ()
    skipped: str | None = None
    error: str | None = None  # could not be set up at all
    seconds: float = 0.0
    #: the product's own time (its processes or connections), out of ``seconds``
    product_seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return self.scenario.id

    @property
    def agrees(self) -> bool:
        return self.error is None and all(m.agrees for m in self.modes)

    @property
    def lab_seconds(self) -> float:
        """The lab's overhead: set-up, model and observation, without the product's time."""
        return max(self.seconds - self.product_seconds, 0.0)

    def differences(self) -> list[Comparison]:
        return [c for m in self.modes for c in m.comparisons if not c.agrees]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.scenario.id,
            "title": self.scenario.title,
            "path": str(self.scenario.path),
            "tags": list(self.scenario.tags),
            "agrees": self.agrees,
            "skipped": self.skipped,
            "error": self.error,
            "seconds": round(self.seconds, 4),
            "lab_seconds": round(self.lab_seconds, 4),
            "modes": [m.to_json() for m in self.modes],
        }
