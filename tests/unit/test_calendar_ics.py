"""iCalendar output: parsed back with the icalendar library, so we test what calendars read."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from app.models import BookingStatus
from app.services import calendar_ics

HOST = "mentorhub.example.org"
URL = "https://mentorhub.example.org/mentor-hub/sessions/1"


@pytest.fixture
def booking(factories):
    mentor = factories.mentor(name="Maya Mentor", timezone="Europe/Berlin")
    mentee = factories.user(name="Mia Mentee", timezone="America/New_York", email="mia@x.org")
    return factories.booking(
        mentor,
        mentee,
        starts_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC),
        status=BookingStatus.CONFIRMED,
        topic="Career change, feelings about it",
        meeting_url="https://zoom.us/j/123",
        ical_sequence=2,
    )


def only_event(raw: bytes):
    cal = Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def test_an_invite_is_a_request_in_utc_with_a_stable_uid_and_the_sequence(booking, now):
    raw = calendar_ics.invite(
        booking,
        recipient=booking.mentee,
        organizer_email="no-reply@mentorhub.test",
        host=HOST,
        session_url=URL,
        now=now,
    )
    cal, event = only_event(raw)
    assert cal["METHOD"] == "REQUEST"
    assert event["UID"] == f"booking-{booking.id}@{HOST}"
    assert event["SEQUENCE"] == 2
    assert event["STATUS"] == "CONFIRMED"
    assert b"DTSTART:20261201T150000Z" in raw
    assert b"DTEND:20261201T160000Z" in raw
    assert event["DTSTART"].dt == booking.starts_at
    assert str(event["LOCATION"]) == "https://zoom.us/j/123"
    # The recipient's own address only: members never see each other's email.
    assert str(event["ATTENDEE"]) == "mailto:mia@x.org"
    assert booking.mentor.email.encode() not in raw


def test_the_description_names_both_wall_clock_times_with_their_zones(booking, now):
    _, event = only_event(calendar_ics.single(booking, host=HOST, session_url=URL, now=now))
    text = str(event["DESCRIPTION"])
    assert "Tue 01 Dec 2026 16:00 Europe/Berlin (CET)" in text
    assert "Tue 01 Dec 2026 10:00 America/New_York (EST)" in text
    assert "Topic: Career change, feelings about it" in text
    assert URL in text


def test_a_cancelled_booking_sends_cancel_with_the_same_uid(booking, now):
    booking.status = BookingStatus.CANCELLED
    booking.ical_sequence = 3
    cal, event = only_event(
        calendar_ics.invite(
            booking,
            recipient=booking.mentor,
            organizer_email="no-reply@mentorhub.test",
            host=HOST,
            session_url=URL,
            now=now,
        )
    )
    assert cal["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == f"booking-{booking.id}@{HOST}"
    assert event["SEQUENCE"] == 3


def test_a_requested_booking_is_tentative(booking, now):
    booking.status = BookingStatus.REQUESTED
    _, event = only_event(calendar_ics.single(booking, host=HOST, session_url=URL, now=now))
    assert event["STATUS"] == "TENTATIVE"
    assert "Waiting for the mentor to confirm." in str(event["DESCRIPTION"])


def test_the_feed_keeps_cancelled_sessions_marked_cancelled(booking, factories, now):
    other = factories.booking(
        booking.mentor,
        factories.user(),
        starts_at=dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC),
        status=BookingStatus.CANCELLED,
    )
    raw = calendar_ics.feed(
        [(booking, URL), (other, URL + "x")], host=HOST, name="MentorHub: Maya", now=now
    )
    cal = Calendar.from_ical(raw)
    assert cal["METHOD"] == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == "MentorHub: Maya"
    by_uid = {str(e["UID"]): str(e["STATUS"]) for e in cal.walk("VEVENT")}
    assert by_uid == {
        f"booking-{booking.id}@{HOST}": "CONFIRMED",
        f"booking-{other.id}@{HOST}": "CANCELLED",
    }
    assert b"ATTENDEE" not in raw  # a feed carries nobody's address


def test_text_is_escaped_so_a_topic_cannot_inject_properties(booking, now):
    booking.topic = "Hi\nEND:VEVENT\nBEGIN:VEVENT;x"
    raw = calendar_ics.single(booking, host=HOST, session_url=URL, now=now)
    cal = Calendar.from_ical(raw)
    assert len(cal.walk("VEVENT")) == 1
    assert "END:VEVENT" in str(cal.walk("VEVENT")[0]["DESCRIPTION"])
