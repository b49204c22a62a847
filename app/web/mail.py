"""Sending mail from the web layer: settings from config, bodies from templates."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template

from app.services import mailer
from app.web.context import now


def mail_settings() -> mailer.MailSettings:
    c = current_app.config
    return mailer.MailSettings(
        sender=c["MAIL_FROM"],
        server=c["MAIL_SERVER"],
        port=c["MAIL_PORT"],
        username=c["MAIL_USERNAME"],
        password=c["MAIL_PASSWORD"],
        use_tls=c["MAIL_USE_TLS"],
        use_ssl=c["MAIL_USE_SSL"],
        keep_dir=c["MAIL_KEEP_DIR"],
    )


def send_templated(to: str, subject: str, template: str, **context: Any) -> str:
    """Render email/<template>.txt and .html and send them (or keep them for /dev/mail)."""
    settings = mail_settings()
    msg = mailer.build_message(
        settings,
        to=to,
        subject=subject,
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
        now=now(),
    )
    return mailer.send(settings, msg, now=now())
