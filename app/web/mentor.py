"""The mentor's side: the sessions list (issue 4 makes it a sessions manager)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from app.db import db
from app.services import session_lists
from app.web.access import MENTOR, allow
from app.web.context import now, session_tab

bp = Blueprint("mentor", __name__, url_prefix="/mentor-hub")


@bp.get("/sessions")
@allow(MENTOR)
def sessions() -> Any:
    tabs = session_lists.sessions_for(db.session, current_user, as_mentor=True, now=now())
    return render_template("mentor/sessions.html", tabs=tabs, tab=session_tab())
