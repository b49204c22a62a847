"""Error pages (400/403/404/405/409/413/429/500) and the domain-error mapping.

For an HTMX request the body is a short fragment and the message travels in
X-MentorHub-Message, which static/js/app.js shows as a toast.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.db import db
from app.services.errors import DomainError
from app.web.context import is_htmx

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        "Something in that request was not right",
        "Go back, check what you entered and try again.",
    ),
    401: ("Please sign in", "Sign in to continue."),
    403: (
        "You don't have access to this page",
        "If you think you should, contact the program admins.",
    ),
    404: ("We couldn't find that page", "It may have moved, or the address may be mistyped."),
    405: ("That action isn't available here", "Go back and use the page's own buttons."),
    409: (
        "That changed while you were working",
        "Reload to see the latest version, then try again.",
    ),
    413: ("That upload is too large", "Choose a smaller file and try again."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Something went wrong on our side", "It has been logged. Please try again in a moment."),
}


def render_error(status: int, detail: str | None = None) -> Any:
    title, hint = MESSAGES.get(status, MESSAGES[500])
    message = detail or hint
    if is_htmx():
        body = render_template("errors/_fragment.html", status=status, title=title, message=message)
        return body, status, {"X-MentorHub-Message": f"{title}. {message}"}
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render_error(400, "The form expired. Reload the page and submit it again.")

    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Any:
        db.session.rollback()
        return render_error(error.status_code, error.message or None)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if status == 429:
            return render_error(429)
        return render_error(status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error")
        db.session.rollback()
        return render_error(500)
