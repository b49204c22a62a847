"""Pairs at risk for admins, with a one-click nudge (issue 8).

    GET  /admin/mentorship/pairs          the list: ?reason= &q= &page= (HTMX: the table only)
    POST /admin/mentorship/pairs/nudge    nudge one pair for one reason (mentor_id, mentee_id,
                                          reason); HTMX: the pair's row, redrawn

The rules (who is at risk and why, who a nudge goes to, the 7-day cool-down) are in
app/services/at_risk.py. A refused nudge answers 409 (already nudged, or no longer at risk
for that reason) with the row and why, 422 for an unknown reason, 404 for a pair that has no
current sessions; without HTMX a nudge answers 303 back to the list with a flash.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
)
from flask import url_for as flask_url_for
from flask_login import current_user

from app.db import db
from app.services import at_risk
from app.services.errors import InvalidTransition, NotFound, ValidationFailed
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context, safe_next, start_write
from app.web.forms import page_number

bp = Blueprint("admin_pairs", __name__, url_prefix="/admin/mentorship")


def policy() -> at_risk.Policy:
    """The thresholds from the settings (README: AT_RISK_*, NUDGE_COOLDOWN_DAYS)."""
    cfg = current_app.config
    return at_risk.Policy(
        lookback_days=cfg["AT_RISK_LOOKBACK_DAYS"],
        quiet_days=cfg["AT_RISK_QUIET_DAYS"],
        request_hours=cfg["AT_RISK_REQUEST_HOURS"],
        low_rating_max=cfg["AT_RISK_LOW_RATING"],
        availability_days=cfg["AT_RISK_AVAILABILITY_DAYS"],
        nudge_cooldown_days=cfg["NUDGE_COOLDOWN_DAYS"],
    )


def _href(listing: at_risk.PairPage, /, **changes: Any) -> str:
    args: dict[str, Any] = {"reason": listing.reason, "q": listing.query, "page": listing.page}
    args.update(changes)
    clean = {k: v for k, v in args.items() if v not in ("", None) and not (k == "page" and v == 1)}
    return flask_url_for("admin_pairs.index", **clean)


def _helpers() -> dict[str, Any]:
    moment = now()
    return {
        "reasons": at_risk.REASONS,
        "nudged_words": lambda when: at_risk.nudged_words(when, moment),
        "days_since": lambda when: (moment - when).days,
        "now": moment,
        "policy": policy(),
    }


@bp.get("/pairs")
@allow(ADMIN)
def index() -> Any:
    args = request.args
    page = at_risk.pair_page(
        db.session,
        now=now(),
        reason=args.get("reason", ""),
        query=args.get("q", ""),
        page=page_number(args.get("page")),
        policy=policy(),
    )
    context = {"page": page, "href": _href, "notice": None, **_helpers()}
    template = "admin/_pair_table.html" if is_htmx() else "admin/pairs.html"
    response = make_response(render_template(template, **context))
    if is_htmx():
        response.headers["HX-Push-Url"] = _href(page)
    response.headers["Vary"] = "HX-Request"
    return response


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


def _row_response(mentor_id: int, mentee_id: int, notice: dict[str, str], status: int) -> Any:
    row = at_risk.pair_row(db.session, mentor_id, mentee_id, now=now(), policy=policy())
    if row is None:
        abort(404)
    body = render_template("admin/_pair_row.html", row=row, row_notice=notice, **_helpers())
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return response


@bp.post("/pairs/nudge")
@allow(ADMIN)
def nudge() -> Any:
    form = request.form
    mentor_id, mentee_id = _int(form.get("mentor_id")), _int(form.get("mentee_id"))
    reason = form.get("reason", "")
    back = safe_next(form.get("next")) or flask_url_for("admin_pairs.index")
    try:
        start_write()
        sent = at_risk.nudge(
            db.session,
            current_user,
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            reason=reason,
            now=now(),
            policy=policy(),
            context=request_context(),
        )
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    except (ValidationFailed, InvalidTransition) as err:
        db.session.rollback()
        status = 422 if isinstance(err, ValidationFailed) else 409
        if not is_htmx():
            flash(err.message, "error")
            return redirect(back, 303)
        notice = {"kind": "error", "title": "Not sent", "text": err.message}
        return _row_response(mentor_id, mentee_id, notice, status)

    label = at_risk.REASONS[sent.reason].label.lower()
    who = " and ".join(at_risk.REASONS[sent.reason].recipients)
    done = f"Nudge sent ({label}): the {who} got it in the app and by email."
    if not is_htmx():
        flash(done, "success")
        return redirect(back, 303)
    return _row_response(mentor_id, mentee_id, {"kind": "success", "title": done, "text": ""}, 200)
