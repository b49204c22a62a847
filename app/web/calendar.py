"""Calendar files: one session's .ics for its participants, and the personal subscription feed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, make_response, redirect, url_for
from flask_login import current_user

from app.db import db
from app.models import Booking, User
from app.services import calendar_feed, calendar_ics
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import now, request_context

bp = Blueprint("calendar", __name__)


def _host() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "mentorhub"


def _session_url(booking: Booking) -> str:
    return current_app.config["BASE_URL"] + url_for("mentor.session_detail", booking_id=booking.id)


def _ics(body: bytes, filename: str | None = None) -> Any:
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, no-store"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def feed_url(user: User) -> str:
    token = calendar_feed.token_for(user, current_app.config["SECRET_KEY"])
    return current_app.config["BASE_URL"] + url_for("calendar.feed", token=token)


@bp.get("/mentor-hub/sessions/<int:booking_id>.ics")
@allow(SIGNED_IN)
def session_ics(booking_id: int) -> Any:
    booking = db.session.get(Booking, booking_id)
    # Not yours: the same answer as not there, so ids reveal nothing.
    if booking is None or not calendar_feed.can_view_session(current_user, booking):
        abort(404)
    body = calendar_ics.single(booking, host=_host(), session_url=_session_url(booking), now=now())
    return _ics(body, f"mentorhub-session-{booking.id}.ics")


@bp.get("/calendar/feed/<token>.ics")
@allow(PUBLIC)  # the secret token in the address is the credential (calendar apps cannot sign in)
def feed(token: str) -> Any:
    user = calendar_feed.user_for_token(db.session, token, current_app.config["SECRET_KEY"])
    if user is None:
        abort(404)
    moment = now()
    bookings = calendar_feed.sessions_for(db.session, user, now=moment)
    body = calendar_ics.feed(
        [(b, _session_url(b)) for b in bookings],
        host=_host(),
        name=f"MentorHub: {user.name}",
        now=moment,
    )
    return _ics(body)


@bp.post("/account/calendar-feed")
@allow(SIGNED_IN)
def regenerate_feed() -> Any:
    calendar_feed.regenerate(db.session, current_user, now=now(), context=request_context())
    db.session.commit()
    flash(
        "Your calendar has a new address. The old one no longer works: "
        "update your calendar app with the address below.",
        "success",
    )
    return redirect(url_for("account.settings") + "#calendar-feed")
