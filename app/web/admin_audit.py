"""The audit trail for admins (/admin/mentorship/audit): read-only, newest first.

Filter by actor (name or email), action, entity type (and id) and a date range in the
admin's zone; paged; a fixed number of queries whatever the trail's size. There is no
route that edits or deletes an event: the trail is append-only by construction.
The reading lives in app/services/audit_log.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, make_response, render_template, request, url_for

from app.db import db
from app.services import audit_log
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, viewer_timezone

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/mentorship/audit")


def _href(filters: audit_log.AuditFilters, **changes: Any) -> str:
    return url_for("admin_audit.index", **filters.args(**changes))


def _entity_href(entity_type: str, entity_id: int | None) -> str | None:
    """The admin page of an entity, where one exists."""
    if entity_id is None:
        return None
    if entity_type == "booking":
        return url_for("admin_sessions.detail", booking_id=entity_id)
    if entity_type == "mentor_profile":
        return url_for("admin_mentors.review", profile_id=entity_id)
    return None


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """The trail; ?actor= &action= &entity= &entity_id= &from= &to= &page=."""
    args = request.args
    filters, errors = audit_log.parse_filters(
        actor=args.get("actor"),
        action=args.get("action"),
        entity_type=args.get("entity"),
        entity_id=args.get("entity_id"),
        date_from=args.get("from"),
        date_to=args.get("to"),
        page=args.get("page"),
    )
    trail = audit_log.audit_page(db.session, filters, tz=viewer_timezone())
    context = {
        "trail": trail,
        "f": trail.filters,
        "errors": errors,
        "href": _href,
        "entity_href": _entity_href,
        "action_words": audit_log.action_words,
        "entity_words": audit_log.entity_words,
    }
    template = "admin/_audit_table.html" if is_htmx() else "admin/audit.html"
    response = make_response(render_template(template, **context), 422 if errors else 200)
    if errors:
        response.headers["X-MentorHub-Swap"] = "true"
    elif is_htmx():
        # The address bar gets the canonical URL (no empty fields), so it reads well when shared.
        response.headers["HX-Push-Url"] = _href(trail.filters)
    response.headers["Vary"] = "HX-Request"
    return response
