"""Calendar files over HTTP: one session's .ics for its participants, the secret feed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from icalendar import Calendar

from app.models import BookingStatus
from tests.integration.conftest import csrf_token


@pytest.fixture
def booking(factories, people, db_session):
    b = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC),
        status=BookingStatus.CONFIRMED,
        topic="Portfolio review",
    )
    db_session.commit()
    return b


@pytest.mark.parametrize(("role", "status"), [("mentee", 200), ("mentor", 200), ("admin", 200)])
def test_participants_and_admins_download_the_session(client_for, booking, role, status):
    response = client_for(role).get(f"/mentor-hub/sessions/{booking.id}.ics")
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    event = Calendar.from_ical(response.data).walk("VEVENT")[0]
    assert str(event["UID"]) == f"booking-{booking.id}@mentorhub.test"
    assert event["DTSTART"].dt == booking.starts_at


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor"])
def test_anyone_else_is_told_it_does_not_exist(client_for, booking, role):
    assert client_for(role).get(f"/mentor-hub/sessions/{booking.id}.ics").status_code == 404


def feed_path(client) -> str:
    html = client.get("/account").get_data(as_text=True)
    match = re.search(r'value="http://mentorhub\.test(/calendar/feed/[^"]+\.ics)"', html)
    assert match, "the account page shows the feed address"
    return match.group(1)


def test_the_feed_lists_the_users_sessions_without_signing_in(
    app, client_for, booking, factories, people, db_session
):
    cancelled = factories.booking(
        people.other_mentor,
        people.mentee,
        starts_at=dt.datetime(2026, 12, 3, 15, tzinfo=dt.UTC),
        status=BookingStatus.CANCELLED,
    )
    factories.booking(people.mentor, people.other_mentee)  # not the mentee's
    db_session.commit()
    path = feed_path(client_for("mentee"))

    response = app.test_client().get(path)  # a calendar app: no cookie

    assert response.status_code == 200
    statuses = {
        str(e["UID"]): str(e["STATUS"]) for e in Calendar.from_ical(response.data).walk("VEVENT")
    }
    assert statuses == {
        f"booking-{booking.id}@mentorhub.test": "CONFIRMED",
        f"booking-{cancelled.id}@mentorhub.test": "CANCELLED",
    }


def test_a_new_address_turns_the_old_one_off(app, client_for, booking):
    client = client_for("mentee")
    old = feed_path(client)
    response = client.post(
        "/account/calendar-feed", data={"csrf_token": csrf_token(client, "/account")}
    )
    assert response.status_code == 302
    new = feed_path(client)
    assert new != old
    assert app.test_client().get(old).status_code == 404
    assert app.test_client().get(new).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["nonsense", "1", "1.", ".abc", "999999.abc", "1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_a_wrong_token_is_not_found(client, token):
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404


def test_a_deactivated_members_feed_stops(app, client_for, people, db_session):
    path = feed_path(client_for("mentee"))
    people.mentee.is_active = False
    db_session.commit()
    assert app.test_client().get(path).status_code == 404


def test_regenerating_needs_the_csrf_token(client_for):
    assert client_for("mentee").post("/account/calendar-feed").status_code == 400
