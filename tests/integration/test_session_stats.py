"""The hourly session counts (migration 0012): triggers keep them equal to the bookings through
every kind of change, compaction and rebuild keep the numbers, and the overview uses them when
a period's boundaries are on the UTC hour and counts bookings when they are not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update

from app.models import (
    Attendance,
    AttendanceOutcome,
    Booking,
    BookingStatus,
    SessionStat,
    SessionStatDelta,
)
from app.services import periods, program_stats, session_stats
from tests.integration.test_admin_overview import NOW, check, generate


def ok(db_session) -> None:
    db_session.flush()
    drift = session_stats.check(db_session)
    assert drift.ok, drift.wrong
    assert drift.keys_checked > 0


def pending(db_session) -> int:
    return int(db_session.scalar(select(func.count()).select_from(SessionStatDelta)) or 0)


def test_the_counts_follow_every_kind_of_change(factories, db_session):
    generate(factories, db_session, sessions=80, seed=3)
    ok(db_session)
    bookings = db_session.scalars(select(Booking).order_by(Booking.id)).all()
    attended = [b for b in bookings if b.status == BookingStatus.COMPLETED]
    requested = [b for b in bookings if b.status == BookingStatus.REQUESTED]
    assert len(attended) >= 3 and requested

    # A status change, a move to another hour, a late cancellation.
    requested[0].status = BookingStatus.CONFIRMED
    ok(db_session)
    attended[0].starts_at += dt.timedelta(hours=5)
    attended[0].ends_at += dt.timedelta(hours=5)
    ok(db_session)
    requested[-1].status = BookingStatus.CANCELLED
    requested[-1].late_cancellation = True
    ok(db_session)

    # A bulk statement, as the expiry job writes it.
    db_session.execute(
        update(Booking)
        .where(Booking.status == BookingStatus.REQUESTED)
        .values(status=BookingStatus.DECLINED)
    )
    ok(db_session)

    # The mentee's record changes, goes, comes back; the mentor's own record never counts.
    record = db_session.scalar(
        select(Attendance).where(
            Attendance.booking_id == attended[1].id,
            Attendance.participant_id == attended[1].mentee_id,
        )
    )
    assert record is not None
    record.outcome = AttendanceOutcome.NO_SHOW
    record.minutes = 0
    ok(db_session)
    db_session.delete(record)
    ok(db_session)
    db_session.add(
        Attendance(
            booking_id=attended[1].id,
            participant_id=attended[1].mentee_id,
            outcome=AttendanceOutcome.LATE,
            minutes=20,
        )
    )
    ok(db_session)
    for own in db_session.scalars(
        select(Attendance).where(Attendance.participant_id == attended[1].mentor_id)
    ):
        own.outcome = AttendanceOutcome.NO_SHOW
        own.minutes = 3
    ok(db_session)

    # A deleted booking takes its count and its record's with it (the cascade included).
    db_session.execute(delete(Booking).where(Booking.id == attended[2].id))
    ok(db_session)


def test_compaction_folds_the_deltas_and_keeps_the_numbers(factories, db_session):
    generate(factories, db_session, sessions=40, seed=9)
    period = periods.parse_period({"period": "90d"}, now=NOW, tz="Europe/Berlin")
    before = program_stats.period_overview(db_session, period, now=NOW)
    assert pending(db_session) > 0
    folded = session_stats.compact(db_session, now=NOW)
    assert folded > 0 and pending(db_session) == 0
    ok(db_session)
    assert program_stats.period_overview(db_session, period, now=NOW) == before
    # Nothing left to fold: a second pass is a no-op; rows that fell to zero are gone.
    assert session_stats.compact(db_session, now=NOW) == 0
    zero = select(func.count()).where(SessionStat.sessions == 0, SessionStat.minutes == 0)
    assert db_session.scalar(zero) == 0
    # New changes after a compaction land in the deltas again and still add up.
    booking = db_session.scalars(select(Booking).limit(1)).one()
    booking.status = BookingStatus.CANCELLED
    ok(db_session)
    assert pending(db_session) == 2
    session_stats.compact(db_session, now=NOW)
    ok(db_session)


def test_rebuild_puts_wrong_counts_right(factories, db_session):
    generate(factories, db_session, sessions=30, seed=4)
    db_session.add(
        SessionStat(
            hour=NOW - dt.timedelta(days=3),
            status="completed",
            late_cancellation=False,
            outcome="attended",
            sessions=7,
            minutes=0,
        )
    )
    db_session.flush()
    assert not session_stats.check(db_session).ok
    assert session_stats.rebuild(db_session) > 0
    ok(db_session)
    assert pending(db_session) == 0


def _bogus_hour(db_session, when: dt.datetime) -> None:
    db_session.add(
        SessionStat(
            hour=when,
            status="completed",
            late_cancellation=False,
            outcome="attended",
            sessions=1000,
            minutes=0,
        )
    )
    db_session.flush()


@pytest.mark.parametrize(
    "tz", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/St_Johns"]
)
def test_the_overview_is_exact_in_every_zone_and_reads_the_hourly_counts(factories, db_session, tz):
    """Kolkata (UTC+5:30) and St John's (UTC-3:30) have midnights inside a UTC hour: those
    hours come from the bookings, every other hour from the counts; all equal raw SQL."""
    generate(factories, db_session, sessions=60, seed=13)
    for key in ("month", "30d", "90d", "year"):
        check(db_session, periods.parse_period({"period": key}, now=NOW, tz=tz), NOW)
    # A planted count proves which source answered: an ordinary hour is read from the counts,
    period = periods.parse_period({"period": "90d"}, now=NOW, tz=tz)
    before = program_stats.period_overview(db_session, period, now=NOW).sessions_total
    _bogus_hour(db_session, NOW.replace(minute=0) - dt.timedelta(days=10))
    after = program_stats.period_overview(db_session, period, now=NOW).sessions_total
    assert after == before + 1000
    # ...an hour cut in two by the period's start is read from the bookings.
    edges = session_stats.edge_hours([period.starts_at])
    if edges:
        _bogus_hour(db_session, edges[0])
        assert program_stats.period_overview(db_session, period, now=NOW).sessions_total == after


def test_sessions_not_over_are_read_from_the_bookings(factories, db_session):
    """A session under way at `now` has not ended: hourly counts can't say so, so the hours
    from its start on come from the bookings and the completion rate's "ended" stays exact."""
    mentor, mentee = factories.mentor(), factories.user()
    under_way = factories.booking(
        mentor,
        mentee,
        starts_at=NOW - dt.timedelta(minutes=30),
        status=BookingStatus.CANCELLED,
    )
    over = factories.booking(
        mentor,
        mentee,
        starts_at=NOW - dt.timedelta(hours=3),
        status=BookingStatus.CANCELLED,
    )
    assert under_way.ends_at > NOW >= over.ends_at
    period = periods.parse_period({"period": "month"}, now=NOW, tz="UTC")
    got = program_stats.period_overview(db_session, period, now=NOW)
    assert got.sessions_by_status["cancelled"] == 2
    assert (got.completion.numerator, got.completion.denominator) == (0, 1)
