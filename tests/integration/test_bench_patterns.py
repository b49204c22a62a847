"""The load benchmark's people (scripts/patterns.py) read pages with regular expressions: a
free time from the calendar, the new session's id from the confirmation, a request to confirm
from the mentor's list. If a template changed under them, `make bench` would quietly book and
confirm nothing; these checks run the same expressions over the real pages."""

from __future__ import annotations

import datetime as dt

from app.models import AvailabilityRule, Booking, BookingStatus
from scripts import bench_patterns as patterns

HX = {"HX-Request": "true"}


def test_the_benchmark_finds_times_books_cancels_and_confirms(
    client_for, people, db_session, now, no_csrf
):
    profile = people.mentor.mentor_profile
    db_session.add(
        AvailabilityRule(
            mentor_profile_id=profile.id,
            weekday=4,
            start_time=dt.time(9),
            end_time=dt.time(12),
            created_at=now,
        )
    )
    db_session.commit()
    mentee = client_for("mentee")
    calendar = mentee.get(f"/mentor-hub/mentors/{profile.id}/calendar?week=0", headers=HX)
    slots = patterns.SLOT.findall(calendar.get_data(as_text=True))
    assert "2026-11-20T09:00:00+00:00" in slots

    booked = mentee.post(
        f"/mentor-hub/mentors/{profile.id}/book",
        data={"starts_at": slots[0], "topic": "Career next steps", "week": "0"},
        headers=HX,
    )
    assert booked.status_code == 200
    found = patterns.BOOKED_ID.search(booked.get_data(as_text=True))
    booking = db_session.get(Booking, int(found.group(1)))
    assert booking.status is BookingStatus.REQUESTED and booking.version == 1

    page = client_for("mentor").get("/mentor-hub/sessions").get_data(as_text=True)
    assert (str(booking.id), "1") in patterns.CONFIRM.findall(page)

    cancelled = mentee.post(
        f"/mentor-hub/sessions/{booking.id}/cancel",
        data={"version": "1", "reason": "Plans changed", "from": "row"},
        headers=HX,
    )
    assert cancelled.status_code == 200
    db_session.refresh(booking)
    assert booking.status is BookingStatus.CANCELLED


def test_the_benchmark_signs_in_through_the_link_page(client_for, people):
    html = client_for("mentee").get("/mentor-hub/mentors").get_data(as_text=True)
    assert patterns.CSRF_HEADER.search(html)
