"""The mentor's side: sessions and the Schedule tab (issues 3 and 4 make them editable)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from app.db import db
from app.services import directory, session_lists
from app.web.access import MENTOR, allow
from app.web.context import now, session_tab

bp = Blueprint("mentor", __name__, url_prefix="/mentor-hub")


@bp.get("/sessions")
@allow(MENTOR)
def sessions() -> Any:
    tabs = session_lists.sessions_for(db.session, current_user, as_mentor=True, now=now())
    return render_template("mentor/sessions.html", tabs=tabs, tab=session_tab())


@bp.get("/schedule")
@allow(MENTOR)
def schedule() -> Any:
    profile = current_user.mentor_profile
    return render_template(
        "mentor/schedule.html", profile=profile, rules=directory.weekly_hours(db.session, profile)
    )
