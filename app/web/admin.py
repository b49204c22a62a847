"""Admin monitoring (issue 7 adds periods, charts, tables and exports) and the mail outbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import notification_mail, outbox, program_stats
from app.services.errors import InvalidTransition, StaleVersion
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context

bp = Blueprint("admin", __name__, url_prefix="/admin/mentorship")


@bp.get("")
@allow(ADMIN)
def overview() -> Any:
    return render_template("admin/overview.html", overview=program_stats.admin_overview(db.session))


# -- notifications: mail that has not gone out --------------------------------------------------

QUEUE_TABS = (
    ("unsent", "All unsent"),
    ("pending", "Pending"),
    ("failed", "Failed"),
    ("dead", "Dead"),
)


def _page_number(raw: Any) -> int:
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def _queue_href(tab: str, page: int = 1) -> str:
    """The canonical address of a tab and page (defaults left out)."""
    args: dict[str, Any] = {}
    if tab in outbox.QUEUE_TABS and tab != "unsent":
        args["status"] = tab
    if page > 1:
        args["page"] = page
    return url_for("admin.notifications", **args)


def _queue_context(tab: str, page: int, notice: str | None = None) -> dict[str, Any]:
    queue = outbox.queue_page(db.session, tab=tab, page=page, now=now())
    return {
        "queue": queue,
        "tabs": QUEUE_TABS,
        "notice": notice,
        "kind_label": notification_mail.kind_label,
        "max_attempts": current_app.config["NOTIFY_MAX_ATTEMPTS"],
        "keeps_mail": not current_app.config["MAIL_SERVER"],
        "queue_href": _queue_href,
        "now": now(),
    }


@bp.get("/notifications")
@allow(ADMIN)
def notifications() -> Any:
    """Pending, failed and dead mail, by status tab (?status=), with Retry for failed/dead.
    HTMX (tabs, pages) gets only the queue fragment."""
    context = _queue_context(
        request.args.get("status", "unsent"), _page_number(request.args.get("page"))
    )
    if is_htmx():
        return render_template("admin/_notification_queue.html", **context)
    return render_template("admin/notifications.html", **context)


@bp.post("/notifications/<int:notification_id>/retry")
@allow(ADMIN)
def retry_notification(notification_id: int) -> Any:
    """Send a failed or dead mail again (now). HTMX gets the refreshed queue fragment; a
    plain form post is redirected back to the tab it came from."""
    tab = request.form.get("status", "unsent")
    page = _page_number(request.form.get("page"))
    try:
        row = outbox.retry(
            db.session, current_user, notification_id, now=now(), context=request_context()
        )
    except (InvalidTransition, StaleVersion) as err:
        db.session.rollback()
        if is_htmx():
            raise
        flash(err.message, "error")
        return redirect(_queue_href(tab, page), code=303)
    db.session.commit()
    recipient = outbox.queue_row(db.session, row.id, now())
    who = recipient.recipient_name if recipient else "the recipient"
    notice = (
        f"The mail to {who} ({notification_mail.kind_label(row.kind).lower()}) is queued again "
        "and goes out with the next delivery run."
    )
    if is_htmx():
        return render_template(
            "admin/_notification_queue.html", **_queue_context(tab, page, notice)
        )
    flash(notice, "success")
    return redirect(_queue_href(tab, page), code=303)
