"""A session's page (/mentor-hub/sessions/<id>): for its two participants and admins only,
with everything about it, only the actions this viewer may take, and its history."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest

from app.models import Attendance, AttendanceOutcome, AvailabilityRule, BookingStatus
from app.services import audit

HX = {"HX-Request": "true"}
FRI_9 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


@pytest.fixture
def session_(people, factories, db_session):
    people.mentee.timezone = "America/New_York"
    people.mentor.timezone = "Europe/Berlin"
    people.mentor.mentor_profile.timezone = "Europe/Berlin"
    booking = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=FRI_9,
        status=BookingStatus.CONFIRMED,
        topic="Moving into management",
        notes="I lead two people already.",
        meeting_url="https://zoom.us/j/987",
    )
    db_session.commit()
    return booking


def page(client, booking) -> str:
    response = client.get(f"/mentor-hub/sessions/{booking.id}")
    assert response.status_code == 200
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_participants_and_admins_see_the_session(client_for, session_, role):
    html = page(client_for(role), session_)
    assert "Mia Mentee" in html and "Maya Mentor" in html
    assert "Moving into management" in html and "I lead two people already." in html
    assert 'data-status="confirmed"' in html
    assert f'href="/mentor-hub/sessions/{session_.id}.ics"' in html
    assert "Join the session" in html and 'href="https://zoom.us/j/987"' in html
    assert "Rescheduled</dt><dd>Never" in html


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor"])
def test_anyone_else_is_told_it_does_not_exist(client_for, session_, role):
    assert client_for(role).get(f"/mentor-hub/sessions/{session_.id}").status_code == 404
    assert client_for(role).get(f"/mentor-hub/sessions/{session_.id}/reschedule").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, session_):
    response = client.get(f"/mentor-hub/sessions/{session_.id}")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_both_wall_clock_times_with_their_zones(client_for, session_):
    mentee = page(client_for("mentee"), session_)
    # Fri 09:00 UTC: 04:00 in New York (the viewer), 10:00 in Berlin (the mentor).
    assert 'Fri 20 Nov 2026, <span class="mh-mono">04:00–05:00 EST</span></time>' in mentee
    assert "(your time, America/New York)" in mentee
    mentor_time = 'Mentor\'s time</dt><dd>Fri 20 Nov 2026, <span class="mh-mono">10:00–11:00 CET'
    assert mentor_time in mentee
    assert "(Europe/Berlin)" in mentee
    mentor = page(client_for("mentor"), session_)
    mentee_time = 'Mentee\'s time</dt><dd>Fri 20 Nov 2026, <span class="mh-mono">04:00–05:00 EST'
    assert mentee_time in mentor


def test_each_viewer_sees_only_their_actions(client_for, session_, db_session):
    session_.status = BookingStatus.REQUESTED
    db_session.commit()
    mentor = page(client_for("mentor"), session_)
    for action in ("confirm", "decline", "reschedule", "cancel", "meeting-link"):
        assert f'/mentor-hub/sessions/{session_.id}/{action}"' in mentor
    mentee = page(client_for("mentee"), session_)
    assert f'/mentor-hub/sessions/{session_.id}/cancel"' in mentee
    assert f'/mentor-hub/sessions/{session_.id}/reschedule"' in mentee
    for action in ("confirm", "decline", "meeting-link", "attendance"):
        assert f'/mentor-hub/sessions/{session_.id}/{action}"' not in mentee
    # Reasons: required from the mentor, optional for the mentee.
    assert re.search(r'id="detail-\d+-cancel-reason"[^>]*required', mentor)
    assert not re.search(r'id="detail-\d+-cancel-reason"[^>]*required', mentee)


def test_the_reschedule_form_offers_free_times_on_the_page(
    client_for, session_, people, db_session, now
):
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
    mentor = page(client_for("mentor"), session_)
    # Berlin 09:00-12:00 on Friday: 08:00, 09:00 (the session itself), 10:00 UTC.
    offered = re.findall(r'<option value="(2026-11-20T[^"]+)"', mentor)
    assert offered == ["2026-11-20T08:00:00+00:00", "2026-11-20T10:00:00+00:00"]
    # Without htmx the picker's address is this page with the form open.
    html = client_for("mentor").get(f"/mentor-hub/sessions/{session_.id}/reschedule")
    assert re.search(
        r'<details class="mh-action" open>\s*<summary[^>]*>Reschedule', html.get_data(as_text=True)
    )


def test_a_cancelled_session_says_who_and_why(client_for, session_, people, db_session, now):
    session_.status = BookingStatus.CANCELLED
    session_.cancel_reason = "A family emergency"
    session_.cancelled_by_id = people.mentee.id
    session_.cancelled_at = now
    session_.late_cancellation = True
    session_.reschedule_count = 2
    db_session.commit()
    html = page(client_for("mentor"), session_)
    assert "Cancelled by</dt><dd>Mia Mentee (mentee)" in html
    assert "A family emergency" in html and "Late cancellation" in html
    assert "Rescheduled</dt><dd>2 times" in html
    assert "Join the session" not in html
    assert "Nothing to do: this session is cancelled." in html


def test_the_attendance_form_is_open_when_due_for_the_mentor_only(client_for, session_, clock):
    clock.set(FRI_9 + dt.timedelta(hours=3))
    mentor = page(client_for("mentor"), session_)
    assert re.search(
        r'<details class="mh-action mh-action--wide" open>\s*<summary[^>]*>Record attendance',
        mentor,
    )
    assert "The session has ended: record who attended." in mentor
    mentee = page(client_for("mentee"), session_)
    assert "/attendance" not in mentee
    assert "Maya records the attendance." in mentee


def test_recorded_attendance_is_shown(client_for, session_, people, db_session, now):
    session_.status = BookingStatus.COMPLETED
    db_session.add(
        Attendance(
            booking_id=session_.id,
            participant_id=people.mentee.id,
            outcome=AttendanceOutcome.LATE,
            minutes=45,
            notes="Connection trouble",
            recorded_at=now,
        )
    )
    db_session.commit()
    mentor = page(client_for("mentor"), session_)
    assert "Mia Mentee: joined late, 45 min" in mentor and "Connection trouble" in mentor
    mentee = page(client_for("mentee"), session_)
    assert "Mia Mentee: joined late, 45 min" in mentee
    assert "Connection trouble" not in mentee  # the mentor's notes are the mentor's


def test_the_history_lists_who_did_what_when_and_why(
    client_for, people, factories, db_session, no_csrf, now
):
    db_session.add(
        AvailabilityRule(
            mentor_profile_id=people.mentor.mentor_profile.id,
            weekday=4,
            start_time=dt.time(9),
            end_time=dt.time(12),
            created_at=now,
        )
    )
    booking = factories.booking(
        people.mentor, people.mentee, starts_at=FRI_9, status=BookingStatus.REQUESTED
    )
    audit.record(
        db_session,
        actor=people.mentee,
        action="booking.requested",
        entity_type="booking",
        entity_id=booking.id,
        now=now - dt.timedelta(hours=1),
        after={"status": "requested"},
    )
    db_session.commit()
    mentor = client_for("mentor")

    def act(action, **data):
        db_session.expire_all()
        version = db_session.get(type(booking), booking.id).version
        response = mentor.post(
            f"/mentor-hub/sessions/{booking.id}/{action}",
            data={"version": version, "from": "detail", **data},
            headers=HX,
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    act("confirm")
    act("reschedule", starts_at="2026-11-20T11:00:00+00:00", reason="Clash with a review")
    act("meeting-link", meeting_url="https://meet.google.com/abc-defg-hij")
    act("cancel", reason="I am ill")
    html = page(client_for("mentee"), booking)
    history = html[html.index('id="session-history-title"') :]
    lines = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", line)).strip()
        for line in re.findall(r'<p class="mh-history__what">(.*?)</p>', history)
    ]
    assert lines == [  # newest first
        "Maya Mentor cancelled the session",
        "Maya Mentor set the meeting link",
        "Maya Mentor moved the session",
        "Maya Mentor confirmed the session",
        "Mia Mentee requested the session",
    ]
    assert "From Fri 20 Nov 2026, 09:00 UTC to Fri 20 Nov 2026, 11:00 UTC" in history
    assert "Reason: “Clash with a review”" in history
    assert "Reason: “I am ill”" in history
    assert "https://meet.google.com/abc-defg-hij" in history
