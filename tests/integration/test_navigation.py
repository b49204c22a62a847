"""The side navigation: entries by role, and the admins' count of pending applications."""

from __future__ import annotations

import re

from app.models import MentorStatus


def nav_of(client, path="/notifications") -> str:
    page = client.get(path).get_data(as_text=True)
    return page[
        page.index('id="mh-side-nav"') : page.index("</nav>", page.index('id="mh-side-nav"'))
    ]


def badge(entry: str, count: int, label: str) -> str:
    """The side navigation's markup for an entry with a count (its slot has an id for the
    out-of-band refresh)."""
    return rf'{entry}<span id="[^"]+"> <span class="mh-nav-badge">{count}<span[^>]*> {label}</span>'


def test_admins_see_how_many_applications_wait(client_for, people, factories, db_session):
    nav = nav_of(client_for("admin"))
    assert re.search(badge("Mentors", 1, "pending applications"), nav)
    assert 'id="nav-badge-admin-mentors-index"' in nav
    factories.mentor(status=MentorStatus.PENDING)
    db_session.commit()
    assert 'mh-nav-badge">2<' in nav_of(client_for("admin"))


def test_no_badge_when_nothing_waits(client_for, people, db_session):
    people.pending_mentor.mentor_profile.status = MentorStatus.APPROVED
    db_session.commit()
    assert "mh-nav-badge" not in nav_of(client_for("admin"))


def test_entries_follow_the_role(client_for, people):
    mentee = nav_of(client_for("mentee"))
    assert "Favourites" in mentee and "Become a mentor" in mentee
    assert "Profile" not in mentee and "mh-nav-badge" not in mentee
    mentor = nav_of(client_for("mentor"))
    assert "Profile" in mentor and "Become a mentor" not in mentor


def test_the_favourites_entry_is_current_on_the_favourites_filter(client_for, people):
    nav = nav_of(client_for("mentee"), "/mentor-hub/mentors?favourites=1")
    current = re.search(r'<a class="[^"]*--current[^"]*" href="([^"]+)"', nav)
    assert current and current.group(1) == "/mentor-hub/favourites"
    nav = nav_of(client_for("mentee"), "/mentor-hub/mentors?favourites=1&q=x")
    current = re.search(r'<a class="[^"]*--current[^"]*" href="([^"]+)"', nav)
    assert current is None or current.group(1) != "/mentor-hub/favourites"


def test_admins_see_open_disputes_and_reported_messages(client_for, people, factories, db_session):
    from app.models import (
        Attendance,
        AttendanceOutcome,
        AttendanceResponse,
        BookingStatus,
        ChatMessage,
        ChatReport,
        ChatThread,
    )

    booking = factories.booking(people.mentor, people.mentee, status=BookingStatus.COMPLETED)
    db_session.add(
        Attendance(
            booking_id=booking.id,
            participant_id=people.mentee.id,
            outcome=AttendanceOutcome.NO_SHOW,
            mentee_response=AttendanceResponse.DISPUTED,
            dispute_reason="I was there.",
        )
    )
    thread = ChatThread(mentor_id=people.mentor.id, mentee_id=people.mentee.id)
    db_session.add(thread)
    db_session.flush()
    message = ChatMessage(thread_id=thread.id, sender_id=people.mentor.id, body="Rude words")
    db_session.add(message)
    db_session.flush()
    db_session.add(ChatReport(message_id=message.id, reporter_id=people.mentee.id, reason="x"))
    db_session.commit()
    nav = nav_of(client_for("admin"))
    assert re.search(badge("Attendance disputes", 1, "open disputes"), nav)
    assert re.search(badge("Reported messages", 1, "messages reported"), nav)
    assert "Pairs at risk" in nav
    # Members see none of it; everyone has Messages, with their unread count.
    mentee = nav_of(client_for("mentee"))
    assert "disputes" not in mentee and "Reported" not in mentee
    assert re.search(badge("Messages", 1, "unread messages"), mentee)


def test_an_admins_htmx_action_refreshes_the_badges_out_of_band(client_for, people, db_session):
    from tests.integration.conftest import csrf_token

    client = client_for("admin")
    profile = people.pending_mentor.mentor_profile
    token = csrf_token(client, f"/admin/mentorship/mentors/{profile.id}")
    response = client.post(
        f"/admin/mentorship/mentors/{profile.id}/approve",
        data={"csrf_token": token, "version": profile.version},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    # The applications badge is swapped out of band, now empty (nothing waits).
    assert '<span id="nav-badge-admin-mentors-index" hx-swap-oob="true"></span>' in body
    # A plain page load renders the badges in place, with nothing out of band.
    plain = client.get("/admin/mentorship").get_data(as_text=True)
    assert 'hx-swap-oob="true"' not in plain
