"""Sessions: the mentor's sessions manager, a session's detail page, and the actions on it.

    GET  /mentor-hub/sessions                          the manager (mentors): search, filters,
                                                       sort, tabs with counts, pages; all of it
                                                       in the URL query
    GET  /mentor-hub/sessions/<id>                     the detail page (participants + admins)
    GET  /mentor-hub/sessions/<id>/reschedule          the free times it can move to
    POST /mentor-hub/sessions/<id>/<action>            confirm, decline, cancel, reschedule,
                                                       attendance, meeting-link

Every action form carries the booking's `version` and `from` (row: the manager's or the
mentee's table row; detail: the detail panel). A write runs like `hub.book`: start_write(),
load, one service call, commit. Answers for HTMX: the fragment the form came from, redrawn
from the database (200 done; 422 with the messages next to the fields; 409 the fresh state
and why, with what was typed kept; 403 why not), 4xx marked `X-MentorHub-Swap`. Without
HTMX: 303 to a safe `next` (or the detail page) with a flash, or the detail page with the
messages. Someone who may not see the session gets 404, whatever they try.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    abort,
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
from app.models import Booking, BookingStatus
from app.services import booking as booking_service
from app.services import session_lists
from app.services.booking import AttendanceInput
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotAllowed,
    SlotTaken,
    StaleVersion,
    ValidationFailed,
)
from app.services.timezones import to_local, zone_abbreviation
from app.web import chat, feedback, goals
from app.web.access import MENTOR, SIGNED_IN, allow
from app.web.context import (
    booking_policy,
    format_local,
    is_htmx,
    now,
    request_context,
    safe_next,
    start_write,
    viewer_timezone,
)
from app.web.forms import parse_slot_start

bp = Blueprint("mentor", __name__, url_prefix="/mentor-hub")

STATUS_OPTIONS = [
    ("", "Any status"),
    ("requested", "Requested"),
    ("confirmed", "Confirmed"),
    ("completed", "Completed"),
    ("no_show", "No-show"),
    ("cancelled", "Cancelled"),
    ("declined", "Declined"),
]
OUTCOME_OPTIONS = [("attended", "Attended"), ("late", "Late"), ("no_show", "No-show")]
# The form whose typed values must survive a refusal, per action.
TYPED = {
    "decline": ("reason", "Your reason"),
    "cancel": ("reason", "Your reason"),
    "reschedule": ("reason", "Your reason"),
    "meeting-link": ("meeting_url", "The link you entered"),
}


@dataclass
class FormState:
    """What a redrawn row or panel shows besides the booking: an open form with what was
    typed and the messages, a notice, the free times for the reschedule form."""

    open: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notice: dict[str, str] | None = None
    picker: session_lists.RescheduleChoices | None = None
    kept: list[tuple[str, str]] = field(default_factory=list)
    focus: bool = False


# -- shared pieces ----------------------------------------------------------------------------


def _visible(booking_id: int) -> Booking:
    """The session, if the signed-in user may see it; 404 otherwise (ids reveal nothing)."""
    booking = session_lists.load_session(db.session, booking_id)
    if booking is None or not session_lists.can_view(current_user, booking):
        abort(404)
    return booking


def _actions(booking: Booking) -> session_lists.Actions:
    return session_lists.actions_for(current_user, booking, now(), booking_policy())


def _first_name(name: str) -> str:
    return name.split(" ")[0] if name else name


def _other_name(booking: Booking) -> str:
    if current_user.id == booking.mentee_id:
        return booking.mentor.name
    if current_user.id == booking.mentor_id:
        return booking.mentee.name
    return f"{booking.mentee.name} and {booking.mentor.name}"


def _view_helpers() -> dict[str, Any]:
    tz = viewer_timezone()
    policy = booking_policy()
    return {
        "viewer_tz": tz,
        "now": now(),
        "clock_time": lambda when, zone_name=tz: to_local(when, zone_name).strftime("%H:%M"),
        "local_date": lambda when, zone_name=tz: to_local(when, zone_name).strftime("%a %d %b %Y"),
        "zone_abbr": zone_abbreviation,
        "first_name": _first_name,
        "outcome_options": OUTCOME_OPTIONS,
        "meeting_domains": policy.meeting_domains,
        "cutoff_hours": policy.mentee_cutoff_hours,
        "attendance_days": policy.attendance_window_days,
        "reason_max": booking_service.REASON_MAX,
        "timedelta": dt.timedelta,
        "status_words": booking_service.status_words,
    }


def _row_kind(booking: Booking) -> str:
    return "mentee" if current_user.id == booking.mentee_id else "manager"


def _row_context(booking: Booking, state: FormState, next_url: str | None) -> dict[str, Any]:
    return {
        "b": booking,
        "acts": _actions(booking),
        "st": state,
        "origin": "row",
        "next_url": next_url,
        **_view_helpers(),
    }


def _detail_context(booking: Booking, state: FormState) -> dict[str, Any]:
    acts = _actions(booking)
    if acts.reschedule and state.picker is None:
        state.picker = session_lists.reschedule_options(
            db.session, booking, now=now(), tz=viewer_timezone()
        )
    role = acts.role
    return {
        "b": booking,
        "acts": acts,
        "st": state,
        "origin": "detail",
        "next_url": url_for("mentor.session_detail", booking_id=booking.id),
        "history": session_lists.history(db.session, booking),
        "role": role,
        "other_name": _other_name(booking),
        "attendance_by_user": {a.participant_id: a for a in booking.attendance},
        "cancelled_by": _cancelled_by(booking),
        # Follow-through panels (issue 8), one module each.
        "chat_panel": chat.chat_panel(booking, current_user),
        "feedback_panel": feedback.feedback_panel(booking, current_user),
        "goals_panel": goals.goals_panel(booking, current_user),
        **_view_helpers(),
    }


def _cancelled_by(booking: Booking) -> str | None:
    if booking.cancelled_by_id is None:
        return None
    if booking.cancelled_by_id == booking.mentee_id:
        return f"{booking.mentee.name} (mentee)"
    if booking.cancelled_by_id == booking.mentor_id:
        return f"{booking.mentor.name} (mentor)"
    return "A program admin"


def _swap(body: str, status: int) -> Any:
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return response


def _render_row(booking: Booking, state: FormState, next_url: str | None) -> str:
    template = f"sessions/_{_row_kind(booking)}_row.html"
    return render_template(template, **_row_context(booking, state, next_url))


def _render_detail_page(booking: Booking, state: FormState) -> str:
    # The side nav marks the list this session belongs to for this viewer.
    g.nav_endpoint = (
        "mentor.sessions" if current_user.id == booking.mentor_id else "hub.my_sessions"
    )
    return render_template("sessions/detail.html", **_detail_context(booking, state))


# -- the manager -----------------------------------------------------------------------------


@bp.get("/sessions")
@allow(MENTOR)
def sessions() -> Any:
    """The sessions manager. HTMX (filters, tabs, sort, pages) gets only the results, and the
    address bar gets the canonical URL of the new state."""
    query = session_lists.parse_query(request.args)
    moment = now()
    tz = viewer_timezone()
    page = session_lists.manager_page(
        db.session, current_user, query, now=moment, tz=tz, policy=booking_policy()
    )
    query = page.query
    here = url_for("mentor.sessions", **query.params(page=page.page))

    def url(**changes: Any) -> str:
        return url_for("mentor.sessions", **query.params(**changes))

    context = {
        "page": page,
        "query": query,
        "url": url,
        "here": here,
        "status_options": STATUS_OPTIONS,
        "actions": _actions,
        "row_state": FormState(),
        "next_url": here,
        "origin": "row",
        "focus_results": request.headers.get("HX-Trigger", "").startswith("nav-"),
        **_view_helpers(),
    }
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    context["oob"] = is_htmx() and not restoring
    if context["oob"]:
        response = make_response(render_template("mentor/_results.html", **context))
        response.headers["HX-Push-Url"] = here
        return response
    return render_template("mentor/sessions.html", **context)


def mentee_list_context() -> dict[str, Any]:
    """What hub/my_sessions.html needs to draw a mentee's rows with their actions."""
    return {
        "actions": _actions,
        "row_state": FormState(),
        "next_url": request.full_path.rstrip("?"),
        "origin": "row",
        **_view_helpers(),
    }


# -- the detail page and the reschedule picker -----------------------------------------------


@bp.get("/sessions/<int:booking_id>")
@allow(SIGNED_IN)
def session_detail(booking_id: int) -> Any:
    booking = _visible(booking_id)
    return _render_detail_page(booking, FormState(open=request.args.get("open", "")))


@bp.get("/sessions/<int:booking_id>/reschedule")
@allow(SIGNED_IN)
def reschedule_picker(booking_id: int) -> Any:
    """The free times this session can move to: the field for the reschedule form (HTMX), or
    the detail page with that form open."""
    booking = _visible(booking_id)
    state = FormState(open="reschedule")
    if not is_htmx():
        return _render_detail_page(booking, state)
    acts = _actions(booking)
    if acts.reschedule:
        state.picker = session_lists.reschedule_options(
            db.session, booking, now=now(), tz=viewer_timezone()
        )
    origin = "row" if request.args.get("from") == "row" else "detail"
    return render_template(
        "sessions/_picker.html",
        b=booking,
        acts=acts,
        st=state,
        origin=origin,
        **_view_helpers(),
    )


# -- the actions -----------------------------------------------------------------------------


def _version(raw: str | None) -> int:
    """A form without a readable version is treated as drawn from an unknown, older page."""
    try:
        return int(raw or "")
    except ValueError:
        return -1


def _refusal_notice(err: DomainError, booking: Booking) -> dict[str, str]:
    if isinstance(err, StaleVersion):
        return {
            "kind": "error",
            "title": "This session changed while you were looking: it is now "
            f"{booking_service.status_words(booking.status)}.",
            "text": err.message,
        }
    if isinstance(err, SlotTaken):
        return {"kind": "error", "title": "That time was just taken", "text": err.message}
    if isinstance(err, NotAllowed):
        return {"kind": "error", "title": "Not allowed", "text": err.message}
    if isinstance(err, InvalidTransition):
        return {"kind": "error", "title": "That can't be done now", "text": err.message}
    return {"kind": "error", "title": "Not saved", "text": err.message}


def _act(
    booking_id: int,
    action: str,
    run: Callable[[Booking, int], str],
    values: dict[str, str],
) -> Any:
    """Run one action in its own write transaction and answer as the module says.

    `run(booking, version)` calls the service and returns the sentence for the person."""
    form = request.form
    origin = "row" if form.get("from") == "row" else "detail"
    next_url = safe_next(form.get("next"))
    version = _version(form.get("version"))
    try:
        start_write()
        booking = _visible(booking_id)
        done = run(booking, version)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        booking = _visible(booking_id)
        errors = dict(err.field_errors)
        state = FormState(open=action, values=values, errors=errors, focus=True)
        if err.message and not errors:
            state.notice = {"kind": "error", "title": "Not saved", "text": err.message}
        return _refused(booking, action, origin, next_url, state, 422)
    except (StaleVersion, InvalidTransition, SlotTaken, NotAllowed) as err:
        db.session.rollback()
        booking = _visible(booking_id)
        state = FormState(notice=_refusal_notice(err, booking), focus=True)
        acts = _actions(booking)
        still = {
            "decline": acts.decline,
            "cancel": acts.cancel,
            "reschedule": acts.reschedule,
            "meeting-link": acts.meeting_link,
            "attendance": acts.attendance,
        }.get(action, False)
        if still:
            state.open = action
            state.values = values
        elif action in TYPED:
            name, label = TYPED[action]
            if values.get(name, "").strip():
                state.kept.append((label, values[name]))
        status = 403 if isinstance(err, NotAllowed) else 409
        return _refused(booking, action, origin, next_url, state, status)

    if not is_htmx():
        flash(done, "success")
        target = next_url or url_for("mentor.session_detail", booking_id=booking.id)
        return redirect(target, 303)
    booking = _visible(booking_id)
    state = FormState(notice={"kind": "success", "title": done, "text": ""}, focus=True)
    if origin == "row":
        return _render_row(booking, state, next_url)
    return render_template("sessions/_detail.html", **_detail_context(booking, state))


def _refused(
    booking: Booking,
    action: str,
    origin: str,
    next_url: str | None,
    state: FormState,
    status: int,
) -> Any:
    if action == "reschedule" and state.open == "reschedule":
        state.picker = session_lists.reschedule_options(
            db.session, booking, now=now(), tz=viewer_timezone()
        )
    if not is_htmx():
        return _render_detail_page(booking, state), status
    if origin == "row":
        return _swap(_render_row(booking, state, next_url), status)
    body = render_template("sessions/_detail.html", **_detail_context(booking, state))
    return _swap(body, status)


def _reason() -> str:
    return request.form.get("reason", "")


@bp.post("/sessions/<int:booking_id>/confirm")
@allow(SIGNED_IN)
def confirm(booking_id: int) -> Any:
    def run(booking: Booking, version: int) -> str:
        booking_service.confirm(
            db.session,
            current_user,
            booking,
            version=version,
            now=now(),
            context=request_context(),
        )
        return f"Confirmed. {booking.mentee.name} gets an email with the calendar invite."

    return _act(booking_id, "confirm", run, {})


@bp.post("/sessions/<int:booking_id>/decline")
@allow(SIGNED_IN)
def decline(booking_id: int) -> Any:
    reason = _reason()

    def run(booking: Booking, version: int) -> str:
        booking_service.decline(
            db.session,
            current_user,
            booking,
            version=version,
            reason=reason,
            now=now(),
            context=request_context(),
        )
        return f"Declined. {booking.mentee.name} has been told."

    return _act(booking_id, "decline", run, {"reason": reason})


@bp.post("/sessions/<int:booking_id>/cancel")
@allow(SIGNED_IN)
def cancel(booking_id: int) -> Any:
    reason = _reason()

    def run(booking: Booking, version: int) -> str:
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
        told = _other_name(booking)
        late = " It counts as a late cancellation." if booking.late_cancellation else ""
        return f"Cancelled. {told} {'have' if ' and ' in told else 'has'} been told.{late}"

    return _act(booking_id, "cancel", run, {"reason": reason})


@bp.post("/sessions/<int:booking_id>/reschedule")
@allow(SIGNED_IN)
def reschedule(booking_id: int) -> Any:
    reason = _reason()
    raw_start = request.form.get("starts_at", "")

    def run(booking: Booking, version: int) -> str:
        starts_at = parse_slot_start(raw_start)
        booking_service.reschedule(
            db.session,
            current_user,
            booking,
            version=version,
            new_starts_at=starts_at,
            reason=reason,
            now=now(),
            policy=booking_policy(),
            context=request_context(),
        )
        when = format_local(booking.starts_at)
        waits = ""
        if booking.status is BookingStatus.REQUESTED:
            waits = f" It waits for {booking.mentor.name}'s confirmation."
        return f"Moved to {when}. {_other_name(booking)} has been told.{waits}"

    return _act(booking_id, "reschedule", run, {"reason": reason, "starts_at": raw_start})


@bp.post("/sessions/<int:booking_id>/attendance")
@allow(SIGNED_IN)
def attendance(booking_id: int) -> Any:
    form = request.form
    values = {
        key: form.get(key, "")
        for key in form
        if key.startswith(("outcome_", "minutes_", "notes_", "shared_"))
    }

    def run(booking: Booking, version: int) -> str:
        outcomes: dict[int, AttendanceInput] = {}
        for user_id in (booking.mentee_id, booking.mentor_id):
            outcome = values.get(f"outcome_{user_id}", "")
            minutes = values.get(f"minutes_{user_id}", "")
            notes = values.get(f"notes_{user_id}", "")
            # An unticked checkbox posts nothing: absent means "not shared".
            shared = values.get(f"shared_{user_id}", "")
            if outcome or minutes.strip() or notes.strip():
                outcomes[user_id] = AttendanceInput(outcome, minutes, notes, shared)
        booking_service.record_attendance(
            db.session,
            current_user,
            booking,
            version=version,
            outcomes=outcomes,
            now=now(),
            policy=booking_policy(),
            context=request_context(),
        )
        result = "completed" if booking.status is BookingStatus.COMPLETED else "a no-show"
        return f"Attendance saved: the session is {result}."

    return _act(booking_id, "attendance", run, values)


@bp.post("/sessions/<int:booking_id>/meeting-link")
@allow(SIGNED_IN)
def meeting_link(booking_id: int) -> Any:
    url = request.form.get("meeting_url", "")

    def run(booking: Booking, version: int) -> str:
        booking_service.set_meeting_link(
            db.session,
            current_user,
            booking,
            version=version,
            url=url,
            now=now(),
            policy=booking_policy(),
            context=request_context(),
        )
        return "Meeting link saved." if booking.meeting_url else "Meeting link removed."

    return _act(booking_id, "meeting-link", run, {"meeting_url": url})
