"""Rating aggregates under real concurrency: many mentees rate one mentor at the same moment,
each in its own transaction on its own connection (as routes do: `begin_write`, one service
call, commit). The mentor's rating_count / rating_average must still equal a recomputation
from the rows. On PostgreSQL that needs the profile row lock in mentor_index.refresh_ratings
(without it, a recount waiting for the lock reads an older snapshot and loses a rating); on
SQLite BEGIN IMMEDIATE serialises the writers.

Committed data with unique emails, deleted again at the end, so the rest of the suite never
sees it."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from app.db import begin_write, make_engine
from app.models import (
    Attendance,
    AttendanceOutcome,
    AuditEvent,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    Notification,
    SessionFeedback,
    User,
)
from app.services import feedback as svc
from tests.conftest import FROZEN_NOW

THREADS = 8
NOW = FROZEN_NOW


@pytest.fixture
def cast(database_url: str, engine: Engine) -> Iterator[tuple[Engine, int, list[int]]]:
    """A mentor and THREADS mentees, each with one completed session; committed."""
    eng = make_engine(database_url)
    tag = uuid.uuid4().hex[:8]
    with Session(eng) as session:
        mentor = User(
            email=f"m.{tag}@rating.example.org", name="Rated", timezone="UTC", created_at=NOW
        )
        session.add(mentor)
        session.flush()
        session.add(
            MentorProfile(
                user_id=mentor.id,
                headline="x",
                bio="",
                languages=["English"],
                timezone="UTC",
                status=MentorStatus.APPROVED,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        bookings = []
        for i in range(THREADS):
            mentee = User(
                email=f"e{i}.{tag}@rating.example.org",
                name=f"Rater {i}",
                timezone="UTC",
                created_at=NOW,
            )
            session.add(mentee)
            session.flush()
            starts = NOW - dt.timedelta(days=1, hours=i + 1)
            booking = Booking(
                mentor_id=mentor.id,
                mentee_id=mentee.id,
                starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=60),
                mentor_timezone="UTC",
                status=BookingStatus.COMPLETED,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(booking)
            session.flush()
            session.add(
                Attendance(
                    booking_id=booking.id,
                    participant_id=mentee.id,
                    outcome=AttendanceOutcome.ATTENDED,
                    minutes=60,
                    recorded_at=NOW,
                )
            )
            bookings.append(booking.id)
        session.commit()
        mentor_id = mentor.id
    try:
        yield eng, mentor_id, bookings
    finally:
        with Session(eng) as session:
            users = list(
                session.scalars(
                    select(User.id).where(User.email.like(f"%.{tag}@rating.example.org"))
                )
            )
            session.execute(delete(AuditEvent).where(AuditEvent.actor_id.in_(users)))
            session.execute(delete(Notification).where(Notification.user_id.in_(users)))
            session.execute(delete(Booking).where(Booking.id.in_(bookings)))
            session.execute(delete(MentorProfile).where(MentorProfile.user_id == mentor_id))
            session.execute(delete(User).where(User.id.in_(users)))
            session.commit()
        eng.dispose()


def test_concurrent_ratings_keep_the_aggregates_exact(cast):
    eng, mentor_id, bookings = cast
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def rate(booking_id: int, rating: int) -> None:
        try:
            with Session(eng) as session:
                barrier.wait(timeout=30)
                begin_write(session)
                booking = session.get(Booking, booking_id)
                assert booking is not None
                mentee = session.get(User, booking.mentee_id)
                assert mentee is not None
                svc.save(session, mentee, booking, version=None, rating=rating, now=NOW)
                session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=rate, args=(booking_id, 1 + i % 5))
        for i, booking_id in enumerate(bookings)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with Session(eng) as session:
        count, average = session.execute(
            select(func.count(SessionFeedback.id), func.avg(SessionFeedback.rating))
            .join(Booking, Booking.id == SessionFeedback.booking_id)
            .where(Booking.mentor_id == mentor_id, SessionFeedback.rating.is_not(None))
        ).one()
        profile = session.scalars(
            select(MentorProfile).where(MentorProfile.user_id == mentor_id)
        ).one()
        assert count == THREADS
        assert profile.rating_count == count
        assert profile.rating_average == pytest.approx(float(average))
