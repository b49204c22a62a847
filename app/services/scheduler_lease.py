"""One process at a time runs the scheduled jobs: it holds a lease row and renews it.

Claiming is a compare-and-swap on the row, so two processes can never both hold it;
a holder that dies simply lets the lease expire and another process takes over.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import SchedulerLease

JOBS_LEASE = "jobs"


def try_acquire(
    session: Session, *, holder: str, now: dt.datetime, ttl_seconds: int, name: str = JOBS_LEASE
) -> bool:
    """Take or renew the lease; True when `holder` holds it afterwards. Commits nothing."""
    expires = now + dt.timedelta(seconds=ttl_seconds)
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(SchedulerLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                SchedulerLease(name=name, holder=holder, expires_at=expires, heartbeat_at=now)
            )
    except IntegrityError:
        return False  # another process inserted it first
    return True


def lease(session: Session, name: str = JOBS_LEASE) -> SchedulerLease | None:
    return session.scalar(select(SchedulerLease).where(SchedulerLease.name == name))
