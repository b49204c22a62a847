"""Admin review of mentor applications (/admin/mentorship/mentors).

The queue: mentor profiles by status (pending by default), searchable by name or email,
paged, in a fixed number of queries. HTMX (tabs, search, pages) gets only the queue
fragment. The review page shows the whole application and its decision history, with
Approve and Reject (a reason is required). A decision answers an HTMX request with the
decision panel redrawn (422 with the typed reason kept; 409 with the current state when
another admin decided first) and a plain form post with a redirect (303) and a flash.
The rules live in app/services/mentor_application.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.models import MentorProfile
from app.services import mentor_application as applications
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context

# Note: app/web/schedule.py's admin_schedule blueprint shares this prefix for
# /<profile_id>/schedule; the routes here never use that shape.
bp = Blueprint("admin_mentors", __name__, url_prefix="/admin/mentorship/mentors")


@bp.before_request
def _nav() -> None:
    # A review page belongs under the side nav's "Mentors" entry.
    g.nav_endpoint = "admin_mentors.index"


FILTERS = (
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("suspended", "Suspended"),
    ("all", "All"),
)


def _page_number(raw: Any) -> int:
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def queue_href(status: str, query: str = "", page: int = 1) -> str:
    """The canonical address of a filter, search and page (defaults left out)."""
    args: dict[str, Any] = {}
    if status != "pending":
        args["status"] = status
    if query:
        args["q"] = query
    if page > 1:
        args["page"] = page
    return url_for("admin_mentors.index", **args)


def _vary(response: Any) -> Any:
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """The queue; ?status=pending|approved|rejected|suspended|all, ?q=, ?page=."""
    queue = applications.review_queue(
        db.session,
        status=request.args.get("status", "pending"),
        query=request.args.get("q", ""),
        page=_page_number(request.args.get("page")),
    )
    context = {"queue": queue, "filters": FILTERS, "queue_href": queue_href}
    template = "admin/_mentor_queue.html" if is_htmx() else "admin/mentors.html"
    return _vary(make_response(render_template(template, **context)))


def _load(profile_id: int) -> MentorProfile:
    try:
        return applications.load_for_review(db.session, profile_id)
    except NotFound:
        from flask import abort

        abort(404)


def _review_context(
    profile: MentorProfile,
    *,
    notice: dict[str, str] | None = None,
    reason: str = "",
    reason_error: str | None = None,
    open_reject: bool = False,
) -> dict[str, Any]:
    return {
        "profile": profile,
        "history": applications.decision_history(db.session, profile.id),
        "can_decide": applications.can_decide(current_user, profile),
        "notice": notice,
        "reason": reason,
        "reason_error": reason_error,
        "open_reject": open_reject,
        "reason_max": applications.REASON_MAX,
        "days": dict(applications.DAYS),
        "times_of_day": dict(applications.TIMES_OF_DAY),
        "edit_links": False,
    }


@bp.get("/<int:profile_id>")
@allow(ADMIN)
def review(profile_id: int) -> Any:
    """The whole application, its history, and the decision panel."""
    profile = _load(profile_id)
    return render_template("admin/mentor_review.html", **_review_context(profile))


def _panel(context: dict[str, Any], status: int) -> Any:
    """The decision panel, and the history out of band (a decision adds to it)."""
    body = render_template("admin/_mentor_decision.html", **context) + render_template(
        "admin/_mentor_history.html", oob=True, **context
    )
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return _vary(response)


def _decide(profile_id: int, decision: str) -> Any:
    profile = _load(profile_id)
    reason = request.form.get("reason", "")
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = -1
    try:
        if decision == "approve":
            applications.approve(
                db.session,
                current_user,
                profile,
                version=version,
                now=now(),
                context=request_context(),
            )
            message = (
                f"{profile.user.name} is approved. They have been told, and their next "
                "sign-in opens the Schedule tab."
            )
        else:
            applications.reject(
                db.session,
                current_user,
                profile,
                version=version,
                reason=reason,
                now=now(),
                context=request_context(),
            )
            message = f"{profile.user.name}'s application is rejected. They have been told why."
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        fresh = _load(profile_id)
        error = err.field_errors.get("reason") or err.message
        context = _review_context(fresh, reason=reason, reason_error=error, open_reject=True)
        if is_htmx():
            return _panel(context, 422)
        return render_template("admin/mentor_review.html", **context), 422
    except (InvalidTransition, StaleVersion) as err:
        db.session.rollback()
        fresh = _load(profile_id)
        context = _review_context(
            fresh,
            notice={"kind": "warning", "text": err.message},
            reason=reason if decision == "reject" else "",
        )
        if is_htmx():
            return _panel(context, 409)
        return render_template("admin/mentor_review.html", **context), 409
    except NotAllowed as err:
        db.session.rollback()
        context = _review_context(_load(profile_id), notice={"kind": "error", "text": err.message})
        if is_htmx():
            return _panel(context, 403)
        return render_template("admin/mentor_review.html", **context), 403
    if is_htmx():
        fresh = _load(profile_id)
        return _panel(_review_context(fresh, notice={"kind": "success", "text": message}), 200)
    flash(message, "success")
    return redirect(url_for("admin_mentors.review", profile_id=profile_id), 303)


@bp.post("/<int:profile_id>/approve")
@allow(ADMIN)
def approve(profile_id: int) -> Any:
    return _decide(profile_id, "approve")


@bp.post("/<int:profile_id>/reject")
@allow(ADMIN)
def reject(profile_id: int) -> Any:
    return _decide(profile_id, "reject")
