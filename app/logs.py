"""Logging: one line per request and per job run, JSON in production, text in development.

`configure_logging(app)` (called by the app factory) puts one handler on the root logger,
writing to stdout: JSON lines (LOG_FORMAT=json, the production default) or readable text
(LOG_FORMAT=text, the default in development and tests). Every line written while a
request is handled carries that request's id (`RequestIdFilter`), and every line has
email addresses masked, whatever a message or exception says.

Request lines (logger "mentorhub.request") name the route by its URL rule, never the raw
path or query string: paths can carry calendar-feed and sign-in tokens. Static files and
/healthz (polled by load balancers) are logged at DEBUG, so they are off at the default
LOG_LEVEL=INFO. Job lines (logger "mentorhub.jobs") come from app/jobs.py; a run that
handled no rows, raised nothing and took under a second is also DEBUG (otherwise every
tick would write ten idle lines).

Never pass emails, notes or message bodies to a log call: only ids and counts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from typing import IO, Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect

request_log = logging.getLogger("mentorhub.request")
job_log = logging.getLogger("mentorhub.jobs")

FORMATS = ("json", "text")
# Good enough to find an address anywhere in free text; errs towards masking.
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
EMAIL_MASK = "[email]"
# Endpoints whose request lines are DEBUG: assets and the load balancer's poll.
QUIET_ENDPOINTS = frozenset({"static", "health.healthz"})
# A job run under this, with no rows and no error, is idle: DEBUG, not INFO.
IDLE_JOB_MS = 1000.0
HANDLER_NAME = "mentorhub"
# Third-party loggers that talk at INFO about nothing an operator needs.
QUIET_LOGGERS = ("alembic.runtime.plugins",)

# The attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def mask_emails(text: str) -> str:
    return EMAIL_RE.sub(EMAIL_MASK, text)


def log_format(config: dict[str, Any]) -> str:
    """LOG_FORMAT when set, else JSON in production and text elsewhere."""
    chosen = str(config.get("LOG_FORMAT") or "").strip().lower()
    if chosen:
        if chosen not in FORMATS:
            raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, got {chosen!r}")
        return chosen
    return "json" if config.get("ENV_NAME") == "production" else "text"


def log_level(config: dict[str, Any]) -> int:
    """LOG_LEVEL when set, else INFO (WARNING under tests, which read lines through caplog)."""
    name = str(config.get("LOG_LEVEL") or "").strip().upper()
    if not name:
        return logging.WARNING if config.get("ENV_NAME") == "testing" else logging.INFO
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL {name!r} is not a logging level")
    return level


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the current request's id, else None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and key != "request_id" and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, the `extra` fields,
    and `exc` (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return mask_emails(json.dumps(entry, default=str, separators=(",", ":")))


class TextFormatter(logging.Formatter):
    """`2026-11-18 15:00:01,123 INFO mentorhub.request [req-id] request method=GET ...`."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or "-"
        line = (
            f"{self.formatTime(record)} {record.levelname} {record.name} [{request_id}] "
            f"{record.getMessage()}"
        )
        extra = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        elif record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return mask_emails(line)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (test runners swap it)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stdout

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def make_handler(stream: IO[str] | None, fmt: str) -> logging.Handler:
    """The app's handler: `fmt` lines to `stream`, or to stdout when None."""
    handler = _StdoutHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.set_name(HANDLER_NAME)
    return handler


def configure_logging(app: Flask) -> None:
    """Replace this module's root handler (if an earlier app put one) and hook requests."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(make_handler(None, log_format(app.config)))
    root.setLevel(log_level(app.config))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    init_request_logging(app)


def signed_in_user_id() -> int | None:
    """The id of the user Flask-Login already loaded for this request; never a query."""
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return int(state.identity[0])
    return None


def init_request_logging(app: Flask) -> None:
    """Registered before the other hooks: the start time is taken first and, since Flask
    runs after_request hooks in reverse, the line is written after every other hook."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Any) -> Any:
        started = g.get("request_started")
        duration_ms = None if started is None else (time.perf_counter() - started) * 1000
        endpoint = request.endpoint
        level = logging.DEBUG if endpoint in QUIET_ENDPOINTS else logging.INFO
        if request_log.isEnabledFor(level):
            rule = request.url_rule
            request_log.log(
                level,
                "request",
                extra={
                    "method": request.method,
                    "route": rule.rule if rule is not None else None,
                    "endpoint": endpoint,
                    "status": response.status_code,
                    "duration_ms": None if duration_ms is None else round(duration_ms, 1),
                    "user_id": signed_in_user_id(),
                },
            )
        return response


def log_job_run(
    job: str, *, rows: int, started: float, error: BaseException | None = None, **more: Any
) -> None:
    """The line for one job run; `started` is a time.perf_counter() reading."""
    duration_ms = (time.perf_counter() - started) * 1000
    idle = not rows and error is None and duration_ms < IDLE_JOB_MS
    # A failure is WARNING here: the caller's log.exception already wrote the traceback
    # at ERROR (and that is what error tracking turns into an event).
    level = logging.WARNING if error is not None else logging.DEBUG if idle else logging.INFO
    job_log.log(
        level,
        "job run",
        extra={
            "job": job,
            "rows": rows,
            "duration_ms": round(duration_ms, 1),
            "error": None if error is None else f"{type(error).__name__}: {error}",
            **more,
        },
    )
