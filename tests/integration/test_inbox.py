"""The in-app inbox over HTTP: /notifications per role, marking read (one, all, on open),
only one's own rows, the bell in the header and its fragment, and a fixed query count."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.models import BookingStatus, Notification, NotificationChannel, User
from app.services import booking as booking_service
from tests.integration.conftest import count_queries, csrf_token

HX = {"HX-Request": "true"}
_seq = itertools.count(1)


def note(
    db_session,
    user: User,
    kind: str = "booking_cancelled",
    *,
    at: dt.datetime,
    booking_id: int | None = None,
    read: bool = False,
    channel: NotificationChannel = NotificationChannel.IN_APP,
    **payload: Any,
) -> Notification:
    row = Notification(
        user_id=user.id,
        kind=kind,
        booking_id=booking_id,
        channel=channel,
        payload={
            "starts_at": "2026-11-24T15:00:00+00:00",
            "mentor_name": "Maya Mentor",
            "mentee_name": "Mia Mentee",
            "actor_name": "Someone Else",
            **payload,
        },
        dedupe_key=f"it:{next(_seq)}:{channel.value}",
        created_at=at,
        read_at=at if read else None,
    )
    db_session.add(row)
    db_session.flush()
    return row


def read_at(db_session, row: Notification) -> dt.datetime | None:
    db_session.expire_all()
    return db_session.scalar(select(Notification.read_at).where(Notification.id == row.id))


def bell_label(html: str) -> str:
    match = re.search(r'<a id="mh-bell"[^>]*aria-label="([^"]+)"', html)
    assert match, "the header has the bell"
    return match.group(1)


@pytest.fixture
def confirmed(db_session, factories, people, now):
    """A real confirmation: the mentee (in New York) gets an in-app row from the service."""
    people.mentee.timezone = "America/New_York"
    booking = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC),
        status=BookingStatus.REQUESTED,
        topic="Portfolio review",
    )
    booking_service.confirm(db_session, people.mentor, booking, version=booking.version, now=now)
    db_session.commit()
    row = db_session.scalars(
        select(Notification).where(
            Notification.user_id == people.mentee.id,
            Notification.channel == NotificationChannel.IN_APP,
        )
    ).one()
    return booking, row


# -- who sees what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for("anonymous").get("/notifications")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_every_signed_in_role_sees_only_their_own_inbox(client_for, people, db_session, now, role):
    me = getattr(people, role)
    note(db_session, me, at=now, actor_name=f"For {role}")
    note(db_session, people.other_mentee, at=now, actor_name="Not yours")
    db_session.commit()
    html = client_for(role).get("/notifications").get_data(as_text=True)
    assert f"For {role} cancelled your session" in html
    assert "Not yours" not in html
    assert "1 unread · 1 notification" in html


def test_the_list_reads_as_sentences_in_the_viewers_zone_with_unread_marked(
    client_for, confirmed, db_session, people, now
):
    _booking, row = confirmed
    note(db_session, people.mentee, at=now - dt.timedelta(days=1), read=True)
    db_session.commit()
    html = client_for("mentee").get("/notifications").get_data(as_text=True)
    assert "Maya Mentor confirmed your session on Tue 24 Nov, 10:00 EST." in html
    assert "Topic: Portfolio review" in html
    # Unread is said in words, not only shown by colour; the read one has no flag.
    assert html.count(">Unread<") == 1
    assert "1 unread · 2 notifications" in html
    assert f'action="/notifications/{row.id}/open"' in html
    assert "Times are in your zone, America/New York." in html
    # Newest first.
    assert html.index("Maya Mentor confirmed") < html.index("Someone Else cancelled")


def test_an_empty_inbox_says_so(client_for):
    html = client_for("other_mentor").get("/notifications").get_data(as_text=True)
    assert "No notifications yet" in html
    assert "Mark all as read" not in html


# -- marking read -----------------------------------------------------------------------------


def test_mark_one_as_read_with_a_plain_form(client_for, people, db_session, now):
    row = note(db_session, people.mentee, at=now)
    db_session.commit()
    client = client_for("mentee")
    token = csrf_token(client, "/notifications")
    response = client.post(f"/notifications/{row.id}/read", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/notifications"
    assert read_at(db_session, row) == now
    assert "Marked as read." in client.get("/notifications").get_data(as_text=True)


def test_mark_one_as_read_with_htmx_swaps_the_list_and_tells_the_bell(
    client_for, people, db_session, now
):
    row = note(db_session, people.mentee, at=now)
    other = note(db_session, people.mentee, at=now)
    db_session.commit()
    client = client_for("mentee")
    token = csrf_token(client, "/notifications")
    response = client.post(
        f"/notifications/{row.id}/read", data={"page": "1"}, headers={**HX, "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "mh:notifications-changed"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="inbox-list"')
    assert "<html" not in html
    assert "Marked as read." in html
    assert "1 unread · 2 notifications" in html
    assert read_at(db_session, row) == now
    assert read_at(db_session, other) is None


def test_someone_elses_notification_cannot_be_marked_or_opened(client_for, people, db_session, now):
    theirs = note(db_session, people.other_mentee, at=now, booking_id=None)
    db_session.commit()
    client = client_for("mentee")
    token = csrf_token(client, "/notifications")
    for action in ("read", "open"):
        response = client.post(f"/notifications/{theirs.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    response = client.post(f"/notifications/{theirs.id}/read", headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 404
    assert "X-MentorHub-Message" in response.headers
    assert read_at(db_session, theirs) is None


def test_the_email_copy_is_not_in_the_inbox(client_for, people, db_session, now):
    email = note(db_session, people.mentee, at=now, channel=NotificationChannel.EMAIL)
    db_session.commit()
    client = client_for("mentee")
    assert "No notifications yet" in client.get("/notifications").get_data(as_text=True)
    token = csrf_token(client, "/notifications")
    assert (
        client.post(f"/notifications/{email.id}/read", data={"csrf_token": token}).status_code
        == 404
    )


def test_mark_all_as_read_marks_only_mine_and_only_what_i_saw(client_for, people, db_session, now):
    mine = [note(db_session, people.mentee, at=now) for _ in range(3)]
    theirs = note(db_session, people.mentor, at=now)
    db_session.commit()
    client = client_for("mentee")
    html = client.get("/notifications").get_data(as_text=True)
    upto = re.search(r'name="upto" value="(\d+)"', html).group(1)
    token = csrf_token(client, "/notifications")
    arrived = note(db_session, people.mentee, at=now)  # after the page was drawn
    db_session.commit()

    response = client.post(
        "/notifications/read-all", data={"upto": upto}, headers={**HX, "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "mh:notifications-changed"
    assert "3 notifications marked as read." in response.get_data(as_text=True)
    assert all(read_at(db_session, r) == now for r in mine)
    assert read_at(db_session, arrived) is None
    assert read_at(db_session, theirs) is None

    # Without htmx (and without upto, as from an old page): everything, then back to the list.
    response = client.post("/notifications/read-all", data={"csrf_token": token})
    assert response.status_code == 303
    assert read_at(db_session, arrived) == now


def test_marking_needs_the_csrf_token(client_for, people, db_session, now):
    row = note(db_session, people.mentee, at=now)
    db_session.commit()
    client = client_for("mentee")
    assert client.post("/notifications/read-all").status_code == 400
    assert client.post(f"/notifications/{row.id}/read").status_code == 400
    assert client.post(f"/notifications/{row.id}/open").status_code == 400
    assert read_at(db_session, row) is None


def test_opening_marks_read_and_goes_to_the_session(client_for, confirmed, db_session):
    booking, row = confirmed
    client = client_for("mentee")
    token = csrf_token(client, "/notifications")
    response = client.post(f"/notifications/{row.id}/open", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/mentor-hub/sessions/{booking.id}"
    assert read_at(db_session, row) is not None
    # Once read, the list links straight to the session.
    html = client.get("/notifications").get_data(as_text=True)
    assert f'href="/mentor-hub/sessions/{booking.id}"' in html


def test_opening_one_without_a_session_goes_where_it_is_about(client_for, people, db_session, now):
    approved = note(db_session, people.mentor, "mentor_approved", at=now)
    news = note(db_session, people.mentor, "program_news", at=now)
    applied = note(
        db_session,
        people.admin,
        "mentor_application_submitted",
        at=now,
        profile_id=people.pending_mentor.mentor_profile.id,
    )
    db_session.commit()

    def opened(role, row):
        client = client_for(role)
        token = csrf_token(client, "/notifications")
        response = client.post(f"/notifications/{row.id}/open", data={"csrf_token": token})
        assert response.status_code == 303
        return response.headers["Location"]

    assert opened("mentor", approved) == "/mentor-hub/schedule"
    assert opened("mentor", news) == "/notifications"  # nowhere better: back to the list
    profile_id = people.pending_mentor.mentor_profile.id
    assert opened("admin", applied) == f"/admin/mentorship/mentors/{profile_id}"


# -- pages ------------------------------------------------------------------------------------


def test_thirty_a_page_with_links_between_pages(client_for, people, db_session, now):
    for i in range(35):
        note(db_session, people.mentee, at=now - dt.timedelta(minutes=i), actor_name=f"Person {i}")
    db_session.commit()
    client = client_for("mentee")
    first = client.get("/notifications").get_data(as_text=True)
    assert first.count('<li class="mh-inbox__item') == 30
    assert "Page 1 of 2" in first
    assert 'href="/notifications?page=2"' in first
    second = client.get("/notifications?page=2", headers=HX)
    assert second.status_code == 200
    body = second.get_data(as_text=True)
    assert body.count('<li class="mh-inbox__item') == 5
    assert "Person 34 cancelled" in body and "Person 0 " not in body
    assert "<html" not in body
    assert "HX-Request" in second.headers["Vary"]
    # A page number that makes no sense shows a real page.
    assert client.get("/notifications?page=abc").status_code == 200
    assert "Page 2 of 2" in client.get("/notifications?page=99").get_data(as_text=True)


def test_a_page_takes_the_same_number_of_queries_however_long_the_inbox(
    client_for, people, db_session, now, connection
):
    for _ in range(2):
        note(db_session, people.mentee, at=now)
    for _ in range(40):
        note(db_session, people.mentor, at=now, booking_id=None)
    db_session.commit()
    few = count_queries(client_for("mentee"), "/notifications", connection.engine)
    many = count_queries(client_for("mentor"), "/notifications", connection.engine)
    assert few == many
    # The user, the totals (which the bell reuses), the rows, the header's chat unread
    # COUNT: nothing per row.
    assert few <= 5


# -- the bell ---------------------------------------------------------------------------------


def test_the_bell_is_in_the_header_for_signed_in_people_only(client_for, people, db_session, now):
    for _ in range(3):
        note(db_session, people.mentee, at=now)
    db_session.commit()
    html = client_for("mentee").get("/mentor-hub/bookings").get_data(as_text=True)
    assert bell_label(html) == "Notifications, 3 unread"
    assert '<span class="mh-bell__badge" aria-hidden="true">3</span>' in html
    assert 'hx-get="/notifications/bell?shown=3"' in html
    assert 'hx-trigger="every 30s, mh:notifications-changed from:body"' in html
    assert 'hx-swap="outerHTML"' in html

    quiet = client_for("mentor").get("/mentor-hub/bookings").get_data(as_text=True)
    assert bell_label(quiet) == "Notifications, none unread"
    assert "mh-bell__badge" not in quiet

    assert 'id="mh-bell"' not in client_for("anonymous").get("/mentor-hub").get_data(as_text=True)


def test_the_poll_interval_comes_from_the_config(app, client_for):
    app.config["NOTIFY_BELL_POLL_SECONDS"] = 2
    try:
        html = client_for("mentee").get("/mentor-hub/bookings").get_data(as_text=True)
    finally:
        app.config.pop("NOTIFY_BELL_POLL_SECONDS")
    assert 'hx-trigger="every 2s, mh:notifications-changed from:body"' in html


def test_the_bell_fragment_answers_the_count_and_204_when_unchanged(
    client_for, people, db_session, now, connection
):
    note(db_session, people.mentee, at=now)
    note(db_session, people.mentee, at=now, read=True)
    db_session.commit()
    client = client_for("mentee")

    response = client.get("/notifications/bell", headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<a id="mh-bell"')
    assert bell_label(html) == "Notifications, 1 unread"
    assert "no-store" in response.headers["Cache-Control"]

    unchanged = client.get("/notifications/bell?shown=1", headers=HX)
    assert (unchanged.status_code, unchanged.data) == (204, b"")

    note(db_session, people.mentee, at=now)
    db_session.commit()
    changed = client.get("/notifications/bell?shown=1", headers=HX)
    assert changed.status_code == 200
    assert bell_label(changed.get_data(as_text=True)) == "Notifications, 2 unread"

    from tests.integration.conftest import counted

    with counted(connection.engine) as statements:
        client.get("/notifications/bell?shown=2", headers=HX)
    assert len(statements) == 2  # the user and one COUNT


def test_a_signed_out_bell_stops_polling(client_for):
    response = client_for("anonymous").get("/notifications/bell?shown=3", headers=HX)
    assert (response.status_code, response.data) == (286, b"")


def test_a_big_count_is_capped_in_the_badge(client_for, people, db_session, now):
    for _ in range(100):
        note(db_session, people.mentee, at=now)
    db_session.commit()
    html = client_for("mentee").get("/notifications/bell").get_data(as_text=True)
    assert bell_label(html) == "Notifications, 100 unread"
    assert ">99+</span>" in html
