"""How a command judges an answer: the options ``check`` and ``inspect`` share, read once.

Both commands answer "would Unified CM refuse this?", so both take the same
switches, with the same defaults and words as the scenario format's
``[client]`` table (SCENARIOS.md): ``--cc on|off`` (``common_criteria``),
``--soft-fail`` / ``--hard-fail`` (``soft_fail``; unset follows Common
Criteria, :attr:`lab.policy.Policy.effective_soft_fail`), ``--clock-skew``
(``clock_skew``) and ``--require-nonce`` (``require_nonce``). One function
turns them into the :class:`~lab.policy.Policy` and one into the
:class:`~lab.validator.ValidationOptions`, so the two commands cannot drift.

Exit codes are those of ``check``: 0 allowed, 1 refused, 2 bad usage or an
unreadable input (:func:`exit_code`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from lab.policy import Policy, Verdict
from lab.timespec import TimeSpecError, parse_duration
from lab.validator import ValidationOptions

__all__ = [
    "add_judging_arguments",
    "add_trust_argument",
    "duration",
    "exit_code",
    "policy_of",
    "validation_of",
]

_DEFAULT_SKEW = ValidationOptions().clock_skew


def duration(text: str) -> dt.timedelta:
    """An argparse type: a duration as scenario files write it (``5s``, ``500ms``, ``2m``)."""
    try:
        return parse_duration(text)
    except TimeSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_trust_argument(parser: Any) -> None:
    """``--trust FILE`` (repeatable): the trust store, as ``[client].trust`` names it."""
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="FILE",
        help="trust store certificates: CAs, and designated OCSP signers for TRP (repeatable)",
    )


def add_judging_arguments(parser: Any) -> None:
    """Add ``--cc``, ``--soft-fail``/``--hard-fail``, ``--clock-skew``, ``--require-nonce``."""
    parser.add_argument(
        "--cc", choices=("on", "off"), default="on", help="Common Criteria mode (default on)"
    )
    fail = parser.add_mutually_exclusive_group()
    fail.add_argument(
        "--soft-fail",
        dest="soft_fail",
        action="store_const",
        const=True,
        help="allow when no trustworthy answer comes (default: when --cc off)",
    )
    fail.add_argument(
        "--hard-fail",
        dest="soft_fail",
        action="store_const",
        const=False,
        help="refuse when no trustworthy answer comes (default: when --cc on)",
    )
    parser.add_argument(
        "--clock-skew",
        type=duration,
        default=_DEFAULT_SKEW,
        metavar="DURATION",
        help="tolerance for thisUpdate in the future and nextUpdate in the past "
        f"(default {int(_DEFAULT_SKEW.total_seconds() // 60)}m)",
    )
    parser.add_argument(
        "--require-nonce", action="store_true", help="refuse an answer without the nonce"
    )
    parser.set_defaults(soft_fail=None)


def policy_of(args: argparse.Namespace) -> Policy:
    """The policy the options ask for (``soft_fail`` None: it follows Common Criteria)."""
    return Policy(common_criteria=args.cc == "on", soft_fail=args.soft_fail)


def validation_of(args: argparse.Namespace) -> ValidationOptions:
    """The validator's knobs the options set; the others keep their defaults."""
    return ValidationOptions(require_nonce=args.require_nonce, clock_skew=args.clock_skew)


def exit_code(verdict: Verdict) -> int:
    """``check``'s exit code for a verdict: 0 allowed, 1 refused."""
    return 0 if verdict.allowed else 1
