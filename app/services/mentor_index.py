"""The directory's denormalised numbers on each MentorProfile, kept current.

The directory filters and sorts ten thousand mentors by text, sessions completed,
rating and "next available"; computing those per query would cost a join or a slot
computation per mentor. Instead each profile row carries them, and the code that
changes a source refreshes them in the same transaction:

- `search_name` / `search_expertise` (the full-text index covers them): `sync_search`
  after a name or expertise change;
- `sessions_completed`: `refresh_stats` after attendance is recorded;
- `next_available_at`: `refresh_availability` after a booking, a cancellation, a
  reschedule or a schedule edit; time passing makes it stale too, so the scheduler's
  `refresh_stale` job recomputes the ones that are due.

The cards of one directory page do not trust the column: `next_available` computes the
exact times for a page of mentors in one batch (three queries, whatever the page size).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.models import (
    ACTIVE_STATUSES,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    SessionFeedback,
)

# `schedule` imports this module too: refer to it by module, at call time.
from app.services import schedule, slot_engine

# How often a profile's "next available" is recomputed even when nothing changed: a
# mentor with no free time in the horizon gains some as the horizon moves forward.
RECHECK_AFTER = dt.timedelta(hours=1)
STALE_BATCH = 500


def sync_search(profile: MentorProfile) -> None:
    """Copy the name and expertise names onto the row the full-text index reads."""
    profile.search_name = profile.user.name[:120]
    profile.search_expertise = " ".join(tag.name for tag in profile.expertise)


def _lock_profiles(session: Session, user_ids: list[int]) -> None:
    """PostgreSQL: lock the profiles before a recount, so that the UPDATE after it (a new
    statement, a new snapshot) sees what a concurrent writer committed meanwhile; a recount
    inside a statement that waited for the row lock reads the older snapshot and loses that
    row (a rating, a completed session). In user-id order, so two writers never deadlock."""
    session.execute(
        select(MentorProfile.id)
        .where(MentorProfile.user_id.in_(user_ids))
        .order_by(MentorProfile.user_id)
        .with_for_update(key_share=True)
    )


def refresh_stats(session: Session, mentor_user_ids: Iterable[int]) -> None:
    """Recount completed sessions (counting, not incrementing: a corrected attendance
    can turn a completed session into a no-show)."""
    ids = sorted(set(mentor_user_ids))
    if not ids:
        return
    _lock_profiles(session, ids)
    completed = (
        select(func.count(Booking.id))
        .where(
            Booking.mentor_id == MentorProfile.user_id, Booking.status == BookingStatus.COMPLETED
        )
        .scalar_subquery()
    )
    session.execute(
        update(MentorProfile)
        .where(MentorProfile.user_id.in_(ids))
        .values(sessions_completed=completed)
        .execution_options(synchronize_session=False)
    )


def next_available(
    session: Session, profiles: Sequence[MentorProfile], now: dt.datetime
) -> dict[int, dt.datetime | None]:
    """The earliest bookable start of each profile (by profile id), in three queries.

    Busy times are the mentor's active sessions as mentor and as mentee, like the
    booking calendar's; the window is the profile's own notice and horizon."""
    if not profiles:
        return {}
    ids = [p.id for p in profiles]
    user_ids = [p.user_id for p in profiles]
    rules: dict[int, list[AvailabilityRule]] = defaultdict(list)
    for rule in session.scalars(
        select(AvailabilityRule).where(AvailabilityRule.mentor_profile_id.in_(ids))
    ):
        rules[rule.mentor_profile_id].append(rule)
    since = (now - dt.timedelta(days=2)).date()
    exceptions: dict[int, list[AvailabilityException]] = defaultdict(list)
    for exc in session.scalars(
        select(AvailabilityException).where(
            AvailabilityException.mentor_profile_id.in_(ids),
            AvailabilityException.date >= since,
        )
    ):
        exceptions[exc.mentor_profile_id].append(exc)
    horizon = max(p.horizon_days for p in profiles) + 1
    busy: dict[int, list[slot_engine.Busy]] = defaultdict(list)
    wanted = set(user_ids)
    for mentor_id, mentee_id, starts_at, ends_at in session.execute(
        select(Booking.mentor_id, Booking.mentee_id, Booking.starts_at, Booking.ends_at).where(
            or_(Booking.mentor_id.in_(user_ids), Booking.mentee_id.in_(user_ids)),
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.ends_at > now,
            Booking.starts_at < now + dt.timedelta(days=horizon),
        )
    ):
        for person in {mentor_id, mentee_id} & wanted:
            busy[person].append(slot_engine.Busy(starts_at, ends_at))
    result: dict[int, dt.datetime | None] = {}
    for profile in profiles:
        if not rules.get(profile.id):
            result[profile.id] = None
            continue
        engine = schedule.to_engine(profile, rules[profile.id], exceptions.get(profile.id, ()))
        slot = slot_engine.first_slot(
            engine,
            busy.get(profile.user_id, ()),
            now=now,
            window_start=now,
            window_end=now + dt.timedelta(days=profile.horizon_days + 1),
        )
        result[profile.id] = slot.starts_at if slot else None
    return result


def refresh_availability(
    session: Session, profiles: Sequence[MentorProfile], now: dt.datetime
) -> None:
    """Store each profile's next available time and when it must be looked at again:
    once that time slips inside the notice window (it is still bookable at the boundary
    itself), or after RECHECK_AFTER at the latest."""
    times = next_available(session, profiles, now)
    for profile in profiles:
        first = times[profile.id]
        profile.next_available_at = first
        recheck = now + RECHECK_AFTER
        if first is not None:
            recheck = min(recheck, first - dt.timedelta(hours=profile.min_notice_hours))
        profile.availability_recheck_at = max(recheck, now)


def refresh_for_users(session: Session, user_ids: Iterable[int], now: dt.datetime) -> None:
    """After a booking changed: refresh the profiles of whichever of these people mentor
    (a mentor booked as someone's mentee is busy too)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    profiles = list(session.scalars(select(MentorProfile).where(MentorProfile.user_id.in_(ids))))
    refresh_availability(session, profiles, now)


def refresh_stale(session: Session, now: dt.datetime, limit: int = STALE_BATCH) -> int:
    """The scheduler's job: recompute the approved profiles that are due (their stored
    time is no longer bookable, or they were not checked for a while), oldest first.
    Returns how many were refreshed; the caller commits."""
    due = list(
        session.scalars(
            select(MentorProfile)
            .where(
                MentorProfile.status == MentorStatus.APPROVED,
                or_(
                    MentorProfile.availability_recheck_at.is_(None),
                    MentorProfile.availability_recheck_at < now,
                ),
            )
            .order_by(MentorProfile.availability_recheck_at.nulls_first(), MentorProfile.id)
            .limit(limit)
        )
    )
    refresh_availability(session, due, now)
    return len(due)


# -- issue 8: ratings (app/services/feedback.py) -----------------------------------------------


def refresh_ratings(session: Session, mentor_user_ids: Iterable[int]) -> None:
    """Recompute `rating_count` / `rating_average` from the rows: every non-null mentee
    rating over the mentor's sessions (recounting, not incrementing, so an edited rating
    moves the average exactly). Runs in the caller's transaction, beside the feedback write."""
    ids = sorted(set(mentor_user_ids))
    if not ids:
        return

    def over_ratings(aggregate: Any) -> Any:
        return (
            select(aggregate)
            .select_from(SessionFeedback)
            .join(Booking, Booking.id == SessionFeedback.booking_id)
            .where(
                Booking.mentor_id == MentorProfile.user_id,
                SessionFeedback.author_id == Booking.mentee_id,
                SessionFeedback.rating.is_not(None),
            )
            .scalar_subquery()
        )

    count = over_ratings(func.count(SessionFeedback.id))
    average = over_ratings(func.avg(SessionFeedback.rating))
    _lock_profiles(session, ids)
    session.execute(
        update(MentorProfile)
        .where(MentorProfile.user_id.in_(ids))
        .values(rating_count=count, rating_average=average)
        .execution_options(synchronize_session=False)
    )
