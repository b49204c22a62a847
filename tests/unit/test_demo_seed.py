"""The demo program: realistic, reproducible and obeying every scheduling invariant."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    ACTIVE_STATUSES,
    Attendance,
    AttendanceOutcome,
    AuditEvent,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import schedule, slot_engine
from app.services.demo import DemoDataExists, database_is_empty, seed_demo
from app.services.taxonomy import TAXONOMY_NAMES

MEETING_HOSTS = {"meet.google.com", "zoom.us", "teams.microsoft.com"}


@pytest.fixture
def seeded(db_session, now):
    return seed_demo(db_session, now=now)


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None, email
    return user


def approved_profiles(session: Session) -> list[MentorProfile]:
    return list(
        session.scalars(select(MentorProfile).where(MentorProfile.status == MentorStatus.APPROVED))
    )


def overlapping_active_pairs(session: Session, column: str) -> int:
    """How many pairs of active bookings of one person overlap (half-open ranges), in SQL."""
    a, b = aliased(Booking), aliased(Booking)
    return session.scalar(
        select(func.count())
        .select_from(a)
        .join(
            b,
            and_(
                a.id < b.id,
                getattr(a, column) == getattr(b, column),
                a.starts_at < b.ends_at,
                b.starts_at < a.ends_at,
            ),
        )
        .where(a.status.in_(ACTIVE_STATUSES), b.status.in_(ACTIVE_STATUSES))
    )


def inside_weekly_hours(
    booking: Booking,
    profile: MentorProfile,
    rules: list[AvailabilityRule],
    exceptions: list[AvailabilityException],
) -> bool:
    zone = ZoneInfo(profile.timezone)
    start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    day = start.date()
    if end.date() != day:
        return False
    if any(e.date == day and e.kind in ("blocked", "replace") for e in exceptions):
        return False
    return any(
        r.weekday == day.weekday()
        and r.start_time <= start.time()
        and end.time() <= r.end_time
        and (r.valid_from is None or r.valid_from <= day)
        and (r.valid_until is None or day <= r.valid_until)
        for r in rules
    )


def assert_scheduling_invariants(session: Session, now: dt.datetime) -> None:
    """Everything the booking service and PostgreSQL would insist on, checked on the seed."""
    assert overlapping_active_pairs(session, "mentor_id") == 0
    assert overlapping_active_pairs(session, "mentee_id") == 0
    profiles = {p.user_id: p for p in session.scalars(select(MentorProfile))}
    rules: dict[int, list[AvailabilityRule]] = defaultdict(list)
    for rule in session.scalars(select(AvailabilityRule)):
        rules[rule.mentor_profile_id].append(rule)
    exceptions: dict[int, list[AvailabilityException]] = defaultdict(list)
    for exc in session.scalars(select(AvailabilityException)):
        exceptions[exc.mentor_profile_id].append(exc)
    bookings = list(session.scalars(select(Booking).order_by(Booking.starts_at)))
    active_per_mentee: dict[int, int] = defaultdict(int)
    by_mentor: dict[int, list[Booking]] = defaultdict(list)
    for booking in bookings:
        profile = profiles[booking.mentor_id]
        assert profile.status == MentorStatus.APPROVED
        assert booking.mentor_timezone == profile.timezone
        assert booking.ends_at - booking.starts_at == dt.timedelta(minutes=profile.session_minutes)
        assert booking.starts_at.minute in (0, 30) and booking.starts_at.second == 0
        assert booking.created_at <= now and booking.updated_at <= now
        assert booking.created_at < booking.starts_at
        assert inside_weekly_hours(booking, profile, rules[profile.id], exceptions[profile.id])
        by_mentor[booking.mentor_id].append(booking)
        if booking.status in ACTIVE_STATUSES:
            active_per_mentee[booking.mentee_id] += 1
            if booking.starts_at > now:
                notice = dt.timedelta(hours=max(12, profile.min_notice_hours))
                assert booking.starts_at >= now + notice
                assert booking.starts_at <= now + dt.timedelta(days=profile.horizon_days)
    # The policy: at most 3 active bookings per mentee.
    assert max(active_per_mentee.values()) <= 3
    # A mentor's buffer separates any two of their sessions.
    for mentor_id, sessions in by_mentor.items():
        gap = dt.timedelta(minutes=profiles[mentor_id].buffer_minutes)
        for earlier, later in itertools.pairwise(sessions):
            assert earlier.ends_at + gap <= later.starts_at


def test_database_is_empty_until_seeded(db_session, now):
    assert database_is_empty(db_session)
    seed_demo(db_session, now=now)
    assert not database_is_empty(db_session)


def test_seed_refuses_a_database_that_has_users_and_writes_nothing(db_session, factories, now):
    factories.user(email="real.person@example.org")
    with pytest.raises(DemoDataExists):
        seed_demo(db_session, now=now)
    assert db_session.scalar(select(func.count()).select_from(User)) == 1
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 0


def test_seeding_twice_is_refused(db_session, seeded, now):
    with pytest.raises(DemoDataExists):
        seed_demo(db_session, now=now)
    assert db_session.scalar(select(func.count()).select_from(User)) == seeded.users


def test_summary_counts_what_was_written(db_session, seeded):
    assert seeded.users == db_session.scalar(select(func.count()).select_from(User))
    assert seeded.bookings == sum(seeded.bookings_by_status.values())
    assert seeded.attendance == db_session.scalar(select(func.count()).select_from(Attendance))
    assert seeded.expertise_tags_added == 12
    assert "mentors" in str(seeded)


def test_personas_exist_with_their_roles(db_session, seeded):
    admin = user_by_email(db_session, "admin@mentorhub.test")
    mentor = user_by_email(db_session, "mentor@mentorhub.test")
    mentee = user_by_email(db_session, "mentee@mentorhub.test")
    assert (admin.name, admin.role) == ("Avery Admin", "admin")
    assert mentor.role == "mentor" and mentor.timezone == "Europe/London"
    assert mentee.role == "mentee" and mentee.timezone == "America/New_York"
    profile = mentor.mentor_profile
    assert profile is not None and profile.timezone == "Europe/London"
    assert profile.headline and profile.languages and profile.expertise
    assert profile.bio.count("\n\n") >= 1  # several paragraphs
    rules = db_session.scalars(
        select(AvailabilityRule).where(AvailabilityRule.mentor_profile_id == profile.id)
    ).all()
    assert len(rules) >= 2


def test_at_least_twelve_approved_mentors_in_at_least_four_time_zones(db_session, seeded):
    profiles = approved_profiles(db_session)
    assert len(profiles) >= 12
    assert seeded.approved_mentors == len(profiles)
    assert len({p.timezone for p in profiles}) >= 4
    assert len({p.user.name for p in profiles}) == len(profiles)
    for profile in profiles:
        assert profile.user.timezone == profile.timezone
        assert 1 <= len(profile.expertise) <= 4
        assert {t.name for t in profile.expertise} <= set(TAXONOMY_NAMES)
        assert profile.languages and profile.headline and len(profile.bio) > 80
        assert profile.session_minutes in (30, 45, 60, 90)
        assert profile.buffer_minutes in (0, 10, 15)
        assert profile.decided_at is not None and profile.decided_by_id is not None
        url = urlparse(profile.meeting_url or "")
        assert url.scheme == "https" and url.hostname in MEETING_HOSTS
    assert {p.requires_confirmation for p in profiles} == {True, False}
    assert len({p.session_minutes for p in profiles}) >= 3


def test_every_approved_mentor_has_weekly_hours_and_some_have_exceptions(db_session, seeded):
    for profile in approved_profiles(db_session):
        count = db_session.scalar(
            select(func.count())
            .select_from(AvailabilityRule)
            .where(AvailabilityRule.mentor_profile_id == profile.id)
        )
        assert count >= 2, profile.user.email
    assert seeded.availability_exceptions >= 2


def test_exactly_two_applications_are_pending(db_session, seeded):
    pending = db_session.scalars(
        select(MentorProfile).where(MentorProfile.status == MentorStatus.PENDING)
    ).all()
    assert len(pending) == 2
    assert all(p.submitted_at is not None and p.decided_at is None for p in pending)
    assert all(p.user.role == "mentee" for p in pending)
    rejected = db_session.scalars(
        select(MentorProfile).where(MentorProfile.status == MentorStatus.REJECTED)
    ).all()
    assert all(p.status_reason for p in rejected)


def test_there_are_at_least_twenty_one_mentees_in_varied_zones(db_session, seeded):
    mentees = [u for u in db_session.scalars(select(User)) if u.role == "mentee"]
    plain = [u for u in mentees if u.mentor_profile is None]
    assert len(plain) >= 21
    assert seeded.mentees == len(plain)
    assert len({u.timezone for u in plain}) >= 8
    assert all(u.email == u.email.lower() for u in mentees)


def test_every_status_appears_in_the_past_and_the_future_where_it_makes_sense(
    db_session, seeded, now
):
    seen: dict[str, set[BookingStatus]] = {"past": set(), "future": set()}
    for booking in db_session.scalars(select(Booking)):
        seen["past" if booking.starts_at < now else "future"].add(booking.status)
    assert seen["past"] >= {
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
        BookingStatus.CANCELLED,
        BookingStatus.DECLINED,
        BookingStatus.CONFIRMED,  # ended, attendance not recorded yet
    }
    assert seen["future"] >= {
        BookingStatus.REQUESTED,
        BookingStatus.CONFIRMED,
        BookingStatus.CANCELLED,
        BookingStatus.DECLINED,
    }
    # Outcomes only exist once a session has ended.
    assert not seen["future"] & {BookingStatus.COMPLETED, BookingStatus.NO_SHOW}


def test_no_two_active_bookings_of_one_mentor_or_one_mentee_overlap(db_session, seeded):
    assert overlapping_active_pairs(db_session, "mentor_id") == 0
    assert overlapping_active_pairs(db_session, "mentee_id") == 0


def test_upcoming_active_bookings_respect_notice_and_the_mentors_weekly_hours(
    db_session, seeded, now
):
    upcoming = db_session.scalars(
        select(Booking).where(Booking.status.in_(ACTIVE_STATUSES), Booking.starts_at > now)
    ).all()
    assert len(upcoming) >= 10
    for booking in upcoming:
        profile = db_session.scalar(
            select(MentorProfile).where(MentorProfile.user_id == booking.mentor_id)
        )
        rules = db_session.scalars(
            select(AvailabilityRule).where(AvailabilityRule.mentor_profile_id == profile.id)
        ).all()
        exceptions = db_session.scalars(
            select(AvailabilityException).where(
                AvailabilityException.mentor_profile_id == profile.id
            )
        ).all()
        assert booking.starts_at >= now + dt.timedelta(hours=12)
        assert inside_weekly_hours(booking, profile, list(rules), list(exceptions))
        # The slot engine, which the Schedule tab and booking use, agrees.
        engine = schedule.to_engine(profile, rules, exceptions)
        assert slot_engine.within_hours(engine, booking.starts_at, booking.ends_at)


def test_every_booking_obeys_the_scheduling_invariants(db_session, seeded, now):
    assert_scheduling_invariants(db_session, now)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.UTC),  # US clocks spring forward
        dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC),  # EU clocks spring forward
        dt.datetime(2026, 4, 5, 12, 0, tzinfo=dt.UTC),  # Sydney falls back
        dt.datetime(2026, 10, 25, 23, 45, tzinfo=dt.UTC),  # EU falls back, Sunday night
        dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC),
    ],
)
def test_seed_keeps_the_invariants_whenever_it_runs(db_session, moment):
    summary = seed_demo(db_session, now=moment)
    assert summary.approved_mentors >= 12
    assert_scheduling_invariants(db_session, moment)


def test_persona_mentor_and_mentee_share_sessions_in_several_statuses(db_session, seeded, now):
    mentor = user_by_email(db_session, "mentor@mentorhub.test")
    mentee = user_by_email(db_session, "mentee@mentorhub.test")
    together = db_session.scalars(
        select(Booking).where(Booking.mentor_id == mentor.id, Booking.mentee_id == mentee.id)
    ).all()
    kinds = {(b.status, b.starts_at > now) for b in together}
    assert (BookingStatus.CONFIRMED, True) in kinds
    assert (BookingStatus.REQUESTED, True) in kinds
    assert (BookingStatus.COMPLETED, False) in kinds
    assert any(b.status == BookingStatus.CANCELLED for b in together)


def test_cancelled_bookings_say_who_why_and_when(db_session, seeded):
    cancelled = db_session.scalars(
        select(Booking).where(Booking.status == BookingStatus.CANCELLED)
    ).all()
    assert cancelled
    for booking in cancelled:
        assert booking.cancel_reason
        assert booking.cancelled_by_id in (booking.mentor_id, booking.mentee_id)
        assert booking.cancelled_at is not None
        assert booking.created_at <= booking.cancelled_at <= booking.starts_at


def test_completed_and_no_show_sessions_have_attendance_recorded_after_the_end(
    db_session, seeded, now
):
    ended = db_session.scalars(
        select(Booking).where(Booking.status.in_((BookingStatus.COMPLETED, BookingStatus.NO_SHOW)))
    ).all()
    assert ended
    for booking in ended:
        assert len(booking.attendance) == 1
        record = booking.attendance[0]
        assert record.participant_id == booking.mentee_id
        assert record.recorded_by_id == booking.mentor_id
        assert booking.ends_at < record.recorded_at <= now
        if booking.status == BookingStatus.NO_SHOW:
            assert record.outcome == AttendanceOutcome.NO_SHOW and record.minutes == 0
        else:
            assert record.outcome in (AttendanceOutcome.ATTENDED, AttendanceOutcome.LATE)
            assert 0 < record.minutes <= booking.duration_minutes
    assert {r.outcome for b in ended for r in b.attendance} == set(AttendanceOutcome)


def test_each_booking_has_a_creation_audit_event(db_session, seeded):
    created = db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "booking.requested")
    )
    assert created == seeded.bookings


def test_seed_is_reproducible(db_session, now):
    def fingerprint() -> list[tuple[str, str, str, str]]:
        rows = db_session.execute(
            select(User.email, Booking.starts_at, Booking.status, Booking.topic)
            .join(User, User.id == Booking.mentee_id)
            .order_by(Booking.starts_at, User.email)
        )
        return [(e, s.isoformat(), str(st), t) for e, s, st, t in rows]

    nested = db_session.begin_nested()
    seed_demo(db_session, now=now)
    first = fingerprint()
    nested.rollback()
    db_session.expunge_all()  # forget the rolled-back rows; ids may be reused
    assert database_is_empty(db_session)
    seed_demo(db_session, now=now)
    assert fingerprint() == first
