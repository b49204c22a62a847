"""Pairs at risk through the app (/admin/mentorship/pairs): admins only, the reasons shown,
filter, search and the htmx table, the empty state, nudges (htmx row, no-JS redirect, the
7-day refusal), and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import html as html_lib

import pytest
from sqlalchemy import func, select

from app.models import BookingStatus, Notification
from app.models.follow_through import PairNudge
from tests.integration.conftest import count_queries

HX = {"HX-Request": "true"}
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
URL = "/admin/mentorship/pairs"


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def free_soon(*mentors):
    for m in mentors:
        m.mentor_profile.next_available_at = NOW + dt.timedelta(days=1)


@pytest.fixture
def quiet_pair(people, factories, db_session):
    """Maya and Mia last met 30 days ago."""
    free_soon(people.mentor, people.other_mentor)
    factories.booking(
        people.mentor,
        people.mentee,
        starts_at=NOW - dt.timedelta(days=30),
        status=BookingStatus.COMPLETED,
    )
    db_session.commit()
    return people.mentor, people.mentee


def nudge(client, mentor, mentee, reason="no_session", htmx=True, **extra):
    data = {"mentor_id": mentor.id, "mentee_id": mentee.id, "reason": reason} | extra
    return client.post(f"{URL}/nudge", data=data, headers=HX if htmx else {})


def test_the_program_is_healthy_when_no_pair_is_at_risk(client_for, people, db_session):
    free_soon(people.mentor)
    db_session.commit()
    html = text(client_for("admin").get(URL))
    assert "The program is healthy" in html


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_only_admins(client_for, quiet_pair, no_csrf, db_session, role):
    mentor, mentee = quiet_pair
    assert client_for(role).get(URL).status_code == 403
    assert nudge(client_for(role), mentor, mentee).status_code == 403
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 0


def test_the_list_shows_each_pair_with_its_reasons(client_for, quiet_pair, people):
    html = text(client_for("admin").get(URL))
    assert "Maya Mentor" in html and "Mia Mentee" in html
    assert 'data-reasons="no_session"' in html
    assert "Last met 30 days ago" in html
    assert "1 pair at risk" in html


def test_filter_and_search_answer_htmx_with_the_table(
    client_for, quiet_pair, people, factories, db_session
):
    # Otto has a request waiting two days for Omar.
    request = factories.booking(
        people.other_mentor,
        people.other_mentee,
        starts_at=NOW + dt.timedelta(days=4),
        status=BookingStatus.REQUESTED,
    )
    request.created_at = NOW - dt.timedelta(days=2)
    db_session.commit()
    client = client_for("admin")
    response = client.get(f"{URL}?reason=unanswered_request", headers=HX)
    html = text(response)
    assert response.headers["HX-Push-Url"] == f"{URL}?reason=unanswered_request"
    assert html.lstrip().startswith('<div id="pairs-table"')
    assert "Otto Other" in html and "Mia Mentee" not in html
    assert "Unanswered request (1)" in html and "No recent session (1)" in html
    html = text(client.get(f"{URL}?q=maya"))
    assert "Mia Mentee" in html and "Otto Other" not in html
    html = text(client.get(f"{URL}?q=nobody"))
    assert "No pairs match" in html
    # Nonsense in the query string is ignored, never a 500.
    assert client.get(f"{URL}?reason=%3Cx%3E&page=-3").status_code == 200


def test_a_nudge_with_htmx_redraws_the_row_with_nudged(client_for, quiet_pair, no_csrf, db_session):
    mentor, mentee = quiet_pair
    response = nudge(client_for("admin"), mentor, mentee)
    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith(f'<tr id="pair-{mentor.id}-{mentee.id}"')
    assert "Nudge sent (no recent session)" in html and "Nudged today" in html
    rows = db_session.scalars(select(Notification).where(Notification.kind == "pair_nudge")).all()
    assert len(rows) == 4
    # The list says so too, and a second nudge is refused with 409 and the row.
    assert "Nudged today" in text(client_for("admin").get(URL))
    again = nudge(client_for("admin"), mentor, mentee)
    assert again.status_code == 409
    assert again.headers["X-MentorHub-Swap"] == "true"
    assert "Nudged today: wait 7 days" in text(again)
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 1


def test_a_nudge_without_javascript_redirects_back_with_a_flash(
    client_for, quiet_pair, no_csrf, db_session
):
    mentor, mentee = quiet_pair
    client = client_for("admin")
    response = nudge(client, mentor, mentee, htmx=False, next=f"{URL}?q=maya")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{URL}?q=maya")
    assert "Nudge sent" in text(client.get(response.headers["Location"]))
    again = nudge(client, mentor, mentee, htmx=False)
    assert again.status_code == 303
    assert "Nudged today" in text(client.get(again.headers["Location"]))
    assert db_session.scalar(select(func.count()).select_from(PairNudge)) == 1


def test_bad_nudges_are_refused_without_a_500(client_for, quiet_pair, no_csrf, people):
    mentor, mentee = quiet_pair
    client = client_for("admin")
    assert nudge(client, mentor, mentee, reason="cancellations").status_code == 409
    assert nudge(client, mentor, mentee, reason="nonsense").status_code == 422
    assert nudge(client, mentee, mentor).status_code == 404
    assert client.post(f"{URL}/nudge", data={"mentor_id": "x"}, headers=HX).status_code == 404


def test_the_page_runs_a_fixed_number_of_queries(
    client_for, quiet_pair, factories, db_session, engine
):
    client = client_for("admin")
    small = count_queries(client, URL, engine)
    for i in range(8):
        mentor = factories.mentor()
        mentee = factories.user()
        factories.booking(
            mentor,
            mentee,
            starts_at=NOW - dt.timedelta(days=25 + i),
            status=BookingStatus.COMPLETED,
        )
        db_session.add(PairNudge(mentor_id=mentor.id, mentee_id=mentee.id, reason="no_session"))
    db_session.commit()
    assert count_queries(client, URL, engine) == small


def test_more_than_a_page_of_pairs_gets_page_links(client_for, people, factories, db_session):
    mentee = factories.user(name="Paged Mentee")
    for i in range(26):
        mentor = factories.mentor(name=f"Paged Mentor {i:02d}")
        factories.booking(
            mentor,
            mentee,
            starts_at=NOW - dt.timedelta(days=30 + i),
            status=BookingStatus.COMPLETED,
        )
    db_session.commit()
    client = client_for("admin")
    html = text(client.get(f"{URL}?q=paged"))
    assert "page 1 of 2" in html and f'href="{URL}?q=paged&page=2"' in html
    html = text(client.get(f"{URL}?q=paged&page=2"))
    assert "page 2 of 2" in html and "Previous page" in html
    assert html.count('<tr id="pair-') == 1
