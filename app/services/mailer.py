"""Outgoing mail: SMTP when configured, otherwise kept on disk for /dev/mail.

Uses the standard library (email.mime + smtplib): the formats are
standard and well served by it, so no extra dependency is needed for sending.

`send` hands one message over on its own connection (sign-in links). `Transport` keeps one
connection open for many messages (the outbox's delivery batches) and opens a new one after
any error. Every failure is a `MailError` that says whether trying again can help
(`permanent`) and carries the server's reply code when there was one (`classify`).
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import encoders
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from types import TracebackType
from typing import Any

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
    """The message could not be handed to the mail server.

    `permanent`: the server refused this message for good (a 5xx reply to the sender, the
    recipient or the data); sending it again would be refused again. Everything else (no
    connection, a timeout, a 4xx "try later", a failed login) is temporary. `code` is the
    SMTP reply code when the server gave one.
    """

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}".strip()


def classify(exc: BaseException) -> MailError:
    """Turn an smtplib/socket error into a MailError, permanent or temporary.

    Permanent: SMTPRecipientsRefused, SMTPSenderRefused or SMTPDataError with a 5xx code,
    except a recipient's 552 (RFC 5321 4.5.3.1.10: clients should treat "552 too much mail"
    at RCPT as the temporary 452). Other replies (a failed login, a refused HELO) are
    configuration trouble on our side: temporary, so fixing the settings lets the mail go.
    """
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = list(exc.recipients.items())
        codes = [code for _addr, (code, _reply) in refusals]
        permanent = bool(codes) and all(code >= 500 and code != 552 for code in codes)
        text = "; ".join(
            f"{_reply_text(code, reply)} (recipient {addr} refused)"
            for addr, (code, reply) in refusals
        )
        return MailError(
            text or "recipient refused", permanent=permanent, code=codes[0] if codes else None
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailError(
            f"{_reply_text(exc.smtp_code, exc.smtp_error)} (sender {exc.sender} refused)",
            permanent=exc.smtp_code >= 500,
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return MailError(
            f"{_reply_text(exc.smtp_code, exc.smtp_error)} (message refused)",
            permanent=exc.smtp_code >= 500,
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError(_reply_text(exc.smtp_code, exc.smtp_error), code=exc.smtp_code)
    name = type(exc).__name__
    return MailError(f"{name}: {exc}" if str(exc) else name)


def build_message(
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    headers: Mapping[str, str] | None = None,
    now: dt.datetime,
) -> Message:
    """text (+ html as its alternative) (+ attachments), UTF-8, base64 bodies.

    Built with the classic email.mime classes: the same MIME as EmailMessage's, at a third of
    the cost per message (the outbox builds thousands). Non-ASCII names and subjects are
    RFC 2047-encoded; no header value carries a line break.
    """
    body: Message = MIMEText(text, "plain", "utf-8")
    if html is not None:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(MIMEText(html, "html", "utf-8"))
        body = alternative
    if attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(body)
        for item in attachments:
            part = MIMEBase(item.maintype, item.subtype)
            for key, value in item.params.items():
                part.set_param(key, value)
            part.set_payload(item.content)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=item.filename)
            mixed.attach(part)
        body = mixed
    msg = body
    msg["From"] = _address(settings.sender)
    msg["To"] = _address(to)
    _set_text_header(msg, "Subject", subject)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="mentorhub.local")
    for name, value in (headers or {}).items():
        _set_text_header(msg, name, value)
    return msg


def _address(value: str) -> str:
    """'Name <addr>' with a non-ASCII display name RFC 2047-encoded."""
    name, addr = email.utils.parseaddr(_one_line(value))
    if not addr:
        return _one_line(value)
    return email.utils.formataddr((name, addr), charset="utf-8")


def _set_text_header(msg: Message, name: str, value: str) -> None:
    line = _one_line(value)
    # A Header object: the generator RFC 2047-encodes and folds it.
    header: Any = line if line.isascii() else Header(line, "utf-8", header_name=name)
    msg[name] = header


def _one_line(value: str) -> str:
    """Header values never carry line breaks (names are typed by members)."""
    return " ".join(value.split())


def send(settings: MailSettings, msg: Message, *, now: dt.datetime) -> str:
    """Deliver one message; returns where it went ('smtp' or the kept file's name).

    Raises MailError (see `classify`)."""
    with Transport(settings) as transport:
        return transport.send(msg, now=now)


class Transport:
    """Many messages over one SMTP connection (or into the keep folder without a server).

    The connection opens on the first send and is dropped after any error, so the next send
    starts on a fresh one; `close` says QUIT. Not thread-safe: one per delivery pass.
    """

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # opened so far (tests and the benchmark read it)

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, msg: Message, *, now: dt.datetime) -> str:
        settings = self.settings
        if settings.keeps_mail:
            name = keep(settings, msg, now=now)
            log.info(
                "mail kept for /dev/mail: to=%s subject=%r file=%s",
                msg["To"],
                str(msg["Subject"]),
                name,
            )
            return name
        try:
            self._connection().send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            # A refusal leaves the connection usable, but a 421 closes it and a timeout may
            # leave it mid-reply: start again on a new one rather than guess.
            self._drop()
            raise classify(exc) from exc
        return "smtp"

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        settings = self.settings
        smtp: smtplib.SMTP
        if settings.use_ssl:
            smtp = smtplib.SMTP_SSL(
                settings.server,
                settings.port,
                timeout=settings.timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        try:
            if settings.use_tls and not settings.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        self.connections += 1
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def keep(settings: MailSettings, msg: Message, *, now: dt.datetime) -> str:
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
