"""Invariants 1 and 3 under real concurrency: many threads, one database, committed data.

No rollback fixtures here: each thread has its own Session (and connection) on an engine made
from the suite's test database URL, starts its transaction with `begin_write` as a route does,
calls the booking service and commits. The cast is committed by a module fixture with unique
emails and deleted again at the end, so the rest of the suite never sees it.

Runs on SQLite (BEGIN IMMEDIATE serialises the check and the write) and on PostgreSQL (row locks
and the exclusion constraints); the `postgres_only` tests take the row locks away to show that
the constraints alone still leave exactly one winner, and that the loser gets SlotTaken.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.orm import Session

from app.db import begin_write, make_engine
from app.models import (
    ACTIVE_STATUSES,
    AuditEvent,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    Notification,
    User,
)
from app.services import booking as svc
from app.services.booking import BookingPolicy
from app.services.errors import SlotTaken, StaleVersion
from tests.conftest import FROZEN_NOW

THREADS = 20
NOW = FROZEN_NOW  # Wednesday 2026-11-18 15:00 UTC
THU = dt.date(2026, 11, 19)
FRI = dt.date(2026, 11, 20)
MON = dt.date(2026, 11, 23)
TUE = dt.date(2026, 11, 24)
# The limits are not under test here: every thread must get as far as the slot check.
OPEN_POLICY = BookingPolicy(max_active_per_mentee=1000, max_new_per_hour=1000)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


@dataclass
class Cast:
    engine: Engine
    mentor_a: int  # profile ids; weekdays 09:00-17:00 UTC, hourly slots on the hour
    mentor_b: int  # weekdays 09:30-17:00 UTC, so 10:30-11:30 half overlaps A's 10:00-11:00
    mentor_a_user: int
    admin: int
    mentees: list[int]  # the crowd of the same-slot races
    loners: list[int]  # one per single-mentee test, so earlier winners never count twice


def _user(session: Session, tag: str, label: str, **kw: Any) -> User:
    user = User(
        email=f"{label}.{tag}@concurrency.example.org",
        name=label.replace("-", " ").title(),
        timezone="UTC",
        created_at=NOW,
        **kw,
    )
    session.add(user)
    session.flush()
    return user


def _mentor(session: Session, tag: str, label: str, start: dt.time) -> MentorProfile:
    user = _user(session, tag, label)
    profile = MentorProfile(
        user_id=user.id,
        headline="Mentor",
        timezone="UTC",
        status=MentorStatus.APPROVED,
        requires_confirmation=True,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(profile)
    session.flush()
    for weekday in range(5):
        session.add(
            AvailabilityRule(
                mentor_profile_id=profile.id,
                weekday=weekday,
                start_time=start,
                end_time=dt.time(17),
                created_at=NOW,
            )
        )
    return profile


def _wipe(session: Session, user_ids: list[int]) -> None:
    """Everything the cast touched; bookings reference users with RESTRICT, so they go first."""
    booking_ids = select(Booking.id).where(
        or_(Booking.mentor_id.in_(user_ids), Booking.mentee_id.in_(user_ids))
    )
    session.execute(delete(Notification).where(Notification.user_id.in_(user_ids)))
    session.execute(
        delete(AuditEvent).where(
            or_(
                AuditEvent.actor_id.in_(user_ids),
                (AuditEvent.entity_type == "booking") & AuditEvent.entity_id.in_(booking_ids),
            )
        )
    )
    session.execute(
        delete(Booking).where(or_(Booking.mentor_id.in_(user_ids), Booking.mentee_id.in_(user_ids)))
    )
    profile_ids = select(MentorProfile.id).where(MentorProfile.user_id.in_(user_ids))
    session.execute(
        delete(AvailabilityRule).where(AvailabilityRule.mentor_profile_id.in_(profile_ids))
    )
    session.execute(delete(MentorProfile).where(MentorProfile.user_id.in_(user_ids)))
    session.execute(delete(User).where(User.id.in_(user_ids)))


@pytest.fixture(scope="module")
def cast(engine: Engine) -> Iterator[Cast]:
    url = engine.url.render_as_string(hide_password=False)
    eng = make_engine(url, pool_size=THREADS + 2, max_overflow=4)
    tag = uuid.uuid4().hex[:10]
    user_ids: list[int] = []
    try:
        with Session(eng) as session:
            a = _mentor(session, tag, "mentor-a", dt.time(9))
            b = _mentor(session, tag, "mentor-b", dt.time(9, 30))
            admin = _user(session, tag, "admin", is_admin=True)
            mentees = [_user(session, tag, f"mentee-{i}") for i in range(THREADS)]
            loners = [_user(session, tag, f"loner-{i}") for i in range(5)]
            session.commit()
            user_ids = [a.user_id, b.user_id, admin.id, *(m.id for m in mentees + loners)]
            yield Cast(
                engine=eng,
                mentor_a=a.id,
                mentor_b=b.id,
                mentor_a_user=a.user_id,
                admin=admin.id,
                mentees=[m.id for m in mentees],
                loners=[m.id for m in loners],
            )
    finally:
        if user_ids:
            with Session(eng) as session:
                _wipe(session, user_ids)
                session.commit()
        eng.dispose()


def race(eng: Engine, n: int, work: Callable[[Session, int], object]) -> list[object]:
    """Run `work(session, i)` in n threads released together; each is one route's transaction.

    Returns per thread "ok", the SlotTaken / StaleVersion it raised, or any other exception.
    """
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        session = Session(eng, expire_on_commit=False)
        try:
            barrier.wait(timeout=30)
            begin_write(session)
            work(session, i)
            session.commit()
            results[i] = "ok"
        except Exception as exc:  # every outcome is recorded and checked by the test
            session.rollback()
            results[i] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def active_count(eng: Engine, *conditions: Any) -> int:
    with Session(eng) as session:
        return (
            session.scalar(
                select(func.count(Booking.id)).where(
                    Booking.status.in_(ACTIVE_STATUSES), *conditions
                )
            )
            or 0
        )


def book_work(
    cast: Cast, starts_at: Callable[[int], dt.datetime], profile_id: Callable[[int], int], **kw: Any
) -> Callable[[Session, int], object]:
    mentee_of: Callable[[int], int] = kw.pop("mentee_of", lambda i: cast.mentees[i])

    def work(session: Session, i: int) -> object:
        mentee = session.get(User, mentee_of(i))
        profile = session.get(MentorProfile, profile_id(i))
        assert mentee is not None and profile is not None
        return svc.book(
            session,
            mentee,
            profile,
            starts_at=starts_at(i),
            topic=f"Thread {i}",
            notes="",
            now=NOW,
            policy=OPEN_POLICY,
        )

    return work


def assert_one_winner(results: list[object], messages: set[str]) -> None:
    unexpected = [r for r in results if r != "ok" and not isinstance(r, SlotTaken)]
    assert unexpected == [], unexpected
    assert results.count("ok") == 1, results
    taken = [r for r in results if isinstance(r, SlotTaken)]
    assert len(taken) == len(results) - 1
    assert {t.message for t in taken} <= messages


@pytest.mark.parametrize("start", [at(THU, 10), at(FRI, 14), at(MON, 9)])
def test_many_mentees_one_slot_exactly_one_wins(cast: Cast, start: dt.datetime) -> None:
    results = race(
        cast.engine,
        THREADS,
        book_work(cast, starts_at=lambda i: start, profile_id=lambda i: cast.mentor_a),
    )
    assert_one_winner(results, {svc.SLOT_TAKEN})
    assert active_count(cast.engine, Booking.starts_at == start) == 1


def test_one_mentee_two_mentors_overlapping_times_exactly_one_wins(cast: Cast) -> None:
    # Half the threads book mentor A 10:00-11:00, half mentor B 10:30-11:30: one mentee.
    mentee = cast.loners[0]
    n = 10
    results = race(
        cast.engine,
        n,
        book_work(
            cast,
            starts_at=lambda i: at(TUE, 10) if i % 2 == 0 else at(TUE, 10, 30),
            profile_id=lambda i: cast.mentor_a if i % 2 == 0 else cast.mentor_b,
            mentee_of=lambda i: mentee,
        ),
    )
    assert_one_winner(results, {svc.SLOT_TAKEN, svc.YOU_ARE_BUSY})
    assert active_count(cast.engine, Booking.mentee_id == mentee) == 1


def _requested(cast: Cast, start: dt.datetime, mentee: int) -> int:
    with Session(cast.engine) as session:
        begin_write(session)
        user = session.get(User, mentee)
        profile = session.get(MentorProfile, cast.mentor_a)
        assert user is not None and profile is not None
        booking = svc.book(
            session, user, profile, starts_at=start, topic="x", now=NOW, policy=OPEN_POLICY
        )
        session.commit()
        return booking.id


def test_two_confirms_of_one_version_exactly_one_wins(cast: Cast) -> None:
    booking_id = _requested(cast, at(TUE, 15), cast.loners[1])
    actors = [cast.mentor_a_user, cast.admin]

    def work(session: Session, i: int) -> object:
        actor = session.get(User, actors[i])
        booking = session.get(Booking, booking_id)
        assert actor is not None and booking is not None
        # Both pages were drawn from version 1.
        return svc.confirm(session, actor, booking, version=1, now=NOW)

    results = race(cast.engine, 2, work)
    assert sorted(str(type(r).__name__) for r in results) == ["StaleVersion", "str"]
    assert results.count("ok") == 1
    with Session(cast.engine) as session:
        stored = session.get(Booking, booking_id)
        assert stored is not None
        assert (stored.status, stored.version) == (BookingStatus.CONFIRMED, 2)
        events = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking_id
            )
        ).all()
        assert sorted(events) == ["booking.confirmed", "booking.requested"]
        kinds = session.scalars(
            select(Notification.kind).where(Notification.booking_id == booking_id)
        ).all()
        # One confirmation per channel (plus the request to the mentor): nothing doubled.
        assert kinds.count("booking_confirmed") in (2, 4)  # mentee only, or both if admin won
    stale = next(r for r in results if isinstance(r, StaleVersion))
    assert "it is now confirmed" in stale.message


def test_a_cancel_racing_a_confirm_leaves_one_consistent_state(cast: Cast) -> None:
    mentee = cast.loners[2]
    booking_id = _requested(cast, at(TUE, 16), mentee)

    def work(session: Session, i: int) -> object:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        if i == 0:
            actor = session.get(User, cast.mentor_a_user)
            assert actor is not None
            return svc.confirm(session, actor, booking, version=1, now=NOW)
        actor = session.get(User, mentee)
        assert actor is not None
        return svc.cancel(session, actor, booking, version=1, now=NOW)

    results = race(cast.engine, 2, work)
    assert results.count("ok") == 1
    assert sum(isinstance(r, StaleVersion) for r in results) == 1
    with Session(cast.engine) as session:
        stored = session.get(Booking, booking_id)
        assert stored is not None
        assert stored.version == 2
        assert stored.status is (
            BookingStatus.CONFIRMED if results[0] == "ok" else BookingStatus.CANCELLED
        )


def test_a_move_and_new_bookings_racing_for_one_slot_exactly_one_wins(cast: Cast) -> None:
    mover = cast.loners[4]
    booking_id = _requested(cast, at(FRI, 9), mover)
    target = at(MON, 11)
    n = 10

    def work(session: Session, i: int) -> object:
        if i == 0:
            actor = session.get(User, mover)
            booking = session.get(Booking, booking_id)
            assert actor is not None and booking is not None
            return svc.reschedule(session, actor, booking, version=1, new_starts_at=target, now=NOW)
        return book_work(cast, starts_at=lambda i: target, profile_id=lambda i: cast.mentor_a)(
            session, i
        )

    results = race(cast.engine, n, work)
    assert_one_winner(results, {svc.SLOT_TAKEN})
    assert active_count(cast.engine, Booking.starts_at == target) == 1
    with Session(cast.engine) as session:
        moved = session.get(Booking, booking_id)
        assert moved is not None
        if results[0] == "ok":
            assert (moved.starts_at, moved.ical_sequence) == (target, 1)
        else:
            assert (moved.starts_at, moved.ical_sequence) == (at(FRI, 9), 0)


# -- PostgreSQL: the exclusion constraints alone ---------------------------------------------------


@pytest.fixture
def constraints_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Take the row locks away and hold every thread between its checks and its INSERT, so
    that all of them pass the checks and only the constraints can stop the losers."""
    monkeypatch.setattr(svc, "_lock_people", lambda session, *ids: None)
    real_insert = svc._insert
    state: dict[str, threading.Barrier] = {}

    def arm(n: int) -> None:
        state["barrier"] = threading.Barrier(n)

    def held_insert(session: Session, booking: Booking, **kw: Any) -> None:
        state["barrier"].wait(timeout=30)
        real_insert(session, booking, **kw)

    monkeypatch.setattr(svc, "_insert", held_insert)
    return arm


@pytest.mark.postgres_only
def test_postgres_constraint_decides_a_race_on_the_mentor(
    cast: Cast, constraints_only: Callable[[int], None]
) -> None:
    start = at(MON, 13)
    constraints_only(THREADS)
    results = race(
        cast.engine,
        THREADS,
        book_work(cast, starts_at=lambda i: start, profile_id=lambda i: cast.mentor_a),
    )
    assert_one_winner(results, {svc.SLOT_TAKEN})
    assert active_count(cast.engine, Booking.starts_at == start) == 1


@pytest.mark.postgres_only
def test_postgres_constraint_decides_a_race_on_the_mentee(
    cast: Cast, constraints_only: Callable[[int], None]
) -> None:
    mentee = cast.loners[3]
    constraints_only(2)
    results = race(
        cast.engine,
        2,
        book_work(
            cast,
            starts_at=lambda i: at(MON, 15) if i == 0 else at(MON, 15, 30),
            profile_id=lambda i: cast.mentor_a if i == 0 else cast.mentor_b,
            mentee_of=lambda i: mentee,
        ),
    )
    assert_one_winner(results, {svc.YOU_ARE_BUSY})
    assert active_count(cast.engine, Booking.mentee_id == mentee) == 1
