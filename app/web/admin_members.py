"""Admin members (/admin/mentorship/members): everyone with an account.

A table of users searched by name or email and filtered by role (all, admins, mentors,
mentees, deactivated), paged, in a fixed number of queries; a CSV import (pasted or
uploaded; all or nothing, every problem shown with its line number and the text kept);
grant or revoke admin rights; deactivate with a reason (ends their sign-ins and cancels
their future sessions with notice) and reactivate. Every form swaps the whole #members
fragment under htmx and redirects (303, with a flash) without JavaScript. The rules live
in app/services/members.py.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.db import db
from app.models import User
from app.services import members
from app.services.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.web.access import ADMIN, allow
from app.web.context import is_htmx, now, request_context
from app.web.forms import page_number

bp = Blueprint("admin_members", __name__, url_prefix="/admin/mentorship/members")

# An upload bigger than this is refused before it is read (a members list is small).
IMPORT_MAX_BYTES = 2 * 1024 * 1024


def _state(values: Any) -> tuple[str, str, int]:
    return values.get("q", ""), values.get("role", "all"), page_number(values.get("page"))


def _state_args(query: str, role: str, page: int = 1) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if query:
        args["q"] = query
    if role != "all":
        args["role"] = role
    if page > 1:
        args["page"] = page
    return args


def _context(
    query: str,
    role: str,
    page: int,
    *,
    notice: dict[str, Any] | None = None,
    open_row: int | None = None,
    reason: str = "",
    reason_error: str | None = None,
    import_text: str = "",
    import_errors: list[members.RowError] | None = None,
    import_open: bool = False,
) -> dict[str, Any]:
    result = members.members_page(db.session, query=query, role=role, page=page)

    def href(**changes: Any) -> str:
        values = {"query": result.query, "role": result.role, "page": 1}
        values.update(changes)
        return url_for("admin_members.index", **_state_args(**values))

    return {
        "result": result,
        "roles": members.ROLES,
        "href": href,
        "notice": notice,
        "open_row": open_row,
        "reason": reason,
        "reason_error": reason_error,
        "reason_max": members.REASON_MAX,
        "import_text": import_text,
        "import_errors": import_errors or [],
        "import_open": import_open or bool(import_errors),
    }


def _respond(context: dict[str, Any], status: int = 200) -> Any:
    template = "admin/_members.html" if is_htmx() else "admin/members.html"
    response = make_response(render_template(template, **context), status)
    if status >= 400 and is_htmx():
        response.headers["X-MentorHub-Swap"] = "true"
    response.headers["Vary"] = "HX-Request"
    return response


def _done(message: str, query: str, role: str, page: int) -> Any:
    if is_htmx():
        return _respond(_context(query, role, page, notice={"kind": "success", "text": message}))
    flash(message, "success")
    return redirect(url_for("admin_members.index", **_state_args(query, role, page)), 303)


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """The members table; ?q=, ?role=all|admins|mentors|mentees|deactivated, ?page=."""
    return _respond(_context(*_state(request.args)))


def _uploaded_text() -> tuple[str | None, str | None]:
    """(the uploaded file's text, or None when nothing was uploaded; an error message)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None, None
    data = upload.stream.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        return "", "The file is larger than 2 MB; split it into smaller files."
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return "", "The file is not UTF-8 text: save it from your spreadsheet as CSV UTF-8."


@bp.post("/import")
@allow(ADMIN)
def import_csv() -> Any:
    """Import members from pasted CSV text or an uploaded file (the file wins when both)."""
    query, role, page = _state(request.form)
    pasted = request.form.get("csv", "")
    uploaded, upload_error = _uploaded_text()
    if upload_error:
        errors = [members.RowError(1, "file", upload_error)]
        context = _context(query, role, page, import_text=pasted, import_errors=errors)
        return _respond(context, 422)
    text = uploaded if uploaded is not None else pasted
    if not text.strip():
        errors = [members.RowError(1, "file", "Paste the CSV text or choose a file.")]
        context = _context(query, role, page, import_text=pasted, import_errors=errors)
        return _respond(context, 422)
    try:
        report = members.import_members(db.session, text, actor=current_user, now=now())
        db.session.commit()
    except members.ImportFailed as err:
        db.session.rollback()
        context = _context(
            query,
            role,
            page,
            import_text=text,
            import_errors=err.errors,
            notice={"kind": "error", "text": err.message},
        )
        return _respond(context, 422)
    message = f"Imported {report.created} new {'member' if report.created == 1 else 'members'}."
    if report.skipped_existing:
        skipped = len(report.skipped_existing)
        message += (
            f" {skipped} already had an account and {'was' if skipped == 1 else 'were'} "
            f"left as {'it was' if skipped == 1 else 'they were'}: "
            + ", ".join(report.skipped_existing[:10])
            + (" and more." if skipped > 10 else ".")
        )
    if report.ignored_columns:
        message += " Ignored columns: " + ", ".join(report.ignored_columns) + "."
    return _done(message, query, role, page)


def _load(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _refused(err: Exception, query: str, role: str, page: int, status: int) -> Any:
    db.session.rollback()
    message = getattr(err, "message", str(err))
    kind = "warning" if status == 409 else "error"
    return _respond(_context(query, role, page, notice={"kind": kind, "text": message}), status)


@bp.post("/<int:user_id>/admin")
@allow(ADMIN)
def set_admin(user_id: int) -> Any:
    """grant=1 makes the member an admin, grant=0 revokes it (never your own, never the
    last admin)."""
    query, role, page = _state(request.form)
    user = _load(user_id)
    grant = request.form.get("grant") == "1"
    try:
        members.set_admin(
            db.session, current_user, user, admin=grant, now=now(), context=request_context()
        )
        db.session.commit()
    except NotAllowed as err:
        return _refused(err, query, role, page, 403)
    except InvalidTransition as err:
        return _refused(err, query, role, page, 409)
    message = (
        f"{user.name} is now a program admin."
        if grant
        else f"{user.name} is no longer a program admin."
    )
    return _done(message, query, role, page)


@bp.post("/<int:user_id>/deactivate")
@allow(ADMIN)
def deactivate(user_id: int) -> Any:
    """Deactivate with a reason: signs them out everywhere and cancels their future
    sessions (the other participants are told)."""
    query, role, page = _state(request.form)
    user = _load(user_id)
    reason = request.form.get("reason", "")
    try:
        result = members.deactivate(
            db.session, current_user, user, reason=reason, now=now(), context=request_context()
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        error = err.field_errors.get("reason") or err.message
        context = _context(
            query,
            role,
            page,
            open_row=user_id,
            reason=reason,
            reason_error=error,
            notice={"kind": "error", "text": f"{user.name}: {error}"},
        )
        return _respond(context, 422)
    except NotAllowed as err:
        return _refused(err, query, role, page, 403)
    except InvalidTransition as err:
        return _refused(err, query, role, page, 409)
    n = result.cancelled
    message = f"{user.name} is deactivated and signed out everywhere."
    if n:
        message += (
            f" {n} upcoming {'session was' if n == 1 else 'sessions were'} cancelled; "
            "the other participants have been told."
        )
    return _done(message, query, role, page)


@bp.post("/<int:user_id>/reactivate")
@allow(ADMIN)
def reactivate(user_id: int) -> Any:
    """Give a deactivated account back (cancelled sessions stay cancelled)."""
    query, role, page = _state(request.form)
    user = _load(user_id)
    try:
        members.reactivate(db.session, current_user, user, now=now(), context=request_context())
        db.session.commit()
    except NotAllowed as err:
        return _refused(err, query, role, page, 403)
    except InvalidTransition as err:
        return _refused(err, query, role, page, 409)
    return _done(f"{user.name} is active again and can sign in.", query, role, page)
