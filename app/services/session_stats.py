"""Session counts per UTC hour (app/models/session_stats.py, migration 0012): reading them,
folding the triggers' deltas in, and rebuilding them from the bookings.

A reader asks for the hours [starts_at, ends_at) and gets, per hour, status, late flag and
mentee outcome, the sessions and the minutes of the mentee's records: the compacted rows and
the pending deltas added up in the same statement, so the answer is exact whether or not the
scheduler has compacted lately. A period or bucket boundary that is not on the UTC hour (a
midnight in a :30 or :45 zone) cuts an hour in two: `edge_hours` names those hours, the reader
skips them here and counts their bookings instead (`in_hours`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from app.db import begin_write
from app.models import Attendance, Booking, SessionStat, SessionStatDelta

Key = tuple[dt.datetime, str, bool, str]


HOUR = dt.timedelta(hours=1)


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def edge_hours(moments: Iterable[dt.datetime]) -> list[dt.datetime]:
    """The UTC hours that a boundary cuts in two (a midnight in a :30 or :45 zone): their
    counts cannot be split, so those hours are read from the bookings instead."""
    return sorted({_floor_hour(m) for m in moments if m != _floor_hour(m)})


def hourly(
    starts_at: dt.datetime, ends_at: dt.datetime, *, skip: Sequence[dt.datetime] = ()
) -> Any:
    """A subquery of (hour, status, late_cancellation, outcome, sessions, minutes) rows for the
    hours in [starts_at, ends_at) but those in `skip`: compacted rows and pending deltas, to be
    summed by the caller (a key may appear more than once)."""
    parts: list[Any] = []
    for table in (SessionStat, SessionStatDelta):
        query = select(
            table.hour.label("hour"),
            table.status.label("status"),
            table.late_cancellation.label("late_cancellation"),
            table.outcome.label("outcome"),
            table.sessions.label("sessions"),
            table.minutes.label("minutes"),
        ).where(table.hour >= starts_at, table.hour < ends_at)
        if skip:
            query = query.where(table.hour.not_in(list(skip)))
        parts.append(query)
    return union_all(*parts).subquery("hourly")


def sessions_between(
    starts_at: dt.datetime, ends_at: dt.datetime, statuses: Sequence[str] = ()
) -> Any:
    """SQL: the number of sessions starting in [starts_at, ends_at) (whole hours), of these
    statuses (all when empty). Compacted rows and pending deltas are summed each on its own
    and added: summed through `hourly`'s UNION ALL, the ~90,000 hourly rows of a million
    sessions cost half as much again."""
    parts: list[Any] = []
    for table in (SessionStat, SessionStatDelta):
        part = select(func.coalesce(func.sum(table.sessions), 0)).where(
            table.hour >= starts_at, table.hour < ends_at
        )
        if statuses:
            part = part.where(table.status.in_(list(statuses)))
        parts.append(part.scalar_subquery())
    return parts[0] + parts[1]


def in_hours(
    column: Any, hours: Sequence[dt.datetime], starts_at: dt.datetime, ends_at: dt.datetime
) -> Any:
    """SQL: `column` falls in one of `hours` (each an hour long) and in [starts_at, ends_at);
    the bookings' side of `hourly(..., skip=hours)`."""
    ranges = [
        and_(column >= max(hour, starts_at), column < min(hour + HOUR, ends_at))
        for hour in hours
        if hour < ends_at and hour + HOUR > starts_at
    ]
    return or_(*ranges) if ranges else false()


# -- compaction (a scheduler job) ------------------------------------------------------------

_PG_COMPACT = text(
    """
    WITH moved AS (
        DELETE FROM session_stat_deltas
        RETURNING hour, status, late_cancellation, outcome, sessions, minutes
    ), summed AS (
        SELECT hour, status, late_cancellation, outcome, sum(sessions) AS sessions,
               sum(minutes) AS minutes, count(*) AS folded
        FROM moved GROUP BY hour, status, late_cancellation, outcome
    ), upserted AS (
        INSERT INTO session_stats (hour, status, late_cancellation, outcome, sessions, minutes)
        SELECT hour, status, late_cancellation, outcome, sessions, minutes FROM summed
        ON CONFLICT (hour, status, late_cancellation, outcome) DO UPDATE
        SET sessions = session_stats.sessions + EXCLUDED.sessions,
            minutes = session_stats.minutes + EXCLUDED.minutes
        RETURNING hour, status, late_cancellation, outcome, sessions, minutes
    )
    SELECT (SELECT coalesce(sum(folded), 0) FROM summed) AS folded,
           hour, status, late_cancellation, outcome
    FROM upserted WHERE sessions = 0 AND minutes = 0
    UNION ALL
    SELECT (SELECT coalesce(sum(folded), 0) FROM summed), NULL, NULL, NULL, NULL
    """
)
_PG_DROP_EMPTY = text(
    "DELETE FROM session_stats WHERE hour = :hour AND status = :status"
    " AND late_cancellation = :late AND outcome = :outcome AND sessions = 0 AND minutes = 0"
)
_SQLITE_COMPACT = text(
    """
    INSERT INTO session_stats (hour, status, late_cancellation, outcome, sessions, minutes)
    SELECT hour, status, late_cancellation, outcome, sum(sessions), sum(minutes)
    FROM session_stat_deltas WHERE id <= :upto
    GROUP BY hour, status, late_cancellation, outcome
    ON CONFLICT (hour, status, late_cancellation, outcome) DO UPDATE
    SET sessions = sessions + excluded.sessions, minutes = minutes + excluded.minutes
    """
)


def compact(session: Session, *, now: dt.datetime) -> int:
    """Fold the pending deltas into session_stats; the number of deltas folded.

    PostgreSQL: one statement takes every delta committed so far (a writer's delta that
    commits later stays for the next pass) and adds it in; rows that fall to zero go.
    SQLite: the caller's write transaction (BEGIN IMMEDIATE) keeps writers out meanwhile.
    `now` is unused: the job signature of app/jobs.py."""
    del now
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_PG_COMPACT).all()
        folded = int(rows[0][0]) if rows else 0
        for _, hour, status, late, outcome in rows:
            if hour is not None:
                session.execute(
                    _PG_DROP_EMPTY,
                    {"hour": hour, "status": status, "late": late, "outcome": outcome},
                )
        return folded
    upto = session.scalar(select(func.max(SessionStatDelta.id)))
    if upto is None:
        return 0
    folded = int(session.scalar(select(func.count()).where(SessionStatDelta.id <= upto)) or 0)
    session.execute(_SQLITE_COMPACT, {"upto": upto})
    session.execute(text("DELETE FROM session_stat_deltas WHERE id <= :upto"), {"upto": upto})
    session.execute(text("DELETE FROM session_stats WHERE sessions = 0 AND minutes = 0"))
    return folded


# -- checking and rebuilding ----------------------------------------------------------------


def _hour_of(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", column, "UTC")
    return func.substr(column, 1, 13).concat(":00:00.000000")


def _from_bookings(session: Session) -> Select[Any]:
    hour = _hour_of(session, Booking.starts_at)
    outcome = func.coalesce(type_coerce(Attendance.outcome, String()), "", type_=String())
    return (
        select(
            hour,
            Booking.status,
            Booking.late_cancellation,
            outcome,
            func.count(),
            func.coalesce(func.sum(Attendance.minutes), 0),
        )
        .select_from(Booking)
        .outerjoin(
            Attendance,
            (Attendance.booking_id == Booking.id)
            & (Attendance.participant_id == Booking.mentee_id),
        )
        .group_by(hour, Booking.status, Booking.late_cancellation, outcome)
    )


@dataclass(frozen=True)
class Drift:
    keys_checked: int
    wrong: dict[str, tuple[tuple[int, int], tuple[int, int]]]  # key -> (kept, actual)

    @property
    def ok(self) -> bool:
        return not self.wrong


def _key(hour: Any, status: Any, late: Any, outcome: Any) -> str:
    moment = hour if isinstance(hour, str) else hour.astimezone(dt.UTC).strftime("%Y-%m-%d %H")
    return f"{moment[:13]}|{getattr(status, 'value', status)}|{bool(late)}|{outcome}"


def check(session: Session) -> Drift:
    """Compare the kept counts (compacted + pending) with a count of the bookings now, in one
    statement: one snapshot, so writers committing meanwhile never show up as drift."""
    hour = _hour_of(session, Booking.starts_at)
    outcome = func.coalesce(type_coerce(Attendance.outcome, String()), "", type_=String())
    zero = literal(0)
    actual = (
        select(
            hour.label("hour"),
            Booking.status.label("status"),
            Booking.late_cancellation.label("late_cancellation"),
            outcome.label("outcome"),
            zero.label("kept_sessions"),
            zero.label("kept_minutes"),
            literal(1).label("sessions"),
            func.coalesce(Attendance.minutes, 0).label("minutes"),
        )
        .select_from(Booking)
        .outerjoin(
            Attendance,
            (Attendance.booking_id == Booking.id)
            & (Attendance.participant_id == Booking.mentee_id),
        )
    )
    kept = [
        select(
            table.hour.label("hour"),
            table.status.label("status"),
            table.late_cancellation.label("late_cancellation"),
            table.outcome.label("outcome"),
            table.sessions.label("kept_sessions"),
            table.minutes.label("kept_minutes"),
            zero.label("sessions"),
            zero.label("minutes"),
        )
        for table in (SessionStat, SessionStatDelta)
    ]
    both = union_all(*kept, actual).subquery("both_sides")
    keys = (both.c.hour, both.c.status, both.c.late_cancellation, both.c.outcome)
    checked = 0
    wrong: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
    for row in session.execute(
        select(
            *keys,
            func.sum(both.c.kept_sessions),
            func.sum(both.c.kept_minutes),
            func.sum(both.c.sessions),
            func.sum(both.c.minutes),
        ).group_by(*keys)
    ):
        *key, kept_n, kept_m, n, m = row
        ours, theirs = (int(kept_n), int(kept_m)), (int(n), int(m))
        if ours == theirs == (0, 0):
            continue  # a compacted row that fell to zero
        checked += 1
        if ours != theirs:
            wrong[_key(*key)] = (ours, theirs)
    return Drift(checked, wrong)


def rebuild(session: Session) -> int:
    """Recount everything from the bookings (the migration's backfill, on demand); the
    number of rows written. Writers wait meanwhile (PostgreSQL: a SHARE lock on bookings and
    attendance; SQLite: the write transaction)."""
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE bookings, attendance IN SHARE MODE"))
    session.execute(text("DELETE FROM session_stat_deltas"))
    session.execute(text("DELETE FROM session_stats"))
    rows = [
        {
            "hour": hour,
            "status": getattr(status, "value", status),
            "late_cancellation": bool(late),
            "outcome": outcome,
            "sessions": int(sessions),
            "minutes": int(minutes),
        }
        for hour, status, late, outcome, sessions, minutes in session.execute(
            _from_bookings(session)
        )
    ]
    if rows:
        session.execute(
            text(
                "INSERT INTO session_stats (hour, status, late_cancellation, outcome, sessions,"
                " minutes) VALUES (:hour, :status, :late_cancellation, :outcome, :sessions,"
                " :minutes)"
            ),
            rows,
        )
    return len(rows)
