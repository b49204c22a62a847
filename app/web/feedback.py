"""Feedback on sessions and the mentee's answer to attendance records (issue 8).

    GET  /mentor-hub/sessions/<id>/feedback              the feedback page: the mentee's rating
                                                         form, or the mentor's summary form and
                                                         the pair's goals; the saved feedback
    POST /mentor-hub/sessions/<id>/feedback              save it (create, or edit while allowed)
    POST /mentor-hub/sessions/<id>/attendance/confirm    the mentee confirms the mentor's record
    POST /mentor-hub/sessions/<id>/attendance/dispute    the mentee disputes it (reason required)

Only the session's two participants; anyone else (admins included: they read feedback on the
admin session page) gets 404. The rules are in app/services/feedback.py and
app/services/attendance_review.py. HTMX answers are the fragment the form came from (200 done;
422 with messages next to the fields; 409 the fresh state and why, with what was typed kept);
without HTMX a success redirects (303) with a flash and a refusal renders the feedback page.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.db import db
from app.models import Booking, FeedbackRole
from app.services import attendance_review as review_service
from app.services import feedback as service
from app.services import session_lists
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web import goals
from app.web.access import SIGNED_IN, allow
from app.web.context import is_htmx, now, request_context, start_write, viewer_timezone

bp = Blueprint("feedback", __name__, url_prefix="/mentor-hub")

OUTCOME_WORDS = {"attended": "attended", "late": "joined late", "no_show": "did not attend"}


def feedback_policy() -> service.FeedbackPolicy:
    return service.FeedbackPolicy(edit_days=int(current_app.config.get("FEEDBACK_EDIT_DAYS", 7)))


def review_policy() -> review_service.ReviewPolicy:
    return review_service.ReviewPolicy(
        dispute_days=int(current_app.config.get("ATTENDANCE_DISPUTE_DAYS", 7))
    )


def feedback_panel(
    booking: Booking,
    viewer: Any,
    *,
    origin: str = "panel",
    review_notice: dict[str, str] | None = None,
    review_values: dict[str, str] | None = None,
    review_errors: dict[str, str] | None = None,
    review_open: bool = False,
) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_feedback.html): one query
    (the session's feedback rows; the attendance comes loaded with the booking)."""
    role = service.role_of(viewer, booking)
    if role is None:
        return {"role": "admin" if getattr(viewer, "is_admin", False) else None, "b": booking}
    moment = now()
    fb_policy = feedback_policy()
    rv_policy = review_policy()
    rows = service.for_booking(db.session, booking.id)
    other_id = booking.mentor_id if role is FeedbackRole.MENTEE else booking.mentee_id
    mine = rows.get(viewer.id)
    refusal = service.feedback_refusal(viewer, booking)
    record = review_service.mentee_row(booking)
    respond_refusal = None
    if role is FeedbackRole.MENTEE and record is not None:
        respond_refusal = review_service.response_refusal(
            viewer, booking, record, moment, rv_policy
        )
    return {
        "role": role.value,
        "b": booking,
        "origin": origin,
        "version": booking.version,
        "page_url": url_for("feedback.page", booking_id=booking.id),
        "session_url": url_for("mentor.session_detail", booking_id=booking.id),
        "refusal": refusal.message if refusal is not None else None,
        "mine": mine,
        "theirs": rows.get(other_id),
        "editable": mine is not None and service.can_edit(mine, moment, fb_policy),
        "edit_until": service.edit_deadline(mine, fb_policy) if mine is not None else None,
        "edit_days": fb_policy.edit_days,
        "rating_labels": service.RATING_LABELS,
        "record": record,
        "outcome_words": OUTCOME_WORDS,
        "can_respond": role is FeedbackRole.MENTEE and record is not None and not respond_refusal,
        "respond_refusal": respond_refusal.message if respond_refusal is not None else None,
        "respond_until": (
            review_service.respond_deadline(record, rv_policy) if record is not None else None
        ),
        "dispute_days": rv_policy.dispute_days,
        "reason_max": review_service.REASON_MAX,
        "review_notice": review_notice,
        "review_values": review_values or {},
        "review_errors": review_errors or {},
        "review_open": review_open or bool(review_errors),
    }


# -- shared pieces ----------------------------------------------------------------------------


def _load(booking_id: int) -> Booking:
    """The session, if the signed-in user is one of its two participants; 404 otherwise."""
    booking = session_lists.load_session(db.session, booking_id)
    if booking is None or service.role_of(current_user, booking) is None:
        abort(404)
    return booking


def _version(raw: str | None) -> int | None:
    """None: the form creates the feedback; an unreadable value is an unknown, older page."""
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


def _swap(body: str, status: int) -> Any:
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    response.headers["Vary"] = "HX-Request"
    return response


def _notice(err: DomainError) -> dict[str, str]:
    if isinstance(err, StaleVersion):
        return {"kind": "error", "title": "Changed while you were looking", "text": err.message}
    if isinstance(err, NotAllowed):
        return {"kind": "error", "title": "Not allowed", "text": err.message}
    return {"kind": "error", "title": "That can't be done now", "text": err.message}


def _page_context(booking: Booking, **form: Any) -> dict[str, Any]:
    panel_args = {k: form.pop(k) for k in list(form) if k.startswith("review_")}
    fp = feedback_panel(booking, current_user, origin="page", **panel_args)
    context: dict[str, Any] = {
        "b": booking,
        "fp": fp,
        "values": form.get("values") or {},
        "errors": form.get("errors") or {},
        "notice": form.get("notice"),
        "kept": form.get("kept") or [],
        "viewer_tz": viewer_timezone(),
        "now": now(),
    }
    if fp["role"] == "mentor":
        context["goals_panel"] = goals.goals_panel(booking, current_user)
    return context


def _render_page(booking: Booking, status: int = 200, **form: Any) -> Any:
    g.nav_endpoint = (
        "mentor.sessions" if current_user.id == booking.mentor_id else "hub.my_sessions"
    )
    body = render_template("feedback/page.html", **_page_context(booking, **form))
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response


def _render_form(booking: Booking, status: int, **form: Any) -> Any:
    context = _page_context(booking, **form)
    return _swap(render_template("feedback/_form.html", **context), status)


# -- the feedback page ------------------------------------------------------------------------


@bp.get("/sessions/<int:booking_id>/feedback")
@allow(SIGNED_IN)
def page(booking_id: int) -> Any:
    return _render_page(_load(booking_id))


@bp.post("/sessions/<int:booking_id>/feedback")
@allow(SIGNED_IN)
def save(booking_id: int) -> Any:
    form = request.form
    values = {k: form.get(k, "") for k in ("rating", "comment", "private_note", "summary")}
    version = _version(form.get("version"))
    render = _render_form if is_htmx() else _render_page
    try:
        start_write()
        booking = _load(booking_id)
        created = service.for_booking(db.session, booking.id).get(current_user.id) is None
        service.save(
            db.session,
            current_user,
            booking,
            version=version,
            rating=values["rating"] or None,
            comment=values["comment"],
            private_note=values["private_note"],
            summary=values["summary"],
            now=now(),
            policy=feedback_policy(),
            context=request_context(),
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return render(_load(booking_id), 422, values=values, errors=dict(err.field_errors))
    except (StaleVersion, InvalidTransition) as err:
        db.session.rollback()
        booking = _load(booking_id)
        kept = [
            (label, values[name])
            for name, label in (
                ("comment", "Your comment"),
                ("private_note", "Your note to the program"),
                ("summary", "Your summary"),
            )
            if values[name].strip()
        ]
        # Still editable (stale): the form is drawn again with what was typed, on the fresh
        # version; read-only or refused: what was typed is shown to copy.
        fp = feedback_panel(booking, current_user)
        writable = fp["refusal"] is None and (fp["mine"] is None or fp["editable"])
        return render(
            booking,
            409,
            values=values if writable else {},
            notice=_notice(err),
            kept=[] if writable else kept,
        )
    except NotFound:
        db.session.rollback()
        abort(404)
    done = (
        ("Thank you: your rating is saved." if created else "Your feedback is updated.")
        if current_user.id == booking.mentee_id
        else ("Your summary is saved." if created else "Your summary is updated.")
    )
    if not is_htmx():
        flash(done, "success")
        return redirect(url_for("feedback.page", booking_id=booking_id), 303)
    return _render_form(
        _load(booking_id), 200, notice={"kind": "success", "title": done, "text": ""}
    )


# -- the mentee's answer to the attendance record ---------------------------------------------


def _review_answer(booking_id: int, action: str) -> Any:
    form = request.form
    origin = "page" if form.get("from") == "page" else "panel"
    version = _booking_version(form.get("version"))
    reason = form.get("reason", "")
    values = {"reason": reason}
    try:
        start_write()
        booking = _load(booking_id)
        if action == "confirm":
            review_service.confirm(
                db.session,
                current_user,
                booking,
                version=version,
                now=now(),
                policy=review_policy(),
                context=request_context(),
            )
            done = "Thank you: you confirmed the attendance record."
        else:
            review_service.dispute(
                db.session,
                current_user,
                booking,
                version=version,
                reason=reason,
                now=now(),
                policy=review_policy(),
                context=request_context(),
            )
            done = "Your dispute is sent: a program admin will look at it."
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return _review_refused(
            booking_id, origin, 422, values=values, errors=dict(err.field_errors)
        )
    except (StaleVersion, InvalidTransition, NotAllowed) as err:
        db.session.rollback()
        status = 403 if isinstance(err, NotAllowed) else 409
        return _review_refused(booking_id, origin, status, values=values, notice=_notice(err))
    except NotFound:
        db.session.rollback()
        abort(404)
    if not is_htmx():
        flash(done, "success")
        target = url_for(
            "feedback.page" if origin == "page" else "mentor.session_detail", booking_id=booking_id
        )
        return redirect(target, 303)
    notice = {"kind": "success", "title": done, "text": ""}
    return _render_review(_load(booking_id), origin, 200, notice=notice)


def _booking_version(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return -1


def _render_review(
    booking: Booking,
    origin: str,
    status: int,
    *,
    notice: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    fp = feedback_panel(
        booking,
        current_user,
        origin=origin,
        review_notice=notice,
        review_values=values,
        review_errors=errors,
    )
    # A refused dispute keeps what was typed: the form stays open if it can still be sent,
    # else the reason is shown to copy.
    fp["review_open"] = bool(errors) or bool(values and values.get("reason") and fp["can_respond"])
    template = "sessions/_feedback.html" if origin == "panel" else "feedback/_review.html"
    return _swap(render_template(template, feedback_panel=fp, fp=fp), status)


def _review_refused(
    booking_id: int,
    origin: str,
    status: int,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    notice: dict[str, str] | None = None,
) -> Any:
    booking = _load(booking_id)
    if is_htmx():
        return _render_review(booking, origin, status, notice=notice, values=values, errors=errors)
    return _render_page(
        booking,
        status,
        review_notice=notice,
        review_values=values,
        review_errors=errors,
        review_open=bool(errors) or bool(values.get("reason")),
    )


@bp.post("/sessions/<int:booking_id>/attendance/confirm")
@allow(SIGNED_IN)
def confirm_attendance(booking_id: int) -> Any:
    return _review_answer(booking_id, "confirm")


@bp.post("/sessions/<int:booking_id>/attendance/dispute")
@allow(SIGNED_IN)
def dispute_attendance(booking_id: int) -> Any:
    return _review_answer(booking_id, "dispute")
