"""Durations and offsets as scenario files write them: :mod:`responder.timespec`.

The grammar lives in the responder package because the admin API and the
state file speak it too, and ``responder`` may not import ``lab``; the
scenario loader and the commands keep importing it from here.
"""

from __future__ import annotations

from responder.timespec import (
    DURATION_EXPECTED,
    OFFSET_EXPECTED,
    POSITIVE_DURATION_EXPECTED,
    TimeSpecError,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
)

__all__ = [
    "DURATION_EXPECTED",
    "OFFSET_EXPECTED",
    "POSITIVE_DURATION_EXPECTED",
    "TimeSpecError",
    "format_duration",
    "format_offset",
    "parse_duration",
    "parse_offset",
]
