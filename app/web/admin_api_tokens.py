"""API tokens for the stats feed, managed by admins (issue 10).

    GET  /admin/mentorship/api-tokens                  the tokens and the create form
    POST /admin/mentorship/api-tokens                  create one: the answer shows it ONCE
    POST /admin/mentorship/api-tokens/<id>/revoke      revoke one (after a confirm step)

The rules are in app/services/api_tokens.py. The token area (#api-tokens) is swapped whole by
both forms (htmx). Creating answers 200 with the token in the page itself, never through a
redirect or the session, and `Cache-Control: no-store`, so it exists only in that answer; a
missing name is 422 with the message under the field. Revoking answers the area with a notice
(htmx) or 303 back to the list with a flash; unknown 404, already revoked 409.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import api_tokens as service
from app.services.errors import InvalidTransition, NotFound, ValidationFailed
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context, start_write

bp = Blueprint("admin_api_tokens", __name__, url_prefix="/admin/mentorship")


def _render(status: int = 200, **state: Any) -> Any:
    context = {
        "tokens": service.list_tokens(db.session),
        "name_max": service.NAME_MAX,
        "created": None,
        "plaintext": None,
        "name": "",
        "name_error": None,
        "notice": None,
        **state,
    }
    template = "admin/_api_tokens.html" if is_htmx() else "admin/api_tokens.html"
    response = make_response(render_template(template, **context), status)
    if status >= 400 and is_htmx():
        response.headers["X-MentorHub-Swap"] = "true"  # messages to show, not a failure
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api-tokens")
@allow(ADMIN)
def index() -> Any:
    return _render()


@bp.post("/api-tokens")
@allow(ADMIN)
def create() -> Any:
    name = request.form.get("name", "")
    start_write()
    try:
        token, plaintext = service.create(
            db.session, name, actor=current_user, now=now(), context=request_context()
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _render(422, name=name, name_error=exc.field_errors.get("name", exc.message))
    db.session.commit()
    return _render(created=token, plaintext=plaintext)


@bp.post("/api-tokens/<int:token_id>/revoke")
@allow(ADMIN)
def revoke(token_id: int) -> Any:
    start_write()
    try:
        token = service.revoke(
            db.session, token_id, actor=current_user, now=now(), context=request_context()
        )
    except NotFound:
        db.session.rollback()
        return _render(404, notice=("error", "That token does not exist."))
    except InvalidTransition as exc:
        db.session.rollback()
        return _render(409, notice=("warning", exc.message))
    db.session.commit()
    message = f"Revoked “{token.name}”. Dashboards using it get 401 from now on."
    if is_htmx():
        return _render(notice=("success", message))
    flash(message, "success")
    return redirect(url_for("admin_api_tokens.index"), 303)
