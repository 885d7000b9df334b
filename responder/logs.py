"""The responder's logs: text or one JSON object per line, admin actions, quiet drops.

Three loggers carry what an operator reads: ``responder.requests`` (one line
per OCSP request, :mod:`responder.requestlog`), ``responder.admin`` (every
change made through the admin page or API: revoke, hold, release, forget,
faults) and ``responder`` (errors). :func:`configure` writes them to stderr
as text or, with ``json``, as one JSON object per line whose fields a log
collector can index (``request`` / ``admin`` hold the structured record).

``down`` under gunicorn's asgi worker drops a connection by leaving the
response unfinished (:mod:`responder.asgi`); the worker then logs an ERROR
for each such connection. The request log already says ``answer=dropped``,
so :func:`mark_dropped` flags the connection and a filter on
``gunicorn.error`` drops that one line — and only for connections dropped on
purpose: an unfinished response for any other reason still logs its ERROR.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any, Literal, TextIO

__all__ = [
    "ADMIN_LOGGER",
    "LOG_FORMATS",
    "JsonFormatter",
    "admin_action",
    "configure",
    "mark_dropped",
]

#: Where admin actions are logged.
ADMIN_LOGGER = logging.getLogger("responder.admin")
#: What ``--log-format`` accepts.
LOG_FORMATS = ("text", "json")
_TEXT_FORMAT = "%(asctime)s [%(process)d] %(message)s"
# Record attributes every LogRecord has: the rest came as ``extra`` and go in the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# What gunicorn's asgi worker says of a response the application left unfinished.
_UNFINISHED = "ASGI application returned without completing the response"
_DROPPED: contextvars.ContextVar[bool] = contextvars.ContextVar("dropped", default=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class _PurposeDrops(logging.Filter):
    """Drops gunicorn's ERROR for a connection that ``down`` dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _DROPPED.get() and record.getMessage().startswith(_UNFINISHED):
            _DROPPED.set(False)
            return False
        return True


_purpose_drops = _PurposeDrops()


def mark_dropped() -> None:
    """This connection is dropped on purpose (``down``): its unfinished response is no error.

    Called in the task that serves the connection; gunicorn logs in the same
    task once the application returns, so the flag is seen there.
    """
    _DROPPED.set(True)


def configure(
    log_format: Literal["text", "json"] | str = "text",
    *,
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send the lab's logs to ``stream`` (stderr) in ``log_format``; the handler installed.

    Replaces the handler an earlier call installed (and only that one: a test
    runner's handlers stay), so calling it again does not double every line.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format: expected one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT)
    )
    handler._ocsp_lab = True  # type: ignore[attr-defined]  # ours, to replace next time
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ocsp_lab", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    gunicorn_errors = logging.getLogger("gunicorn.error")
    if _purpose_drops not in gunicorn_errors.filters:
        gunicorn_errors.addFilter(_purpose_drops)
    return handler


def admin_action(action: str, client: str | None, **details: Any) -> None:
    """Log one change made through the admin page or API (``revoke``, ``faults``…)."""
    shown = " ".join(
        f"{key}={json.dumps(value) if isinstance(value, dict | list) else value}"
        for key, value in details.items()
        if value is not None
    )
    ADMIN_LOGGER.info(
        "admin %s %s (from %s)",
        action,
        shown or "-",
        client or "-",
        extra={"admin": {"action": action, "client": client, **details}},
    )
