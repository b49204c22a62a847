"""Chat between a mentor and a mentee (issue 8): threads, messages, reports.

    POST /mentor-hub/sessions/<id>/chat            open the pair's thread from one of their
                                                   sessions (made if needed), 303 to it
    GET  /mentor-hub/messages                      my conversations, newest first, paged
    GET  /mentor-hub/messages/badge                the header's Messages link (polled)
    GET  /mentor-hub/messages/<id>                 the thread (marks what it shows as read)
    GET  /mentor-hub/messages/<id>/new?after=<id>  only the newer messages (the thread polls)
    POST /mentor-hub/messages/<id>                 send (rate limited per person)
    POST /mentor-hub/messages/<id>/<msg>/report    report the other person's message

Participants read and write; an admin may read a thread with a reported message; anyone
else gets 404 and changes nothing (app/services/chat.py decides). Opening a thread is a POST:
GET never creates one. Reading moves the reader's read marker forward only.

HTMX: sending appends the new messages to the log and redraws the compose box (empty); a
refused message answers 422 with the box, the text kept and the reason under it. The thread
polls `new` every CHAT_POLL_SECONDS with the last id it shows: nothing new is a 204 (htmx
swaps nothing); static/js/chat.js skips the poll while the tab is hidden and polls at once
when it comes back. Without JavaScript every form posts and redirects.
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
from markupsafe import Markup

from app.db import db
from app.extensions import limiter
from app.models import Booking, ChatMessage
from app.services import chat as chat_service
from app.services import navigation_counts
from app.services.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from app.services.text_links import linkify
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import is_htmx, now, request_context, start_write
from app.web.forms import page_number as parse_page

bp = Blueprint("chat", __name__, url_prefix="/mentor-hub")

# htmx stops polling on this status (another tab signed out): see inbox.STOP_POLLING.
STOP_POLLING = 286


# -- helpers for every page: the header's Messages link, the message filter ------------------


def unread_messages() -> int:
    """The signed-in person's unread chat messages, counted at most once per request."""
    if "chat_unread" not in g:
        g.chat_unread = navigation_counts.unread_messages(db.session, current_user.id)
    return int(g.chat_unread)


def poll_seconds() -> int:
    return max(1, int(current_app.config.get("CHAT_POLL_SECONDS", 5)))


def badge_poll_seconds() -> int:
    return max(1, int(current_app.config.get("NOTIFY_BELL_POLL_SECONDS", 30)))


@bp.app_context_processor
def _chat_globals() -> dict[str, Any]:
    # Functions, not numbers: only pages that draw the header run the COUNT.
    return {"messages_badge": unread_messages, "messages_badge_poll": badge_poll_seconds}


@bp.app_template_filter("chat_text")
def chat_text(body: str | None) -> Markup:
    """A message's text as safe HTML: escaped, links clickable, line breaks kept."""
    return linkify(body or "")


def chat_panel(booking: Any, viewer: Any) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_chat_link.html): for one
    of the two participants, whether the pair has a thread and the viewer's unread count in
    it (one query); nothing for anyone else (an admin looking at the session)."""
    if not getattr(viewer, "is_authenticated", False) or viewer.id not in (
        booking.mentor_id,
        booking.mentee_id,
    ):
        return {"show": False}
    pair = chat_service.pair_chat(db.session, viewer.id, booking.mentor_id, booking.mentee_id)
    other = booking.mentee if viewer.id == booking.mentor_id else booking.mentor
    return {
        "show": True,
        "booking_id": booking.id,
        "thread_id": pair.thread_id,
        "unread": pair.unread,
        "other_name": other.name,
    }


# -- opening a thread -------------------------------------------------------------------------


@bp.post("/sessions/<int:booking_id>/chat")
@allow(SIGNED_IN)
def open_for_session(booking_id: int) -> Any:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        abort(404)
    thread_id = chat_service.open_for_booking(
        db.session, current_user, booking, now=now(), context=request_context()
    )
    db.session.commit()
    return redirect(url_for("chat.thread", thread_id=thread_id), 303)


# -- the list -----------------------------------------------------------------------------------


@bp.get("/messages")
@allow(SIGNED_IN)
def index() -> Any:
    page = chat_service.thread_page(
        db.session, current_user.id, parse_page(request.args.get("page"))
    )
    return render_template("chat/index.html", page=page)


@bp.get("/messages/badge")
@allow(PUBLIC)  # signed out in another tab: 286 stops the poll
def badge() -> Any:
    if not current_user.is_authenticated:
        return "", STOP_POLLING
    count = unread_messages()
    shown = request.args.get("shown", type=int)
    if shown is not None and shown == count:
        return "", 204
    return render_template("chat/_header_link.html")


# -- a thread -----------------------------------------------------------------------------------


def _view(thread_id: int) -> chat_service.ThreadView:
    try:
        return chat_service.view_thread(db.session, current_user, thread_id)
    except NotFound:
        abort(404)


def _names(view: chat_service.ThreadView) -> dict[int, str]:
    thread = view.thread
    return {thread.mentor_id: thread.mentor.name, thread.mentee_id: thread.mentee.name}


def _message_context(view: chat_service.ThreadView) -> dict[str, Any]:
    return {
        "view": view,
        "names": _names(view),
        "me": current_user.id,
    }


def _thread_context(
    view: chat_service.ThreadView,
    *,
    body: str = "",
    error: str | None = None,
) -> dict[str, Any]:
    before = request.args.get("before", type=int)
    shown = chat_service.messages(db.session, view.thread.id, before=before)
    older = bool(shown) and chat_service.has_older(db.session, view.thread.id, shown[0].id)
    if view.is_participant:
        reported = chat_service.reported_by(db.session, current_user.id, [m.id for m in shown])
        flagged: set[int] = set()
    else:
        reported = set()
        flagged = chat_service.reported_messages(db.session, view.thread.id)
    last_id = shown[-1].id if shown else 0
    if before is not None:
        # An older page: the poll and the form still continue from the newest message.
        newest = chat_service.messages(db.session, view.thread.id, limit=1)
        last_id = newest[-1].id if newest else 0
    return {
        **_message_context(view),
        "shown": shown,
        "older": older,
        "paging_back": before is not None,
        "reported": reported,
        "flagged": flagged,
        "last_id": last_id,
        "body": body,
        "error": error,
        "max_length": chat_service.MAX_LENGTH,
        "poll_seconds": poll_seconds(),
    }


def _mark_read(view: chat_service.ThreadView, upto: int) -> None:
    """Move the reader's marker in a write transaction of its own, only when it moves: a
    GET reads first, and on SQLite a read transaction that then writes fails at once if
    someone wrote in between (see context.start_write)."""
    if not view.is_participant or upto <= view.read_upto:
        return
    start_write()
    if chat_service.mark_read(db.session, view, upto):
        g.pop("chat_unread", None)
    db.session.commit()


@bp.get("/messages/<int:thread_id>")
@allow(SIGNED_IN)
def thread(thread_id: int) -> Any:
    view = _view(thread_id)
    # The side nav marks the list this thread belongs to for this viewer.
    g.nav_endpoint = "chat.index" if view.is_participant else "admin_chat.index"
    context = _thread_context(view)
    # Like opening mail: what the page shows is read (the marker only moves forward).
    if not context["paging_back"]:
        _mark_read(view, context["last_id"])
    return render_template("chat/thread.html", **context)


@bp.get("/messages/<int:thread_id>/new")
@allow(SIGNED_IN)
def poll(thread_id: int) -> Any:
    view = _view(thread_id)
    after = max(0, request.args.get("after", default=0, type=int) or 0)
    fresh = chat_service.messages(db.session, view.thread.id, after=after)
    if not fresh:
        return "", 204
    _mark_read(view, fresh[-1].id)
    return render_template(
        "chat/_appended.html",
        **_message_context(view),
        fresh=fresh,
        reported=set(),
        flagged=set(),
        last_id=fresh[-1].id,
    )


def _user_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{request.remote_addr}"


def _post_limit() -> str:
    return str(current_app.config["CHAT_POST_LIMIT"])


@bp.post("/messages/<int:thread_id>")
@allow(SIGNED_IN)
@limiter.limit(_post_limit, key_func=_user_key, scope="chat-post")
def send(thread_id: int) -> Any:
    view = _view(thread_id)
    body = request.form.get("body", "")
    after = max(0, request.form.get("after", default=0, type=int) or 0)
    try:
        message = chat_service.post_message(db.session, view, body, now=now())
    except ValidationFailed as error:
        db.session.rollback()
        message_text = error.field_errors.get("body", error.message)
        if is_htmx():
            response = make_response(
                render_template(
                    "chat/_compose.html",
                    **_message_context(view),
                    body=body,
                    error=message_text,
                    max_length=chat_service.MAX_LENGTH,
                ),
                422,
            )
            response.headers["X-MentorHub-Swap"] = "true"
            response.headers["HX-Retarget"] = "#chat-compose"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        view = _view(thread_id)
        return render_template(
            "chat/thread.html", **_thread_context(view, body=body, error=message_text)
        ), 422
    except NotAllowed:
        db.session.rollback()
        abort(404 if not view.is_participant else 403)
    message_id = message.id
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("chat.thread", thread_id=thread_id, _anchor="latest"), 303)
    fresh = chat_service.messages(db.session, thread_id, after=min(after, message_id - 1))
    return render_template(
        "chat/_appended.html",
        **_message_context(view),
        fresh=fresh,
        reported=set(),
        flagged=set(),
        last_id=fresh[-1].id if fresh else message_id,
        sent=True,
        body="",
        error=None,
        max_length=chat_service.MAX_LENGTH,
    )


@bp.post("/messages/<int:thread_id>/<int:message_id>/report")
@allow(SIGNED_IN)
def report(thread_id: int, message_id: int) -> Any:
    view = _view(thread_id)
    if not view.is_participant:
        abort(404)
    reason = request.form.get("reason", "")
    status, error, notice = 200, None, None
    try:
        chat_service.report_message(
            db.session, view, message_id, reason, now=now(), context=request_context()
        )
        db.session.commit()
        notice = "Reported. An admin will look at it."
    except NotFound:
        db.session.rollback()
        abort(404)
    except NotAllowed as refused:
        db.session.rollback()
        status, notice = 403, refused.message
    except InvalidTransition as refused:
        db.session.rollback()
        status, notice = 409, refused.message
    except ValidationFailed as refused:
        db.session.rollback()
        status, error = 422, refused.field_errors.get("reason", refused.message)
    if not is_htmx():
        if error or status >= 400:
            flash(error or notice or "That didn't work.", "error")
        else:
            flash(notice or "Reported.", "success")
        return redirect(
            url_for("chat.thread", thread_id=thread_id, _anchor=f"message-{message_id}"), 303
        )
    message = db.session.get(ChatMessage, message_id)
    if message is None or message.thread_id != view.thread.id:
        abort(404)
    reported = chat_service.reported_by(db.session, current_user.id, [message_id])
    response = make_response(
        render_template(
            "chat/_message.html",
            **_message_context(view),
            m=message,
            reported=reported,
            flagged=set(),
            report_error=error,
            report_reason=reason if error else "",
            report_notice=notice,
        ),
        status,
    )
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return response
