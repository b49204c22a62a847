"""Notification mail: what one EMAIL-channel Notification row says, and the message it becomes.

HTTP-free. The words come from templates/email/notification.{html,txt} through a `render`
callable the caller passes (the scheduler job gives Flask's Jinja environment;
`template_renderer()` is a plain Jinja one for scripts and tests), so this module never imports
flask. The outbox (app/services/outbox.py) decides when; this module decides what.

Decisions:
* Words from the payload, calendar from the booking. The payload is the event as it happened
  (who did what, which time was given up, the reason). The iCalendar attachment is drawn from
  the booking's CURRENT row, so a mail that leaves late (an outage, a retry) never sends a
  stale REQUEST after a CANCEL, and its SEQUENCE is the newest: a "confirmed" mail for a
  session cancelled since still goes out, but it carries METHOD:CANCEL and a note that the
  session has changed since. A mail whose booking row is gone still goes out, without a link
  or an invite.
* Invites (METHOD:REQUEST) ride on booking_requested, booking_confirmed, booking_rescheduled
  and reminders; cancellations and declines carry METHOD:CANCEL (calendar_ics.invite decides
  by the booking's status). The organizer is the MAIL_FROM address, the only attendee the
  recipient: members' addresses are never shown to each other.
* Every time is on the recipient's wall clock with the zone named ("Thu 19 Nov 2026,
  09:00–10:00 JST (Asia/Tokyo)"); the other participant's time follows when their zone
  differs, so both know what the other sees.
* Prompts that only make sense while their moment lasts are not sent late (`skip_reason`):
  a reminder for a session that was cancelled, moved or has started, a "still waiting" prompt
  for a request answered meanwhile, an attendance prompt once attendance is recorded. The
  outbox marks such a row skipped (see app/services/outbox.py), as it does a kind of mail the
  recipient turned off (app/services/preferences.py).
* Mail of a kind the recipient may turn off (reminders, prompts) carries a one-click
  unsubscribe link and List-Unsubscribe(-Post) headers, from the caller's `unsubscribe_url`.
* Expired requests (declined by the scheduler, payload "expired") say they expired.
* A deterministic Message-ID per row, `<notification-<id>.<sha256(dedupe_key)[:16]>@<host>>`:
  if a crash between the SMTP hand-off and the commit makes the outbox send a row again, the
  receiving side sees the same Message-ID and can drop the copy.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.models import ACTIVE_STATUSES, Booking, BookingStatus, Notification, User
from app.services import calendar_ics, mailer, preferences
from app.services.outbox import NotSent
from app.services.timezones import to_local, zone_label

Render = Callable[[str, Mapping[str, Any]], str]
UnsubscribeUrl = Callable[[User, str], str | None]
SessionUrl = Callable[[int], str]

HTML_TEMPLATE = "email/notification.html"
TEXT_TEMPLATE = "email/notification.txt"
SESSION_PATH = "/mentor-hub/sessions/{id}"
ACCOUNT_PATH = "/account"

# Kinds whose mail carries the calendar entry; the method follows the booking's status.
INVITE_KINDS = frozenset(
    {
        "booking_requested",
        "booking_confirmed",
        "booking_rescheduled",
        "booking_cancelled",
        "booking_declined",
    }
)

KIND_LABELS = {
    "booking_requested": "Session requested",
    "booking_confirmed": "Session confirmed",
    "booking_declined": "Request declined",
    "booking_cancelled": "Session cancelled",
    "booking_rescheduled": "Session moved",
    "reminder": "Reminder",
    "attendance_due": "Attendance due",
    "request_unconfirmed": "Request waiting",
    "mentor_approved": "Mentor approved",
    "mentor_rejected": "Mentor application declined",
    "mentor_application_submitted": "Mentor application",
    "mentor_suspended": "Mentor profile suspended",
    "mentor_reactivated": "Mentor profile reactivated",
}


def payload_path(payload: Mapping[str, Any]) -> str | None:
    """The page a notification without a session leads to: a site-relative path from its
    payload ("/mentor-hub/..."), or None. Never another site: "//host" is refused."""
    path = payload.get("path")
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//"):
        return path
    return None


def _payload_text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def kind_label(kind: str) -> str:
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    if is_reminder(kind):
        return "Reminder"
    return kind.replace("_", " ").strip().capitalize() or "Notification"


def is_reminder(kind: str) -> bool:
    return kind.startswith("reminder")


def wants_invite(kind: str) -> bool:
    return kind in INVITE_KINDS or is_reminder(kind)


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposeSettings:
    """What every notification mail needs besides the row: where the site lives, who sends,
    how to render, and (from the web layer) how to build an unsubscribe address."""

    base_url: str
    sender: str  # MAIL_FROM, e.g. "MentorHub <no-reply@mentorhub.test>"
    render: Render
    # (recipient, preference group) -> the one-click address, e.g. app.web.inbox's
    # unsubscribe_url; asked for mail of a kind the recipient may turn off (reminders,
    # prompts: preferences.group_of). None, or an answer of None: no unsubscribe link.
    unsubscribe_url: UnsubscribeUrl | None = None
    # The session page; defaults to BASE_URL + /mentor-hub/sessions/<id> (mentor.session_detail).
    session_url: SessionUrl | None = None
    # Add "List-Unsubscribe-Post: List-Unsubscribe=One-Click" (RFC 8058): the address must
    # accept a bare POST with no cookie and no CSRF token (inbox.unsubscribe does).
    one_click_unsubscribe: bool = True
    product: str = "MentorHub"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "mentorhub.local"

    @property
    def organizer_email(self) -> str:
        return email.utils.parseaddr(self.sender)[1] or f"no-reply@{self.host}"

    def link_to_session(self, booking_id: int) -> str:
        if self.session_url is not None:
            return self.session_url(booking_id)
        return self.base_url.rstrip("/") + SESSION_PATH.format(id=booking_id)

    @property
    def account_url(self) -> str:
        return self.base_url.rstrip("/") + ACCOUNT_PATH

    @property
    def home_url(self) -> str:
        return self.base_url.rstrip("/") + "/mentor-hub"


def template_renderer(folder: Path | str | None = None) -> Render:
    """A Jinja renderer over templates/ without Flask (scripts, worker processes, tests).

    Autoescaping as in Flask: on for .html, off for .txt.
    """
    import jinja2

    from app.config import ROOT

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder or ROOT / "templates")),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
    )

    def render(name: str, context: Mapping[str, Any]) -> str:
        return env.get_template(name).render(**context)

    return render


# -- the words ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    label: str
    value: str
    href: str | None = None
    struck: bool = False  # a time given up (the old time of a moved session)


@dataclass(frozen=True)
class Content:
    """Everything the templates show, already worded for the recipient."""

    subject: str
    preheader: str
    headline: str
    paragraphs: tuple[str, ...]
    details: tuple[Detail, ...] = ()
    reason_label: str | None = None
    reason: str | None = None
    notice: str | None = None  # the session changed since this was written
    action_label: str | None = None
    action_url: str | None = None
    footer: str = ""


def _parse_time(raw: Any) -> dt.datetime | None:
    if isinstance(raw, dt.datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=dt.UTC)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def when(start: dt.datetime, end: dt.datetime | None, zone: str) -> str:
    """'Thu 19 Nov 2026, 09:00–10:00 JST (Asia/Tokyo)' on `zone`'s wall clock."""
    s = to_local(start, zone)
    abbr = s.strftime("%Z")
    named = zone_label(zone)
    tail = abbr if abbr == named else f"{abbr} ({named})"
    day = f"{s:%a} {s.day} {s:%b %Y}"
    if end is None:
        return f"{day}, {s:%H:%M} {tail}"
    e = to_local(end, zone)
    if e.date() == s.date():
        return f"{day}, {s:%H:%M}–{e:%H:%M} {tail}"
    return f"{day}, {s:%H:%M} – {e:%a} {e.day} {e:%b}, {e:%H:%M} {tail}"


def short_when(start: dt.datetime, zone: str) -> str:
    """'Thu 19 Nov, 09:00 JST' for subjects."""
    s = to_local(start, zone)
    return f"{s:%a} {s.day} {s:%b}, {s:%H:%M} {s:%Z}"


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


@dataclass(frozen=True)
class _Facts:
    """The row's payload read with the booking as fallback."""

    kind: str
    recipient: User
    role: str  # mentor | mentee | other
    other_name: str
    other_zone: str | None
    mentor_name: str
    mentee_name: str
    actor_name: str
    actor_id: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    topic: str
    meeting_url: str | None
    reason: str | None
    booking: Booking | None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> str:
        return self.recipient.timezone or "UTC"


def _facts(notification: Notification, recipient: User, booking: Booking | None) -> _Facts:
    p: Mapping[str, Any] = notification.payload or {}
    mentor_name = str(p.get("mentor_name") or (booking.mentor.name if booking else "") or "")
    mentee_name = str(p.get("mentee_name") or (booking.mentee.name if booking else "") or "")
    role = str(p.get("recipient_role") or "")
    if not role and booking is not None:
        if recipient.id == booking.mentor_id:
            role = "mentor"
        elif recipient.id == booking.mentee_id:
            role = "mentee"
    role = role or "other"
    other_zone: str | None = None
    if role == "mentor":
        other_name = mentee_name
        other_zone = booking.mentee.timezone if booking else None
    elif role == "mentee":
        other_name = mentor_name
        other_zone = booking.mentor.timezone if booking else p.get("mentor_timezone")
    else:
        other_name = mentor_name or mentee_name
    starts = _parse_time(p.get("starts_at")) or (booking.starts_at if booking else None)
    ends = _parse_time(p.get("ends_at")) or (booking.ends_at if booking else None)
    actor_id = p.get("actor_id")
    return _Facts(
        kind=notification.kind,
        recipient=recipient,
        role=role,
        other_name=other_name or "the other participant",
        other_zone=other_zone,
        mentor_name=mentor_name or "your mentor",
        mentee_name=mentee_name or "your mentee",
        actor_name=str(p.get("actor_name") or ""),
        actor_id=actor_id if isinstance(actor_id, int) else None,
        starts_at=starts,
        ends_at=ends,
        topic=str(p.get("topic") or (booking.topic if booking else "") or ""),
        meeting_url=p.get("meeting_url") or (booking.meeting_url if booking else None),
        reason=(str(p["reason"]).strip() or None) if p.get("reason") else None,
        booking=booking,
        payload=p,
    )


def _time_details(
    f: _Facts, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[Detail]:
    start = start or f.starts_at
    end = end or f.ends_at
    if start is None:
        return []
    rows = [Detail("When (your time)", when(start, end, f.zone))]
    if f.other_zone and f.other_zone != f.zone:
        rows.append(Detail(f"{first_name(f.other_name)}'s time", when(start, end, f.other_zone)))
    return rows


def _session_details(
    f: _Facts, *, with_notes: bool = False, with_link: bool = True
) -> list[Detail]:
    rows: list[Detail] = []
    if f.role == "mentor":
        rows.append(Detail("Mentee", f.mentee_name))
    elif f.role == "mentee":
        rows.append(Detail("Mentor", f.mentor_name))
    if f.topic:
        rows.append(Detail("Topic", f.topic))
    if with_notes and f.booking is not None and f.booking.notes:
        rows.append(Detail(f"Notes from {first_name(f.mentee_name)}", f.booking.notes))
    if with_link and f.meeting_url:
        rows.append(Detail("Meeting link", f.meeting_url, href=f.meeting_url))
    return rows


def _actor_is_admin(f: _Facts) -> bool:
    """The event was done by someone who is not on the session: a program admin."""
    participants = (f.payload.get("mentor_id"), f.payload.get("mentee_id"))
    return f.actor_id is not None and f.actor_id not in participants


def _by_whom(f: _Facts) -> str:
    """Who did it, as the start of a sentence: 'Maya Mentor' or 'Ada Admin, a program admin,'."""
    name = f.actor_name or "Someone"
    if f.actor_id is not None and f.actor_id == f.recipient.id:
        return "You"
    if _actor_is_admin(f):
        return f"{name}, a program admin,"
    return name


def _with_other(f: _Facts) -> str:
    """' with Mia Mentee' unless the actor is that very person (then it goes without saying)."""
    return f" with {f.other_name}" if _actor_is_admin(f) else ""


def _changed_since(f: _Facts, now: dt.datetime) -> str | None:
    """A note when the booking moved on after the event this mail tells about."""
    b = f.booking
    if b is None:
        return None
    event_status = f.payload.get("status")
    if b.status in (BookingStatus.CANCELLED, BookingStatus.DECLINED) and event_status not in (
        BookingStatus.CANCELLED.value,
        BookingStatus.DECLINED.value,
    ):
        word = "cancelled" if b.status is BookingStatus.CANCELLED else "declined"
        return (
            f"Since this message was written, the session has been {word}. "
            "The attached calendar update removes it from your calendar."
        )
    if f.starts_at is not None and b.starts_at != f.starts_at and b.status in ACTIVE_STATUSES:
        return (
            "Since this message was written, the session has moved to "
            f"{when(b.starts_at, b.ends_at, f.zone)}. The attached calendar entry has the "
            "new time."
        )
    return None


def _relative(start: dt.datetime, now: dt.datetime, zone: str) -> str:
    """'in 1 hour', 'in 45 minutes', 'today', 'tomorrow', 'on Thu 19 Nov'."""
    left = start - now
    minutes = round(left.total_seconds() / 60)
    if minutes <= 0:
        return "now"
    if minutes < 45:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    if minutes < 90:
        return "in 1 hour"
    if minutes < 6 * 60:
        return f"in {round(minutes / 60)} hours"
    local_start = to_local(start, zone).date()
    local_now = to_local(now, zone).date()
    if local_start == local_now:
        return "today"
    if local_start == local_now + dt.timedelta(days=1):
        return "tomorrow"
    s = to_local(start, zone)
    return f"on {s:%a} {s.day} {s:%b}"


def content_for(
    notification: Notification,
    recipient: User,
    booking: Booking | None,
    *,
    settings: ComposeSettings,
    now: dt.datetime,
) -> Content:
    """The words of one notification mail for its recipient (no rendering, no I/O)."""
    f = _facts(notification, recipient, booking)
    kind = notification.kind
    # No booking row (deleted since): no link, it would only answer 404.
    link = settings.link_to_session(booking.id) if booking is not None else None
    zone = f.zone
    start_short = short_when(f.starts_at, zone) if f.starts_at else ""
    who_for = {
        "mentor": "you are the mentor of this session",
        "mentee": "you booked this session",
    }.get(f.role, "you take part in this session")
    footer = f"You get this email because {who_for} on {settings.product}."
    notice = _changed_since(f, now)
    status_now = str(f.payload.get("status") or "")

    if kind == "booking_requested":
        confirmed = status_now == BookingStatus.CONFIRMED.value
        if confirmed:
            subject = f"{f.mentee_name} booked a session with you on {start_short}"
            headline = "New session booked"
            paras = [
                f"{f.mentee_name} booked a session with you. It is confirmed: it is in your "
                "calendar with the attached invitation.",
            ]
            action = "Open the session"
        else:
            subject = f"{f.mentee_name} asked for a session on {start_short}"
            headline = "New session request"
            paras = [
                f"{f.mentee_name} asked for a session with you. Confirm or decline it on the "
                "session page: they are waiting for your answer.",
            ]
            action = "Answer the request"
        return Content(
            subject=subject,
            preheader=paras[0],
            headline=headline,
            paragraphs=tuple(paras),
            details=(*_time_details(f), *_session_details(f, with_notes=True)),
            notice=notice,
            action_label=action if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "booking_confirmed":
        if f.payload.get("auto_confirmed"):
            first = f"Your session with {f.mentor_name} is booked and confirmed."
        else:
            first = f"{_by_whom(f)} confirmed your session{_with_other(f)} on {start_short}."
        paras = [first, "The attached invitation adds it to your calendar."]
        return Content(
            subject=f"Confirmed: session with {f.other_name} on {start_short}",
            preheader=first,
            headline="Your session is confirmed",
            paragraphs=tuple(paras),
            details=(*_time_details(f), *_session_details(f)),
            notice=notice,
            action_label="View the session" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "booking_declined" and f.payload.get("expired"):
        # The scheduler declined it: the session's start came with no answer.
        first = (
            f"Your request for a session with {f.mentor_name} on {start_short} expired: "
            f"{first_name(f.mentor_name)} did not answer it before the session was due to start."
        )
        return Content(
            subject=f"Expired: your session request with {f.mentor_name}",
            preheader=first,
            headline="Your session request expired",
            paragraphs=(
                first,
                "Nothing is booked. You can ask for another time, with "
                f"{first_name(f.mentor_name)} or another mentor.",
            ),
            details=(*_time_details(f), *_session_details(f, with_link=False)),
            action_label="View the request" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "booking_declined":
        who = f.actor_name or f.mentor_name
        first = (
            f"{_by_whom(f)} declined your request for a session{_with_other(f)} on {start_short}."
        )
        paras = [
            first,
            "The time is free again. You can book another time with "
            f"{first_name(f.mentor_name)} or find another mentor.",
        ]
        return Content(
            subject=f"Declined: your session request with {f.mentor_name}",
            preheader=first,
            headline="Your session request was declined",
            paragraphs=tuple(paras),
            details=(*_time_details(f), *_session_details(f, with_link=False)),
            reason_label=f"Reason from {first_name(who)}",
            reason=f.reason or "No reason was given.",
            action_label="View the request" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "booking_cancelled":
        first = f"{_by_whom(f)} cancelled your session{_with_other(f)} on {start_short}."
        paras = [first]
        if f.payload.get("late_cancellation") and f.role == "mentor":
            paras.append("It was cancelled at short notice: it counts as a late cancellation.")
        paras.append("The attached calendar update removes it from your calendar.")
        return Content(
            subject=f"Cancelled: session with {f.other_name} on {start_short}",
            preheader=first,
            headline="Session cancelled",
            paragraphs=tuple(paras),
            details=(*_time_details(f), *_session_details(f, with_link=False)),
            reason_label=f"Reason from {first_name(f.actor_name)}" if f.actor_name else "Reason",
            reason=f.reason or "No reason was given.",
            action_label="View the session" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "booking_rescheduled":
        old_start = _parse_time(f.payload.get("previous_starts_at"))
        old_end = _parse_time(f.payload.get("previous_ends_at"))
        first = f"{_by_whom(f)} moved your session{_with_other(f)} to {start_short}."
        paras = [first]
        if status_now == BookingStatus.REQUESTED.value and f.role == "mentor":
            paras.append("The new time needs your confirmation: confirm or decline it.")
        elif status_now == BookingStatus.REQUESTED.value:
            paras.append(f"{first_name(f.mentor_name)} still needs to confirm the new time.")
        paras.append("The attached calendar update moves the entry in your calendar.")
        details = [
            Detail(
                "New time (your time)", when(f.starts_at, f.ends_at, zone) if f.starts_at else ""
            )
        ]
        if old_start is not None:
            details.append(Detail("Previous time", when(old_start, old_end, zone), struck=True))
        if f.starts_at and f.other_zone and f.other_zone != zone:
            details.append(
                Detail(
                    f"{first_name(f.other_name)}'s new time",
                    when(f.starts_at, f.ends_at, f.other_zone),
                )
            )
        return Content(
            subject=f"Moved: session with {f.other_name} is now {start_short}",
            preheader=first,
            headline="Session moved",
            paragraphs=tuple(paras),
            details=(*details, *_session_details(f)),
            reason_label=f"Message from {first_name(f.actor_name)}" if f.reason else None,
            reason=f.reason,
            notice=notice,
            action_label="View the session" if link else None,
            action_url=link,
            footer=footer,
        )

    if is_reminder(kind):
        start = booking.starts_at if booking is not None else f.starts_at
        end = booking.ends_at if booking is not None else f.ends_at
        rel = _relative(start, now, zone) if start else "soon"
        first = f"Your session with {f.other_name} starts {rel}."
        paras = [first]
        if f.meeting_url:
            paras.append("Join with the meeting link below when it is time.")
        else:
            paras.append("The session page has everything you need.")
        return Content(
            subject=f"Reminder: session with {f.other_name} {rel}",
            preheader=first,
            headline=f"Your session is {rel}",
            paragraphs=tuple(paras),
            details=(*_time_details(f, start, end), *_session_details(f)),
            action_label="Open the session" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "attendance_due":
        first = (
            f"Your session with {f.mentee_name} on {start_short} has ended. Record whether "
            f"{first_name(f.mentee_name)} attended: it takes a moment and keeps the program's "
            "records right."
        )
        return Content(
            subject=f"Record attendance: session with {f.mentee_name} on {start_short}",
            preheader=first,
            headline="How did the session go?",
            paragraphs=(first,),
            details=(*_time_details(f), *_session_details(f)),
            action_label="Record attendance" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind == "request_unconfirmed":
        first = (
            f"{f.mentee_name} asked for a session on {start_short} and is still waiting for "
            "your answer. Confirm or decline it so that they can plan."
        )
        return Content(
            subject=f"{f.mentee_name} is still waiting for your answer",
            preheader=first,
            headline="A request is waiting for your answer",
            paragraphs=(first,),
            details=(*_time_details(f), *_session_details(f, with_notes=True)),
            action_label="Answer the request" if link else None,
            action_url=link,
            footer=footer,
        )

    if kind in (
        "mentor_approved",
        "mentor_rejected",
        "mentor_application_submitted",
        "mentor_suspended",
        "mentor_reactivated",
    ):
        return _application_content(f, settings)

    # Any other kind (chat, feedback, goals, nudges): a sensible mail from the payload:
    # "message", "subject", and "path" + "action" for its button (see payload_path).
    label = kind_label(kind)
    path = payload_path(f.payload)
    if path is not None and link is None:
        link = settings.base_url.rstrip("/") + path
    message = f.payload.get("message")
    if isinstance(message, str) and message.strip():
        first = message.strip()
    elif booking is not None or f.starts_at is not None:
        first = f"There is an update about your session with {f.other_name}."
    else:
        first = f"There is an update on your {settings.product} account: {label.lower()}."
    custom = f.payload.get("subject")
    return Content(
        subject=custom if isinstance(custom, str) and custom.strip() else label,
        preheader=first,
        headline=label,
        paragraphs=(first,),
        details=(*_time_details(f), *_session_details(f)) if f.starts_at else (),
        reason_label="Reason" if f.reason else None,
        reason=f.reason,
        action_label=(
            _payload_text(f.payload, "action")
            or ("Open the session" if link else f"Open {settings.product}")
        ),
        action_url=link or settings.home_url,
        footer=f"You get this email because you have an account on {settings.product}.",
    )


SCHEDULE_PATH = "/mentor-hub/schedule"
APPLY_PATH = "/mentor-hub/apply"
REVIEW_PATH = "/admin/mentorship/mentors/{id}"


def _application_content(f: _Facts, settings: ComposeSettings) -> Content:
    """The mentor application's mail: approved, rejected (with the reason), submitted."""
    base = settings.base_url.rstrip("/")
    product = settings.product
    if f.kind == "mentor_approved":
        first = f"Good news: your application to mentor on {product} was approved. Welcome aboard!"
        return Content(
            subject=f"You're approved as a {product} mentor",
            preheader="You're approved: set your hours on the Schedule tab to get booked.",
            headline="You're approved as a mentor",
            paragraphs=(
                first,
                "One step is left before mentees can book you: open the Schedule tab and set "
                "the weekly hours you're available, in your own time zone. You can add days "
                "off and change the session length there too.",
                f"The next time you sign in, {product} takes you straight to the Schedule tab.",
            ),
            action_label="Set your hours",
            action_url=base + SCHEDULE_PATH,
            footer=f"You get this email because you applied to mentor on {product}.",
        )
    if f.kind == "mentor_rejected":
        first = (
            f"Thank you for applying to mentor on {product}. This time the program team did "
            "not approve your application."
        )
        return Content(
            subject=f"Your {product} mentor application",
            preheader="Your mentor application was not approved this time; you can apply again.",
            headline="Your application was not approved",
            paragraphs=(
                first,
                "The reason from the reviewers is below. You're welcome to apply again: your "
                "answers are kept, so you only change what the reason asks for and submit it "
                "once more.",
            ),
            reason_label="Reason from the reviewers",
            reason=f.reason or "No reason was given.",
            action_label="Review and apply again",
            action_url=base + APPLY_PATH,
            footer=f"You get this email because you applied to mentor on {product}.",
        )
    if f.kind == "mentor_suspended":
        return Content(
            subject=f"Your {product} mentor profile is suspended",
            preheader="Mentees can't find or book you for now; booked sessions stay.",
            headline="Your mentor profile is suspended",
            paragraphs=(
                f"The {product} program team suspended your mentor profile. While it is "
                "suspended, mentees can't find you in the directory or book new sessions "
                "with you.",
                "Sessions that are already booked stay as they are: please keep them, or "
                "cancel them from your Sessions page with a word for your mentee. The reason "
                "from the program team is below; reply to them if you want to talk about it.",
            ),
            reason_label="Reason from the program team",
            reason=f.reason or "No reason was given.",
            action_label=f"Open {product}",
            action_url=settings.home_url,
            footer=f"You get this email because you mentor on {product}.",
        )
    if f.kind == "mentor_reactivated":
        return Content(
            subject=f"Your {product} mentor profile is active again",
            preheader="Mentees can find and book you again.",
            headline="Your mentor profile is active again",
            paragraphs=(
                f"The {product} program team reactivated your mentor profile: you're listed "
                "in the directory again and mentees can book you.",
                "Check that the weekly hours on your Schedule tab are still right.",
            ),
            reason_label="Note from the program team" if f.reason else None,
            reason=f.reason,
            action_label="Check your hours",
            action_url=base + SCHEDULE_PATH,
            footer=f"You get this email because you mentor on {product}.",
        )
    applicant = str(f.payload.get("applicant_name") or "Someone")
    profile_id = f.payload.get("profile_id")
    first = f"{applicant} applied to become a mentor. The application is waiting for review."
    return Content(
        subject=f"New mentor application from {applicant}",
        preheader=first,
        headline="A mentor application is waiting",
        paragraphs=(first, "Approve it, or reject it with a reason the applicant will see."),
        action_label="Review the application",
        action_url=base + REVIEW_PATH.format(id=profile_id)
        if isinstance(profile_id, int)
        else base + "/admin/mentorship/mentors",
        footer=f"You get this email because you are a program admin on {product}.",
    )


def skip_reason(
    notification: Notification, booking: Booking | None, now: dt.datetime
) -> str | None:
    """Why this mail should no longer go out at all (None: send it).

    Events (requested, confirmed, ...) are facts and always go out, however late. Prompts
    about a moment that has passed do not.
    """
    kind = notification.kind
    p = notification.payload or {}
    if is_reminder(kind):
        if booking is None:
            return "the session no longer exists"
        if booking.status not in ACTIVE_STATUSES:
            return f"the session was {booking.status.value} before the reminder went out"
        planned = _parse_time(p.get("starts_at"))
        if planned is not None and planned != booking.starts_at:
            return "the session moved after this reminder was written"
        if now >= booking.starts_at:
            return "the session had already started"
    elif kind == "request_unconfirmed":
        if booking is None or booking.status is not BookingStatus.REQUESTED:
            return "the request was answered before the prompt went out"
    elif kind == "attendance_due" and (
        booking is None or booking.status is not BookingStatus.CONFIRMED
    ):
        return "attendance was recorded before the prompt went out"
    return None


# -- the message -------------------------------------------------------------------------------


def message_id(notification: Notification, host: str) -> str:
    """Deterministic per row: the same Message-ID every time this row is sent."""
    digest = hashlib.sha256(notification.dedupe_key.encode("utf-8")).hexdigest()[:16]
    return f"<notification-{notification.id}.{digest}@{host}>"


@dataclass(frozen=True)
class ComposedMail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str]
    attachments: tuple[mailer.Attachment, ...]
    content: Content


def _invite(
    notification: Notification,
    recipient: User,
    booking: Booking | None,
    settings: ComposeSettings,
    now: dt.datetime,
) -> mailer.Attachment | None:
    if booking is None or not wants_invite(notification.kind):
        return None
    body = calendar_ics.invite(
        booking,
        recipient=recipient,
        organizer_email=settings.organizer_email,
        host=settings.host,
        session_url=settings.link_to_session(booking.id),
        now=now,
    )
    method = "CANCEL" if b"\nMETHOD:CANCEL\r" in body else "REQUEST"
    return mailer.Attachment(
        filename="invite.ics",
        content=body,
        maintype="text",
        subtype="calendar",
        params={"method": method, "charset": "utf-8"},
    )


def compose(
    notification: Notification,
    recipient: User,
    booking: Booking | None,
    *,
    settings: ComposeSettings,
    now: dt.datetime,
) -> ComposedMail:
    content = content_for(notification, recipient, booking, settings=settings, now=now)
    unsubscribe: str | None = None
    unsubscribe_noun: str | None = None
    group = preferences.group_of(notification.kind)
    if group is not None and settings.unsubscribe_url is not None:
        unsubscribe = settings.unsubscribe_url(recipient, group)
        unsubscribe_noun = preferences.GROUP_INFO[group].noun
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        if settings.one_click_unsubscribe:
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    context: dict[str, Any] = {
        "c": content,
        "recipient": recipient,
        "product": settings.product,
        "base_url": settings.base_url,
        "home_url": settings.home_url,
        "account_url": settings.account_url,
        "zone": zone_label(recipient.timezone or "UTC"),
        "unsubscribe_url": unsubscribe,
        "unsubscribe_noun": unsubscribe_noun,
        "kind": notification.kind,
    }
    invite = _invite(notification, recipient, booking, settings, now)
    return ComposedMail(
        to=email.utils.formataddr((" ".join(recipient.name.split()), recipient.email)),
        subject=content.subject,
        text=settings.render(TEXT_TEMPLATE, context),
        html=settings.render(HTML_TEMPLATE, context),
        message_id=message_id(notification, settings.host),
        headers=headers,
        attachments=(invite,) if invite is not None else (),
        content=content,
    )


def build_message(
    composed: ComposedMail, mail_settings: mailer.MailSettings, *, now: dt.datetime
) -> Message:
    return mailer.build_message(
        mail_settings,
        to=composed.to,
        subject=composed.subject,
        text=composed.text,
        html=composed.html,
        message_id=composed.message_id,
        attachments=composed.attachments,
        headers=composed.headers,
        now=now,
    )


# -- the courier the outbox drives ---------------------------------------------------------------


class MailCourier:
    """Composes and sends notification mail over one `mailer.Transport` per delivery pass.

    The outbox calls `send` for each claimed row and `close` at the end of its pass. Raises
    mailer.MailError (temporary or permanent) or outbox.NotSent (skip_reason).
    """

    def __init__(self, mail_settings: mailer.MailSettings, settings: ComposeSettings) -> None:
        self.mail_settings = mail_settings
        self.settings = settings
        self._transport: mailer.Transport | None = None

    def send(
        self,
        notification: Notification,
        recipient: User,
        booking: Booking | None,
        *,
        now: dt.datetime,
    ) -> None:
        reason = skip_reason(notification, booking, now)
        if reason is not None:
            raise NotSent(reason)
        composed = compose(notification, recipient, booking, settings=self.settings, now=now)
        msg = build_message(composed, self.mail_settings, now=now)
        if self._transport is None:
            self._transport = mailer.Transport(self.mail_settings)
        self._transport.send(msg, now=now)

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()


def mail_settings_from_config(config: Mapping[str, Any]) -> mailer.MailSettings:
    return mailer.MailSettings(
        sender=config["MAIL_FROM"],
        server=config["MAIL_SERVER"],
        port=int(config["MAIL_PORT"]),
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        use_tls=bool(config["MAIL_USE_TLS"]),
        use_ssl=bool(config["MAIL_USE_SSL"]),
        keep_dir=config["MAIL_KEEP_DIR"],
    )


def courier_from_config(
    config: Mapping[str, Any],
    render: Render,
    *,
    unsubscribe_url: UnsubscribeUrl | None = None,
    session_url: SessionUrl | None = None,
    one_click_unsubscribe: bool = False,
) -> MailCourier:
    """The courier for the app's settings (MAIL_*, BASE_URL), e.g. from app.config."""
    return MailCourier(
        mail_settings_from_config(config),
        ComposeSettings(
            base_url=config["BASE_URL"],
            sender=config["MAIL_FROM"],
            render=render,
            unsubscribe_url=unsubscribe_url,
            session_url=session_url,
            one_click_unsubscribe=one_click_unsubscribe,
        ),
    )
