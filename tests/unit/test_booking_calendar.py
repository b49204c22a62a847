"""The mentee's view of a mentor's free times: viewer's zone, viewer's own sessions busy."""

from __future__ import annotations

import datetime as dt

import pytest

from app.models import AvailabilityRule, BookingStatus
from app.services import booking_calendar


@pytest.mark.parametrize(
    ("minutes", "sentence"),
    [
        (0, "Maya keeps the same time as you."),
        (360, "Maya is 6 hours ahead of you."),
        (-60, "Maya is 1 hour behind you."),
        (630, "Maya is 10 hours 30 minutes ahead of you."),
        (-45, "Maya is 45 minutes behind you."),
    ],
)
def test_zone_gap_sentence(minutes, sentence):
    assert booking_calendar.zone_gap_sentence("Maya", minutes) == sentence


def test_zone_gap_follows_daylight_saving():
    winter = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
    # Kolkata has no DST; New York does: the gap changes by an hour.
    assert booking_calendar.zone_gap("Asia/Kolkata", "America/New_York", winter) == 630
    assert booking_calendar.zone_gap("Asia/Kolkata", "America/New_York", summer) == 570


@pytest.mark.parametrize(("raw", "week"), [(None, 0), ("2", 2), ("9", 3), ("-1", 0), ("x", 0)])
def test_clamp_week(raw, week):
    assert booking_calendar.clamp_week(raw) == week


def test_a_week_shows_free_times_in_the_viewers_zone_minus_the_viewers_own_sessions(
    db_session, factories, now
):
    # now = Wed 2026-11-18 15:00 UTC. Mentor in Kolkata, Mon 19:00-21:00, 45 + 15 minutes.
    mentor = factories.mentor(timezone="Asia/Kolkata", session_minutes=45, buffer_minutes=15)
    db_session.add(
        AvailabilityRule(
            mentor_profile_id=mentor.mentor_profile.id,
            weekday=0,
            start_time=dt.time(19),
            end_time=dt.time(21),
            created_at=now,
        )
    )
    viewer = factories.user(timezone="America/New_York")
    # The viewer is busy with someone else at the first of Monday's two times.
    factories.booking(
        factories.mentor(),
        viewer,
        starts_at=dt.datetime(2026, 11, 23, 13, 30, tzinfo=dt.UTC),
        minutes=45,
        status=BookingStatus.CONFIRMED,
    )
    db_session.flush()

    week = booking_calendar.week(db_session, mentor.mentor_profile, viewer, now=now, index=0)

    assert week.first == dt.date(2026, 11, 18) and week.last == dt.date(2026, 11, 24)
    monday = next(d for d in week.days if d.date == dt.date(2026, 11, 23))
    # 19:00 IST = 08:30 EST is taken by the viewer's own session; 20:00 IST = 09:30 EST is free.
    assert [s.starts_at for s in monday.slots] == [dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)]
    assert week.count == 1
    assert not week.has_previous and week.has_next
