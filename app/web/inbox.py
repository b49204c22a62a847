"""The in-app inbox (/notifications), the bell in the header, and one-click unsubscribe.

The bell shows the unread count on every page (one COUNT on ix_notifications_user_read)
and refreshes itself without a reload: it polls /notifications/bell every
NOTIFY_BELL_POLL_SECONDS (default 30) and whenever something on the page fires
`mh:notifications-changed` (marking read does, through HX-Trigger). The poll names the
count it shows; an unchanged count answers 204, so htmx swaps nothing.

Unsubscribe: reminder emails carry `unsubscribe_url(user, group)`. The token in it is
signed (itsdangerous, salt "unsubscribe") and is the only credential, so the route is
PUBLIC and exempt from CSRF: mail providers POST `List-Unsubscribe=One-Click` to it
without any cookie or form token (RFC 8058). That is safe because a forged request cannot
carry a valid token for someone else (it cannot be made without the secret key), and the
action is idempotent and harmless (it only turns an optional email off, and the account
page turns it back on). The GET only shows a button: mail scanners open links.
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
from app.extensions import csrf
from app.models import User
from app.services import inbox, preferences
from app.services.errors import NotFound
from app.services.notification_mail import payload_path
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import is_htmx, now, request_context, viewer_timezone
from app.web.forms import page_number as parse_page

bp = Blueprint("inbox", __name__)

CHANGED_EVENT = "mh:notifications-changed"
# htmx stops polling on this status (and swaps in the empty answer: the bell goes away).
STOP_POLLING = 286


# -- the bell ---------------------------------------------------------------------------------


def unread_count() -> int:
    """The signed-in user's unread count, counted at most once per request."""
    if "inbox_unread" not in g:
        g.inbox_unread = inbox.unread_count(db.session, current_user.id)
    return int(g.inbox_unread)


def bell_poll_seconds() -> int:
    return max(1, int(current_app.config.get("NOTIFY_BELL_POLL_SECONDS", 30)))


@bp.app_context_processor
def _bell_globals() -> dict[str, Any]:
    # A function, not a number: only pages that draw the header (and only for a signed-in
    # person) run the COUNT; fragments never do.
    return {"inbox_bell": unread_count, "bell_poll_seconds": bell_poll_seconds}


@bp.get("/notifications/bell")
@allow(PUBLIC)  # signed out (another tab signed out): 286 stops the poll and removes the bell
def bell() -> Any:
    if not current_user.is_authenticated:
        return "", STOP_POLLING
    count = unread_count()
    shown = request.args.get("shown", type=int)
    if shown is not None and shown == count:
        return "", 204
    return render_template("notifications/_bell.html")


# -- the inbox --------------------------------------------------------------------------------


def _render_list(page_number: int, notice: str | None = None) -> str:
    page = inbox.inbox_page(db.session, current_user.id, page_number, tz=viewer_timezone())
    g.inbox_unread = page.unread  # the header's bell shows the same count, no second COUNT
    return render_template(
        "notifications/_list.html" if is_htmx() else "notifications/index.html",
        page=page,
        notice=notice,
    )


@bp.get("/notifications")
@allow(SIGNED_IN)
def index() -> Any:
    return _render_list(parse_page(request.args.get("page")))


def _done(notice: str) -> Any:
    """After a change: HTMX gets the list again (and the bell is told); a plain form post
    goes back to the page it came from."""
    page_number = parse_page(request.form.get("page"))
    if is_htmx():
        response = make_response(_render_list(page_number, notice))
        response.headers["HX-Trigger"] = CHANGED_EVENT
        return response
    flash(notice, "success")
    target = url_for("inbox.index", page=page_number) if page_number > 1 else None
    return redirect(target or url_for("inbox.index"), 303)


@bp.post("/notifications/<int:notification_id>/read")
@allow(SIGNED_IN)
def mark_read(notification_id: int) -> Any:
    try:
        inbox.mark_read(db.session, current_user.id, notification_id, now=now())
    except NotFound:
        db.session.rollback()
        abort(404)
    db.session.commit()
    return _done("Marked as read.")


@bp.post("/notifications/read-all")
@allow(SIGNED_IN)
def mark_all_read() -> Any:
    upto = request.form.get("upto", type=int)
    changed = inbox.mark_all_read(db.session, current_user.id, now=now(), upto=upto)
    db.session.commit()
    if changed == 1:
        return _done("1 notification marked as read.")
    return _done(f"{changed} notifications marked as read." if changed else "All caught up.")


@bp.post("/notifications/<int:notification_id>/open")
@allow(SIGNED_IN)
def open_notification(notification_id: int) -> Any:
    """Mark read, then go to the session it is about (a POST: GET never changes anything)."""
    try:
        row = inbox.mark_read(db.session, current_user.id, notification_id, now=now())
    except NotFound:
        db.session.rollback()
        abort(404)
    booking_id, kind, payload = row.booking_id, row.kind, dict(row.payload or {})
    db.session.commit()
    # A payload's own page (feedback, chat) wins over the session it is about.
    if booking_id is not None and payload_path(payload) is None:
        return redirect(url_for("mentor.session_detail", booking_id=booking_id), 303)
    return redirect(_about_page(kind, payload), 303)


def _about_page(kind: str, payload: dict[str, Any]) -> str:
    """Where a notification that is not about a session leads."""
    path = payload_path(payload)
    if path is not None:
        return path
    if kind == "mentor_approved":
        return url_for("schedule.page")
    if kind == "mentor_rejected":
        return url_for("apply.start")
    profile_id = payload.get("profile_id")
    if kind == "mentor_application_submitted" and isinstance(profile_id, int):
        return url_for("admin_mentors.review", profile_id=profile_id)
    return url_for("inbox.index")


# -- one-click unsubscribe ----------------------------------------------------------------------


def unsubscribe_url(user: User, group: str = "reminders") -> str:
    """The absolute one-click unsubscribe address for `user` and a group of
    preferences.GROUPS, for the List-Unsubscribe header and the email's footer.

    Works in any app context (the mail job has no request): the path is built from the
    URL map, the host from BASE_URL."""
    token = preferences.unsubscribe_token(user.id, group, current_app.config["SECRET_KEY"])
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build("inbox.unsubscribe", {"token": token})
    return str(current_app.config["BASE_URL"]) + path


def _unsubscribing(token: str) -> tuple[User, str]:
    found = preferences.read_unsubscribe_token(token, current_app.config["SECRET_KEY"])
    if found is None:
        abort(404)
    user_id, group = found
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        abort(404)
    return user, group


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; see the module docstring
@allow(PUBLIC)
def unsubscribe(token: str) -> Any:
    user, group = _unsubscribing(token)
    info = preferences.GROUP_INFO[group]
    done = False
    if request.method == "POST":
        # A person pressing the button, or a mail provider's RFC 8058 one-click POST
        # (body "List-Unsubscribe=One-Click"): the same idempotent change.
        preferences.unsubscribe(db.session, user, group, now=now(), context=request_context())
        db.session.commit()
        done = True
    already = not done and group in preferences.opted_out(user)
    response = make_response(
        render_template(
            "notifications/unsubscribe.html", group=info, token=token, done=done, already=already
        )
    )
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"  # the address is a credential
    return response
