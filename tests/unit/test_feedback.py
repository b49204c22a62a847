"""Session feedback (app/services/feedback.py): who may give it and when, the edit window,
compare-and-swap edits, the rating aggregates and the prompts. Real database, frozen now
(Wednesday 2026-11-18 15:00 UTC), no Flask."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    AttendanceOutcome,
    AuditEvent,
    Booking,
    BookingStatus,
    FeedbackRole,
    MentorProfile,
    Notification,
    NotificationChannel,
    SessionFeedback,
    User,
)
from app.services import booking as booking_service
from app.services import feedback as svc
from app.services.errors import InvalidTransition, NotFound, StaleVersion, ValidationFailed


def refused(session: Session, error: type[Exception], action: Callable[[], Any]) -> Any:
    """Run an action that must fail, in a savepoint rolled back like the route's transaction."""
    with pytest.raises(error) as info, session.begin_nested():
        action()
    session.expire_all()
    return info.value


def past_session(
    factories: Any,
    mentor: User,
    mentee: User,
    now: dt.datetime,
    *,
    days_ago: int = 1,
    outcome: AttendanceOutcome | None = AttendanceOutcome.ATTENDED,
) -> Booking:
    """A confirmed session that ended `days_ago` days ago, its attendance recorded by the
    mentor through the booking service (so the prompts hook runs too)."""
    starts = (now - dt.timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)
    booking = factories.booking(mentor, mentee, starts_at=starts - dt.timedelta(hours=1))
    if outcome is not None:
        booking_service.record_attendance(
            factories.session,
            mentor,
            booking,
            version=booking.version,
            outcomes={mentee.id: (outcome, 45, "")},
            now=now,
        )
    return booking


@pytest.fixture
def mentor(factories: Any) -> User:
    user: User = factories.mentor(name="Maya Mentor")
    return user


@pytest.fixture
def mentee(factories: Any) -> User:
    user: User = factories.user(name="Mia Mentee")
    return user


@pytest.fixture
def done(factories: Any, mentor: User, mentee: User, now: dt.datetime) -> Booking:
    return past_session(factories, mentor, mentee, now)


def profile(session: Session, user: User) -> MentorProfile:
    session.expire_all()
    found = session.scalar(select(MentorProfile).where(MentorProfile.user_id == user.id))
    assert found is not None
    return found


def recomputed(session: Session, mentor: User) -> tuple[int, float | None]:
    """The aggregates straight from the rows: every mentee rating on the mentor's sessions."""
    count, average = session.execute(
        select(func.count(SessionFeedback.id), func.avg(SessionFeedback.rating))
        .join(Booking, Booking.id == SessionFeedback.booking_id)
        .where(
            Booking.mentor_id == mentor.id,
            SessionFeedback.author_id == Booking.mentee_id,
            SessionFeedback.rating.is_not(None),
        )
    ).one()
    return int(count), (float(average) if average is not None else None)


def rate(
    session: Session, mentee: User, booking: Booking, rating: Any, now: dt.datetime, **kw: Any
) -> SessionFeedback:
    kw.setdefault("version", None)
    return svc.save(session, mentee, booking, rating=rating, now=now, **kw)


# -- who and when ------------------------------------------------------------------------------


def test_the_mentee_rates_an_attended_session(db_session, done, mentee, mentor, now):
    row = rate(db_session, mentee, done, "4", now, comment=" Very useful ", private_note="Shy")
    assert (row.role, row.rating, row.comment, row.private_note) == (
        FeedbackRole.MENTEE,
        4,
        "Very useful",
        "Shy",
    )
    assert row.version == 1 and row.created_at == now
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "session_feedback")
    ).one()
    assert event.action == "feedback.created" and event.entity_id == row.id
    assert event.after["rating"] == 4


def test_the_mentor_summarises_and_a_summary_is_required(db_session, done, mentor, now):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: svc.save(db_session, mentor, done, version=None, summary="  ", now=now),
    )
    assert "summary" in err.field_errors
    row = svc.save(db_session, mentor, done, version=None, summary="Covered CVs", now=now)
    assert (row.role, row.summary, row.rating) == (FeedbackRole.MENTOR, "Covered CVs", None)


def test_a_stranger_or_an_admin_gets_not_found(db_session, factories, done, now):
    stranger = factories.user()
    admin = factories.admin()
    for who in (stranger, admin):
        refused(db_session, NotFound, lambda who=who: rate(db_session, who, done, 5, now))
    assert db_session.scalar(select(func.count(SessionFeedback.id))) == 0


def test_a_session_not_yet_recorded_cannot_be_rated(db_session, factories, mentor, mentee, now):
    booking = past_session(factories, mentor, mentee, now, outcome=None)
    err = refused(db_session, InvalidTransition, lambda: rate(db_session, mentee, booking, 5, now))
    assert "once it has taken place" in err.message


def test_a_no_show_cannot_be_rated_or_summarised(db_session, factories, mentor, mentee, now):
    booking = past_session(factories, mentor, mentee, now, outcome=AttendanceOutcome.NO_SHOW)
    assert booking.status is BookingStatus.NO_SHOW
    err = refused(db_session, InvalidTransition, lambda: rate(db_session, mentee, booking, 5, now))
    assert "no-show" in err.message
    refused(
        db_session,
        InvalidTransition,
        lambda: svc.save(db_session, mentor, booking, version=None, summary="x", now=now),
    )


@pytest.mark.parametrize("bad", [None, "", "0", "6", "five", "3.5"])
def test_the_rating_must_be_one_to_five(db_session, done, mentee, now, bad):
    err = refused(db_session, ValidationFailed, lambda: rate(db_session, mentee, done, bad, now))
    assert set(err.field_errors) == {"rating"}


def test_texts_have_length_limits(db_session, done, mentee, now):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: rate(db_session, mentee, done, 3, now, comment="x" * 2001, private_note="y" * 2001),
    )
    assert set(err.field_errors) == {"comment", "private_note"}


# -- once, then edits -------------------------------------------------------------------------


def test_edits_are_compare_and_swap_on_version(db_session, done, mentee, now):
    row = rate(db_session, mentee, done, 2, now)
    later = now + dt.timedelta(days=1)
    edited = rate(db_session, mentee, done, 5, later, version=1, comment="Better on reflection")
    assert (edited.id, edited.rating, edited.version, edited.updated_at) == (row.id, 5, 2, later)
    # A page drawn from version 1 is stale now; nothing changes.
    refused(db_session, StaleVersion, lambda: rate(db_session, mentee, done, 1, later, version=1))
    assert db_session.get(SessionFeedback, row.id).rating == 5


def test_feedback_is_created_once(db_session, done, mentee, now):
    rate(db_session, mentee, done, 3, now)
    # A second "create" form (another window) does not make a second row.
    refused(db_session, StaleVersion, lambda: rate(db_session, mentee, done, 4, now, version=None))
    assert db_session.scalar(select(func.count(SessionFeedback.id))) == 1


def test_feedback_is_read_only_after_the_edit_window(db_session, done, mentee, now):
    rate(db_session, mentee, done, 3, now)
    policy = svc.FeedbackPolicy(edit_days=7)
    just_before = now + dt.timedelta(days=7) - dt.timedelta(seconds=1)
    rate(db_session, mentee, done, 4, just_before, version=1, policy=policy)
    at_deadline = now + dt.timedelta(days=7)
    err = refused(
        db_session,
        InvalidTransition,
        lambda: rate(db_session, mentee, done, 1, at_deadline, version=2, policy=policy),
    )
    assert "read-only" in err.message
    assert db_session.scalar(select(SessionFeedback.rating)) == 4


# -- the aggregates ---------------------------------------------------------------------------


def test_ratings_update_the_mentors_aggregates_exactly(db_session, factories, mentor, now):
    """Rating aggregates equal a recomputation from the rows after creates and edits."""
    mentees = [factories.user() for _ in range(3)]
    sessions = [
        past_session(factories, mentor, m, now, days_ago=1 + i) for i, m in enumerate(mentees)
    ]
    assert (
        profile(db_session, mentor).rating_count,
        profile(db_session, mentor).rating_average,
    ) == (0, None)
    rate(db_session, mentees[0], sessions[0], 5, now)
    rate(db_session, mentees[1], sessions[1], 2, now)
    # The mentor's summary carries no rating and changes nothing.
    svc.save(db_session, mentor, sessions[2], version=None, summary="Fine", now=now)
    p = profile(db_session, mentor)
    assert (p.rating_count, p.rating_average) == (2, pytest.approx(3.5))
    assert (p.rating_count, p.rating_average) == (
        recomputed(db_session, mentor)[0],
        pytest.approx(recomputed(db_session, mentor)[1]),
    )
    rate(db_session, mentees[1], sessions[1], 4, now, version=1)  # an edit: 5 and 4
    rate(db_session, mentees[2], sessions[2], 3, now)
    p = profile(db_session, mentor)
    count, average = recomputed(db_session, mentor)
    assert (p.rating_count, p.rating_average) == (3, pytest.approx(4.0))
    assert (count, average) == (3, pytest.approx(4.0))


def test_another_mentors_ratings_are_left_alone(db_session, factories, done, mentee, now):
    other = factories.mentor()
    rate(db_session, mentee, done, 5, now)
    assert (profile(db_session, other).rating_count, profile(db_session, other).rating_average) == (
        0,
        None,
    )


# -- prompts ----------------------------------------------------------------------------------


def prompts(session: Session, booking: Booking) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.booking_id == booking.id, Notification.kind == svc.PROMPT_KIND)
            .order_by(Notification.id)
        )
    )


def test_recording_attendance_prompts_both_once(db_session, done, mentor, mentee, now):
    rows = prompts(db_session, done)
    assert {(n.user_id, n.channel) for n in rows} == {
        (u, c) for u in (mentee.id, mentor.id) for c in NotificationChannel
    }
    to_mentee = next(n for n in rows if n.user_id == mentee.id)
    assert to_mentee.payload["path"] == f"/mentor-hub/sessions/{done.id}/feedback"
    assert to_mentee.payload["booking_id"] == done.id
    assert to_mentee.payload["message"] and to_mentee.payload["subject"]
    assert to_mentee.payload["action"] == "Rate the session"
    # A correction (attended -> late) records again: no second prompt.
    booking_service.record_attendance(
        db_session,
        mentor,
        done,
        version=done.version,
        outcomes={mentee.id: (AttendanceOutcome.LATE, 30, "")},
        now=now + dt.timedelta(hours=1),
    )
    assert len(prompts(db_session, done)) == 4


def test_giving_feedback_closes_the_waiting_prompt_email(db_session, done, mentee, now):
    from app.models import NotificationStatus

    svc.save(db_session, mentee, done, version=None, rating=5, now=now)
    mine = {n.channel: n for n in prompts(db_session, done) if n.user_id == mentee.id}
    email = mine[NotificationChannel.EMAIL]
    db_session.refresh(email)
    assert email.status is NotificationStatus.SENT and email.sent_at is None
    assert email.last_error.startswith("skipped: ")
    # The in-app entry stays (it is the inbox's, read or not); the mentor's prompt still waits.
    assert mine[NotificationChannel.IN_APP].status is NotificationStatus.PENDING
    theirs = [n for n in prompts(db_session, done) if n.user_id != mentee.id]
    assert all(n.status is NotificationStatus.PENDING for n in theirs)


def test_a_no_show_prompts_nobody_until_corrected(db_session, factories, mentor, mentee, now):
    booking = past_session(factories, mentor, mentee, now, outcome=AttendanceOutcome.NO_SHOW)
    assert prompts(db_session, booking) == []
    booking_service.record_attendance(
        db_session,
        mentor,
        booking,
        version=booking.version,
        outcomes={mentee.id: (AttendanceOutcome.ATTENDED, 60, "")},
        now=now,
    )
    assert len(prompts(db_session, booking)) == 4


def test_admin_view_shows_both_sides_and_the_private_note(db_session, done, mentor, mentee, now):
    rate(db_session, mentee, done, 4, now, comment="Good", private_note="Only for admins")
    svc.save(db_session, mentor, done, version=None, summary="Next: portfolio", now=now)
    view = svc.admin_view(db_session, done)
    assert view.mentee is not None and view.mentee.private_note == "Only for admins"
    assert view.mentor is not None and view.mentor.summary == "Next: portfolio"
    assert view.record is not None and view.record.participant_id == mentee.id


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.DECLINED])
def test_a_cancelled_or_declined_session_has_nothing_to_rate(
    db_session, factories, mentor, mentee, now, status
):
    booking = factories.booking(mentor, mentee, starts_at=now - dt.timedelta(days=2), status=status)
    err = refused(db_session, InvalidTransition, lambda: rate(db_session, mentee, booking, 5, now))
    assert status.value in err.message
