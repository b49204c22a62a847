"""Outgoing mail: SMTP when configured, otherwise kept on disk for /dev/mail.

Uses the standard library (email.message.EmailMessage + smtplib): the formats are
standard and well served by it, so no extra dependency is needed for sending.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import logging
import re
import secrets
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger(__name__)

# <message date>-<wall-clock ns>-<random>: sorts newest last even under a frozen clock.
_KEEP_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{20}-[0-9a-f]{6}\.eml$")


@dataclass(frozen=True)
class MailSettings:
    sender: str
    server: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    use_tls: bool = True
    use_ssl: bool = False
    keep_dir: str = "instance/mail"
    timeout: float = 10.0

    @property
    def keeps_mail(self) -> bool:
        return not self.server


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)


class MailError(Exception):
    """The message could not be handed to the mail server."""


def build_message(
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    now: dt.datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="mentorhub.local")
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for item in attachments:
        msg.add_attachment(
            item.content,
            maintype=item.maintype,
            subtype=item.subtype,
            filename=item.filename,
            params=item.params,
        )
    return msg


def send(settings: MailSettings, msg: EmailMessage, *, now: dt.datetime) -> str:
    """Deliver one message; returns where it went ('smtp' or the kept file's name)."""
    if settings.keeps_mail:
        name = keep(settings, msg, now=now)
        log.info(
            "mail kept for /dev/mail: to=%s subject=%r file=%s", msg["To"], msg["Subject"], name
        )
        return name
    try:
        if settings.use_ssl:
            context = ssl.create_default_context()
            with smtplib.SMTP_SSL(
                settings.server, settings.port, timeout=settings.timeout, context=context
            ) as smtp:
                _login_and_send(smtp, settings, msg)
        else:
            with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
                if settings.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                _login_and_send(smtp, settings, msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(str(exc)) from exc
    return "smtp"


def _login_and_send(smtp: smtplib.SMTP, settings: MailSettings, msg: EmailMessage) -> None:
    if settings.username:
        smtp.login(settings.username, settings.password)
    smtp.send_message(msg)


def keep(settings: MailSettings, msg: EmailMessage, *, now: dt.datetime) -> str:
    folder = Path(settings.keep_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{now.strftime('%Y%m%dT%H%M%S')}-{time.time_ns():020d}-{secrets.token_hex(3)}.eml"
    (folder / name).write_bytes(msg.as_bytes())
    return name


@dataclass(frozen=True)
class KeptMail:
    name: str
    to: str
    subject: str
    date: str
    text: str
    html: str | None


def list_kept(settings: MailSettings, limit: int = 100) -> list[KeptMail]:
    """Newest first."""
    folder = Path(settings.keep_dir)
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if _KEEP_NAME.match(p.name)), reverse=True)
    return [m for m in (read_kept(settings, n) for n in names[:limit]) if m is not None]


def read_kept(settings: MailSettings, name: str) -> KeptMail | None:
    if not _KEEP_NAME.match(name):
        return None
    path = Path(settings.keep_dir) / name
    if not path.is_file():
        return None
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    if not isinstance(parsed, EmailMessage):
        return None
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return KeptMail(
        name=name,
        to=str(parsed["To"]),
        subject=str(parsed["Subject"]),
        date=str(parsed["Date"]),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else None,
    )
