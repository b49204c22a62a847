"""Pairs at risk (app/services/at_risk.py): each reason on its edges, the page against a
straightforward recomputation over generated data, and the nudge's rules.

Real database, rolled back per test; the suite's frozen now (Wed 2026-11-18 15:00 UTC).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, BookingStatus, MentorStatus, Notification, NotificationChannel
from app.models.follow_through import FeedbackRole, PairNudge, SessionFeedback
from app.services import at_risk
from app.services.errors import InvalidTransition, NotFound, ValidationFailed

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
S = BookingStatus


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def mentor_with_times(factories, **kw):
    """An approved mentor with a free time tomorrow (so no_availability stays out)."""
    mentor = factories.mentor(**kw)
    mentor.mentor_profile.next_available_at = days(1)
    factories.session.flush()
    return mentor


def reasons_of(db_session, mentor, mentee):
    row = at_risk.pair_row(db_session, mentor.id, mentee.id, now=NOW)
    return None if row is None else row.reasons


def rate(db_session, booking, rating, *, author=None, role=FeedbackRole.MENTEE):
    db_session.add(
        SessionFeedback(
            booking_id=booking.id,
            author_id=(author or booking.mentee).id,
            role=role,
            rating=rating,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    db_session.flush()


@pytest.fixture
def pair(factories):
    return mentor_with_times(factories, name="Maya Mentor"), factories.user(name="Mia Mentee")


# -- who is a current pair ----------------------------------------------------------------------


def test_a_pair_is_current_with_a_session_in_the_last_90_days_or_an_upcoming_one(
    factories, db_session, pair
):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-91), status=S.COMPLETED)
    assert reasons_of(db_session, mentor, mentee) is None
    factories.booking(mentor, mentee, starts_at=days(-89), status=S.COMPLETED)
    assert reasons_of(db_session, mentor, mentee) == ["no_session"]


def test_a_declined_request_does_not_make_a_pair(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(3), status=S.DECLINED)
    assert reasons_of(db_session, mentor, mentee) is None


def test_a_deactivated_member_takes_the_pair_off_the_list(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-30), status=S.COMPLETED)
    mentee.is_active = False
    db_session.flush()
    page = at_risk.pair_page(db_session, now=NOW)
    assert page.rows == []


# -- 1. no session in 21 days -------------------------------------------------------------------


def test_no_session_in_21_days(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-21), status=S.COMPLETED)
    assert reasons_of(db_session, mentor, mentee) == ["no_session"]


def test_a_session_20_days_ago_is_recent_enough(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-20.9), status=S.COMPLETED)
    assert reasons_of(db_session, mentor, mentee) == []


@pytest.mark.parametrize("status", [S.REQUESTED, S.CONFIRMED])
def test_an_upcoming_active_session_counts_as_not_lost(factories, db_session, pair, status):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-40), status=S.COMPLETED)
    factories.booking(mentor, mentee, starts_at=days(5), status=status)
    assert "no_session" not in reasons_of(db_session, mentor, mentee)


@pytest.mark.parametrize("status", [S.CANCELLED, S.NO_SHOW])
def test_a_cancelled_or_missed_session_is_not_a_meeting(factories, db_session, pair, status):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-40), status=S.COMPLETED)
    factories.booking(mentor, mentee, starts_at=days(-2), status=status)
    assert "no_session" in reasons_of(db_session, mentor, mentee)


# -- 2. two cancellations in a row --------------------------------------------------------------


def test_the_latest_two_sessions_cancelled(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-10), status=S.COMPLETED)
    factories.booking(mentor, mentee, starts_at=days(-5), status=S.CANCELLED)
    factories.booking(mentor, mentee, starts_at=days(2), status=S.CANCELLED)  # cancelled ahead
    factories.booking(mentor, mentee, starts_at=days(4), status=S.CONFIRMED)  # not started
    assert reasons_of(db_session, mentor, mentee) == ["cancellations"]


def test_a_session_between_two_cancellations_breaks_the_streak(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-10), status=S.CANCELLED)
    factories.booking(mentor, mentee, starts_at=days(-5), status=S.COMPLETED)
    factories.booking(mentor, mentee, starts_at=days(-2), status=S.CANCELLED)
    assert "cancellations" not in reasons_of(db_session, mentor, mentee)


def test_one_cancellation_alone_is_not_a_streak(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-2), status=S.CANCELLED)
    assert "cancellations" not in reasons_of(db_session, mentor, mentee)


def test_declined_requests_do_not_count_in_the_streak(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-9), status=S.CANCELLED)
    factories.booking(mentor, mentee, starts_at=days(-5), status=S.CANCELLED)
    factories.booking(mentor, mentee, starts_at=days(-3), status=S.DECLINED)
    assert "cancellations" in reasons_of(db_session, mentor, mentee)


# -- 3. a low rating ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rating", "low"), [(1, True), (2, True), (3, False), (5, False)])
def test_the_mentees_latest_rating_of_two_or_less(factories, db_session, pair, rating, low):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, starts_at=days(-5), status=S.COMPLETED)
    rate(db_session, booking, rating)
    assert ("low_rating" in reasons_of(db_session, mentor, mentee)) is low


def test_only_the_most_recent_rating_counts(factories, db_session, pair):
    mentor, mentee = pair
    older = factories.booking(mentor, mentee, starts_at=days(-12), status=S.COMPLETED)
    newer = factories.booking(mentor, mentee, starts_at=days(-5), status=S.COMPLETED)
    rate(db_session, newer, 5)
    rate(db_session, older, 1)  # given later, about an older session
    assert "low_rating" not in reasons_of(db_session, mentor, mentee)


def test_a_mentor_feedback_row_is_not_a_rating(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, starts_at=days(-5), status=S.COMPLETED)
    rate(db_session, booking, 1, author=mentor, role=FeedbackRole.MENTOR)
    assert "low_rating" not in reasons_of(db_session, mentor, mentee)


def test_a_low_rating_of_another_mentor_does_not_count(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-5), status=S.COMPLETED)
    other = mentor_with_times(factories)
    rate(db_session, factories.booking(other, mentee, starts_at=days(-6), status=S.COMPLETED), 1)
    assert "low_rating" not in reasons_of(db_session, mentor, mentee)
    assert "low_rating" in reasons_of(db_session, other, mentee)


# -- 4. an unanswered request -------------------------------------------------------------------


def test_a_request_made_more_than_24_hours_ago(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, starts_at=days(3), status=S.REQUESTED)
    booking.created_at = days(-1.01)
    db_session.flush()
    row = at_risk.pair_row(db_session, mentor.id, mentee.id, now=NOW)
    assert row.reasons == ["unanswered_request"]
    assert row.request_id == booking.id
    assert row.request_at == days(-1.01)


def test_a_request_made_23_hours_ago_waits_its_turn(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, starts_at=days(3), status=S.REQUESTED)
    booking.created_at = NOW - dt.timedelta(hours=23)
    db_session.flush()
    assert reasons_of(db_session, mentor, mentee) == []


def test_a_request_whose_time_has_passed_cannot_be_answered_any_more(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-3), status=S.COMPLETED)
    booking = factories.booking(mentor, mentee, starts_at=days(-1), status=S.REQUESTED)
    booking.created_at = days(-5)
    db_session.flush()
    assert "unanswered_request" not in reasons_of(db_session, mentor, mentee)


# -- 5. a mentor without availability -----------------------------------------------------------


@pytest.mark.parametrize(
    ("next_free", "flagged"), [(None, True), (15, True), (14, False), (1, False)]
)
def test_a_mentor_with_no_free_time_in_14_days(factories, db_session, pair, next_free, flagged):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-3), status=S.COMPLETED)
    mentor.mentor_profile.next_available_at = None if next_free is None else days(next_free)
    db_session.flush()
    assert ("no_availability" in reasons_of(db_session, mentor, mentee)) is flagged


def test_a_suspended_mentor_is_not_asked_for_times(factories, db_session, pair):
    mentor, mentee = pair
    factories.booking(mentor, mentee, starts_at=days(-3), status=S.COMPLETED)
    mentor.mentor_profile.next_available_at = None
    mentor.mentor_profile.status = MentorStatus.SUSPENDED
    db_session.flush()
    assert reasons_of(db_session, mentor, mentee) == []


# -- the page -----------------------------------------------------------------------------------


def test_severity_then_longest_since_they_met_then_names(factories, db_session):
    mentee = factories.user(name="Zed")
    quiet_long = mentor_with_times(factories, name="B Long")
    quiet_short = mentor_with_times(factories, name="A Short")
    cancelled = mentor_with_times(factories, name="C Cancel")
    factories.booking(quiet_long, mentee, starts_at=days(-80), status=S.COMPLETED)
    factories.booking(quiet_short, mentee, starts_at=days(-30), status=S.COMPLETED)
    factories.booking(cancelled, mentee, starts_at=days(-6), status=S.CANCELLED)
    factories.booking(cancelled, mentee, starts_at=days(-3), status=S.CANCELLED)
    page = at_risk.pair_page(db_session, now=NOW)
    # cancellations (4) + no_session (3) first; then the two quiet pairs, longest first.
    assert [r.mentor_name for r in page.rows] == ["C Cancel", "B Long", "A Short"]
    assert page.rows[0].reasons == ["cancellations", "no_session"]
    assert page.rows[0].severity == 7
    assert page.by_reason["no_session"] == 3 and page.by_reason["cancellations"] == 1


def test_filter_by_reason_search_by_name_and_pages(factories, db_session):
    mentee = factories.user(name="Mia 100%_Mentee")
    for i in range(5):
        factories.booking(
            mentor_with_times(factories, name=f"Quiet {i}"),
            mentee,
            starts_at=days(-30 - i),
            status=S.COMPLETED,
        )
    rater = mentor_with_times(factories, name="Rated Low")
    rate(db_session, factories.booking(rater, mentee, starts_at=days(-2), status=S.COMPLETED), 1)

    page = at_risk.pair_page(db_session, now=NOW, reason="low_rating")
    assert [r.mentor_name for r in page.rows] == ["Rated Low"] and page.total == 1
    assert page.at_risk == 6
    page = at_risk.pair_page(db_session, now=NOW, query="quiet 3")
    assert [r.mentor_name for r in page.rows] == ["Quiet 3"]
    page = at_risk.pair_page(db_session, now=NOW, query="100%_")  # literally, not a pattern
    assert page.total == 6
    page = at_risk.pair_page(db_session, now=NOW, query="0%")
    assert page.total == 6
    page = at_risk.pair_page(db_session, now=NOW, per_page=4, page=2)
    assert page.pages == 2 and len(page.rows) == 2 and page.page == 2
    page = at_risk.pair_page(db_session, now=NOW, per_page=4, page=99)
    assert page.page == 2
    assert at_risk.pair_page(db_session, now=NOW, reason="nonsense").reason == ""


def _expected(bookings, feedback, profiles, users, now):
    """The rules written out plainly, one pair at a time, in Python."""
    by_pair: dict[tuple[int, int], list] = {}
    for b in bookings:
        by_pair.setdefault((b.mentor_id, b.mentee_id), []).append(b)
    result = {}
    for (mentor_id, mentee_id), rows in by_pair.items():
        if not (users[mentor_id] and users[mentee_id]):
            continue
        if not any(
            b.status != S.DECLINED and b.starts_at >= now - dt.timedelta(days=90) for b in rows
        ):
            continue
        reasons = []
        met = any(
            b.status in (S.CONFIRMED, S.COMPLETED)
            and now - dt.timedelta(days=21) < b.starts_at <= now
            for b in rows
        )
        upcoming = any(b.status in (S.REQUESTED, S.CONFIRMED) and b.starts_at > now for b in rows)
        if not met and not upcoming:
            reasons.append("no_session")
        counted = sorted(
            (
                b
                for b in rows
                if b.status == S.CANCELLED
                or (b.status in (S.CONFIRMED, S.COMPLETED, S.NO_SHOW) and b.starts_at <= now)
            ),
            key=lambda b: (b.starts_at, b.id),
            reverse=True,
        )[:2]
        if len(counted) == 2 and all(b.status == S.CANCELLED for b in counted):
            reasons.append("cancellations")
        ratings = sorted(
            (
                (b.starts_at, f.id, f.rating)
                for f in feedback
                for b in rows
                if f.booking_id == b.id and f.rating is not None
            ),
            reverse=True,
        )
        if ratings and ratings[0][2] <= 2:
            reasons.append("low_rating")
        if any(
            b.status == S.REQUESTED
            and b.created_at <= now - dt.timedelta(hours=24)
            and b.starts_at > now
            for b in rows
        ):
            reasons.append("unanswered_request")
        status, next_free = profiles[mentor_id]
        if status == MentorStatus.APPROVED and (
            next_free is None or next_free > now + dt.timedelta(days=14)
        ):
            reasons.append("no_availability")
        if reasons:
            order = list(at_risk.REASONS)
            result[(mentor_id, mentee_id)] = sorted(reasons, key=order.index)
    return result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_page_equals_a_plain_recomputation_over_generated_data(factories, db_session, seed):
    rng = random.Random(seed)
    mentors = [factories.mentor(name=f"Mentor {seed}-{i}") for i in range(6)]
    mentees = [factories.user(name=f"Mentee {seed}-{i}") for i in range(8)]
    for m in mentors:
        m.mentor_profile.next_available_at = rng.choice([None, days(3), days(20), days(13)])
        if rng.random() < 0.15:
            m.mentor_profile.status = MentorStatus.SUSPENDED
    if rng.random() < 0.5:
        mentees[0].is_active = False
    bookings = []
    statuses = list(S)
    # Distinct two-hour slots: no two bookings overlap (PostgreSQL's exclusion constraints).
    for slot in rng.sample(range(150 * 12), 120):
        mentor, mentee = rng.choice(mentors), rng.choice(mentees)
        start = days(-120) + dt.timedelta(hours=2 * slot, minutes=rng.randint(0, 59))
        b = factories.booking(mentor, mentee, starts_at=start, status=rng.choice(statuses))
        b.created_at = min(start, days(rng.uniform(-3, 0)))
        bookings.append(b)
    db_session.flush()
    feedback = []
    for b in bookings:
        if b.status == S.COMPLETED and rng.random() < 0.6:
            f = SessionFeedback(
                booking_id=b.id,
                author_id=b.mentee_id,
                role=FeedbackRole.MENTEE,
                rating=rng.randint(1, 5),
                created_at=NOW,
                updated_at=NOW,
            )
            db_session.add(f)
            feedback.append(f)
    db_session.flush()
    profiles = {
        m.id: (m.mentor_profile.status, m.mentor_profile.next_available_at) for m in mentors
    }
    users = {u.id: u.is_active for u in (*mentors, *mentees)}
    expected = _expected(bookings, feedback, profiles, users, NOW)

    page = at_risk.pair_page(db_session, now=NOW, per_page=1000)
    got = {(r.mentor_id, r.mentee_id): r.reasons for r in page.rows}
    assert got == expected
    assert page.total == len(expected)
    for key in at_risk.REASONS:
        assert page.by_reason[key] == sum(key in v for v in expected.values())
        filtered = at_risk.pair_page(db_session, now=NOW, reason=key, per_page=1000)
        assert {(r.mentor_id, r.mentee_id) for r in filtered.rows} == {
            p for p, v in expected.items() if key in v
        }
    severities = [r.severity for r in page.rows]
    assert severities == sorted(severities, reverse=True)


def test_the_page_runs_three_queries_whatever_the_data(factories, db_session, engine):
    from tests.integration.conftest import counted

    mentee = factories.user()
    for i in range(12):
        mentor = factories.mentor()
        factories.booking(mentor, mentee, starts_at=days(-30 - i), status=S.COMPLETED)
        db_session.add(PairNudge(mentor_id=mentor.id, mentee_id=mentee.id, reason="no_session"))
    db_session.flush()
    with counted(engine) as statements:
        page = at_risk.pair_page(db_session, now=NOW)
    assert len(page.rows) == 12
    assert len(statements) == 3


# -- nudges -------------------------------------------------------------------------------------


def test_a_nudge_tells_the_right_people_in_the_app_and_by_email(factories, db_session, pair):
    mentor, mentee = pair
    admin = factories.admin()
    factories.booking(mentor, mentee, starts_at=days(-30), status=S.COMPLETED)
    sent = at_risk.nudge(
        db_session, admin, mentor_id=mentor.id, mentee_id=mentee.id, reason="no_session", now=NOW
    )
    assert (sent.reason, sent.sent_by_id, sent.sent_at) == ("no_session", admin.id, NOW)
    rows = db_session.scalars(select(Notification).order_by(Notification.id)).all()
    assert sorted((n.user_id, n.channel.value) for n in rows) == sorted(
        [
            (mentor.id, "in_app"),
            (mentor.id, "email"),
            (mentee.id, "in_app"),
            (mentee.id, "email"),
        ]
    )
    to_mentee = next(n for n in rows if n.user_id == mentee.id)
    assert to_mentee.kind == "pair_nudge"
    assert "It's been a while since you met Maya Mentor" in to_mentee.payload["message"]
    assert to_mentee.payload["path"] == f"/mentor-hub/mentors/{mentor.mentor_profile.id}"
    assert to_mentee.payload["subject"] and to_mentee.payload["action"]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "pair.nudged")).one()
    assert event.entity_id == sent.id and event.after["reason"] == "no_session"


@pytest.mark.parametrize(
    ("reason", "who"),
    [("low_rating", "mentee"), ("unanswered_request", "mentor"), ("no_availability", "mentor")],
)
def test_some_nudges_go_to_one_side_only(factories, db_session, pair, reason, who):
    mentor, mentee = pair
    admin = factories.admin()
    booking = factories.booking(mentor, mentee, starts_at=days(-2), status=S.COMPLETED)
    rate(db_session, booking, 1)
    request = factories.booking(mentor, mentee, starts_at=days(4), status=S.REQUESTED)
    request.created_at = days(-2)
    mentor.mentor_profile.next_available_at = None
    db_session.flush()
    at_risk.nudge(
        db_session, admin, mentor_id=mentor.id, mentee_id=mentee.id, reason=reason, now=NOW
    )
    rows = db_session.scalars(select(Notification)).all()
    target = mentor if who == "mentor" else mentee
    assert {n.user_id for n in rows} == {target.id}
    assert {n.channel for n in rows} == {NotificationChannel.IN_APP, NotificationChannel.EMAIL}
    if reason == "unanswered_request":
        assert rows[0].payload["path"] == f"/mentor-hub/sessions/{request.id}"
        assert rows[0].booking_id == request.id


def test_a_second_nudge_within_7_days_is_refused(factories, db_session, pair):
    mentor, mentee = pair
    admin = factories.admin()
    factories.booking(mentor, mentee, starts_at=days(-30), status=S.COMPLETED)
    args = {"mentor_id": mentor.id, "mentee_id": mentee.id, "reason": "no_session"}
    at_risk.nudge(db_session, admin, now=days(-6.9), **args)
    with pytest.raises(InvalidTransition) as refused:
        at_risk.nudge(db_session, admin, now=NOW, **args)
    assert "Nudged 6 days ago" in refused.value.message
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 1
    row = at_risk.pair_row(db_session, mentor.id, mentee.id, now=NOW)
    assert row.nudged["no_session"] == days(-6.9)
    # After the cool-down, and for another reason at any time, it goes.
    at_risk.nudge(db_session, admin, now=days(0.2), **args)
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 2


def test_a_nudge_for_a_reason_the_pair_does_not_have_is_refused(factories, db_session, pair):
    mentor, mentee = pair
    admin = factories.admin()
    factories.booking(mentor, mentee, starts_at=days(-3), status=S.COMPLETED)
    with pytest.raises(InvalidTransition):
        at_risk.nudge(
            db_session,
            admin,
            mentor_id=mentor.id,
            mentee_id=mentee.id,
            reason="no_session",
            now=NOW,
        )
    with pytest.raises(ValidationFailed):
        at_risk.nudge(
            db_session, admin, mentor_id=mentor.id, mentee_id=mentee.id, reason="x", now=NOW
        )
    with pytest.raises(NotFound):
        at_risk.nudge(
            db_session,
            admin,
            mentor_id=mentee.id,
            mentee_id=mentor.id,
            reason="no_session",
            now=NOW,
        )
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 0


def test_nudged_words():
    assert at_risk.nudged_words(NOW, NOW) == "Nudged today"
    assert at_risk.nudged_words(days(-1.5), NOW) == "Nudged yesterday"
    assert at_risk.nudged_words(days(-2), NOW) == "Nudged 2 days ago"
