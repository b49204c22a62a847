"""Per-request plumbing: request id, the clock, audit context, HTMX and time helpers."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, after_this_request, current_app, g, request
from flask_login import current_user

from app.db import begin_write, db
from app.services.audit import RequestContext
from app.services.booking import BookingPolicy
from app.services.clock import Clock
from app.services.meeting_links import parse_domains
from app.services.timezones import to_local

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger(__name__)


def clock() -> Clock:
    return current_app.extensions["mentorhub.clock"]  # type: ignore[no-any-return]


def now() -> dt.datetime:
    return clock().now()


def after_response(work: Callable[[], None]) -> None:
    """Run `work` once this request's response has been sent, in the same worker thread,
    in an app context of its own (the request's is gone by then): for refreshes nobody
    should wait for (app/services/computed_cache.py). A failure is logged, never raised:
    the visitor already has their page."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:
                log.exception("work after the response failed")

    @after_this_request
    def _schedule(response: Response) -> Response:
        # WSGI servers close the response after its last byte is written.
        response.call_on_close(run)
        return response


def request_context() -> RequestContext:
    return RequestContext(ip=request.remote_addr, request_id=g.get("request_id"))


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: '/x' yes; '//evil', 'https://evil', '/\\evil' no."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t"):
        return None
    return target


def viewer_timezone() -> str:
    if current_user.is_authenticated:
        return str(current_user.timezone)
    return str(current_app.config["DEFAULT_TIMEZONE"])


def format_local(
    moment: dt.datetime | None, fmt: str = "%a %d %b %Y, %H:%M", tz: str | None = None
) -> str:
    """A UTC moment on the viewer's wall clock, with the zone named."""
    if moment is None:
        return ""
    zone_name = tz or viewer_timezone()
    local = to_local(moment, zone_name)
    return f"{local.strftime(fmt)} {local.strftime('%Z')}"


def format_soon(moment: dt.datetime | None, tz: str | None = None) -> str:
    """A near moment for a card: "Today 14:00 CET", "Tomorrow 09:30 CET", "Tue 24 Nov
    14:00 CET", on the viewer's wall clock."""
    if moment is None:
        return ""
    zone_name = tz or viewer_timezone()
    local = to_local(moment, zone_name)
    today = to_local(now(), zone_name).date()
    if local.date() == today:
        day = "Today"
    elif local.date() == today + dt.timedelta(days=1):
        day = "Tomorrow"
    else:
        day = local.strftime("%a %d %b")
    return f"{day} {local.strftime('%H:%M %Z')}"


def init_request_context(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.before_request
    def _writers_start_as_writers() -> None:
        # On SQLite a transaction that reads and then writes fails at once ("database is
        # locked") when another request wrote in between, and busy_timeout cannot help
        # it. Every state-changing request therefore starts as a writer (BEGIN IMMEDIATE,
        # waiting its turn) before anything reads; PostgreSQL needs nothing here.
        if request.method not in ("GET", "HEAD", "OPTIONS") and not db.session().in_transaction():
            begin_write(db.session())

    @app.after_request
    def _echo_request_id(response: Any) -> Any:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response


SESSION_TABS = ("upcoming", "past", "cancelled")


def session_tab() -> str:
    """The sessions tab named in ?tab=, defaulting to upcoming."""
    tab = request.args.get("tab", "upcoming")
    return tab if tab in SESSION_TABS else "upcoming"


def start_write() -> None:
    """Begin the transaction of a request that checks and then writes.

    The request has already read (the signed-in user); that read transaction ends here, and
    the write transaction starts with the write lock on SQLite (BEGIN IMMEDIATE), so the
    service's check and its write see no writer in between. Load what the service checks
    after this call.
    """
    db.session.commit()
    begin_write(db.session())


def booking_policy() -> BookingPolicy:
    cfg = current_app.config
    return BookingPolicy(
        max_active_per_mentee=cfg["BOOKING_MAX_ACTIVE_PER_MENTEE"],
        max_new_per_hour=cfg["BOOKING_MAX_NEW_PER_HOUR"],
        mentee_cutoff_hours=cfg["MENTEE_CUTOFF_HOURS"],
        attendance_window_days=cfg["ATTENDANCE_WINDOW_DAYS"],
        meeting_domains=parse_domains(cfg.get("MEETING_DOMAINS")),
    )
