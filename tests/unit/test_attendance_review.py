"""Two-sided attendance (app/services/attendance_review.py): the mentee confirms or disputes
the mentor's record within the window, once; admins keep or correct it. Real database, frozen
now (Wednesday 2026-11-18 15:00 UTC), no Flask."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from app.models import (
    Attendance,
    AttendanceOutcome,
    AttendanceResponse,
    AuditEvent,
    Booking,
    BookingStatus,
    MentorProfile,
    Notification,
    NotificationChannel,
    User,
)
from app.services import attendance_review as svc
from app.services import booking as booking_service
from app.services import navigation_counts
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from tests.unit.test_feedback import past_session, refused


@pytest.fixture
def mentor(factories: Any) -> User:
    user: User = factories.mentor(name="Maya Mentor")
    return user


@pytest.fixture
def mentee(factories: Any) -> User:
    user: User = factories.user(name="Mia Mentee")
    return user


@pytest.fixture
def admin(factories: Any) -> User:
    user: User = factories.admin(name="Ada Admin")
    return user


@pytest.fixture
def recorded(factories: Any, mentor: User, mentee: User, now: dt.datetime) -> Booking:
    return past_session(factories, mentor, mentee, now)


def mentee_record(session: Any, booking: Booking) -> Attendance:
    session.expire_all()
    row = session.scalars(
        select(Attendance).where(
            Attendance.booking_id == booking.id, Attendance.participant_id == booking.mentee_id
        )
    ).one()
    return row  # type: ignore[no-any-return]


def notes(session: Any, booking: Booking, kind: str) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification).where(
                Notification.booking_id == booking.id, Notification.kind == kind
            )
        )
    )


def dispute(session: Any, mentee: User, booking: Booking, now: dt.datetime, **kw: Any) -> Any:
    kw.setdefault("version", booking.version)
    kw.setdefault("reason", "I was there for the whole hour")
    return svc.dispute(session, mentee, booking, now=now, **kw)


# -- the mentee's answer ----------------------------------------------------------------------


def test_the_mentee_confirms_the_record_once(db_session, recorded, mentee, now):
    svc.confirm(db_session, mentee, recorded, version=recorded.version, now=now)
    row = mentee_record(db_session, recorded)
    assert (row.mentee_response, row.responded_at) == (AttendanceResponse.CONFIRMED, now)
    err = refused(
        db_session,
        InvalidTransition,
        lambda: dispute(db_session, mentee, recorded, now),
    )
    assert "can't be changed" in err.message
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == recorded.id)
    ).all()
    assert actions[-1] == "booking.attendance_confirmed"


def test_a_dispute_needs_a_reason(db_session, recorded, mentee, now):
    err = refused(
        db_session, ValidationFailed, lambda: dispute(db_session, mentee, recorded, now, reason=" ")
    )
    assert set(err.field_errors) == {"reason"}
    err = refused(
        db_session,
        ValidationFailed,
        lambda: dispute(db_session, mentee, recorded, now, reason="x" * 1001),
    )
    assert set(err.field_errors) == {"reason"}
    assert mentee_record(db_session, recorded).mentee_response is None


def test_a_dispute_tells_the_mentor_and_admins(db_session, recorded, mentee, mentor, admin, now):
    dispute(db_session, mentee, recorded, now)
    row = mentee_record(db_session, recorded)
    assert row.mentee_response is AttendanceResponse.DISPUTED
    assert row.dispute_reason == "I was there for the whole hour"
    sent = {(n.user_id, n.channel) for n in notes(db_session, recorded, "attendance_disputed")}
    assert sent == {
        (mentor.id, NotificationChannel.IN_APP),
        (mentor.id, NotificationChannel.EMAIL),
        (admin.id, NotificationChannel.IN_APP),
    }
    assert navigation_counts.open_disputes(db_session) == 1
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == recorded.id).order_by(AuditEvent.id.desc())
    ).first()
    assert event.action == "booking.attendance_disputed"
    assert event.after["reason"] == "I was there for the whole hour"


def test_only_the_mentee_answers(db_session, factories, recorded, mentor, admin, now):
    refused(db_session, NotAllowed, lambda: dispute(db_session, mentor, recorded, now))
    for who in (factories.user(), admin):
        refused(db_session, NotFound, lambda who=who: dispute(db_session, who, recorded, now))
    assert mentee_record(db_session, recorded).mentee_response is None


def test_nothing_to_answer_before_the_record(db_session, factories, mentor, mentee, now):
    booking = past_session(factories, mentor, mentee, now, outcome=None)
    err = refused(
        db_session,
        InvalidTransition,
        lambda: svc.confirm(db_session, mentee, booking, version=booking.version, now=now),
    )
    assert "hasn't recorded" in err.message


def test_the_answer_window_closes_after_seven_days(db_session, recorded, mentee, now):
    policy = svc.ReviewPolicy(dispute_days=7)
    deadline = now + dt.timedelta(days=7)
    err = refused(
        db_session,
        InvalidTransition,
        lambda: dispute(db_session, mentee, recorded, deadline, policy=policy),
    )
    assert "7 days" in err.message
    svc.confirm(
        db_session,
        mentee,
        recorded,
        version=recorded.version,
        now=deadline - dt.timedelta(seconds=1),
        policy=policy,
    )


def test_an_answer_to_an_older_page_is_stale(db_session, recorded, mentee, mentor, now):
    seen = recorded.version
    booking_service.record_attendance(
        db_session,
        mentor,
        recorded,
        version=recorded.version,
        outcomes={mentee.id: (AttendanceOutcome.LATE, 20, "")},
        now=now,
    )
    refused(
        db_session, StaleVersion, lambda: dispute(db_session, mentee, recorded, now, version=seen)
    )
    assert mentee_record(db_session, recorded).mentee_response is None


# -- admins resolve ---------------------------------------------------------------------------


@pytest.fixture
def disputed(db_session, recorded, mentee, now) -> Booking:
    dispute(db_session, mentee, recorded, now)
    return recorded


def test_an_admin_keeps_the_record_with_a_note(db_session, disputed, admin, mentor, mentee, now):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: svc.resolve(
            db_session, admin, disputed, version=disputed.version, decision="keep", note="", now=now
        ),
    )
    assert set(err.field_errors) == {"note"}
    svc.resolve(
        db_session,
        admin,
        disputed,
        version=disputed.version,
        decision="keep",
        note="The call log shows 10 minutes",
        now=now,
    )
    row = mentee_record(db_session, disputed)
    assert row.dispute_resolved_at == now and row.dispute_resolved_by_id == admin.id
    assert row.dispute_resolution == "The call log shows 10 minutes"
    assert row.outcome is AttendanceOutcome.ATTENDED
    told = {
        (n.user_id, n.channel) for n in notes(db_session, disputed, "attendance_dispute_resolved")
    }
    assert told == {(u, c) for u in (mentee.id, mentor.id) for c in NotificationChannel}
    assert svc.open_disputes(db_session) == []
    assert navigation_counts.open_disputes(db_session) == 0


def test_correcting_to_a_no_show_moves_the_status_and_the_count(
    db_session, disputed, admin, mentor, now
):
    def completed() -> int:
        db_session.expire_all()
        return db_session.scalar(
            select(MentorProfile.sessions_completed).where(MentorProfile.user_id == mentor.id)
        )

    assert completed() == 1
    version = disputed.version
    svc.resolve(
        db_session,
        admin,
        disputed,
        version=version,
        decision="correct",
        note="",
        outcome="no_show",
        minutes="45",
        now=now,
    )
    db_session.expire_all()
    booking = db_session.get(Booking, disputed.id)
    assert booking.status is BookingStatus.NO_SHOW and booking.version == version + 1
    row = mentee_record(db_session, disputed)
    assert (row.outcome, row.minutes) == (AttendanceOutcome.NO_SHOW, 0)
    assert completed() == 0


def test_correcting_a_no_show_to_attended_completes_it(
    db_session, factories, mentor, mentee, admin, now
):
    booking = past_session(factories, mentor, mentee, now, outcome=AttendanceOutcome.NO_SHOW)
    dispute(db_session, mentee, booking, now)
    svc.resolve(
        db_session,
        admin,
        booking,
        version=booking.version,
        decision="correct",
        note="Confirmed by the mentor",
        outcome="late",
        minutes="40",
        now=now,
    )
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).status is BookingStatus.COMPLETED
    assert (
        mentee_record(db_session, booking).outcome,
        mentee_record(db_session, booking).minutes,
    ) == (
        AttendanceOutcome.LATE,
        40,
    )
    assert len(notes(db_session, booking, "feedback_due")) == 4  # now it can be rated


def test_a_dispute_is_resolved_once_and_only_by_admins(db_session, disputed, admin, mentor, now):
    refused(
        db_session,
        NotAllowed,
        lambda: svc.resolve(
            db_session,
            mentor,
            disputed,
            version=disputed.version,
            decision="keep",
            note="x",
            now=now,
        ),
    )
    version = disputed.version
    svc.resolve(db_session, admin, disputed, version=version, decision="keep", note="ok", now=now)
    refused(
        db_session,
        InvalidTransition,
        lambda: svc.resolve(
            db_session, admin, disputed, version=version, decision="keep", note="again", now=now
        ),
    )


def test_a_resolution_from_an_older_page_is_stale(db_session, disputed, admin, mentor, mentee, now):
    seen = disputed.version
    booking_service.record_attendance(
        db_session,
        mentor,
        disputed,
        version=disputed.version,
        outcomes={mentee.id: (AttendanceOutcome.LATE, 30, "")},
        now=now,
    )
    refused(
        db_session,
        StaleVersion,
        lambda: svc.resolve(
            db_session, admin, disputed, version=seen, decision="keep", note="ok", now=now
        ),
    )
    assert mentee_record(db_session, disputed).dispute_resolved_at is None


def test_bad_corrections_are_refused(db_session, disputed, admin, now):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: svc.resolve(
            db_session,
            admin,
            disputed,
            version=disputed.version,
            decision="correct",
            note="",
            outcome="maybe",
            minutes="-3",
            now=now,
        ),
    )
    assert "outcome" in err.field_errors
    err = refused(
        db_session,
        ValidationFailed,
        lambda: svc.resolve(
            db_session,
            admin,
            disputed,
            version=disputed.version,
            decision="correct",
            note="",
            outcome="late",
            minutes="99999",
            now=now,
        ),
    )
    assert set(err.field_errors) == {"minutes"}
    err = refused(
        db_session,
        ValidationFailed,
        lambda: svc.resolve(
            db_session, admin, disputed, version=disputed.version, decision="", note="", now=now
        ),
    )
    assert "decision" in err.field_errors


def test_open_disputes_lists_oldest_first_with_people(db_session, factories, mentor, admin, now):
    a, b = factories.user(name="Ann"), factories.user(name="Bob")
    first = past_session(factories, mentor, a, now, days_ago=2)
    second = past_session(factories, mentor, b, now, days_ago=1)
    dispute(db_session, b, second, now - dt.timedelta(hours=1))
    dispute(db_session, a, first, now)
    rows = svc.open_disputes(db_session)
    assert [r.booking.id for r in rows] == [second.id, first.id]
    assert rows[0].mentee.name == "Bob" and rows[0].mentor.id == mentor.id
    assert rows[0].age(now) == dt.timedelta(hours=1)
