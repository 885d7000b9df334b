"""The lab's one error hierarchy.

Every error a user can cause carries what a person needs to fix it; tests
assert on the structured fields, people read the message.
"""

from __future__ import annotations

__all__ = ["LabError", "ScenarioError", "UsageError"]


class LabError(Exception):
    """Base of every error the lab reports to a user (CLI exit 2 unless noted)."""

    exit_code = 2


class UsageError(LabError):
    """Bad command-line usage or an unreadable input file."""


class ScenarioError(LabError, ValueError):
    """A scenario file that does not follow SCENARIOS.md.

    ``file`` names the file, ``key`` the key path (``responder.faults.delay``,
    ``step[2].expect.status``) and ``expected`` what would have been accepted.
    """

    def __init__(self, file: str, key: str, expected: str, found: object = None) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.found = found
        where = f"{file}: {key}" if key else file
        got = "" if found is None else f", found {found!r}"
        super().__init__(f"{where}: expected {expected}{got}")
