"""Admin monitoring (issue 7 adds periods, charts, tables and exports)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.db import db
from app.services import program_stats
from app.web.access import ADMIN, allow

bp = Blueprint("admin", __name__, url_prefix="/admin/mentorship")


@bp.get("")
@allow(ADMIN)
def overview() -> Any:
    return render_template("admin/overview.html", overview=program_stats.admin_overview(db.session))
