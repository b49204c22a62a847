"""The admin's view of every mentorship session: the filtered table, its CSV export, the
detail page's pieces (attendance, admin notes, audit timeline) and admin notes.

One set of filter conditions (`_conditions`) feeds the table, its count and the CSV, so
the export is exactly what the screen selects. Each page costs a fixed number of queries
whatever the data size; the CSV streams in batches (`yield_per`), never the whole result
in memory. Admin cancellation is not here: it is app/services/booking.py `cancel` (the
same rules, audit and notifications as everyone else's).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from app.models import (
    Attendance,
    Booking,
    BookingNote,
    BookingStatus,
    MentorProfile,
    User,
)
from app.services import audit, session_stats
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.csv_export import csv_line
from app.services.errors import NotAllowed, NotFound, ValidationFailed
from app.services.text_match import LIKE_ESCAPE, contains_pattern
from app.services.timezones import local_midnight, to_local

PER_PAGE = 25
QUERY_MAX = 100
NOTE_MAX = 2000
EXPORT_BATCH = 500

STATUSES: tuple[tuple[str, str], ...] = (
    ("requested", "Requested"),
    ("confirmed", "Confirmed"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("declined", "Declined"),
    ("no_show", "No-show"),
)
SORTS: tuple[tuple[str, str], ...] = (
    ("start", "Start time"),
    ("status", "Status"),
    ("mentor", "Mentor"),
    ("mentee", "Mentee"),
)
DEFAULT_SORT = "start"
DEFAULT_DIRECTION = "desc"

Mentor = aliased(User, name="mentor_user")
Mentee = aliased(User, name="mentee_user")


@dataclass(frozen=True)
class SessionFilters:
    """What the table shows; `raw_*` keep what was typed so a bad value is shown back."""

    statuses: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mentor_id: int | None = None
    mentee_id: int | None = None
    query: str = ""
    sort: str = DEFAULT_SORT
    direction: str = DEFAULT_DIRECTION
    page: int = 1
    raw_from: str = ""
    raw_to: str = ""

    def args(self, **changes: Any) -> dict[str, Any]:
        """The URL arguments of this state (defaults left out), with `changes` applied."""
        state = replace(self, **changes)
        out: dict[str, Any] = {}
        if state.query:
            out["q"] = state.query
        if state.statuses:
            out["status"] = list(state.statuses)
        if state.raw_from:
            out["from"] = state.raw_from
        if state.raw_to:
            out["to"] = state.raw_to
        if state.mentor_id:
            out["mentor"] = state.mentor_id
        if state.mentee_id:
            out["mentee"] = state.mentee_id
        if state.sort != DEFAULT_SORT or state.direction != DEFAULT_DIRECTION:
            out["sort"] = state.sort
            out["dir"] = state.direction
        if state.page > 1:
            out["page"] = state.page
        return out

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.query
            or self.statuses
            or self.date_from
            or self.date_to
            or self.mentor_id
            or self.mentee_id
        )


def _one_line(raw: str | None) -> str:
    return " ".join((raw or "").split())


def _positive_int(raw: str | None) -> int | None:
    try:
        value = int((raw or "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _date(raw: str) -> dt.date | None:
    """An ISO date as typed in a date field (YYYY-MM-DD); ValueError when it is not one."""
    return dt.date.fromisoformat(raw) if raw else None


def parse_filters(
    *,
    statuses: Sequence[str] = (),
    date_from: str | None = None,
    date_to: str | None = None,
    mentor: str | None = None,
    mentee: str | None = None,
    query: str | None = None,
    sort: str | None = None,
    direction: str | None = None,
    page: str | None = None,
) -> tuple[SessionFilters, dict[str, str]]:
    """The table's state from URL values, and a message per field that could not be used.

    Unknown statuses, sorts and ids are dropped silently (an old or hand-edited link);
    a date that is not a date is reported next to its field and left out of the filter.
    """
    errors: dict[str, str] = {}
    known = {key for key, _ in STATUSES}
    picked = tuple(key for key, _ in STATUSES if key in set(statuses) & known)
    raw_from = (date_from or "").strip()[:20]
    raw_to = (date_to or "").strip()[:20]
    start: dt.date | None = None
    end: dt.date | None = None
    try:
        start = _date(raw_from)
    except ValueError:
        errors["from"] = "Enter a date as YYYY-MM-DD, for example 2026-03-01."
    try:
        end = _date(raw_to)
    except ValueError:
        errors["to"] = "Enter a date as YYYY-MM-DD, for example 2026-03-31."
    if start and end and end < start:
        errors["to"] = "The end date is before the start date."
        end = None
    sort_key = sort if sort in {key for key, _ in SORTS} else DEFAULT_SORT
    order = direction if direction in ("asc", "desc") else DEFAULT_DIRECTION
    filters = SessionFilters(
        statuses=picked,
        date_from=start,
        date_to=end,
        mentor_id=_positive_int(mentor),
        mentee_id=_positive_int(mentee),
        query=_one_line(query)[:QUERY_MAX],
        sort=sort_key,
        direction=order,
        page=_positive_int(page) or 1,
        raw_from=raw_from,
        raw_to=raw_to,
    )
    return filters, errors


def _conditions(filters: SessionFilters, tz: str) -> list[ColumnElement[bool]]:
    """The WHERE of the table, its count and its CSV: one definition, so they agree."""
    out: list[ColumnElement[bool]] = []
    if filters.statuses:
        out.append(Booking.status.in_([BookingStatus(s) for s in filters.statuses]))
    if filters.date_from:
        out.append(Booking.starts_at >= local_midnight(filters.date_from, tz))
    if filters.date_to:
        # Inclusive "to": everything before the next local midnight.
        out.append(Booking.starts_at < local_midnight(filters.date_to + dt.timedelta(days=1), tz))
    if filters.mentor_id:
        out.append(Booking.mentor_id == filters.mentor_id)
    if filters.mentee_id:
        out.append(Booking.mentee_id == filters.mentee_id)
    if filters.query:
        pattern = contains_pattern(filters.query)
        out.append(
            or_(
                func.lower(Mentor.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(Mentee.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(Booking.topic).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    return out


def _joined(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(Mentor, Mentor.id == Booking.mentor_id).join(
        Mentee, Mentee.id == Booking.mentee_id
    )


def _ordered(stmt: Select[Any], filters: SessionFilters) -> Select[Any]:
    column: Any = {
        "start": Booking.starts_at,
        "status": Booking.status,
        "mentor": func.lower(Mentor.name),
        "mentee": func.lower(Mentee.name),
    }[filters.sort]
    first = column.asc() if filters.direction == "asc" else column.desc()
    # Ties (same status, same person) read newest first; the id makes pages stable.
    return stmt.order_by(first, Booking.starts_at.desc(), Booking.id.desc())


def sessions_query(filters: SessionFilters, tz: str) -> Select[Booking]:
    """Every booking the filters select, people loaded, in the table's order (no paging)."""
    stmt = _joined(select(Booking)).where(and_(True, *_conditions(filters, tz)))
    stmt = stmt.options(
        contains_eager(Booking.mentor.of_type(Mentor)),
        contains_eager(Booking.mentee.of_type(Mentee)),
    )
    return _ordered(stmt, filters)


def count_sessions(session: Session, filters: SessionFilters, tz: str) -> int:
    """The table's total. Filtered by status and dates only (the page as it opens), it is the
    sum of the hourly session counts (migration 0012: exact, folded or not), not a count of a
    million bookings (0.5 s on PostgreSQL). People or words need the bookings themselves;
    the people are joined only for words, since every booking has both."""
    if not (filters.mentor_id or filters.mentee_id or filters.query):
        kept = _kept_count(session, filters, tz)
        if kept is not None:
            return kept
    # count(*), not count(id): one mentor's or mentee's count can then come from their
    # (person, starts_at) index alone.
    stmt = select(func.count()).select_from(Booking).where(and_(True, *_conditions(filters, tz)))
    if filters.query:
        stmt = _joined(stmt)
    return int(session.execute(stmt).scalar_one())


# Outer bounds for "no date filter" when the count comes from the hourly session counts. They
# are needed: the deltas table churns (rows written by triggers, folded away by a job), so it
# is read through its hour index, never scanned.
_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


def _kept_count(session: Session, filters: SessionFilters, tz: str) -> int | None:
    """From session_stats, or None when a bound cuts an hour in two (a :30 or :45 zone)."""
    low = local_midnight(filters.date_from, tz) if filters.date_from else _EARLIEST
    high = (
        local_midnight(filters.date_to + dt.timedelta(days=1), tz) if filters.date_to else _LATEST
    )
    if session_stats.edge_hours([low, high]):
        return None
    statuses = [BookingStatus(s).value for s in filters.statuses]
    return int(
        session.execute(select(session_stats.sessions_between(low, high, statuses))).scalar_one()
    )


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class SessionPage:
    filters: SessionFilters
    rows: list[Booking]
    total: int
    page: int
    pages: int
    # The people the table is narrowed to, by name (the chips). An id in the URL that names
    # nobody (an old or hand-edited link) is listed in `unknown` ("mentor", "mentee"): the
    # page says so, and the filter still applies (nothing matches), as in the CSV.
    mentor: Person | None = None
    mentee: Person | None = None
    unknown: tuple[str, ...] = ()


def _people(
    session: Session, filters: SessionFilters
) -> tuple[Person | None, Person | None, tuple[str, ...]]:
    """The filtered mentor and mentee by id, in one query (none when neither is filtered).

    A mentor is someone with a mentor profile (any status: a suspended mentor's sessions
    are still theirs); a mentee is any member."""
    wanted = {i for i in (filters.mentor_id, filters.mentee_id) if i}
    if not wanted:
        return None, None, ()
    found = {
        uid: (Person(id=uid, name=name, email=email), profile_id is not None)
        for uid, name, email, profile_id in session.execute(
            select(User.id, User.name, User.email, MentorProfile.id)
            .outerjoin(MentorProfile, MentorProfile.user_id == User.id)
            .where(User.id.in_(sorted(wanted)))
        )
    }
    mentor = mentee = None
    unknown: list[str] = []
    if filters.mentor_id:
        person, is_mentor = found.get(filters.mentor_id, (None, False))
        mentor = person if is_mentor else None
        if mentor is None:
            unknown.append("mentor")
    if filters.mentee_id:
        mentee = found.get(filters.mentee_id, (None, False))[0]
        if mentee is None:
            unknown.append("mentee")
    return mentor, mentee, tuple(unknown)


def session_page(
    session: Session, filters: SessionFilters, *, tz: str, per_page: int = PER_PAGE
) -> SessionPage:
    """One page of the table in at most three queries whatever the data: count, rows with
    both people, and the filtered mentor's and mentee's names (when either is filtered).

    There is no list of every mentor to choose from (10,000 of them made the page 450 kB
    and cost a query of every mentor on each view): a mentor is picked by a link (a row's
    mentor, the admin's mentors table, a session's page) or found with the search box."""
    total = count_sessions(session, filters, tz)
    pages = max(1, math.ceil(total / per_page))
    page = min(filters.page, pages)
    rows = list(
        session.execute(sessions_query(filters, tz).limit(per_page).offset((page - 1) * per_page))
        .unique()
        .scalars()
    )
    mentor, mentee, unknown = _people(session, filters)
    return SessionPage(
        filters=replace(filters, page=page),
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        mentor=mentor,
        mentee=mentee,
        unknown=unknown,
    )


# -- CSV ----------------------------------------------------------------------------------------

CSV_HEADER = (
    "Session ID",
    "Starts ({tz})",
    "Ends ({tz})",
    "Mentor's zone",
    "Status",
    "Mentor",
    "Mentor email",
    "Mentee",
    "Mentee email",
    "Topic",
    "Reschedules",
    "Late cancellation",
    "Cancel reason",
)


def _local_text(moment: dt.datetime, tz: str) -> str:
    return to_local(moment, tz).strftime("%Y-%m-%d %H:%M")


def export_csv(
    session: Session, filters: SessionFilters, *, tz: str, batch: int = EXPORT_BATCH
) -> Iterator[str]:
    """The CSV of every session the filters select (all pages), line by line.

    A generator: the web layer streams it, and the rows come from the database in
    batches of `batch` (a server-side cursor on PostgreSQL), so a year of sessions
    never sits in memory at once.
    """
    yield "\ufeff" + csv_line([h.format(tz=tz) for h in CSV_HEADER])
    stmt = sessions_query(filters, tz).execution_options(yield_per=batch)
    for booking in session.execute(stmt).scalars():
        yield csv_line(
            [
                booking.id,
                _local_text(booking.starts_at, tz),
                _local_text(booking.ends_at, tz),
                booking.mentor_timezone,
                booking.status.value,
                booking.mentor.name,
                booking.mentor.email,
                booking.mentee.name,
                booking.mentee.email,
                booking.topic,
                booking.reschedule_count,
                "yes" if booking.late_cancellation else "no",
                booking.cancel_reason or "",
            ]
        )


# -- the detail page ------------------------------------------------------------------------------


def load_session(session: Session, booking_id: int) -> Booking:
    """The booking with both people (one query); NotFound when there is none."""
    booking = session.execute(
        select(Booking)
        .where(Booking.id == booking_id)
        .options(joinedload(Booking.mentor), joinedload(Booking.mentee))
    ).scalar_one_or_none()
    if booking is None:
        raise NotFound("There is no such session.")
    return booking


def attendance_of(session: Session, booking_id: int) -> list[Attendance]:
    return list(
        session.execute(
            select(Attendance)
            .where(Attendance.booking_id == booking_id)
            .options(joinedload(Attendance.participant))
            .order_by(Attendance.id)
        ).scalars()
    )


def notes_of(session: Session, booking_id: int) -> list[BookingNote]:
    """The admin notes, oldest first (a running log)."""
    return list(
        session.execute(
            select(BookingNote)
            .where(BookingNote.booking_id == booking_id)
            .options(joinedload(BookingNote.author))
            .order_by(BookingNote.created_at, BookingNote.id)
        ).scalars()
    )


def add_note(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    body: str | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> BookingNote:
    """Append an admin note (notes are never edited or deleted), with its audit event.

    The audit event names the note, not its text: the trail is wider-read than notes.
    """
    if not actor.is_admin or not actor.is_active:
        raise NotAllowed("Only program admins can add notes to a session.")
    text = (body or "").strip()
    if not text:
        raise ValidationFailed(field_errors={"body": "Write the note before adding it."})
    if len(text) > NOTE_MAX:
        raise ValidationFailed(
            field_errors={"body": f"Use at most {NOTE_MAX} characters (this has {len(text)})."}
        )
    note = BookingNote(booking_id=booking.id, author_id=actor.id, body=text, created_at=now)
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="booking.note_added",
        entity_type="booking",
        entity_id=booking.id,
        now=now,
        after={"note_id": note.id, "characters": len(text)},
        context=context,
    )
    return note
