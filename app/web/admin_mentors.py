"""Admin mentors (/admin/mentorship/mentors): the table and the review page.

The table: mentor profiles by status (pending by default), searched by name or email,
filtered by expertise and rating, sorted by a header, paged, in a fixed number of queries;
CSV export of the same filter (all pages, streamed). Each row's menu approves, rejects,
suspends or reactivates with a reason (admin_mentors.act); ticked pending rows are approved
together (bulk_approve), each its own compare-and-swap. Every link and form swaps the whole
table fragment under htmx (422 with the typed reason kept, 409 with the current state when
another admin decided first); without JavaScript they load or post and the page is redrawn
(303 and a flash after a change). The review page shows the whole application and its
decision history, with Approve and Reject. The rules live in
app/services/mentor_application.py.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
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
from app.models import MentorProfile
from app.services import mentor_application as applications
from app.services.csv_export import csv_line
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context
from app.web.forms import page_number

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
ACTION_WORDS = {
    "approve": ("Approve", "Note for the history (optional)", "Approve"),
    "reject": ("Reject", "Reason for rejecting", "Reject application"),
    "suspend": ("Suspend", "Reason for suspending", "Suspend mentor"),
    "reactivate": ("Reactivate", "Reason for reactivating", "Reactivate mentor"),
}
_STATE_KEYS = ("status", "q", "expertise", "rating", "sort", "page")


def _filter_from(values: Any) -> applications.QueueFilter:
    """The table's state from the query string (GET) or the hidden fields (POST)."""
    return applications.QueueFilter(
        status=values.get("status", "pending"),
        query=values.get("q", ""),
        expertise=values.get("expertise", ""),
        rating=values.get("rating", ""),
        sort=values.get("sort", ""),
    ).normal()


def _state_args(f: applications.QueueFilter, page: int = 1) -> dict[str, Any]:
    """The canonical arguments of a table state (defaults left out)."""
    args: dict[str, Any] = {}
    if f.status != "pending":
        args["status"] = f.status
    if f.query:
        args["q"] = f.query
    if f.expertise:
        args["expertise"] = f.expertise
    if f.rating:
        args["rating"] = f.rating
    if f.sort:
        args["sort"] = f.sort
    if page > 1:
        args["page"] = page
    return args


def queue_href(status: str, query: str = "", page: int = 1) -> str:
    """The address of a status tab and search (other filters at their defaults)."""
    f = applications.QueueFilter(status=status, query=query).normal()
    return url_for("admin_mentors.index", **_state_args(f, page))


def _hrefs(f: applications.QueueFilter, page: int) -> Any:
    """href(**changes): this table's address with some of its state changed; a change of
    filter or sort goes back to page 1."""

    def href(endpoint: str = "admin_mentors.index", **changes: Any) -> str:
        values = {
            "status": f.status,
            "query": f.query,
            "expertise": f.expertise,
            "rating": f.rating,
            "sort": f.sort,
        }
        target_page = int(changes.pop("page", 1))
        values.update(changes)
        nf = applications.QueueFilter(**values).normal()
        return url_for(endpoint, **_state_args(nf, target_page))

    return href


def _vary(response: Any) -> Any:
    response.headers["Vary"] = "HX-Request"
    return response


def _queue_context(
    f: applications.QueueFilter,
    page: int,
    *,
    notice: dict[str, Any] | None = None,
    open_action: tuple[int, str] | None = None,
    reason: str = "",
    reason_error: str | None = None,
) -> dict[str, Any]:
    queue = applications.review_queue(
        db.session,
        status=f.status,
        query=f.query,
        expertise=f.expertise,
        rating=f.rating,
        sort=f.sort,
        page=page,
    )
    return {
        "queue": queue,
        "filters": FILTERS,
        "queue_href": queue_href,
        "href": _hrefs(queue.filter, queue.page),
        "expertise_options": applications.expertise_options(db.session),
        "ratings": applications.RATINGS,
        "sorts": applications.SORTS,
        "action_words": ACTION_WORDS,
        "actions_for": lambda profile: applications.available_actions(current_user, profile),
        "notice": notice,
        "open_action": open_action,
        "reason": reason,
        "reason_error": reason_error,
        "reason_max": applications.REASON_MAX,
    }


def _queue_response(context: dict[str, Any], status: int = 200) -> Any:
    template = "admin/_mentor_queue.html" if is_htmx() else "admin/mentors.html"
    response = make_response(render_template(template, **context), status)
    if status >= 400 and is_htmx():
        response.headers["X-MentorHub-Swap"] = "true"
    return _vary(response)


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """The table; ?status=pending|approved|rejected|suspended|all, ?q=, ?expertise=<slug>,
    ?rating=4|3|unrated, ?sort=name|submitted|approved|sessions|rating (-desc), ?page=."""
    f = _filter_from(request.args)
    return _queue_response(_queue_context(f, page_number(request.args.get("page"))))


@bp.get("/export.csv")
@allow(ADMIN)
def export() -> Any:
    """Every profile the table shows for the same filters and sort (all pages), as CSV,
    streamed so that a large program does not wait for one big answer."""
    f = _filter_from(request.args)
    rows = applications.export_rows(db.session, f)

    def generate() -> Any:
        for row in rows:
            yield csv_line(row)

    stamp = now().strftime("%Y%m%d-%H%M")
    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="mentors-{f.status}-{stamp}.csv"'
    )
    return response


def _version(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


@bp.post("/<int:profile_id>/act")
@allow(ADMIN)
def act(profile_id: int) -> Any:
    """A row action from the table (approve, reject, suspend, reactivate, with a reason);
    the table is redrawn with the result, keeping its filters, sort and page."""
    f = _filter_from(request.form)
    page = page_number(request.form.get("page"))
    action = request.form.get("action", "")
    reason = request.form.get("reason", "")
    profile = _load(profile_id)
    name = profile.user.name
    version = _version(request.form.get("version"))
    kwargs: dict[str, Any] = {"version": version, "now": now(), "context": request_context()}
    try:
        if action == "approve":
            applications.approve(db.session, current_user, profile, reason=reason, **kwargs)
            message = f"{name} is approved as a mentor. They have been told by email."
        elif action == "reject":
            applications.reject(db.session, current_user, profile, reason=reason, **kwargs)
            message = f"{name}'s application is rejected. They have been told why."
        elif action == "suspend":
            applications.suspend(db.session, current_user, profile, reason=reason, **kwargs)
            message = (
                f"{name} is suspended: no longer listed or bookable. Booked sessions stay. "
                "They have been told why."
            )
        elif action == "reactivate":
            applications.reactivate(db.session, current_user, profile, reason=reason, **kwargs)
            message = f"{name} is active again: listed and bookable. They have been told."
        else:
            raise ValidationFailed("Choose an action from the menu.")
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        error = err.field_errors.get("reason") or err.message
        context = _queue_context(
            f,
            page,
            open_action=(profile_id, action) if action in ACTION_WORDS else None,
            reason=reason,
            reason_error=error,
            notice={"kind": "error", "text": f"{name}: {error}"},
        )
        return _queue_response(context, 422)
    except (InvalidTransition, StaleVersion) as err:
        db.session.rollback()
        context = _queue_context(f, page, notice={"kind": "warning", "text": err.message})
        return _queue_response(context, 409)
    except NotAllowed as err:
        db.session.rollback()
        context = _queue_context(f, page, notice={"kind": "error", "text": err.message})
        return _queue_response(context, 403)
    if is_htmx():
        return _queue_response(_queue_context(f, page, notice={"kind": "success", "text": message}))
    flash(message, "success")
    return redirect(url_for("admin_mentors.index", **_state_args(f, page)), 303)


@bp.post("/bulk-approve")
@allow(ADMIN)
def bulk_approve() -> Any:
    """Approve the ticked pending applications, each its own compare-and-swap; says how
    many were approved and which were skipped because someone else decided first."""
    f = _filter_from(request.form)
    page = page_number(request.form.get("page"))
    drawn: dict[int, int] = {}
    for value in request.form.getlist("pick"):
        profile_id, _, version = value.partition(":")
        if profile_id.isdigit() and version.isdigit():
            drawn[int(profile_id)] = int(version)
    if not drawn:
        notice = {"kind": "error", "text": "Tick the applications to approve first."}
        return _queue_response(_queue_context(f, page, notice=notice), 422)
    try:
        result = applications.bulk_approve(
            db.session, current_user, drawn, now=now(), context=request_context()
        )
        db.session.commit()
    except NotAllowed as err:  # pragma: no cover - the route is for admins only
        db.session.rollback()
        notice = {"kind": "error", "text": err.message}
        return _queue_response(_queue_context(f, page, notice=notice), 403)
    count = len(result.approved)
    text = f"Approved {count} {'application' if count == 1 else 'applications'}"
    text += f": {', '.join(result.approved)}." if count else "."
    details = [f"{name}: {why}" for name, why in result.skipped]
    if details:
        skipped = len(details)
        text += f" Skipped {skipped} that someone else decided first or that changed."
    kind = "success" if not details else ("warning" if count else "error")
    notice = {"kind": kind, "text": text, "details": details}
    if is_htmx():
        return _queue_response(_queue_context(f, page, notice=notice))
    flash(text + (" " + " ".join(details) if details else ""), kind)
    return redirect(url_for("admin_mentors.index", **_state_args(f, page)), 303)


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
