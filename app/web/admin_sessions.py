"""Every mentorship session, for admins (/admin/mentorship/sessions).

The table: status, date range (the admin's zone), mentor, mentee and a search over names
and topic, sortable, paged, in a fixed number of queries; the state lives in the URL and
HTMX swaps only the table region. The CSV export streams exactly the table's selection
(all pages). The detail page shows one session with its attendance, the admin notes
(append-only), an admin cancel (app/services/booking.py `cancel`: reason required, the
usual audit and notifications) and the session's whole audit timeline.
The rules live in app/services/admin_sessions.py and app/services/audit_log.py.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from app.db import db
from app.models import Booking
from app.services import admin_sessions as service
from app.services import audit_log
from app.services import booking as booking_service
from app.services import feedback as feedback_service
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web.access import ADMIN, allow
from app.web.context import (
    booking_policy,
    is_htmx,
    now,
    request_context,
    viewer_timezone,
)

bp = Blueprint("admin_sessions", __name__, url_prefix="/admin/mentorship/sessions")


@bp.before_request
def _nav() -> None:
    # A session's detail page belongs under the side nav's "Sessions" entry.
    g.nav_endpoint = "admin_sessions.index"


def _vary(response: Any) -> Any:
    response.headers["Vary"] = "HX-Request"
    return response


def _filters() -> tuple[service.SessionFilters, dict[str, str]]:
    args = request.args
    return service.parse_filters(
        statuses=args.getlist("status"),
        date_from=args.get("from"),
        date_to=args.get("to"),
        mentor=args.get("mentor"),
        mentee=args.get("mentee"),
        query=args.get("q"),
        sort=args.get("sort"),
        direction=args.get("dir"),
        page=args.get("page"),
    )


def _href(
    filters: service.SessionFilters, endpoint: str = "admin_sessions.index", **changes: Any
) -> str:
    return url_for(endpoint, **filters.args(**changes))


def _sort_href(filters: service.SessionFilters, key: str) -> str:
    """A header's link: the same column flips the direction; another one starts ascending
    (start time newest first, as the table opens)."""
    if filters.sort == key:
        direction = "asc" if filters.direction == "desc" else "desc"
    else:
        direction = "desc" if key == "start" else "asc"
    return _href(filters, sort=key, direction=direction, page=1)


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """The table; ?q= &status=(repeated) &from= &to= &mentor= &mentee= &sort= &dir= &page=."""
    filters, errors = _filters()
    tz = viewer_timezone()
    table = service.session_page(db.session, filters, tz=tz)
    context = {
        "table": table,
        "f": table.filters,
        "errors": errors,
        "statuses": service.STATUSES,
        "sorts": service.SORTS,
        "href": _href,
        "sort_href": _sort_href,
    }
    status = 422 if errors else 200
    template = "admin/_sessions_table.html" if is_htmx() else "admin/sessions.html"
    response = make_response(render_template(template, **context), status)
    if errors:
        response.headers["X-MentorHub-Swap"] = "true"
    elif is_htmx():
        # The address bar gets the canonical URL (no empty fields), so it reads well when shared.
        response.headers["HX-Push-Url"] = _href(table.filters)
    return _vary(response)


@bp.get("/export.csv")
@allow(ADMIN)
def export() -> Any:
    """The CSV of the table's current filters, every page, streamed as it is read."""
    filters, _errors = _filters()
    tz = viewer_timezone()
    stamp = now().strftime("%Y%m%d-%H%M")
    lines = service.export_csv(db.session, filters, tz=tz)
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="sessions-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _load(booking_id: int) -> Booking:
    try:
        return service.load_session(db.session, booking_id)
    except NotFound:
        abort(404)


def _detail_context(
    booking: Booking,
    *,
    notice: dict[str, str] | None = None,
    note_body: str = "",
    note_error: str | None = None,
    reason: str = "",
    reason_error: str | None = None,
) -> dict[str, Any]:
    tz = viewer_timezone()
    refusal = booking_service.cancel_refusal(current_user, booking, now())
    return {
        "b": booking,
        "attendance": service.attendance_of(db.session, booking.id),
        "notes": service.notes_of(db.session, booking.id),
        "timeline": audit_log.booking_timeline(db.session, booking.id, tz=tz),
        "can_cancel": refusal is None,
        "cancel_refusal": refusal.message if refusal is not None else "",
        "notice": notice,
        "note_body": note_body,
        "note_error": note_error,
        "note_max": service.NOTE_MAX,
        "reason": reason,
        "reason_error": reason_error,
        "reason_max": booking_service.REASON_MAX,
        # issue 8: feedback (both sides, the private note, the mentee's answer to attendance)
        "session_feedback": feedback_service.admin_view(db.session, booking),
    }


@bp.get("/<int:booking_id>")
@allow(ADMIN)
def detail(booking_id: int) -> Any:
    """One session: people, times, attendance, notes, admin cancel and audit timeline."""
    booking = _load(booking_id)
    return render_template("admin/session_detail.html", **_detail_context(booking))


def _notes_panel(context: dict[str, Any], status: int) -> Any:
    """The notes panel, and the timeline out of band (a note adds an event to it)."""
    body = render_template("admin/_session_notes.html", **context) + render_template(
        "admin/_session_timeline.html", oob=True, **context
    )
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return _vary(response)


@bp.post("/<int:booking_id>/notes")
@allow(ADMIN)
def add_note(booking_id: int) -> Any:
    """Append an admin note (body required, at most NOTE_MAX characters)."""
    booking = _load(booking_id)
    body = request.form.get("body", "")
    try:
        service.add_note(
            db.session, current_user, booking, body=body, now=now(), context=request_context()
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        context = _detail_context(
            _load(booking_id), note_body=body, note_error=err.field_errors.get("body")
        )
        if is_htmx():
            return _notes_panel(context, 422)
        return render_template("admin/session_detail.html", **context), 422
    except NotAllowed as err:
        db.session.rollback()
        abort(403, err.message)
    if is_htmx():
        return _notes_panel(_detail_context(_load(booking_id)), 200)
    flash("Note added.", "success")
    return redirect(url_for("admin_sessions.detail", booking_id=booking_id) + "#notes", 303)


@bp.post("/<int:booking_id>/cancel")
@allow(ADMIN)
def cancel(booking_id: int) -> Any:
    """Cancel as an admin: both participants are told, with the reason."""
    booking = _load(booking_id)
    reason = request.form.get("reason", "")
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = -1
    try:
        booking_service.cancel(
            db.session,
            current_user,
            booking,
            version=version,
            reason=reason,
            now=now(),
            policy=booking_policy(),
            context=request_context(),
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        error = err.field_errors.get("reason") or err.message
        context = _detail_context(_load(booking_id), reason=reason, reason_error=error)
        return render_template("admin/session_detail.html", **context), 422
    except (InvalidTransition, StaleVersion, NotAllowed) as err:
        db.session.rollback()
        status = 403 if isinstance(err, NotAllowed) else 409
        context = _detail_context(
            _load(booking_id),
            reason=reason,
            notice={"kind": "error", "title": "Not cancelled", "text": err.message},
        )
        return render_template("admin/session_detail.html", **context), status
    flash(
        f"Session cancelled. {booking.mentor.name} and {booking.mentee.name} have been told, "
        "with your reason.",
        "success",
    )
    return redirect(url_for("admin_sessions.detail", booking_id=booking_id), 303)
