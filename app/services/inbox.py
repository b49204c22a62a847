"""The in-app inbox: a person's IN_APP notification rows, newest first.

The rows are written by the services that change things (booking._notify and the jobs),
one per recipient and channel; the IN_APP ones are the inbox, and a row is unread while
its read_at is empty. Every function here takes the owner's id and touches only that
person's rows: someone else's notification is reported as not there (NotFound).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.models import Notification, NotificationChannel
from app.services.errors import NotFound
from app.services.timezones import to_local

PER_PAGE = 30
WHEN_FORMAT = "%a %d %b, %H:%M"
NOT_FOUND = "That notification doesn't exist, or it isn't yours."


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    booking_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None
    sentence: str
    topic: str | None
    reason: str | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    page: int
    pages: int
    per_page: int
    total: int
    unread: int
    # The newest row at the time the page was drawn: "mark all as read" marks up to it,
    # so a notification that arrives meanwhile stays unread.
    newest_id: int | None


def _mine(user_id: int) -> Any:
    return (Notification.user_id == user_id) & (Notification.channel == NotificationChannel.IN_APP)


def unread_count(session: Session, user_id: int) -> int:
    """One COUNT on ix_notifications_user_read (user_id, channel, read_at)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(_mine(user_id), Notification.read_at.is_(None))
        )
        or 0
    )


def inbox_page(
    session: Session, user_id: int, page: int, *, tz: str, per_page: int = PER_PAGE
) -> InboxPage:
    """One page of the inbox in two queries, whatever its length: the totals, the rows."""
    total, unread, newest = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Notification.read_at.is_(None), 1), else_=0)), 0),
            func.max(Notification.id),
        )
        .select_from(Notification)
        .where(_mine(user_id))
    ).one()
    pages = max(1, math.ceil(int(total) / per_page))
    page = min(max(1, page), pages)
    rows = session.scalars(
        select(Notification)
        .where(_mine(user_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return InboxPage(
        items=[_item(row, tz) for row in rows],
        page=page,
        pages=pages,
        per_page=per_page,
        total=int(total),
        unread=int(unread),
        newest_id=int(newest) if newest is not None else None,
    )


def _item(row: Notification, tz: str) -> InboxItem:
    payload = row.payload or {}
    topic = payload.get("topic")
    reason = payload.get("reason")
    return InboxItem(
        id=row.id,
        kind=row.kind,
        booking_id=row.booking_id,
        created_at=row.created_at,
        read_at=row.read_at,
        sentence=sentence(row.kind, payload, tz),
        topic=topic if isinstance(topic, str) and topic.strip() else None,
        reason=reason if isinstance(reason, str) and reason.strip() else None,
    )


def get_own(session: Session, user_id: int, notification_id: int) -> Notification:
    """The user's own in-app notification, or NotFound (someone else's is "not there")."""
    row = session.scalar(
        select(Notification).where(Notification.id == notification_id, _mine(user_id))
    )
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


def mark_read(
    session: Session, user_id: int, notification_id: int, *, now: dt.datetime
) -> Notification:
    """Mark one of the user's notifications read (already read: left as it was)."""
    row = get_own(session, user_id, notification_id)
    if row.read_at is None:
        row.read_at = now
    return row


def mark_all_read(
    session: Session, user_id: int, *, now: dt.datetime, upto: int | None = None
) -> int:
    """Mark the user's unread notifications read (those up to id `upto` when given), in one
    UPDATE. Returns how many changed."""
    conditions = [_mine(user_id), Notification.read_at.is_(None)]
    if upto is not None:
        conditions.append(Notification.id <= upto)
    result = session.execute(
        update(Notification)
        .where(*conditions)
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- one sentence per kind -------------------------------------------------------------------


def _when(raw: Any, tz: str) -> str | None:
    """An ISO moment from a payload on the reader's wall clock, zone named."""
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = to_local(moment, tz)
    return f"{local.strftime(WHEN_FORMAT)} {local.strftime('%Z')}"


def _name(payload: Mapping[str, Any], key: str, fallback: str) -> str:
    value = payload.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else fallback


def sentence(kind: str, payload: Mapping[str, Any], tz: str) -> str:
    """What happened, in one sentence for the person who got the notification; times on
    their clock (`tz`) with the zone named. Unknown kinds get a general sentence."""
    when = _when(payload.get("starts_at"), tz)
    on = f" on {when}" if when else ""
    actor = _name(payload, "actor_name", "Someone")
    mentor = _name(payload, "mentor_name", "your mentor")
    mentee = _name(payload, "mentee_name", "your mentee")
    to_mentor = payload.get("recipient_role") == "mentor"
    other = mentee if to_mentor else mentor
    other_id = payload.get("mentee_id" if to_mentor else "mentor_id")
    # "with <the other person>" unless they are the one who acted (an admin acting names them).
    for_when = f" for {when}" if when else ""
    with_other = (
        "" if other_id is not None and payload.get("actor_id") == other_id else f" with {other}"
    )

    if kind == "booking_requested":
        if payload.get("status") == "confirmed":
            return f"{mentee} booked a session with you{on}."
        return f"{mentee} requested a session with you{on}."
    if kind == "booking_confirmed":
        if payload.get("auto_confirmed"):
            return f"Your session with {mentor}{on} is confirmed."
        return f"{actor} confirmed your session{with_other}{on}."
    if kind == "booking_declined":
        return f"{actor} declined your session request{with_other}{for_when}."
    if kind == "booking_cancelled":
        return f"{actor} cancelled your session{with_other}{on}."
    if kind == "booking_rescheduled":
        before = _when(payload.get("previous_starts_at"), tz)
        if before and when:
            return f"{actor} moved your session{with_other} from {before} to {when}."
        return f"{actor} moved your session{with_other}{' to ' + when if when else ''}."
    if kind == "reminder":
        hours = payload.get("hours")
        if isinstance(hours, int) and not isinstance(hours, bool) and hours > 0:
            soon = f"in {hours} hour{'s' if hours != 1 else ''}"
            return (
                f"Reminder: your session with {other} starts {soon}{', ' + when if when else ''}."
            )
        return f"Reminder: your session with {other} is coming up{on}."
    if kind == "attendance_due":
        return f"Please record attendance for your session with {mentee}{on}."
    if kind == "request_unconfirmed":
        if to_mentor:
            return f"{mentee}'s request{for_when} is still waiting for your answer."
        return f"Your request to {mentor}{for_when} is not confirmed yet."
    if kind == "mentor_approved":
        return (
            "You're approved as a mentor: set your hours on the Schedule tab so that mentees "
            "can book you."
        )
    if kind == "mentor_rejected":
        return (
            "Your mentor application was not approved this time. The reason is below: "
            "you can change your answers and apply again from Become a mentor."
        )
    if kind == "mentor_suspended":
        return (
            "Your mentor profile is suspended: mentees can't find or book you for now. "
            "Sessions already booked stay. The reason is below."
        )
    if kind == "mentor_reactivated":
        return (
            "Your mentor profile is active again: mentees can find and book you. "
            "Check your hours on the Schedule tab."
        )
    if kind == "mentor_application_submitted":
        applicant = _name(payload, "applicant_name", "Someone")
        return f"{applicant} applied to become a mentor. The application is waiting for review."
    # Kinds that carry their own words (chat, feedback, goals, nudges).
    message = payload.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    if payload.get("booking_id") or when:
        return f"There is an update on your session{on}."
    return "You have a new notification."
