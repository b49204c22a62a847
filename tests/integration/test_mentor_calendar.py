"""A mentor's page shows free times week by week in the viewer's zone, in fixed queries."""

from __future__ import annotations

import datetime as dt

from app.models import AvailabilityRule
from tests.integration.conftest import count_queries


def add_hours(db_session, profile, now, weekdays=range(5)):
    for weekday in weekdays:
        db_session.add(
            AvailabilityRule(
                mentor_profile_id=profile.id,
                weekday=weekday,
                start_time=dt.time(9),
                end_time=dt.time(17),
                created_at=now,
            )
        )
    db_session.commit()


def test_the_profile_names_the_zone_gap_and_shows_this_weeks_times(
    client_for, people, db_session, now
):
    people.mentor.mentor_profile.timezone = "Europe/Berlin"
    people.mentee.timezone = "America/New_York"
    add_hours(db_session, people.mentor.mentor_profile, now)
    html = (
        client_for("mentee")
        .get(f"/mentor-hub/mentors/{people.mentor.mentor_profile.id}")
        .get_data(as_text=True)
    )
    assert "Maya is 6 hours ahead of you." in html
    assert "In your time zone, America/New York (EST)" in html
    assert 'data-date="2026-11-19"' in html
    # Thu 09:00 Berlin = 03:00 New York.
    assert '<time datetime="2026-11-19T08:00:00+00:00">03:00</time>' in html


def test_htmx_week_navigation_returns_only_the_calendar(client_for, people, db_session, now):
    add_hours(db_session, people.mentor.mentor_profile, now)
    url = f"/mentor-hub/mentors/{people.mentor.mentor_profile.id}/calendar?week=2"
    response = client_for("mentee").get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<section") and "<html" not in html
    assert "week 3 of 4" in html
    assert 'data-date="2026-12-02"' in html
    # Without htmx the same address is the whole page at that week.
    page = client_for("mentee").get(url).get_data(as_text=True)
    assert "<html" in page and "week 3 of 4" in page


def test_a_pending_mentors_calendar_is_not_found(client_for, people):
    url = f"/mentor-hub/mentors/{people.pending_mentor.mentor_profile.id}/calendar"
    assert client_for("mentee").get(url).status_code == 404


def test_the_profile_page_needs_the_same_queries_however_busy_the_mentor_is(
    client_for, people, factories, db_session, now, connection
):
    profile = people.mentor.mentor_profile
    add_hours(db_session, profile, now, weekdays=[0])
    client = client_for("mentee")
    url = f"/mentor-hub/mentors/{profile.id}"
    client.get(url)  # warm-up
    few = count_queries(client, url, connection.engine)
    add_hours(db_session, profile, now, weekdays=range(1, 7))
    for day in range(20):
        factories.booking(
            people.mentor,
            factories.user(),
            starts_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC) + dt.timedelta(days=day),
        )
    db_session.commit()
    assert count_queries(client, url, connection.engine) == few
