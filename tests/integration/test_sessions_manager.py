"""The mentor's sessions manager (/mentor-hub/sessions): search, filters, sort, tabs with
counts and pages, all of it in the URL; HTMX gets only the results; and the page needs the
same number of queries however many sessions there are."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.models import Attendance, AttendanceOutcome, BookingStatus
from tests.integration.conftest import count_queries, counted

HX = {"HX-Request": "true"}
URL = "/mentor-hub/sessions"
# FROZEN_NOW is Wed 2026-11-18 15:00 UTC.
DAY = dt.datetime(2026, 11, 18, 15, tzinfo=dt.UTC)


def at(days: float, hour: int = 9) -> dt.datetime:
    return (DAY + dt.timedelta(days=days)).replace(hour=hour)


def rows(html: str) -> list[str]:
    """The topics of the table's rows, in order."""
    return re.findall(r'<td class="mh-session-row__topic">([^<]*)</td>', html)


def tab_count(html: str, label: str) -> int:
    match = re.search(rf"{label} <span class=\"mh-tabs__count\">\((\d+)\)</span>", html)
    assert match, f"no {label} tab"
    return int(match.group(1))


@pytest.fixture
def program(people, factories, db_session):
    """The mentor's sessions: two upcoming, two past (one with attendance due), two closed;
    plus another mentor's session that must never show."""
    f, p = factories, people
    carol = f.user(name="Carol Jones", email="carol@example.org")
    made = {
        "requested": f.booking(
            p.mentor, p.mentee, starts_at=at(3), status=BookingStatus.REQUESTED, topic="Alpha"
        ),
        "confirmed": f.booking(
            p.mentor, carol, starts_at=at(1), status=BookingStatus.CONFIRMED, topic="Bravo"
        ),
        "due": f.booking(
            p.mentor,
            p.other_mentee,
            starts_at=at(-2),
            status=BookingStatus.CONFIRMED,
            topic="Delta",
        ),
        "completed": f.booking(
            p.mentor, carol, starts_at=at(-20), status=BookingStatus.COMPLETED, topic="Echo"
        ),
        "cancelled": f.booking(
            p.mentor, p.mentee, starts_at=at(5), status=BookingStatus.CANCELLED, topic="Foxtrot"
        ),
        "declined": f.booking(
            p.mentor, carol, starts_at=at(6), status=BookingStatus.DECLINED, topic="Golf"
        ),
        "foreign": f.booking(
            p.other_mentor, carol, starts_at=at(2), status=BookingStatus.REQUESTED, topic="Hotel"
        ),
    }
    db_session.add(
        Attendance(
            booking_id=made["completed"].id,
            participant_id=carol.id,
            outcome=AttendanceOutcome.ATTENDED,
            minutes=60,
            recorded_at=at(-20, 11),
        )
    )
    db_session.commit()
    return made


def test_tabs_split_the_mentors_sessions_and_count_them(client_for, program):
    html = client_for("mentor").get(URL).get_data(as_text=True)
    assert (tab_count(html, "Upcoming"), tab_count(html, "Past"), tab_count(html, "Cancelled")) == (
        2,
        2,
        2,
    )
    assert rows(html) == ["Bravo", "Alpha"]  # upcoming: soonest first
    assert "Hotel" not in html  # another mentor's session
    past = client_for("mentor").get(f"{URL}?tab=past").get_data(as_text=True)
    assert rows(past) == ["Delta", "Echo"]  # past: newest first
    assert "Attendance due" in past
    closed = client_for("mentor").get(f"{URL}?tab=cancelled").get_data(as_text=True)
    assert rows(closed) == ["Golf", "Foxtrot"]


def test_times_are_in_the_viewers_zone_and_the_zone_is_named(
    client_for, program, people, db_session
):
    people.mentor.timezone = "Asia/Tokyo"
    db_session.commit()
    html = client_for("mentor").get(URL).get_data(as_text=True)
    assert "When (Asia/Tokyo)" in html
    # Thu 19 Nov 09:00 UTC is 18:00 in Tokyo.
    assert "Thu 19 Nov 2026<br>18:00–19:00 JST" in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("mia", ["Alpha"]),  # the mentee's name, any case
        ("carol@example", ["Bravo"]),  # the mentee's email
        ("BRAV", ["Bravo"]),  # the topic
        ("100%", []),  # LIKE wildcards are taken literally
    ],
)
def test_search_finds_mentee_name_email_or_topic(client_for, program, q, expected):
    html = client_for("mentor").get(URL, query_string={"q": q}).get_data(as_text=True)
    assert rows(html) == expected


def test_filters_combine_and_the_counts_follow_them(client_for, program):
    client = client_for("mentor")
    html = client.get(URL, query_string={"q": "carol"}).get_data(as_text=True)
    counts = (tab_count(html, "Upcoming"), tab_count(html, "Past"), tab_count(html, "Cancelled"))
    assert counts == (1, 1, 1)
    html = client.get(URL, query_string={"status": "requested"}).get_data(as_text=True)
    assert rows(html) == ["Alpha"]
    html = client.get(URL, query_string={"tab": "cancelled", "status": "declined"}).get_data(
        as_text=True
    )
    assert rows(html) == ["Golf"]


def test_needs_my_action_is_requests_and_attendance_due(client_for, program):
    client = client_for("mentor")
    html = client.get(URL, query_string={"action": "needed"}).get_data(as_text=True)
    assert rows(html) == ["Alpha"]
    assert 'Needs my action <span id="filter-action-count">(2)</span>' in html
    past = client.get(URL, query_string={"action": "needed", "tab": "past"}).get_data(as_text=True)
    assert rows(past) == ["Delta"]


def test_the_date_range_is_read_in_the_viewers_zone(client_for, program, people, db_session):
    client = client_for("mentor")
    html = client.get(URL, query_string={"from": "2026-11-19", "to": "2026-11-19"}).get_data(
        as_text=True
    )
    assert rows(html) == ["Bravo"]
    # In Honolulu (UTC-10) Sat 21 Nov 09:00 UTC is still Fri 20 Nov.
    people.mentor.timezone = "Pacific/Honolulu"
    db_session.commit()
    html = client.get(URL, query_string={"from": "2026-11-20", "to": "2026-11-20"}).get_data(
        as_text=True
    )
    assert rows(html) == ["Alpha"]


def test_an_unreadable_date_is_reported_next_to_its_field(client_for, program):
    response = client_for("mentor").get(URL, query_string={"from": "yesterday"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="filter-from-error">Enter a date like 2026-11-18.</div>' in html
    assert rows(html) == ["Bravo", "Alpha"]  # the bad filter is not applied
    reversed_range = client_for("mentor").get(
        URL, query_string={"from": "2026-12-01", "to": "2026-11-01"}
    )
    assert "The end date is before the start date." in reversed_range.get_data(as_text=True)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("date", ["Echo", "Delta"]),
        ("-date", ["Delta", "Echo"]),
        ("status", ["Delta", "Echo"]),  # confirmed before completed
        ("mentee", ["Echo", "Delta"]),  # Carol Jones before Otto Other
    ],
)
def test_sort_orders(client_for, program, sort, expected):
    html = (
        client_for("mentor")
        .get(URL, query_string={"tab": "past", "sort": sort})
        .get_data(as_text=True)
    )
    assert rows(html) == expected


def test_sortable_headers_say_how_the_table_is_sorted(client_for, program):
    html = client_for("mentor").get(URL, query_string={"sort": "-date"}).get_data(as_text=True)
    assert 'aria-sort="descending"' in html
    # The header flips the order (soonest first is the default, so it is left out).
    assert 'id="nav-sort-date" href="/mentor-hub/sessions"' in html


def test_pages_of_25_keep_the_filters_in_their_links(client_for, people, factories, db_session):
    for i in range(30):
        factories.booking(
            people.mentor,
            factories.user(name=f"Pat {i:02d}"),
            starts_at=at(1) + dt.timedelta(hours=2 * i),
            status=BookingStatus.CONFIRMED,
            topic=f"Topic {i:02d}",
        )
    db_session.commit()
    client = client_for("mentor")
    first = client.get(URL, query_string={"q": "topic"}).get_data(as_text=True)
    assert len(rows(first)) == 25
    assert "Showing 1–25 of 30 upcoming sessions matching the filters." in first
    assert 'href="/mentor-hub/sessions?q=topic&amp;page=2"' in first
    second = client.get(URL, query_string={"q": "topic", "page": "2"}).get_data(as_text=True)
    assert rows(second) == [f"Topic {i}" for i in range(25, 30)]
    assert "Page 2 of 2" in second
    # A page past the end shows the last page.
    assert rows(client.get(URL, query_string={"page": "9"}).get_data(as_text=True)) == rows(second)


def _past(factories, people, count: int) -> None:
    """`count` completed sessions, one a day back from yesterday, mentees named Z..A-ward."""
    for i in range(count):
        factories.booking(
            people.mentor,
            factories.user(name=f"Pupil {count - i:03d}"),
            starts_at=at(-1 - i),
            status=BookingStatus.COMPLETED,
            topic=f"Past {i:03d}",
        )


def test_a_long_past_list_pages_newest_first_whatever_the_sort(
    client_for, people, factories, db_session
):
    _past(factories, people, 60)
    db_session.commit()
    client = client_for("mentor")

    def topics(**args: str) -> list[str]:
        return rows(client.get(URL, query_string={"tab": "past", **args}).get_data(as_text=True))

    newest_first = [f"Past {i:03d}" for i in range(60)]
    assert topics() + topics(page="2") + topics(page="3") == newest_first
    assert topics(sort="date", page="3") == newest_first[::-1][50:]
    # By mentee name (Pupil 001 is the oldest session), and the words, still page right.
    assert topics(sort="mentee", page="3") == newest_first[::-1][50:]
    assert topics(q="pupil 05") == [f"Past {i:03d}" for i in range(1, 11)]


def test_the_page_is_cut_before_the_mentees_are_joined(
    client_for, people, factories, db_session, connection
):
    """A late page of a long past list joins only its own 25 mentees: the bookings are
    ordered and cut in a subquery first. The tab counts need no mentee at all, unless words
    are searched for."""
    _past(factories, people, 30)
    db_session.commit()
    client = client_for("mentor")
    with counted(connection.engine) as statements:
        assert client.get(URL, query_string={"tab": "past", "page": "2"}).status_code == 200
    listing = [s for s in statements if "LIMIT" in s and "bookings.topic" in s]
    assert len(listing) == 1
    page = re.search(r"JOIN \(SELECT bookings\.id .*? LIMIT .*?\) AS page", listing[0], re.S)
    assert page is not None, listing[0]
    assert "users" not in page.group(0)  # nobody joined before the cut
    counts = [s for s in statements if "GROUP BY" in s and "bookings" in s]
    assert len(counts) == 1 and "JOIN users" not in counts[0]
    with counted(connection.engine) as statements:
        assert client.get(URL, query_string={"q": "pupil"}).status_code == 200
    counts = [s for s in statements if "GROUP BY" in s and "bookings" in s]
    assert len(counts) == 1 and "JOIN users" in counts[0]


def test_htmx_gets_only_the_results_and_the_canonical_address(client_for, program):
    response = client_for("mentor").get(
        URL, query_string={"q": "carol", "status": "", "from": "", "sort": "date"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("{") is False and "<html" not in html
    assert html.lstrip().startswith('<div id="session-results"')
    assert response.headers["HX-Push-Url"] == "/mentor-hub/sessions?q=carol"
    assert response.headers["Vary"].count("HX-Request") == 1
    # The to-do count and the status sentence outside the results follow, out of band.
    assert 'id="filter-action-count" hx-swap-oob="true"' in html
    assert 'id="session-status" hx-swap-oob="innerHTML"' in html


def test_back_and_forward_get_the_whole_page(client_for, program):
    """htmx restores history with HX-Request too; that answer must be the whole page."""
    headers = {**HX, "HX-History-Restore-Request": "true"}
    html = client_for("mentor").get(URL, headers=headers).get_data(as_text=True)
    assert "<html" in html and 'id="session-filters"' in html


def test_no_match_says_so_with_a_way_back(client_for, program):
    html = client_for("mentor").get(URL, query_string={"q": "nobody"}).get_data(as_text=True)
    assert "No sessions match these filters" in html
    assert 'href="/mentor-hub/sessions">Clear filters</a>' in html


def test_an_empty_list_has_its_own_empty_state(client_for, people):
    html = client_for("mentor").get(URL).get_data(as_text=True)
    assert "No upcoming sessions" in html and "Review your schedule" in html
    past = client_for("mentor").get(f"{URL}?tab=past").get_data(as_text=True)
    assert "No past sessions yet" in past


def test_rows_offer_what_the_mentor_may_do(client_for, program):
    html = client_for("mentor").get(URL).get_data(as_text=True)
    alpha = html[html.index(f'id="session-row-{program["requested"].id}"') :]
    alpha = alpha[: alpha.index("</tr>")]
    for action in ("confirm", "decline", "reschedule", "cancel", "meeting-link"):
        assert f'/mentor-hub/sessions/{program["requested"].id}/{action}"' in alpha
    assert f'/mentor-hub/sessions/{program["requested"].id}"' in alpha  # the detail page
    assert 'name="from" value="row"' in alpha
    assert f'name="version" value="{program["requested"].version}"' in alpha
    bravo = html[html.index(f'id="session-row-{program["confirmed"].id}"') :]
    bravo = bravo[: bravo.index("</tr>")]
    assert "/confirm" not in bravo and "/decline" not in bravo


def test_only_mentors_have_a_sessions_manager(client_for, people):
    assert client_for("mentee").get(URL).status_code == 403
    assert client_for("admin").get(URL).status_code == 403


def _sessions(factories, people, count: int, offset: int = 0) -> None:
    statuses = [BookingStatus.REQUESTED, BookingStatus.CONFIRMED]
    for i in range(offset, offset + count):
        mentee = factories.user(name=f"Mentee {i:03d}")
        booking = factories.booking(
            people.mentor,
            mentee,
            starts_at=at(1) + dt.timedelta(hours=2 * i),
            status=statuses[i % 2],
            topic=f"Topic {i}",
            meeting_url="https://zoom.us/j/1",
        )
        if i % 3 == 0:
            factories.session.add(
                Attendance(
                    booking_id=booking.id,
                    participant_id=mentee.id,
                    outcome=AttendanceOutcome.ATTENDED,
                    minutes=60,
                    recorded_at=at(0),
                )
            )


@pytest.mark.parametrize("url", [URL, f"{URL}?q=mentee&action=needed&sort=mentee"])
def test_the_manager_needs_the_same_queries_for_5_or_60_sessions(
    client_for, people, factories, db_session, connection, url
):
    _sessions(factories, people, 5)
    db_session.commit()
    client = client_for("mentor")
    client.get(url)  # warm-up
    few = count_queries(client, url, connection.engine)
    _sessions(factories, people, 55, offset=5)
    db_session.commit()
    many = count_queries(client, url, connection.engine)
    assert many == few


def test_a_mentees_sessions_need_the_same_queries_for_5_or_60(
    client_for, people, factories, db_session, connection
):
    def add(count: int, offset: int) -> None:
        for i in range(offset, offset + count):
            mentor = factories.mentor(name=f"Mentor {i:03d}")
            factories.booking(
                mentor,
                people.mentee,
                starts_at=at(1) + dt.timedelta(hours=2 * i),
                status=BookingStatus.CONFIRMED if i % 2 else BookingStatus.REQUESTED,
                meeting_url="https://zoom.us/j/1",
            )

    add(5, 0)
    db_session.commit()
    client = client_for("mentee")
    url = "/mentor-hub/bookings"
    client.get(url)  # warm-up
    few = count_queries(client, url, connection.engine)
    add(55, 5)
    db_session.commit()
    assert count_queries(client, url, connection.engine) == few
