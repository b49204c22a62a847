"""Admin monitoring (issue 7 adds periods, charts, tables and exports) and the mail outbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import notification_mail, outbox, periods, program_stats
from app.services.computed_cache import ComputedCache
from app.services.errors import InvalidTransition, StaleVersion
from app.web.access import ADMIN, allow
from app.web.context import after_response, is_htmx, now, request_context, viewer_timezone
from app.web.forms import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin/mentorship")


# The overview's dozen aggregate queries over every session (0.1-0.3 s at a million) are
# worked out once per period and zone per ADMIN_OVERVIEW_CACHE_SECONDS in each process, and
# refreshed after the answer for ADMIN_OVERVIEW_STALE_SECONDS more; the page says how old
# its figures are (app/services/computed_cache.py).
_overviews = ComputedCache()


@bp.get("")
@allow(ADMIN)
def overview() -> Any:
    """The program at a glance for a period (?period=month|30d|90d|year|custom&from=&to=, in
    the admin's zone). A custom range with a bad date answers 422 with the message next to the
    field and the numbers of this month."""
    moment = now()
    period = periods.parse_period(request.args, now=moment, tz=viewer_timezone())
    kept = _overviews.get(
        (str(db.engine.url), period.starts_at, period.ends_at, period.tz),
        lambda: program_stats.period_overview(db.session, period, now=moment),
        now=moment,
        seconds=int(current_app.config["ADMIN_OVERVIEW_CACHE_SECONDS"]),
        stale_seconds=int(current_app.config["ADMIN_OVERVIEW_STALE_SECONDS"]),
        defer=after_response,
    )
    data = kept.value
    html = render_template(
        "admin/overview.html",
        overview=data,
        figures_as_of=kept.computed_at,
        cache_seconds=int(current_app.config["ADMIN_OVERVIEW_CACHE_SECONDS"]),
        period=period,
        periods=periods.PERIODS,
        chart_data=_chart_data(data),
        now=now(),
    )
    return html, (422 if period.errors else 200)


# Carbon's categorical palette (data visualisation), in the order the series are drawn.
_STATUS_COLOURS = {
    "requested": "#0f62fe",
    "confirmed": "#24a148",
    "completed": "#009d9a",
    "no_show": "#da1e28",
    "cancelled": "#8d8d8d",
    "declined": "#525252",
}


def _chart_data(data: program_stats.PeriodOverview) -> dict[str, Any]:
    """What static/js/charts.js draws (it reads this from a JSON block: CSP allows no inline
    script). The same numbers are in the tables under each chart."""
    labels = [point.label for point in data.sessions_series]
    return {
        "sessions": {
            "labels": labels,
            "datasets": [
                {
                    "label": status.replace("_", "-").capitalize(),
                    "data": [p.values[status] for p in data.sessions_series],
                    "color": colour,
                }
                for status, colour in _STATUS_COLOURS.items()
            ],
        },
        "attendance": {
            "labels": labels,
            "datasets": [
                {
                    "label": "Attendance rate (%)",
                    "data": [
                        _rate(p.values["attended"] + p.values["late"], sum(p.values.values()))
                        for p in data.attendance_series
                    ],
                    "color": "#198038",
                }
            ],
        },
        "expertise": {
            "labels": [e.name for e in data.expertise[:12]],
            "datasets": [
                {
                    "label": "Sessions (demand)",
                    "data": [e.demand for e in data.expertise[:12]],
                    "color": "#6929c4",
                },
                {
                    "label": "Approved mentors (supply)",
                    "data": [e.supply for e in data.expertise[:12]],
                    "color": "#1192e8",
                },
            ],
        },
        "growth": {
            "labels": [p.label for p in data.growth_series],
            "datasets": [
                {
                    "label": "Approved mentors",
                    "data": [p.values["mentors"] for p in data.growth_series],
                    "color": "#6929c4",
                },
                {
                    "label": "Members",
                    "data": [p.values["members"] for p in data.growth_series],
                    "color": "#005d5d",
                },
            ],
        },
    }


def _rate(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 1) if denominator else None


# -- notifications: mail that has not gone out --------------------------------------------------

QUEUE_TABS = (
    ("unsent", "All unsent"),
    ("pending", "Pending"),
    ("failed", "Failed"),
    ("dead", "Dead"),
)


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
        request.args.get("status", "unsent"), page_number(request.args.get("page"))
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
    page = page_number(request.form.get("page"))
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
