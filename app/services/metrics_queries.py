"""The numbers /metrics reads from the database at scrape time, in three small queries.

One GROUP BY over bookings, one over the email outbox (its open rows by status, with the
oldest due time), one read of the scheduler lease. Read-only; the caller owns the session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from app.models import (
    Booking,
    BookingStatus,
    Notification,
    NotificationStatus,
    SchedulerLease,
)
from app.models.notification import UNSENT_EMAIL_SQL
from app.services.scheduler_lease import JOBS_LEASE


@dataclass(frozen=True)
class OpsSnapshot:
    """What the database says right now; every booking status is present (0 when none)."""

    bookings_by_status: dict[str, int] = field(default_factory=dict)
    outbox_depth: int = 0  # pending + failed email rows, due or not
    outbox_due: int = 0  # of those, the ones whose next attempt time has come
    oldest_due_age_seconds: float = 0.0  # 0 when nothing is due
    dead_mail: int = 0
    scheduler_holder: str | None = None
    scheduler_lag_seconds: float | None = None  # None: no lease row yet (never ran)


def snapshot(session: Session, *, now: dt.datetime) -> OpsSnapshot:
    """Read the snapshot: three queries, whatever the size of the tables."""
    bookings = {status.value: 0 for status in BookingStatus}
    for status, count in session.execute(
        select(Booking.status, func.count()).group_by(Booking.status)
    ):
        bookings[BookingStatus(status).value] = int(count)

    due = Notification.next_attempt_at <= now
    depth = due_count = dead = 0
    oldest: dt.datetime | None = None
    for status, count, n_due, first_due in session.execute(
        select(
            Notification.status,
            func.count(),
            func.count(case((due, 1))),
            func.min(case((due, Notification.next_attempt_at))),
        )
        .where(text(UNSENT_EMAIL_SQL))  # ix_notifications_unsent_email, word for word
        .group_by(Notification.status)
    ):
        if NotificationStatus(status) is NotificationStatus.DEAD:
            dead = int(count)
            continue
        depth += int(count)
        due_count += int(n_due)
        if first_due is not None:
            first = _aware(first_due)
            oldest = first if oldest is None else min(oldest, first)

    lease = session.execute(
        select(SchedulerLease.holder, SchedulerLease.heartbeat_at).where(
            SchedulerLease.name == JOBS_LEASE
        )
    ).first()
    return OpsSnapshot(
        bookings_by_status=bookings,
        outbox_depth=depth,
        outbox_due=due_count,
        oldest_due_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        dead_mail=dead,
        scheduler_holder=lease.holder if lease else None,
        scheduler_lag_seconds=(
            max(0.0, (now - lease.heartbeat_at).total_seconds()) if lease else None
        ),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    """MIN() over a CASE loses the column type: SQLite hands back a naive UTC value (or text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
