"""``-k EXPR``: choose scenarios by keyword, as pytest's ``-k`` does.

A keyword matches a scenario when it is a case-insensitive substring of its
id, its title or one of its tags. Keywords combine with ``and``, ``or``,
``not`` and parentheses: ``-k "trp and not revoked"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lab.errors import UsageError
from lab.scenario import Scenario

__all__ = ["keyword_filter"]

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
Matcher = Callable[[Scenario], bool]


def _words(scenario: Scenario) -> tuple[str, ...]:
    return (scenario.id.lower(), scenario.title.lower(), *(t.lower() for t in scenario.tags))


class _Parser:
    """expr := term ('or' term)*; term := factor ('and' factor)*; factor := 'not' factor | ( expr ) | word."""  # noqa: E501

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _TOKEN.findall(expression)
        self.position = 0

    def fail(self, why: str) -> UsageError:
        return UsageError(f"-k {self.expression!r}: {why}")

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail("ends too early (expected a keyword, 'not' or '(')")
        self.position += 1
        return token

    def parse(self) -> Matcher:
        if not self.tokens:
            raise self.fail("empty expression")
        matcher = self.expr()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")
        return matcher

    def expr(self) -> Matcher:
        left = self.term()
        while self.peek() == "or":
            self.take()
            right = self.term()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def term(self) -> Matcher:
        left = self.factor()
        while self.peek() == "and":
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def factor(self) -> Matcher:
        token = self.take()
        if token == "not":
            inner = self.factor()
            return lambda s: not inner(s)
        if token == "(":
            inner = self.expr()
            if self.take() != ")":
                raise self.fail("a '(' without its ')'")
            return inner
        if token in (")", "and", "or"):
            raise self.fail(f"unexpected {token!r} (expected a keyword, 'not' or '(')")
        word = token.lower()
        return lambda s: any(word in text for text in _words(s))


def keyword_filter(expression: str) -> Matcher:
    """A predicate for ``-k EXPR``; :class:`UsageError` for an expression that does not parse."""
    return _Parser(expression).parse()
