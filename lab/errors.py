"""The lab's one error hierarchy.

Every error a user can cause carries what a person needs to fix it; tests
assert on the structured fields, people read the message.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LabError", "ScenarioError", "ScenarioMistakes", "UsageError"]


class LabError(Exception):
    """Base of every error the lab reports to a user (CLI exit 2 unless noted)."""

    exit_code = 2

    @property
    def lines(self) -> tuple[str, ...]:
        """The message as the lines a person reads (one per mistake)."""
        return tuple(str(self).splitlines()) or ("",)


class UsageError(LabError):
    """Bad command-line usage or an unreadable input file (then named by ``file``)."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        super().__init__(message)


class ScenarioError(LabError, ValueError):
    """A scenario file that does not follow SCENARIOS.md.

    ``file`` names the file, ``key`` the key path (``responder.faults.delay``,
    ``step[2].expect.status``) and ``expected`` what would have been accepted.
    ``line`` and ``column`` (from 1) are given where TOML has them: for a file
    that is not valid TOML; a key path then says the rest.
    """

    def __init__(
        self,
        file: str,
        key: str,
        expected: str,
        found: object = None,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.found = found
        self.line = line
        self.column = column
        place = file
        if line is not None:
            place += f":{line}" + (f":{column}" if column is not None else "")
        where = f"{place}: {key}" if key else place
        got = "" if found is None else f", found {found!r}"
        super().__init__(f"{where}: expected {expected}{got}")

    @property
    def mistakes(self) -> tuple[ScenarioError, ...]:
        """Every mistake found in the file: this one alone."""
        return (self,)


class ScenarioMistakes(ScenarioError):
    """More than one mistake in one file, all of them, in the order found.

    The fields (``key``, ``expected``…) are the first mistake's, so a caller
    that handles one :class:`ScenarioError` still sees the first thing to fix;
    the message has one line per mistake.
    """

    def __init__(self, mistakes: Sequence[ScenarioError]) -> None:
        if len(mistakes) < 2:
            raise ValueError("ScenarioMistakes needs two mistakes or more")
        first = mistakes[0]
        super().__init__(
            first.file,
            first.key,
            first.expected,
            first.found,
            line=first.line,
            column=first.column,
        )
        self._mistakes = tuple(mistakes)
        self.args = ("\n".join(str(m) for m in self._mistakes),)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def mistakes(self) -> tuple[ScenarioError, ...]:
        """Every mistake found in the file."""
        return self._mistakes
