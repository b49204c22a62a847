"""Booking from a mentor's page: the answers a mentee gets, and that nothing typed is lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.models import AvailabilityRule, Booking, BookingStatus, Notification

HX = {"HX-Request": "true"}
# FROZEN_NOW is Wed 2026-11-18 15:00 UTC; the mentor (UTC) is free Fri 20 Nov 09:00-12:00.
SLOT = "2026-11-20T09:00:00+00:00"


@pytest.fixture
def mentor_hours(people, db_session, now):
    db_session.add(
        AvailabilityRule(
            mentor_profile_id=people.mentor.mentor_profile.id,
            weekday=4,
            start_time=dt.time(9),
            end_time=dt.time(12),
            created_at=now,
        )
    )
    db_session.commit()
    return people.mentor.mentor_profile


def post(client, profile, headers=HX, **data):
    form = {"starts_at": SLOT, "topic": "Career change", "notes": "I was a chemist", "week": "0"}
    form.update(data)
    return client.post(f"/mentor-hub/mentors/{profile.id}/book", data=form, headers=headers)


def active(db_session, profile):
    return db_session.scalars(
        select(Booking).where(Booking.mentor_id == profile.user_id, Booking.status != "cancelled")
    ).all()


def test_a_request_waits_for_the_mentor(client_for, mentor_hours, db_session, no_csrf):
    response = post(client_for("mentee"), mentor_hours)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Requested: waiting for Maya to confirm" in html
    [booking] = active(db_session, mentor_hours)
    assert booking.status is BookingStatus.REQUESTED
    assert booking.starts_at == dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    assert booking.topic == "Career change"
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.booking_id == booking.id)
        )
        >= 2
    )


def test_an_auto_confirming_mentor_books_at_once(client_for, mentor_hours, db_session, no_csrf):
    mentor_hours.requires_confirmation = False
    db_session.commit()
    html = post(client_for("mentee"), mentor_hours).get_data(as_text=True)
    assert "Booked: your session is confirmed" in html
    assert active(db_session, mentor_hours)[0].status is BookingStatus.CONFIRMED


def test_without_a_time_the_form_comes_back_with_what_was_typed(
    client_for, mentor_hours, db_session, no_csrf
):
    response = post(client_for("mentee"), mentor_hours, starts_at="")
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "Pick one of the free times above." in html
    assert 'value="Career change"' in html and "I was a chemist</textarea>" in html
    assert active(db_session, mentor_hours) == []


def test_without_a_topic_the_picked_time_stays_picked(
    client_for, mentor_hours, db_session, no_csrf
):
    response = post(client_for("mentee"), mentor_hours, topic="  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true" aria-describedby="booking-topic-error"' in html
    assert f'value="{SLOT}" checked' in html
    assert active(db_session, mentor_hours) == []


def test_a_time_just_taken_says_so_and_refreshes_the_calendar(
    client_for, mentor_hours, people, factories, db_session, no_csrf
):
    factories.booking(
        people.mentor,
        people.other_mentee,
        starts_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
        status=BookingStatus.CONFIRMED,
    )
    db_session.commit()
    response = post(client_for("mentee"), mentor_hours)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "That time was just taken" in html
    assert 'value="Career change"' in html  # the topic is kept
    assert f'value="{SLOT}"' not in html  # and the taken time is gone from the calendar
    assert len(active(db_session, mentor_hours)) == 1


def test_without_htmx_a_booking_lands_on_my_sessions(client_for, mentor_hours, no_csrf):
    client = client_for("mentee")
    response = post(client, mentor_hours, headers={})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/mentor-hub/bookings")
    assert "Session requested." in client.get("/mentor-hub/bookings").get_data(as_text=True)


def test_a_mentor_cannot_book_themself(client_for, mentor_hours, db_session, no_csrf):
    response = post(client_for("mentor"), mentor_hours)
    assert response.status_code == 403
    assert active(db_session, mentor_hours) == []


def test_booking_needs_the_csrf_token(client_for, mentor_hours, db_session):
    assert post(client_for("mentee"), mentor_hours).status_code == 400
    assert active(db_session, mentor_hours) == []
