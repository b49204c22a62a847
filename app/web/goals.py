"""Goals and action items of a mentor and mentee pair (issue 8).

    POST /mentor-hub/sessions/<id>/goals            add an item (kind, title, due_on)
    POST /mentor-hub/sessions/<id>/goals/check      check off / un-check (goal_id, done, version)
    POST /mentor-hub/sessions/<id>/goals/edit       kind, title, due_on (goal_id, version)
    POST /mentor-hub/sessions/<id>/goals/delete     delete (goal_id, version)

The panel (templates/sessions/_goals.html, context from `goals_panel`) is drawn on the session
detail page and on the mentor's feedback page; it needs only `goals_panel`, `b`, `viewer_tz`,
`now` and `current_user`. The two participants of the session change the pair's items; admins
see them read-only; anyone else gets 404, whatever they try. Answers for HTMX: the panel,
redrawn from the database (200 done; 422 with the messages next to the fields and what was
typed; 409 the fresh state and why; 403 why not), 4xx marked `X-MentorHub-Swap`. Without
HTMX: 303 back to the page the form came from (a safe `next`), with a flash; a refusal draws
the session detail page with the panel's messages. The rules are app/services/goals.py.
"""

from __future__ import annotations

from collections.abc import Callable
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
from app.models import Booking
from app.models.follow_through import GoalKind, PairGoal
from app.services import goals as service
from app.services import session_lists
from app.services.errors import (
    DomainError,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web.access import SIGNED_IN, allow
from app.web.context import is_htmx, now, request_context, safe_next, start_write, viewer_timezone

bp = Blueprint("goals", __name__, url_prefix="/mentor-hub")

KIND_OPTIONS = [(GoalKind.ACTION_ITEM.value, "Action item"), (GoalKind.GOAL.value, "Goal")]


@bp.app_template_global("goal_status")
def goal_status(goal: PairGoal) -> str:
    """An item's status ("done", "overdue", "open") on the viewer's today: for any page that
    lists a pair's items (the progress snapshot)."""
    return service.status_of(goal, service.today_in(now(), viewer_timezone()))


def _state() -> dict[str, Any]:
    """What the last goals action left for the panel: typed values, messages, a notice."""
    return g.get("goals_state") or {}


def _here(booking: Booking) -> str:
    """Where a no-JS form returns: the page the panel is drawn on."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return safe_next(request.form.get("next")) or url_for(
        "mentor.session_detail", booking_id=booking.id
    )


def goals_panel(booking: Booking, viewer: Any) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_goals.html): two queries."""
    data = service.panel(db.session, booking, now=now(), tz=viewer_timezone())
    state = _state()
    names = {booking.mentor_id: booking.mentor.name, booking.mentee_id: booking.mentee.name}
    return {
        "panel": data,
        "can_edit": service.is_participant(viewer, booking) and booking.status.value != "declined",
        "values": state.get("values") or {"kind": GoalKind.ACTION_ITEM.value},
        # The edit form left open after a refusal: {"id", "values", "errors"}.
        "edit": state.get("edit") or {},
        "errors": state.get("errors") or {},
        "notice": state.get("notice"),
        "focus": bool(state.get("focus")),
        "kinds": KIND_OPTIONS,
        "kind_words": {k.value: w for k, w in service.KIND_WORDS.items()},
        "title_max": service.TITLE_MAX,
        "today": data.today,
        "today_iso": data.today.isoformat(),
        "names": names,
        "status_of": lambda goal: service.status_of(goal, data.today),
        "next_url": _here(booking),
    }


def _visible(booking_id: int) -> Booking:
    booking = session_lists.load_session(db.session, booking_id)
    if booking is None or not session_lists.can_view(current_user, booking):
        abort(404)
    return booking


def _version(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return -1


def _goal_id(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


def _render_panel(booking: Booking, status: int = 200) -> Any:
    body = render_template(
        "sessions/_goals.html",
        goals_panel=goals_panel(booking, current_user),
        b=booking,
        viewer_tz=viewer_timezone(),
        now=now(),
    )
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return response


def _refused_page(booking: Booking, status: int) -> Any:
    from app.web import mentor  # the detail page's module imports this one

    page = mentor._render_detail_page(booking, mentor.FormState())
    return make_response(page, status)


def _act(
    booking_id: int, run: Callable[[Booking], str], values: dict[str, str], edit_id: int = 0
) -> Any:
    """One action in its own write transaction, answered as the module docstring says."""
    try:
        start_write()
        booking = _visible(booking_id)
        if not service.is_participant(current_user, booking):
            # Admins read the pair's items; they do not change them.
            raise NotAllowed("Only the mentor and the mentee of this session change its goals.")
        done = run(booking)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        if edit_id:
            g.goals_state = {
                "edit": {"id": edit_id, "values": values, "errors": dict(err.field_errors)},
                "focus": True,
            }
        else:
            g.goals_state = {"values": values, "errors": dict(err.field_errors), "focus": True}
        if err.message and not err.field_errors:
            g.goals_state["notice"] = {"kind": "error", "title": "Not saved", "text": err.message}
        return _refusal(booking_id, 422)
    except (StaleVersion, NotFound, NotAllowed) as err:
        db.session.rollback()
        if isinstance(err, StaleVersion):
            title = "This item changed while you were looking"
        elif isinstance(err, NotFound):
            title = "That item is gone"
        else:
            title = "Not allowed"
        g.goals_state = {
            "notice": {"kind": "error", "title": title, "text": err.message},
            "focus": True,
        }
        status = 403 if isinstance(err, NotAllowed) else 409
        return _refusal(booking_id, status)
    except DomainError as err:  # pragma: no cover - every service error is listed above
        db.session.rollback()
        g.goals_state = {"notice": {"kind": "error", "title": "Not saved", "text": err.message}}
        return _refusal(booking_id, err.status_code)

    booking = _visible(booking_id)
    if not is_htmx():
        flash(done, "success")
        return redirect(_here(booking), 303)
    g.goals_state = {"notice": {"kind": "success", "title": done, "text": ""}}
    return _render_panel(booking)


def _refusal(booking_id: int, status: int) -> Any:
    booking = _visible(booking_id)
    if is_htmx():
        return _render_panel(booking, status)
    return _refused_page(booking, status)


@bp.post("/sessions/<int:booking_id>/goals")
@allow(SIGNED_IN)
def add(booking_id: int) -> Any:
    form = request.form
    values = {key: form.get(key, "") for key in ("kind", "title", "due_on")}

    def run(booking: Booking) -> str:
        goal = service.create(
            db.session,
            current_user,
            booking,
            service.GoalInput(**values),
            now=now(),
            tz=viewer_timezone(),
            context=request_context(),
        )
        words = service.KIND_WORDS[goal.kind].capitalize()
        return f"{words} added. {_other_first_name(booking)} can see it too."

    return _act(booking_id, run, values)


@bp.post("/sessions/<int:booking_id>/goals/check")
@allow(SIGNED_IN)
def check(booking_id: int) -> Any:
    form = request.form
    done = form.get("done") == "1"

    def run(booking: Booking) -> str:
        goal: PairGoal = service.set_done(
            db.session,
            current_user,
            booking,
            _goal_id(form.get("goal_id")),
            done=done,
            version=_version(form.get("version")),
            now=now(),
            context=request_context(),
        )
        return f"“{goal.title}” is {'done' if done else 'open again'}."

    return _act(booking_id, run, {})


@bp.post("/sessions/<int:booking_id>/goals/edit")
@allow(SIGNED_IN)
def edit(booking_id: int) -> Any:
    form = request.form
    values = {key: form.get(key, "") for key in ("kind", "title", "due_on")}
    goal_id = _goal_id(form.get("goal_id"))

    def run(booking: Booking) -> str:
        goal = service.edit(
            db.session,
            current_user,
            booking,
            goal_id,
            service.GoalInput(**values),
            version=_version(form.get("version")),
            now=now(),
            tz=viewer_timezone(),
            context=request_context(),
        )
        return f"“{goal.title}” saved."

    return _act(booking_id, run, values, edit_id=goal_id)


@bp.post("/sessions/<int:booking_id>/goals/delete")
@allow(SIGNED_IN)
def remove(booking_id: int) -> Any:
    form = request.form

    def run(booking: Booking) -> str:
        goal = service.remove(
            db.session,
            current_user,
            booking,
            _goal_id(form.get("goal_id")),
            version=_version(form.get("version")),
            now=now(),
            context=request_context(),
        )
        return f"“{goal.title}” deleted."

    return _act(booking_id, run, {})


def _other_first_name(booking: Booking) -> str:
    other = booking.mentee if current_user.id == booking.mentor_id else booking.mentor
    return other.name.split(" ")[0] if other.name else other.name
