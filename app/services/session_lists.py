"""Read-only lists of a person's sessions, split the way the pages show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import ACTIVE_STATUSES, Booking, BookingStatus, User

CLOSED = (BookingStatus.CANCELLED, BookingStatus.DECLINED)


@dataclass(frozen=True)
class SessionTabs:
    upcoming: list[Booking]
    past: list[Booking]
    cancelled: list[Booking]


def sessions_for(session: Session, user: User, *, as_mentor: bool, now: dt.datetime) -> SessionTabs:
    """Upcoming (active, not yet ended, soonest first), past (newest first), cancelled/declined."""
    column = Booking.mentor_id if as_mentor else Booking.mentee_id
    rows = list(
        session.scalars(
            select(Booking)
            .where(column == user.id)
            .options(selectinload(Booking.mentor), selectinload(Booking.mentee))
            .order_by(Booking.starts_at)
        )
    )
    upcoming = [b for b in rows if b.status in ACTIVE_STATUSES and b.ends_at > now]
    past = [
        b
        for b in rows
        if b.status not in CLOSED and not (b.status in ACTIVE_STATUSES and b.ends_at > now)
    ]
    cancelled = [b for b in rows if b.status in CLOSED]
    past.reverse()
    cancelled.sort(key=lambda b: b.starts_at, reverse=True)
    return SessionTabs(upcoming=upcoming, past=past, cancelled=cancelled)
