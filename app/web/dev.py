"""/dev/mail: mail kept when no SMTP server is configured. Never in production."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from app.services import mailer
from app.web.access import DEVELOPMENT, allow
from app.web.mail import mail_settings

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/mail")
@allow(DEVELOPMENT)
def mail_list() -> Any:
    settings = mail_settings()
    return render_template("dev/mail.html", messages=mailer.list_kept(settings), settings=settings)


@bp.get("/mail/<name>")
@allow(DEVELOPMENT)
def mail_detail(name: str) -> Any:
    message = mailer.read_kept(mail_settings(), name)
    if message is None:
        abort(404)
    return render_template("dev/mail_detail.html", message=message)
