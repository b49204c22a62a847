"""Progress snapshots: how a mentee's sessions with each mentor went.

Who sees what (the web layer answers 404 when `scope_for` returns None, so an id reveals
nothing):
- the mentee sees their own snapshot, every mentor, and only the notes shared with them;
- a mentor sees a mentee they have had a session with (any but a declined request), with
  that mentor only: never the mentee's sessions with other mentors; every note of those
  sessions, shared or not;
- an admin sees every mentee, every mentor, every note.

The numbers, per mentee and mentor (the page and docs say the same):
- attended: sessions where the mentee's recorded outcome is attended or late (a completed
  session without a mentee row counts too: the status was set from that outcome);
- no-shows: the mentee's recorded outcome is no-show (or the session's status is no_show
  without a mentee row);
- hours: the minutes recorded for the attended sessions, / 60; where the mentor left the
  minutes at 0 the booked length counts instead (a blank field is far likelier than a
  session that was attended for no time at all);
- attendance rate: attended / (attended + no-shows), None when both are 0;
- last session: the start of the latest session that took place (attended or late);
- next session: the earliest requested or confirmed session that has not ended yet;
- goals and action items (issue 8): every item of the pair, open ones first, each open,
  done or overdue (open with a due date before the viewer's today).

Every function runs a fixed number of queries whatever the data size: the numbers are SQL
aggregates, the notes, next sessions and goals one query each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import Attendance, AttendanceOutcome, Booking, BookingStatus, User
from app.models.booking import ACTIVE_STATUSES
from app.models.follow_through import PairGoal
from app.services import goals as goal_service

PER_PAGE = 25
QUERY_MAX = 100

_ATTENDED = (AttendanceOutcome.ATTENDED, AttendanceOutcome.LATE)


@dataclass(frozen=True)
class Scope:
    """What a viewer may see of one mentee: one mentor's sessions or all, private notes or not."""

    mentee_id: int
    mentor_id: int | None  # None: every mentor
    private_notes: bool
    own: bool  # the viewer is the mentee


@dataclass(frozen=True)
class Note:
    booking_id: int
    starts_at: dt.datetime
    body: str
    shared: bool


@dataclass(frozen=True)
class NextSession:
    booking_id: int
    starts_at: dt.datetime
    status: BookingStatus


@dataclass
class Numbers:
    attended: int = 0
    no_shows: int = 0
    minutes: int = 0
    last_at: dt.datetime | None = None
    next_at: dt.datetime | None = None

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def rate(self) -> float | None:
        """Attended / (attended + no-shows); None when there is nothing to divide."""
        held = self.attended + self.no_shows
        return None if held == 0 else self.attended / held

    @property
    def rate_percent(self) -> int | None:
        rate = self.rate
        return None if rate is None else round(rate * 100)


@dataclass
class MentorProgress:
    mentor_id: int
    mentor_name: str
    numbers: Numbers
    next_session: NextSession | None = None
    notes: list[Note] = field(default_factory=list)
    # The pair's goals and action items, open first (issue 8; app/services/goals.py).
    goals: list[PairGoal] = field(default_factory=list)


@dataclass
class Snapshot:
    mentee: User
    scope: Scope
    mentors: list[MentorProgress]

    @property
    def totals(self) -> Numbers:
        total = Numbers()
        for m in self.mentors:
            total.attended += m.numbers.attended
            total.no_shows += m.numbers.no_shows
            total.minutes += m.numbers.minutes
            total.last_at = _latest(total.last_at, m.numbers.last_at)
            total.next_at = _earliest(total.next_at, m.numbers.next_at)
        return total


@dataclass(frozen=True)
class MenteeRow:
    mentee_id: int
    name: str
    email: str
    mentors: int
    numbers: Numbers


@dataclass(frozen=True)
class MenteePage:
    rows: list[MenteeRow]
    total: int
    page: int
    query: str
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


# -- who may see what ---------------------------------------------------------------------------


def _related(mentor_id: int, mentee_id: int) -> ColumnElement[bool]:
    """The mentor has had a session with the mentee: any but a declined request."""
    return exists().where(
        Booking.mentor_id == mentor_id,
        Booking.mentee_id == mentee_id,
        Booking.status != BookingStatus.DECLINED,
    )


def own_scope(user_id: int) -> Scope:
    """One's own snapshot: every mentor, the shared notes only."""
    return Scope(user_id, None, private_notes=False, own=True)


def scope_for(session: Session, viewer: User, mentee_id: int) -> Scope | None:
    """What `viewer` may see of the mentee's progress, or None (the web layer's 404).

    The mentee: all mentors, shared notes only. An admin: all mentors, all notes. A
    mentor with a session with the mentee: their own sessions only, all their notes."""
    if viewer.id == mentee_id:
        return own_scope(mentee_id)
    if viewer.is_admin:
        return Scope(mentee_id, None, private_notes=True, own=False)
    if session.scalar(select(_related(viewer.id, mentee_id))):
        return Scope(mentee_id, viewer.id, private_notes=True, own=False)
    return None


# -- the numbers --------------------------------------------------------------------------------


def _booked_minutes(session: Session) -> ColumnElement[int]:
    """ends_at - starts_at in minutes, in SQL (SQLite stores the times as text)."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(Booking.ends_at) - func.julianday(Booking.starts_at)
        return func.round(days * 1440)
    return func.round(func.extract("epoch", Booking.ends_at - Booking.starts_at) / 60)


def _mentee_row() -> type[Attendance]:
    return aliased(Attendance, name="mentee_attendance")


def _columns(session: Session, row: type[Attendance], now: dt.datetime) -> list[ColumnElement]:  # type: ignore[type-arg]
    """attended, no_shows, minutes, last_at, next_at over the joined bookings."""
    attended = or_(
        row.outcome.in_(_ATTENDED),
        and_(row.id.is_(None), Booking.status == BookingStatus.COMPLETED),
    )
    no_show = or_(
        row.outcome == AttendanceOutcome.NO_SHOW,
        and_(row.id.is_(None), Booking.status == BookingStatus.NO_SHOW),
    )
    minutes = case((func.coalesce(row.minutes, 0) > 0, row.minutes), else_=_booked_minutes(session))
    upcoming = and_(Booking.status.in_(ACTIVE_STATUSES), Booking.ends_at > now)
    return [
        func.coalesce(func.sum(case((attended, 1), else_=0)), 0).label("attended"),
        func.coalesce(func.sum(case((no_show, 1), else_=0)), 0).label("no_shows"),
        func.coalesce(func.sum(case((attended, minutes), else_=0)), 0).label("minutes"),
        func.max(case((attended, Booking.starts_at))).label("last_at"),
        func.min(case((upcoming, Booking.starts_at))).label("next_at"),
    ]


def _join_mentee_row(row: type[Attendance]) -> ColumnElement[bool]:
    return and_(row.booking_id == Booking.id, row.participant_id == Booking.mentee_id)


def _numbers(attended: Any, no_shows: Any, minutes: Any, last_at: Any, next_at: Any) -> Numbers:
    return Numbers(
        attended=int(attended or 0),
        no_shows=int(no_shows or 0),
        minutes=round(float(minutes or 0)),
        last_at=_moment(last_at),
        next_at=_moment(next_at),
    )


def _moment(raw: Any) -> dt.datetime | None:
    """Aggregates can lose the column type on SQLite (text): parse it back if so."""
    if raw is None:
        return None
    moment = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def snapshot(session: Session, scope: Scope, *, now: dt.datetime) -> Snapshot | None:
    """The mentee's numbers per mentor (in `scope`), next session, notes and the pairs'
    goals and action items: five queries.

    None when the mentee does not exist. Mentors with only declined requests are left out."""
    mentee = session.get(User, scope.mentee_id)
    if mentee is None:
        return None
    row = _mentee_row()
    mentor = aliased(User, name="mentor")
    where = [Booking.mentee_id == scope.mentee_id, Booking.status != BookingStatus.DECLINED]
    if scope.mentor_id is not None:
        where.append(Booking.mentor_id == scope.mentor_id)
    grouped = session.execute(
        select(mentor.id, mentor.name, *_columns(session, row, now))
        .select_from(Booking)
        .join(mentor, mentor.id == Booking.mentor_id)
        .outerjoin(row, _join_mentee_row(row))
        .where(*where)
        .group_by(mentor.id, mentor.name)
        .order_by(func.lower(mentor.name), mentor.id)
    ).all()
    mentors = {
        r[0]: MentorProgress(mentor_id=r[0], mentor_name=r[1], numbers=_numbers(*r[2:]))
        for r in grouped
    }
    if not mentors:
        return Snapshot(mentee, scope, [])

    # The next session's id and status: the earliest unended active booking per mentor.
    later = aliased(Booking, name="later")
    first = select(func.min(later.starts_at)).where(
        later.mentee_id == Booking.mentee_id,
        later.mentor_id == Booking.mentor_id,
        later.status.in_(ACTIVE_STATUSES),
        later.ends_at > now,
    )
    for booking_id, mentor_id, starts_at, status in session.execute(
        select(Booking.id, Booking.mentor_id, Booking.starts_at, Booking.status)
        .where(
            *where,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.ends_at > now,
            Booking.starts_at == first.scalar_subquery(),
        )
        .order_by(Booking.id)
    ):
        progress = mentors.get(mentor_id)
        if progress is not None and progress.next_session is None:
            progress.next_session = NextSession(booking_id, starts_at, status)

    # The mentor's notes on the mentee's attendance; the mentee gets the shared ones only.
    note_where = [*where, row.notes != ""]
    if not scope.private_notes:
        note_where.append(row.shared_with_mentee.is_(True))
    for booking_id, mentor_id, starts_at, body, shared in session.execute(
        select(Booking.id, Booking.mentor_id, Booking.starts_at, row.notes, row.shared_with_mentee)
        .join(row, _join_mentee_row(row))
        .where(*note_where)
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
    ):
        progress = mentors.get(mentor_id)
        if progress is not None:
            progress.notes.append(Note(booking_id, starts_at, body, bool(shared)))

    # The pairs' goals and action items (issue 8): one query.
    for mentor_id, items in goal_service.for_mentee(
        session, scope.mentee_id, scope.mentor_id
    ).items():
        progress = mentors.get(mentor_id)
        if progress is not None:
            progress.goals = items
    return Snapshot(mentee, scope, list(mentors.values()))


# -- the lists of mentees -----------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def mentee_page(
    session: Session,
    *,
    now: dt.datetime,
    mentor_id: int | None = None,
    query: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> MenteePage:
    """Mentees with their numbers, by name, searchable by name or email, paged: two queries.

    With `mentor_id` (a mentor's own list) only that mentor's mentees and only their
    sessions with that mentor count; without it (admins) every mentee and every mentor."""
    query = query.strip()[:QUERY_MAX]
    mentee = aliased(User, name="mentee")
    where = [Booking.status != BookingStatus.DECLINED]
    if mentor_id is not None:
        where.append(Booking.mentor_id == mentor_id)
    if query:
        pattern = _like(query.lower())
        where.append(
            or_(
                func.lower(mentee.name).like(pattern, escape="\\"),
                func.lower(mentee.email).like(pattern, escape="\\"),
            )
        )
    total = int(
        session.scalar(
            select(func.count(func.distinct(Booking.mentee_id)))
            .select_from(Booking)
            .join(mentee, mentee.id == Booking.mentee_id)
            .where(*where)
        )
        or 0
    )
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    row = _mentee_row()
    result = session.execute(
        select(
            mentee.id,
            mentee.name,
            mentee.email,
            func.count(func.distinct(Booking.mentor_id)),
            *_columns(session, row, now),
        )
        .select_from(Booking)
        .join(mentee, mentee.id == Booking.mentee_id)
        .outerjoin(row, _join_mentee_row(row))
        .where(*where)
        .group_by(mentee.id, mentee.name, mentee.email)
        .order_by(func.lower(mentee.name), mentee.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    rows = [
        MenteeRow(
            mentee_id=r[0], name=r[1], email=r[2], mentors=int(r[3]), numbers=_numbers(*r[4:])
        )
        for r in result
    ]
    return MenteePage(rows=rows, total=total, page=page, query=query, per_page=per_page)
