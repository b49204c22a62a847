"""Progress snapshots (/mentor-hub/progress): the mentee's own, a mentor's mentees (their
sessions together only), an admin's every mentee; 404 for anyone else; every number equal
to an independent SQL count; a fixed number of queries whatever the data size."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from sqlalchemy import text

from app.models import Attendance, AttendanceOutcome, BookingStatus
from tests.integration.conftest import count_queries

HX = {"HX-Request": "true"}
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def held(factories, mentor, mentee, when, outcome, minutes=60, notes="", shared=False):
    status = (
        BookingStatus.NO_SHOW if outcome is AttendanceOutcome.NO_SHOW else BookingStatus.COMPLETED
    )
    booking = factories.booking(mentor, mentee, starts_at=when, status=status)
    factories.session.add(
        Attendance(
            booking_id=booking.id,
            participant_id=mentee.id,
            outcome=outcome,
            minutes=0 if outcome is AttendanceOutcome.NO_SHOW else minutes,
            notes=notes,
            shared_with_mentee=shared,
            recorded_by_id=mentor.id,
            recorded_at=when,
        )
    )
    factories.session.flush()
    return booking


@pytest.fixture
def story(people, factories, db_session):
    """Mia with Maya (2 attended, 1 no-show, a private and a shared note) and with Omar
    (1 attended with a note Maya must never see); Otto with Maya."""
    A = AttendanceOutcome
    m, o = people.mentor, people.other_mentor
    held(factories, m, people.mentee, ago(20), A.ATTENDED, 55, "Shared: practise STAR", True)
    held(factories, m, people.mentee, ago(10), A.LATE, 40, "Private: seemed tired")
    held(factories, m, people.mentee, ago(5), A.NO_SHOW)
    held(factories, o, people.mentee, ago(7), A.ATTENDED, 90, "Omar's secret note", True)
    held(factories, m, people.other_mentee, ago(3), A.ATTENDED, 60, "Otto's note", True)
    factories.booking(m, people.mentee, starts_at=NOW + dt.timedelta(days=2))
    db_session.commit()


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


SQL = """
SELECT
  SUM(CASE WHEN a.outcome IN ('attended', 'late') THEN 1 ELSE 0 END),
  SUM(CASE WHEN a.outcome = 'no_show' OR b.status = 'no_show' THEN 1 ELSE 0 END),
  SUM(CASE WHEN a.outcome IN ('attended', 'late') THEN a.minutes ELSE 0 END)
FROM bookings b JOIN attendance a ON a.booking_id = b.id AND a.participant_id = b.mentee_id
WHERE b.mentee_id = :mentee AND (:mentor = 0 OR b.mentor_id = :mentor)
"""


def sql_numbers(db_session, mentee, mentor=None) -> tuple[int, int, float, str]:
    attended, no_shows, minutes = db_session.execute(
        text(SQL), {"mentee": mentee.id, "mentor": mentor.id if mentor else 0}
    ).one()
    attended, no_shows, minutes = int(attended or 0), int(no_shows or 0), int(minutes or 0)
    held_ = attended + no_shows
    rate = f"{round(100 * attended / held_)}%" if held_ else "—"
    return attended, no_shows, round(minutes / 60, 1), rate


def tiles(html: str, section_id: str) -> list[str]:
    """The four stat values of one section, in order."""
    start = html.index(f'id="{section_id}"')
    chunk = html[start : start + 3000]
    return re.findall(r'<p class="mh-stat__value">([^<]*)</p>', chunk)[:4]


def expected_tiles(numbers) -> list[str]:
    attended, no_shows, hours, rate = numbers
    return [str(attended), str(no_shows), format(hours, "g"), rate]


# -- the mentee's own ---------------------------------------------------------------------


def test_the_mentee_sees_each_mentor_with_numbers_equal_to_sql_and_shared_notes_only(
    client_for, people, story, db_session
):
    response = client_for("mentee").get("/mentor-hub/progress")
    assert response.status_code == 200
    html = body(response)
    for mentor in (people.mentor, people.other_mentor):
        section = f"progress-mentor-{mentor.id}"
        assert tiles(html, section) == expected_tiles(
            sql_numbers(db_session, people.mentee, mentor)
        )
    assert tiles(html, "progress-totals-title") == expected_tiles(
        sql_numbers(db_session, people.mentee)
    )
    assert "Shared: practise STAR" in html
    assert "Omar's secret note" in html  # Omar shared it with Mia
    assert "Private: seemed tired" not in html
    assert "Otto" not in html
    # The definitions, the zone, the print button (a script file, no inline handler).
    assert "How these numbers are counted" in html
    assert "Attended ÷ (attended + no-shows)" in html
    assert "data-mh-print" in html and "/static/js/print.js" in html
    assert "onclick" not in html
    assert "Times are in your zone, UTC" in html


def test_a_member_with_no_sessions_is_sent_to_find_a_mentor(client_for, people):
    html = body(client_for("other_mentee").get("/mentor-hub/progress"))
    assert "No sessions yet" in html
    assert 'href="/mentor-hub/mentors"' in html
    assert "data-mh-print" not in html


def test_the_own_snapshot_by_id_goes_to_the_canonical_address(client_for, people):
    response = client_for("mentee").get(f"/mentor-hub/progress/{people.mentee.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mentor-hub/progress")


# -- who may see a mentee -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor"])
def test_anyone_else_is_told_the_snapshot_does_not_exist(client_for, people, story, role):
    # Omar mentors Mia, so he is an "anyone else" for Otto's snapshot.
    target = people.other_mentee if role == "other_mentor" else people.mentee
    response = client_for(role).get(f"/mentor-hub/progress/{target.id}")
    assert response.status_code == 404
    assert "Otto's note" not in body(response) and "STAR" not in body(response)


def test_a_mentor_without_sessions_with_the_mentee_gets_404(client_for, people, factories):
    # Only a declined request: no relationship.
    factories.booking(people.other_mentor, people.mentee, status=BookingStatus.DECLINED)
    factories.session.commit()
    client = client_for("other_mentor")
    assert client.get(f"/mentor-hub/progress/{people.mentee.id}").status_code == 404
    assert client.get("/mentor-hub/progress/999999").status_code == 404


def test_the_mentor_sees_only_their_sessions_and_all_their_notes(
    client_for, people, story, db_session
):
    response = client_for("mentor").get(f"/mentor-hub/progress/{people.mentee.id}")
    assert response.status_code == 200
    html = body(response)
    assert tiles(html, f"progress-mentor-{people.mentor.id}") == expected_tiles(
        sql_numbers(db_session, people.mentee, people.mentor)
    )
    assert "Private: seemed tired" in html and "Not shared" in html
    assert "Shared: practise STAR" in html and "Shared with Mia" in html
    # Never the mentee's sessions with another mentor.
    assert "Omar" not in html
    assert f"progress-mentor-{people.other_mentor.id}" not in html
    assert "progress-totals-title" not in html


def test_an_admin_sees_every_mentor_and_note(client_for, people, story, db_session):
    html = body(client_for("admin").get(f"/mentor-hub/progress/{people.mentee.id}"))
    for mentor in (people.mentor, people.other_mentor):
        assert tiles(html, f"progress-mentor-{mentor.id}") == expected_tiles(
            sql_numbers(db_session, people.mentee, mentor)
        )
    assert "Private: seemed tired" in html and "Omar's secret note" in html
    assert client_for("admin").get("/mentor-hub/progress/999999").status_code == 404


# -- the lists ------------------------------------------------------------------------------


def row_numbers(html: str, mentee_id: int) -> list[str]:
    row = re.search(rf'<tr data-mentee="{mentee_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for mentee {mentee_id}"
    cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row.group(1)))
    return [cells["attended"], cells["no_shows"], cells["hours"], cells["rate"]]


def test_a_mentor_lists_their_mentees_with_their_numbers_together(
    client_for, people, story, db_session
):
    html = body(client_for("mentor").get("/mentor-hub/progress/mentees"))
    for mentee in (people.mentee, people.other_mentee):
        assert row_numbers(html, mentee.id) == expected_tiles(
            sql_numbers(db_session, mentee, people.mentor)
        )
    html = body(client_for("other_mentor").get("/mentor-hub/progress/mentees"))
    assert row_numbers(html, people.mentee.id) == expected_tiles(
        sql_numbers(db_session, people.mentee, people.other_mentor)
    )
    assert f'data-mentee="{people.other_mentee.id}"' not in html


def test_the_admin_list_searches_and_answers_htmx_with_the_table(
    client_for, people, story, db_session
):
    client = client_for("admin")
    html = body(client.get("/mentor-hub/progress/all"))
    assert row_numbers(html, people.mentee.id) == expected_tiles(
        sql_numbers(db_session, people.mentee)
    )
    response = client.get("/mentor-hub/progress/all?q=otto", headers=HX)
    assert "HX-Request" in response.headers["Vary"]
    fragment = body(response)
    assert fragment.lstrip().startswith('<div id="progress-mentees"')
    assert f'data-mentee="{people.other_mentee.id}"' in fragment
    assert f'data-mentee="{people.mentee.id}"' not in fragment
    assert "No matches" in body(client.get("/mentor-hub/progress/all?q=nobody"))


def test_a_mentor_with_no_mentees_is_told_what_to_do(client_for):
    html = body(client_for("other_mentor").get("/mentor-hub/progress/mentees"))
    assert "No mentees yet" in html and 'href="/mentor-hub/schedule"' in html


@pytest.mark.parametrize(
    ("role", "url", "status"),
    [
        ("mentee", "/mentor-hub/progress/mentees", 403),
        ("mentor", "/mentor-hub/progress/all", 403),
        ("anonymous", "/mentor-hub/progress", 302),
    ],
)
def test_the_lists_are_for_their_roles(client_for, role, url, status):
    assert client_for(role).get(url).status_code == status


# -- a fixed number of queries ---------------------------------------------------------------


def _grow(factories, people, db_session, n: int) -> None:
    A = AttendanceOutcome
    for i in range(n):
        mentee = factories.user(name=f"Extra {i}")
        for mentor in (people.mentor, people.other_mentor):
            held(factories, mentor, mentee, ago(30 + i), A.ATTENDED, 30, "n", True)
            held(factories, mentor, people.mentee, ago(60 + i), A.LATE, 20, "x", i % 2 == 0)
        factories.booking(
            people.mentor, mentee, starts_at=NOW + dt.timedelta(days=1, hours=i), minutes=30
        )
    db_session.commit()


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("mentee", "/mentor-hub/progress"),
        ("mentor", "/mentor-hub/progress/mentees"),
        ("admin", "/mentor-hub/progress/all"),
        ("mentor", "/mentor-hub/progress/{mentee}"),
        ("admin", "/mentor-hub/progress/{mentee}"),
    ],
)
def test_each_page_runs_a_fixed_number_of_queries(
    app, client_for, people, story, factories, db_session, engine, role, url
):
    url = url.format(mentee=people.mentee.id)
    client = client_for(role)
    small = count_queries(client, url, engine)
    _grow(factories, people, db_session, 6)
    assert count_queries(client, url, engine) == small
