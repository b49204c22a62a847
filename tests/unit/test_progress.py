"""Progress snapshots (app/services/progress.py): who sees what, and every number checked
against an independent SQL count written here.

Real database, rolled back per test; the suite's frozen now (Wed 2026-11-18 15:00 UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import Attendance, AttendanceOutcome, Booking, BookingStatus, User
from app.services import progress

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def held(
    factories,
    mentor: User,
    mentee: User,
    when: dt.datetime,
    outcome: AttendanceOutcome | None,
    *,
    minutes_booked: int = 60,
    minutes: int = 0,
    notes: str = "",
    shared: bool = False,
) -> Booking:
    """A past session with the mentee's attendance row (None: no row, status says it all)."""
    status = (
        BookingStatus.NO_SHOW if outcome is AttendanceOutcome.NO_SHOW else BookingStatus.COMPLETED
    )
    booking = factories.booking(
        mentor, mentee, starts_at=when, minutes=minutes_booked, status=status
    )
    if outcome is not None:
        factories.session.add(
            Attendance(
                booking_id=booking.id,
                participant_id=mentee.id,
                outcome=outcome,
                minutes=minutes,
                notes=notes,
                shared_with_mentee=shared,
                recorded_by_id=mentor.id,
                recorded_at=when,
            )
        )
        factories.session.flush()
    return booking


@dataclass
class Cast:
    mentee: User
    other_mentee: User
    mentor: User
    second_mentor: User
    stranger_mentor: User
    declined_mentor: User
    admin: User
    next_confirmed: Booking


@pytest.fixture
def cast(factories, db_session) -> Cast:
    mentee = factories.user(name="Mia Mentee")
    other = factories.user(name="Otto Other")
    mentor = factories.mentor(name="Maya Mentor")
    second = factories.mentor(name="Bob Second")
    stranger = factories.mentor(name="Sam Stranger")
    declined = factories.mentor(name="Dee Declined")
    admin = factories.admin(name="Ada Admin")
    A = AttendanceOutcome
    # With Maya: attended 50 of 60 min, late with no minutes (the booked 45 count), a
    # no-show, a completed session without a mentee row (60 booked), cancelled and declined
    # ones (nothing), an upcoming requested and confirmed one, an ended one not recorded yet.
    shared = {"shared": True}
    held(factories, mentor, mentee, days(-30), A.ATTENDED, minutes=50, notes="Shared one", **shared)
    held(factories, mentor, mentee, days(-20), A.LATE, minutes_booked=45, notes="Private one")
    held(factories, mentor, mentee, days(-10), A.NO_SHOW, notes="Shared no-show", **shared)
    held(factories, mentor, mentee, days(-5), None)
    held(factories, mentor, mentee, days(-3), A.ATTENDED, minutes=30, notes="", **shared)
    factories.booking(mentor, mentee, starts_at=days(-2), status=BookingStatus.CANCELLED)
    factories.booking(mentor, mentee, starts_at=days(-1), status=BookingStatus.DECLINED)
    factories.booking(mentor, mentee, starts_at=days(-0.5), status=BookingStatus.CONFIRMED)
    factories.booking(mentor, mentee, starts_at=days(4), status=BookingStatus.REQUESTED)
    confirmed = factories.booking(mentor, mentee, starts_at=days(2), status=BookingStatus.CONFIRMED)
    # With Bob: one attended session and a note Maya must never see.
    held(factories, second, mentee, days(-7), A.ATTENDED, minutes=90, notes="Bob's note", **shared)
    # Another mentee with Maya: never counted for Mia.
    held(factories, mentor, other, days(-8), A.ATTENDED, minutes=60)
    # Dee only ever declined Mia.
    factories.booking(declined, mentee, starts_at=days(-9), status=BookingStatus.DECLINED)
    db_session.flush()
    return Cast(mentee, other, mentor, second, stranger, declined, admin, confirmed)


SQL_COUNTS = """
SELECT
  SUM(CASE WHEN a.outcome IN ('attended', 'late')
            OR (a.id IS NULL AND b.status = 'completed') THEN 1 ELSE 0 END),
  SUM(CASE WHEN a.outcome = 'no_show'
            OR (a.id IS NULL AND b.status = 'no_show') THEN 1 ELSE 0 END)
FROM bookings b
LEFT JOIN attendance a ON a.booking_id = b.id AND a.participant_id = b.mentee_id
WHERE b.mentee_id = :mentee AND b.mentor_id = :mentor
"""


def sql_counts(session: Session, mentee: User, mentor: User) -> tuple[int, int]:
    attended, no_shows = session.execute(
        text(SQL_COUNTS), {"mentee": mentee.id, "mentor": mentor.id}
    ).one()
    return int(attended or 0), int(no_shows or 0)


def sql_minutes(session: Session, mentee: User, mentor: User) -> int:
    """Recorded minutes of the attended sessions, the booked length where none were recorded
    (computed in Python from plain rows, independently of the service's SQL)."""
    total = 0
    for b in session.query(Booking).filter_by(mentee_id=mentee.id, mentor_id=mentor.id):
        row = next((a for a in b.attendance if a.participant_id == mentee.id), None)
        took_place = (
            row.outcome in (AttendanceOutcome.ATTENDED, AttendanceOutcome.LATE)
            if row
            else b.status is BookingStatus.COMPLETED
        )
        if took_place:
            total += row.minutes if row and row.minutes else b.duration_minutes
    return total


def by_mentor(snap: progress.Snapshot) -> dict[str, progress.MentorProgress]:
    return {m.mentor_name: m for m in snap.mentors}


def test_every_number_equals_an_independent_count(db_session, cast):
    snap = progress.snapshot(db_session, progress.own_scope(cast.mentee.id), now=NOW)
    assert snap is not None
    mentors = by_mentor(snap)
    # Dee (declined only) is not one of Mia's mentors.
    assert list(mentors) == ["Bob Second", "Maya Mentor"]
    for mentor in (cast.mentor, cast.second_mentor):
        numbers = mentors[mentor.name].numbers
        assert (numbers.attended, numbers.no_shows) == sql_counts(db_session, cast.mentee, mentor)
        assert numbers.minutes == sql_minutes(db_session, cast.mentee, mentor)
    maya = mentors["Maya Mentor"].numbers
    # Spelled out once: 3 attended (incl. late) + 1 completed without a row; 1 no-show;
    # 50 + 45 (booked, none recorded) + 60 (booked, no row) + 30 minutes.
    assert (maya.attended, maya.no_shows, maya.minutes) == (4, 1, 185)
    assert maya.hours == 3.1
    assert maya.rate_percent == 80
    assert maya.last_at == days(-3)
    totals = snap.totals
    assert (totals.attended, totals.no_shows, totals.minutes) == (5, 1, 275)


def test_the_next_session_is_the_earliest_active_one_not_yet_ended(db_session, cast):
    snap = progress.snapshot(db_session, progress.own_scope(cast.mentee.id), now=NOW)
    assert snap is not None
    maya = by_mentor(snap)["Maya Mentor"]
    # The confirmed session of 12 hours ago has ended (attendance still due): not "next".
    assert maya.numbers.next_at == days(2)
    assert maya.next_session == progress.NextSession(
        cast.next_confirmed.id, days(2), BookingStatus.CONFIRMED
    )
    assert by_mentor(snap)["Bob Second"].next_session is None


def test_no_recorded_sessions_means_no_rate(db_session, factories):
    mentee, mentor = factories.user(), factories.mentor()
    factories.booking(mentor, mentee, starts_at=days(3), status=BookingStatus.REQUESTED)
    snap = progress.snapshot(db_session, progress.own_scope(mentee.id), now=NOW)
    assert snap is not None
    numbers = snap.mentors[0].numbers
    assert (numbers.attended, numbers.no_shows, numbers.hours, numbers.rate) == (0, 0, 0, None)
    assert numbers.last_at is None
    assert numbers.next_at == days(3)


def test_a_mentee_with_no_sessions_has_an_empty_snapshot(db_session, factories):
    mentee = factories.user()
    snap = progress.snapshot(db_session, progress.own_scope(mentee.id), now=NOW)
    assert snap is not None and snap.mentors == []


def test_the_mentee_sees_only_the_notes_shared_with_them(db_session, cast):
    snap = progress.snapshot(db_session, progress.own_scope(cast.mentee.id), now=NOW)
    assert snap is not None
    notes = {name: [n.body for n in m.notes] for name, m in by_mentor(snap).items()}
    # Newest first; the private note and the empty shared one are not there.
    assert notes == {"Maya Mentor": ["Shared no-show", "Shared one"], "Bob Second": ["Bob's note"]}


def test_a_mentor_sees_their_own_sessions_and_all_their_notes_only(db_session, cast):
    scope = progress.scope_for(db_session, cast.mentor, cast.mentee.id)
    assert scope == progress.Scope(cast.mentee.id, cast.mentor.id, private_notes=True, own=False)
    snap = progress.snapshot(db_session, scope, now=NOW)
    assert snap is not None
    assert [m.mentor_name for m in snap.mentors] == ["Maya Mentor"]
    notes = [(n.body, n.shared) for n in snap.mentors[0].notes]
    assert notes == [("Shared no-show", True), ("Private one", False), ("Shared one", True)]
    assert snap.totals.attended == sql_counts(db_session, cast.mentee, cast.mentor)[0]


def test_an_admin_sees_every_mentor_and_every_note(db_session, cast):
    scope = progress.scope_for(db_session, cast.admin, cast.mentee.id)
    assert scope == progress.Scope(cast.mentee.id, None, private_notes=True, own=False)
    snap = progress.snapshot(db_session, scope, now=NOW)
    assert snap is not None
    assert sum(len(m.notes) for m in snap.mentors) == 4


@pytest.mark.parametrize("who", ["other_mentee", "stranger_mentor", "declined_mentor"])
def test_nobody_else_gets_a_scope(db_session, cast, who):
    assert progress.scope_for(db_session, getattr(cast, who), cast.mentee.id) is None


def test_a_mentors_list_counts_only_their_sessions(db_session, cast):
    page = progress.mentee_page(db_session, now=NOW, mentor_id=cast.mentor.id)
    assert [r.name for r in page.rows] == ["Mia Mentee", "Otto Other"]
    mia = page.rows[0]
    assert (mia.numbers.attended, mia.numbers.no_shows) == sql_counts(
        db_session, cast.mentee, cast.mentor
    )
    assert mia.mentors == 1
    bob = progress.mentee_page(db_session, now=NOW, mentor_id=cast.second_mentor.id)
    assert [(r.name, r.numbers.attended) for r in bob.rows] == [("Mia Mentee", 1)]
    assert progress.mentee_page(db_session, now=NOW, mentor_id=cast.declined_mentor.id).total == 0


def test_the_admin_list_counts_every_mentor_searches_and_pages(db_session, cast):
    page = progress.mentee_page(db_session, now=NOW)
    mia = next(r for r in page.rows if r.mentee_id == cast.mentee.id)
    assert (mia.mentors, mia.numbers.attended, mia.numbers.no_shows) == (2, 5, 1)
    assert [r.name for r in progress.mentee_page(db_session, now=NOW, query="OTTO").rows] == [
        "Otto Other"
    ]
    assert progress.mentee_page(db_session, now=NOW, query="100%_").total == 0
    first = progress.mentee_page(db_session, now=NOW, per_page=1)
    second = progress.mentee_page(db_session, now=NOW, per_page=1, page=2)
    assert (first.total, first.pages) == (2, 2)
    assert [first.rows[0].name, second.rows[0].name] == ["Mia Mentee", "Otto Other"]
    # A page past the end shows the last one.
    assert progress.mentee_page(db_session, now=NOW, per_page=1, page=9).page == 2
