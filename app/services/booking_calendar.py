"""What a mentee sees on a mentor's page: free times week by week, in the mentee's own zone.

The times come from the slot engine (the same answer the booking check gives), with the
mentor's active sessions and the viewer's own active sessions both counted as busy: a
mentee is never offered a time they could not take.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATUSES, Booking, MentorProfile, User
from app.services import schedule, slot_engine
from app.services.timezones import zone

WEEKS = 4


@dataclass(frozen=True)
class CalendarWeek:
    index: int  # 0 = the week starting today (viewer's date)
    days: list[schedule.PreviewDay]
    viewer_zone: str
    mentor_zone: str

    @property
    def first(self) -> dt.date:
        return self.days[0].date

    @property
    def last(self) -> dt.date:
        return self.days[-1].date

    @property
    def has_previous(self) -> bool:
        return self.index > 0

    @property
    def has_next(self) -> bool:
        return self.index < WEEKS - 1

    @property
    def count(self) -> int:
        return sum(len(day.slots) for day in self.days)


def clamp_week(raw: str | int | None) -> int:
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return min(max(value, 0), WEEKS - 1)


def _viewer_busy(session: Session, viewer: User, now: dt.datetime) -> list[slot_engine.Busy]:
    rows = session.execute(
        select(Booking.starts_at, Booking.ends_at).where(
            or_(Booking.mentee_id == viewer.id, Booking.mentor_id == viewer.id),
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.ends_at > now,
        )
    )
    return [slot_engine.Busy(start, end) for start, end in rows]


def week(
    session: Session, profile: MentorProfile, viewer: User, *, now: dt.datetime, index: int
) -> CalendarWeek:
    """Seven days of free times from the viewer's today + 7 * index, in the viewer's zone."""
    data = schedule.load(session, profile, now)
    busy = data.busy + _viewer_busy(session, viewer, now)
    tz = zone(viewer.timezone)
    first = now.astimezone(tz).date() + dt.timedelta(days=7 * index)
    start = max(now, dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC))
    end = dt.datetime.combine(first + dt.timedelta(days=7), dt.time(), tz).astimezone(dt.UTC)
    found = slot_engine.slots(data.engine, busy, now=now, window_start=start, window_end=end)
    by_day: dict[dt.date, list[slot_engine.Slot]] = {}
    for slot in found:
        by_day.setdefault(slot.starts_at.astimezone(tz).date(), []).append(slot)
    days = [first + dt.timedelta(days=i) for i in range(7)]
    return CalendarWeek(
        index=index,
        days=[schedule.PreviewDay(day, by_day.get(day, [])) for day in days],
        viewer_zone=viewer.timezone,
        mentor_zone=profile.timezone,
    )


def zone_gap(mentor_zone: str, viewer_zone: str, now: dt.datetime) -> int:
    """Minutes the mentor's clock is ahead of the viewer's right now (negative: behind)."""
    mentor = now.astimezone(zone(mentor_zone)).utcoffset() or dt.timedelta()
    viewer = now.astimezone(zone(viewer_zone)).utcoffset() or dt.timedelta()
    return int((mentor - viewer).total_seconds() // 60)


def zone_gap_sentence(name: str, minutes: int) -> str:
    """'Maya is 6 hours ahead of you', '... 5 hours 30 minutes behind you', '... your time'."""
    if minutes == 0:
        return f"{name} keeps the same time as you."
    hours, rest = divmod(abs(minutes), 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minutes")
    side = "ahead of" if minutes > 0 else "behind"
    return f"{name} is {' '.join(parts)} {side} you."
