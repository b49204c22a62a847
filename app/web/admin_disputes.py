"""Disputed attendance records for admins (issue 8).

    GET  /admin/mentorship/disputes                       the open disputes, oldest first
    POST /admin/mentorship/disputes/<booking_id>/resolve  keep the record (with a note) or
                                                          correct it (outcome and minutes)

The rules are in app/services/attendance_review.py. Each dispute is a card that its resolve
form swaps (htmx): 200 resolved; 422 messages next to the fields; 409 the fresh state (another
admin was faster, or the mentor corrected the record) with what was typed kept. Without
htmx: 303 back to the queue with a flash, or the queue with the card's messages.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.db import db
from app.services import attendance_review as service
from app.services import session_lists
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context, start_write

bp = Blueprint("admin_disputes", __name__, url_prefix="/admin/mentorship")

OUTCOMES = [("attended", "Attended"), ("late", "Late"), ("no_show", "No-show")]
OUTCOME_WORDS = {"attended": "Attended", "late": "Late", "no_show": "No-show"}


def _helpers() -> dict[str, Any]:
    return {
        "now": now(),
        "outcomes": OUTCOMES,
        "outcome_words": OUTCOME_WORDS,
        "note_max": service.NOTE_MAX,
        "minutes_max": service.MINUTES_MAX,
    }


def _age(delta: Any) -> str:
    days = delta.days
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    hours = delta.seconds // 3600
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return "less than an hour"


@bp.get("/disputes")
@allow(ADMIN)
def index() -> Any:
    """The open disputes (one query), each with its resolve form."""
    disputes = service.open_disputes(db.session)
    response = make_response(
        render_template("admin/disputes.html", disputes=disputes, states={}, age=_age, **_helpers())
    )
    response.headers["Vary"] = "HX-Request"
    return response


def _card(d: service.DisputeRow, st: dict[str, Any], status: int) -> Any:
    body = render_template("admin/_dispute_card.html", d=d, st=st, age=_age, **_helpers())
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    response.headers["Vary"] = "HX-Request"
    return response


def _refused(booking_id: int, st: dict[str, Any], status: int) -> Any:
    d = service.dispute_of(db.session, booking_id)
    if d is None:
        abort(404)
    if is_htmx():
        return _card(d, st, status)
    disputes = service.open_disputes(db.session)
    if all(x.booking.id != booking_id for x in disputes):
        disputes = [d, *disputes]
    body = render_template(
        "admin/disputes.html", disputes=disputes, states={booking_id: st}, age=_age, **_helpers()
    )
    return make_response(body, status)


@bp.post("/disputes/<int:booking_id>/resolve")
@allow(ADMIN)
def resolve(booking_id: int) -> Any:
    form = request.form
    values = {k: form.get(k, "") for k in ("decision", "note", "outcome", "minutes")}
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    try:
        start_write()
        booking = session_lists.load_session(db.session, booking_id)
        if booking is None:
            raise NotFound("No such session.")
        service.resolve(
            db.session,
            current_user,
            booking,
            version=version,
            decision=values["decision"],
            note=values["note"],
            outcome=values["outcome"],
            minutes=values["minutes"],
            now=now(),
            context=request_context(),
        )
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    except NotAllowed as err:
        db.session.rollback()
        abort(403, err.message)
    except ValidationFailed as err:
        db.session.rollback()
        return _refused(booking_id, {"values": values, "errors": dict(err.field_errors)}, 422)
    except (StaleVersion, InvalidTransition) as err:
        db.session.rollback()
        st: dict[str, Any] = {
            "notice": {"kind": "error", "title": "Not saved", "text": err.message},
        }
        fresh = service.dispute_of(db.session, booking_id)
        if fresh is not None and fresh.record.dispute_resolved_at is None:
            st["values"] = values  # still open: the form again, on the fresh version
        elif values["note"].strip():
            st["kept"] = values["note"]
        return _refused(booking_id, st, 409)
    d = service.dispute_of(db.session, booking_id)
    if d is None:  # pragma: no cover - it was just resolved
        abort(404)
    done = (
        "Record corrected. Both participants are told."
        if values["decision"] == "correct"
        else "Record kept. Both participants are told."
    )
    if not is_htmx():
        flash(done, "success")
        return redirect(url_for("admin_disputes.index"), 303)
    return _card(d, {"notice": {"kind": "success", "title": done, "text": ""}}, 200)
