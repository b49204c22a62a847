"""Live program numbers for the landing page and the admin overview: real counts only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.models import (
    Attendance,
    AttendanceOutcome,
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    Notification,
    NotificationStatus,
    User,
    mentor_expertise,
)
from app.models.booking import CONFIRMED_SQL, REQUESTED_SQL
from app.models.notification import UNSENT_EMAIL_SQL
from app.services import attendance_review, chat, session_stats
from app.services.periods import Bucket, Period, buckets


@dataclass(frozen=True)
class ProgramNumbers:
    approved_mentors: int
    sessions_completed: int
    expertise_areas: int  # areas with at least one approved mentor


@dataclass(frozen=True)
class ExpertiseCount:
    name: str
    slug: str
    mentors: int


def program_numbers(session: Session) -> ProgramNumbers:
    """Counts for the public landing page, straight from the database."""
    approved = session.scalar(
        select(func.count())
        .select_from(MentorProfile)
        .where(MentorProfile.status == MentorStatus.APPROVED)
    )
    completed = session.scalar(
        select(func.count()).select_from(Booking).where(Booking.status == BookingStatus.COMPLETED)
    )
    areas = session.scalar(
        select(func.count(func.distinct(mentor_expertise.c.tag_id)))
        .select_from(mentor_expertise)
        .join(MentorProfile, MentorProfile.id == mentor_expertise.c.mentor_id)
        .where(MentorProfile.status == MentorStatus.APPROVED)
    )
    return ProgramNumbers(int(approved or 0), int(completed or 0), int(areas or 0))


def popular_expertise(session: Session, limit: int = 12) -> list[ExpertiseCount]:
    """Expertise areas by number of approved mentors (areas with none are left out)."""
    mentors = func.count(MentorProfile.id).label("mentors")
    rows = session.execute(
        select(ExpertiseTag.name, ExpertiseTag.slug, mentors)
        .join(mentor_expertise, mentor_expertise.c.tag_id == ExpertiseTag.id)
        .join(MentorProfile, MentorProfile.id == mentor_expertise.c.mentor_id)
        .where(MentorProfile.status == MentorStatus.APPROVED)
        .group_by(ExpertiseTag.id, ExpertiseTag.name, ExpertiseTag.slug)
        .order_by(mentors.desc(), ExpertiseTag.name)
        .limit(limit)
    ).all()
    return [ExpertiseCount(name, slug, int(count)) for name, slug, count in rows]


# -- the admin overview for a period (issue 7) ----------------------------------------------------
#
# Definitions (also in the page's help text and docs/ADMINS.md):
# * sessions this period: sessions whose start falls in the period (admin's time zone);
# * completion rate: completed / (completed + no_show + cancelled + declined), among the period's
#   sessions that are over (ended before now);
# * attendance rate: attended-or-late / all attendance records of the mentee in the period's
#   sessions; no-show rate: no-show records / all those records;
# * late cancellations: the period's sessions with bookings.late_cancellation set;
# * active mentees: people with a session starting in the period that was not declined or
#   cancelled;
# * average rating: rating_average weighted by rating_count over approved mentors;
# * demand: the period's sessions (every status: a declined request is demand too), counted for
#   each expertise of the session's mentor; supply: approved mentors per expertise.
# Every figure is one aggregate query (or part of one): a fixed number of queries whatever the
# data size, and no rows are loaded into Python.

OVER_STATUSES = (
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
    BookingStatus.CANCELLED,
    BookingStatus.DECLINED,
)
UNCONFIRMED_AFTER = dt.timedelta(hours=24)
AVAILABILITY_HORIZON = dt.timedelta(days=14)


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        if not self.denominator:
            return None
        return 100.0 * self.numerator / self.denominator

    def display(self) -> str:
        value = self.percent
        return "—" if value is None else f"{value:.1f}%"


@dataclass(frozen=True)
class Attention:
    pending_applications: int
    unconfirmed_requests: int  # requested more than 24 h ago and still not answered
    attendance_missing: int  # confirmed sessions that have ended with nothing recorded
    dead_mail: int
    mentors_without_availability: int
    open_disputes: int = 0  # attendance records a mentee disputed, not yet resolved
    reported_messages: int = 0  # chat messages reported, not yet hidden or kept

    @property
    def total(self) -> int:
        return (
            self.pending_applications
            + self.unconfirmed_requests
            + self.attendance_missing
            + self.dead_mail
            + self.mentors_without_availability
            + self.open_disputes
            + self.reported_messages
        )


@dataclass(frozen=True)
class ExpertiseBalance:
    name: str
    demand: int
    supply: int


@dataclass(frozen=True)
class SeriesPoint:
    label: str
    values: dict[str, int]


@dataclass(frozen=True)
class PeriodOverview:
    period: Period
    approved_mentors: int
    pending_mentors: int
    active_mentees: int
    sessions_by_status: dict[str, int]
    sessions_total: int
    completion: Rate
    attendance: Rate
    no_show: Rate
    late_cancellations: int
    rating_average: float | None  # None: no ratings yet
    rating_count: int
    mail: dict[str, int]  # pending, failed, dead (email only)
    attention: Attention
    sessions_series: list[SeriesPoint]  # per bucket: one value per booking status
    attendance_series: list[SeriesPoint]  # per bucket: attended, late, no_show, rate (per mille)
    expertise: list[ExpertiseBalance]
    growth_series: list[SeriesPoint]  # per bucket end: mentors, members (cumulative)


def bucket_index(moment: Any, items: list[Bucket]) -> Any:
    """SQL for the bucket a moment falls in: -1 before the first, len(items) after the last.
    A CASE over the sorted boundaries, so a single scan of the period's rows fills every
    bucket (a join against a table of buckets made PostgreSQL loop over them)."""
    whens: list[tuple[Any, Any]] = [(moment < literal(items[0].starts_at, UTCDateTime()), -1)]
    whens += [
        (moment < literal(b.ends_at, UTCDateTime()), literal(n, Integer))
        for n, b in enumerate(items)
    ]
    return case(*whens, else_=len(items))


def _in_period(period: Period) -> Any:
    return and_(Booking.starts_at >= period.starts_at, Booking.starts_at < period.ends_at)


def _count_if(condition: Any) -> Any:
    # sum(CASE ...) rather than FILTER: the same SQL on SQLite and PostgreSQL.
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass
class _Tally:
    sessions: list[dict[str, int]]  # per step: sessions per booking status
    attendance: list[dict[str, int]]  # per step: mentee records per outcome
    over: dict[str, int]  # per status: sessions that have ended
    late: int


def _not_over_since(session: Session, now: dt.datetime) -> dt.datetime:
    """The whole UTC hour before which every session has ended: hourly counts serve the
    "ended" figures up to there; later starts are read from the bookings."""
    # OFFSET 0 fences the subquery: otherwise PostgreSQL answers min() by walking the
    # start-time index from the oldest session until one has not ended (55 ms at a million
    # sessions) instead of reading the few not-ended ones from ix_bookings_ends_at (1 ms).
    not_over = (
        select(Booking.starts_at.label("starts_at"))
        .where(Booking.ends_at > now)
        .offset(0)
        .subquery("not_over")
    )
    earliest = session.scalar(select(func.min(not_over.c.starts_at)))
    cut = min(earliest, now) if earliest is not None else now
    return cut.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _session_tally(
    session: Session, period: Period, steps: list[Bucket], *, now: dt.datetime
) -> _Tally:
    """Sessions per step and status, ended sessions, late cancellations and mentee
    attendance records, in four queries whatever the period's length.

    The hours before `_not_over_since` come from the hourly counts (session_stats), the rest
    from the bookings; so do the hours a period or bucket boundary cuts in two (midnight in a
    :30 or :45 zone)."""
    statuses = [s.value for s in BookingStatus]
    tally = _Tally(
        sessions=[dict.fromkeys(statuses, 0) for _ in steps],
        attendance=[dict.fromkeys([o.value for o in AttendanceOutcome], 0) for _ in steps],
        over=dict.fromkeys(statuses, 0),
        late=0,
    )
    edges = session_stats.edge_hours(
        [period.starts_at, period.ends_at, *(b.starts_at for b in steps)]
    )
    split = max(period.starts_at, min(period.ends_at, _not_over_since(session, now)))
    counted = session_stats.hourly(period.starts_at, split, skip=edges)
    step = bucket_index(counted.c.hour, steps).label("step")
    for index, status, late, outcome, sessions in session.execute(
        select(
            step,
            counted.c.status,
            counted.c.late_cancellation,
            counted.c.outcome,
            func.sum(counted.c.sessions),
        ).group_by(step, counted.c.status, counted.c.late_cancellation, counted.c.outcome)
    ):
        count = int(sessions or 0)
        key = BookingStatus(status).value
        tally.over[key] += count  # every session before the split has ended
        if late:
            tally.late += count
        if 0 <= index < len(steps):
            tally.sessions[int(index)][key] += count
            if outcome:
                tally.attendance[int(index)][AttendanceOutcome(outcome).value] += count

    recent = or_(
        and_(Booking.starts_at >= split, Booking.starts_at < period.ends_at),
        session_stats.in_hours(Booking.starts_at, edges, period.starts_at, split),
    )
    session_step = bucket_index(Booking.starts_at, steps).label("step")
    for index, status, count, over, late_count in session.execute(
        select(
            session_step,
            Booking.status,
            func.count(),
            _count_if(Booking.ends_at <= now),
            _count_if(Booking.late_cancellation.is_(True)),
        )
        .where(recent)
        .group_by(session_step, Booking.status)
    ):
        key = BookingStatus(status).value
        if 0 <= index < len(steps):
            tally.sessions[int(index)][key] += int(count)
        tally.over[key] += int(over)
        tally.late += int(late_count)

    attendance_step = bucket_index(Booking.starts_at, steps).label("step")
    for index, outcome, count in session.execute(
        select(attendance_step, Attendance.outcome, func.count())
        .join(
            Booking,
            and_(
                Booking.id == Attendance.booking_id,
                Booking.mentee_id == Attendance.participant_id,
            ),
        )
        # Attendance is recorded once a session has ended: the recent hours are mostly
        # sessions still to come, and without this PostgreSQL hashes every attendance
        # record to find none of them (90 ms at a million sessions).
        .where(recent, Booking.ends_at <= now)
        .group_by(attendance_step, Attendance.outcome)
    ):
        if 0 <= index < len(steps):
            tally.attendance[int(index)][AttendanceOutcome(outcome).value] += int(count)
    return tally


def period_overview(session: Session, period: Period, *, now: dt.datetime) -> PeriodOverview:
    """Everything the admin overview shows for `period`, in twelve aggregate queries."""
    approved = MentorProfile.status == MentorStatus.APPROVED
    # 1. mentors: statuses, weighted rating, no availability in the next two weeks.
    mentor_row = session.execute(
        select(
            _count_if(approved),
            _count_if(MentorProfile.status == MentorStatus.PENDING),
            func.sum(
                case(
                    (
                        and_(
                            approved,
                            MentorProfile.rating_count > 0,
                            MentorProfile.rating_average.is_not(None),
                        ),
                        MentorProfile.rating_average * MentorProfile.rating_count,
                    ),
                    else_=0,
                )
            ),
            func.coalesce(
                func.sum(
                    case(
                        (
                            and_(
                                approved,
                                MentorProfile.rating_count > 0,
                                MentorProfile.rating_average.is_not(None),
                            ),
                            MentorProfile.rating_count,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
            _count_if(
                and_(
                    approved,
                    or_(
                        MentorProfile.next_available_at.is_(None),
                        MentorProfile.next_available_at > now + AVAILABILITY_HORIZON,
                    ),
                )
            ),
        )
    ).one()
    approved_count, pending_count, rating_sum, rating_count, unavailable = mentor_row
    rating_count = int(rating_count or 0)
    rating_average = float(rating_sum) / rating_count if rating_count else None

    # 2. active mentees (GROUP BY in a subquery: PostgreSQL hashes it, where
    # count(DISTINCT) sorts; ~15 % faster over a year of a million sessions).
    mentees = (
        select(Booking.mentee_id)
        .where(
            _in_period(period),
            Booking.status.not_in([BookingStatus.DECLINED, BookingStatus.CANCELLED]),
        )
        .group_by(Booking.mentee_id)
        .subquery("mentees")
    )
    active_mentees = session.scalar(select(func.count()).select_from(mentees))

    # 3. mail health (email only: in-app notifications are never "sent").
    mail = {"pending": 0, "failed": 0, "dead": 0}
    for status, count in session.execute(
        select(Notification.status, func.count())
        .where(text(UNSENT_EMAIL_SQL))
        .group_by(Notification.status)
    ):
        mail[NotificationStatus(status).value] = int(count)

    # 4. needs attention, whatever the period: the open sessions that wait for someone.
    # Two scalar subqueries, each a range of its own partial index (migration 0015): one
    # pass over every requested and confirmed row read 45,000 rows from the table (85-180 ms
    # at a million sessions).
    waiting = (
        select(func.count())
        .select_from(Booking)
        .where(text(REQUESTED_SQL), Booking.created_at <= now - UNCONFIRMED_AFTER)
        .scalar_subquery()
    )
    unrecorded = (
        select(func.count())
        .select_from(Booking)
        .where(text(CONFIRMED_SQL), Booking.ends_at <= now)
        .scalar_subquery()
    )
    open_row = session.execute(select(waiting, unrecorded)).one()
    attention = Attention(
        pending_applications=int(pending_count or 0),
        unconfirmed_requests=int(open_row[0] or 0),
        attendance_missing=int(open_row[1] or 0),
        dead_mail=mail["dead"],
        mentors_without_availability=int(unavailable or 0),
        open_disputes=attendance_review.count_open(session),
        reported_messages=chat.open_report_count(session),
    )

    steps = buckets(period)

    # 5-6. the period's sessions per step and status (with the ended ones and the late
    # cancellations) and the mentee's attendance records per step; the period's totals are
    # the sums, since the steps cover it exactly once.
    tally = _session_tally(session, period, steps, now=now)
    sessions_by_status = {
        s.value: sum(point[s.value] for point in tally.sessions) for s in BookingStatus
    }
    over_by_status = tally.over
    late = tally.late
    completion = Rate(
        over_by_status["completed"], sum(over_by_status[s.value] for s in OVER_STATUSES)
    )
    sessions_series = [SeriesPoint(b.label, v) for b, v in zip(steps, tally.sessions, strict=True)]
    att_bucket = tally.attendance
    attendance_series = [SeriesPoint(b.label, v) for b, v in zip(steps, att_bucket, strict=True)]

    outcomes = {o.value: sum(p[o.value] for p in att_bucket) for o in AttendanceOutcome}
    recorded = sum(outcomes.values())
    attendance = Rate(outcomes["attended"] + outcomes["late"], recorded)
    no_show = Rate(outcomes["no_show"], recorded)

    # 7. expertise demand versus supply.
    supply_q = (
        select(mentor_expertise.c.tag_id.label("tag_id"), func.count().label("n"))
        .join(MentorProfile, MentorProfile.id == mentor_expertise.c.mentor_id)
        .where(approved)
        .group_by(mentor_expertise.c.tag_id)
        .subquery("supply")
    )
    # Sessions per mentor first, then spread over their areas: joining every session to
    # its mentor's areas before counting made the year's overview a third slower.
    per_mentor = (
        select(Booking.mentor_id.label("user_id"), func.count().label("n"))
        .where(_in_period(period))
        .group_by(Booking.mentor_id)
        .subquery("per_mentor")
    )
    demand_q = (
        select(mentor_expertise.c.tag_id.label("tag_id"), func.sum(per_mentor.c.n).label("n"))
        .select_from(per_mentor)
        .join(MentorProfile, MentorProfile.user_id == per_mentor.c.user_id)
        .join(mentor_expertise, mentor_expertise.c.mentor_id == MentorProfile.id)
        .group_by(mentor_expertise.c.tag_id)
        .subquery("demand")
    )
    expertise = [
        ExpertiseBalance(name, int(demand), int(supply))
        for name, demand, supply in session.execute(
            select(
                ExpertiseTag.name,
                func.coalesce(demand_q.c.n, 0),
                func.coalesce(supply_q.c.n, 0),
            )
            .outerjoin(demand_q, demand_q.c.tag_id == ExpertiseTag.id)
            .outerjoin(supply_q, supply_q.c.tag_id == ExpertiseTag.id)
            .where(or_(demand_q.c.n.is_not(None), supply_q.c.n.is_not(None)))
            .order_by(
                func.coalesce(demand_q.c.n, 0).desc(),
                func.coalesce(supply_q.c.n, 0).desc(),
                ExpertiseTag.name,
            )
        )
    ]

    # 8. growth: approved mentors (by approval time) and active members (by sign-up; every
    # member can book as a mentee), counted at the end of each bucket.
    # Joiners per bucket (-1: before the period), summed up in Python: one scan each.
    mentor_step = bucket_index(MentorProfile.approved_at, steps)
    member_step = bucket_index(User.created_at, steps)
    mentors_q = (
        select(literal("mentors").label("series"), mentor_step.label("step"), func.count())
        .select_from(MentorProfile)
        .where(approved, MentorProfile.approved_at < period.ends_at)
        .group_by(mentor_step)
    )
    members_q = (
        select(literal("members").label("series"), member_step.label("step"), func.count())
        .select_from(User)
        .where(User.is_active.is_(True), User.created_at < period.ends_at)
        .group_by(member_step)
    )
    joined: dict[str, list[int]] = {
        "mentors": [0] * (len(steps) + 1),
        "members": [0] * (len(steps) + 1),
    }
    for series, index, count in session.execute(union_all(mentors_q, members_q)):
        if -1 <= index < len(steps):
            joined[str(series)][int(index) + 1] += int(count)
    growth: list[SeriesPoint] = []
    running = {"mentors": joined["mentors"][0], "members": joined["members"][0]}
    for n, b in enumerate(steps):
        for key in running:
            running[key] += joined[key][n + 1]
        growth.append(SeriesPoint(b.label, dict(running)))

    return PeriodOverview(
        period=period,
        approved_mentors=int(approved_count or 0),
        pending_mentors=int(pending_count or 0),
        active_mentees=int(active_mentees or 0),
        sessions_by_status=sessions_by_status,
        sessions_total=sum(sessions_by_status.values()),
        completion=completion,
        attendance=attendance,
        no_show=no_show,
        late_cancellations=late,
        rating_average=rating_average,
        rating_count=rating_count,
        mail=mail,
        attention=attention,
        sessions_series=sessions_series,
        attendance_series=attendance_series,
        expertise=expertise,
        growth_series=growth,
    )
