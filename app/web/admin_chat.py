"""Reported chat messages for admins (issue 8).

    GET  /admin/mentorship/messages                       open reports, oldest first, paged
    POST /admin/mentorship/messages/reports/<id>/hide     hide the message (reason required)
    POST /admin/mentorship/messages/reports/<id>/keep     keep it as it is

Either decision closes every open report of that message, once: a second admin deciding
on the same report gets 409 and the fresh list. HTMX swaps the list; without JavaScript
the forms post and redirect with a flash. The thread opens from each row (an admin may
read a thread once one of its messages is reported; app/services/chat.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import chat as chat_service
from app.services.errors import InvalidTransition, NotFound, ValidationFailed
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context
from app.web.forms import page_number as parse_page

bp = Blueprint("admin_chat", __name__, url_prefix="/admin/mentorship")


def _render(
    page_number: int,
    *,
    notice: tuple[str, str] | None = None,
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
    status: int = 200,
) -> Any:
    page = chat_service.open_reports(db.session, page_number)
    template = "admin/_message_reports.html" if is_htmx() else "admin/messages.html"
    body = render_template(
        template, page=page, notice=notice, errors=errors or {}, typed=typed or {}
    )
    headers = {"X-MentorHub-Swap": "true"} if status >= 400 else {}
    return body, status, headers


@bp.get("/messages")
@allow(ADMIN)
def index() -> Any:
    return _render(parse_page(request.args.get("page")))


def _done(message: str, page_number: int) -> Any:
    if is_htmx():
        return _render(page_number, notice=("success", message))
    flash(message, "success")
    return redirect(url_for("admin_chat.index", page=page_number if page_number > 1 else None), 303)


def _refused(report_id: int, message: str, status: int, page_number: int, typed: str = "") -> Any:
    if is_htmx():
        if status == 422:
            return _render(
                page_number,
                errors={report_id: message},
                typed={report_id: typed},
                status=status,
            )
        return _render(page_number, notice=("error", message), status=status)
    if status == 422:
        return _render(
            page_number, errors={report_id: message}, typed={report_id: typed}, status=status
        )
    flash(message, "error")
    return redirect(url_for("admin_chat.index"), 303)


@bp.post("/messages/reports/<int:report_id>/hide")
@allow(ADMIN)
def hide(report_id: int) -> Any:
    page_number = parse_page(request.form.get("page"))
    reason = request.form.get("reason", "")
    try:
        chat_service.hide_message(
            db.session, current_user, report_id, reason, now=now(), context=request_context()
        )
    except NotFound:
        db.session.rollback()
        abort(404)
    except ValidationFailed as error:
        db.session.rollback()
        text = error.field_errors.get("reason", error.message)
        return _refused(report_id, text, 422, page_number, reason)
    except InvalidTransition as error:
        db.session.rollback()
        return _refused(report_id, error.message, 409, page_number)
    db.session.commit()
    return _done(
        "Message hidden. Both participants now see “Message hidden by an admin”.", page_number
    )


@bp.post("/messages/reports/<int:report_id>/keep")
@allow(ADMIN)
def keep(report_id: int) -> Any:
    page_number = parse_page(request.form.get("page"))
    try:
        chat_service.keep_message(
            db.session, current_user, report_id, now=now(), context=request_context()
        )
    except NotFound:
        db.session.rollback()
        abort(404)
    except InvalidTransition as error:
        db.session.rollback()
        return _refused(report_id, error.message, 409, page_number)
    db.session.commit()
    return _done("Report closed. The message stays as it is.", page_number)
