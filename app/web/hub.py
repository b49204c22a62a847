"""The public landing page and the mentee's side: directory, mentor profiles, my sessions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import booking_calendar, directory, program_stats, schedule, session_lists
from app.services.timezones import to_local, zone_abbreviation
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import is_htmx, now, session_tab

bp = Blueprint("hub", __name__)


@bp.get("/")
@allow(PUBLIC)
def index() -> Any:
    return redirect(url_for("hub.landing"))


@bp.get("/mentor-hub")
@allow(PUBLIC)
def landing() -> Any:
    return render_template(
        "hub/landing.html",
        numbers=program_stats.program_numbers(db.session),
        expertise=program_stats.popular_expertise(db.session),
    )


@bp.get("/mentor-hub/mentors")
@allow(SIGNED_IN)
def mentors() -> Any:
    page = directory.search_mentors(
        db.session,
        query=request.args.get("q", ""),
        expertise_slug=request.args.get("expertise", ""),
    )
    template = "hub/_mentor_results.html" if is_htmx() else "hub/mentors.html"
    return render_template(template, page=page, tags=directory.all_expertise(db.session))


@bp.get("/mentor-hub/mentors/<int:mentor_id>")
@allow(SIGNED_IN)
def mentor_profile(mentor_id: int) -> Any:
    profile = directory.approved_profile(db.session, mentor_id)
    if profile is None:
        abort(404)
    return _mentor_page(profile, booking_calendar.clamp_week(request.args.get("week")))


def _calendar_context(profile: Any, index: int) -> dict[str, Any]:
    moment = now()
    first_name = profile.user.name.split(" ")[0]
    return {
        "profile": profile,
        "week": booking_calendar.week(db.session, profile, current_user, now=moment, index=index),
        "zone_gap": booking_calendar.zone_gap_sentence(
            first_name,
            booking_calendar.zone_gap(profile.timezone, current_user.timezone, moment),
        ),
        "first_name": first_name,
        "clock_time": lambda when, tz: to_local(when, tz).strftime("%H:%M"),
        "zone_abbr": zone_abbreviation,
        "now": moment,
    }


def _mentor_page(profile: Any, index: int) -> Any:
    return render_template(
        "hub/mentor_profile.html",
        rules=schedule.weekly_rules(db.session, profile),
        **_calendar_context(profile, index),
    )


@bp.get("/mentor-hub/mentors/<int:mentor_id>/calendar")
@allow(SIGNED_IN)
def mentor_calendar(mentor_id: int) -> Any:
    """One week of the mentor's free times (?week=0..3); HTMX gets only the calendar."""
    profile = directory.approved_profile(db.session, mentor_id)
    if profile is None:
        abort(404)
    index = booking_calendar.clamp_week(request.args.get("week"))
    if not is_htmx():
        return _mentor_page(profile, index)
    return render_template("hub/_calendar.html", **_calendar_context(profile, index))


@bp.get("/mentor-hub/bookings")
@allow(SIGNED_IN)
def my_sessions() -> Any:
    tabs = session_lists.sessions_for(db.session, current_user, as_mentor=False, now=now())
    return render_template("hub/my_sessions.html", tabs=tabs, tab=session_tab())
