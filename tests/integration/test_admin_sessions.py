"""The admin's sessions table, CSV export, session detail, notes and admin cancel."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import types

import pytest
from sqlalchemy import func, insert, select, text

from app.db import db
from app.models import (
    AuditEvent,
    Booking,
    BookingNote,
    BookingStatus,
    Notification,
)
from tests.integration.conftest import counted, csrf_token

BASE = "/admin/mentorship/sessions"


@pytest.fixture
def admin(client_for):
    return client_for("admin")


@pytest.fixture
def sessions(people, factories, db_session, now):
    """A small program: two mentors, two mentees, sessions in several states."""
    day = dt.timedelta(days=1)
    made = types.SimpleNamespace(
        upcoming=factories.booking(
            people.mentor, people.mentee, starts_at=now + 2 * day, topic="Career change"
        ),
        requested=factories.booking(
            people.other_mentor,
            people.other_mentee,
            starts_at=now + 3 * day,
            status=BookingStatus.REQUESTED,
            topic="SQL basics",
        ),
        done=factories.booking(
            people.mentor,
            people.other_mentee,
            starts_at=now - 5 * day,
            status=BookingStatus.COMPLETED,
            topic="Portfolio review",
        ),
        cancelled=factories.booking(
            people.other_mentor,
            people.mentee,
            starts_at=now - 40 * day,
            status=BookingStatus.CANCELLED,
            topic="=HYPERLINK(evil)",
        ),
    )
    db_session.commit()
    return made


def _rows(html: str) -> list[str]:
    return re.findall(r'id="session-row-(\d+)"', html)


# -- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["mentee", "mentor", "other_mentor"])
def test_only_admins_see_the_sessions_pages(client_for, sessions, role):
    client = client_for(role)
    for path in (BASE, f"{BASE}/export.csv", f"{BASE}/{sessions.upcoming.id}"):
        assert client.get(path).status_code == 403, path
    assert client_for("anonymous").get(BASE).status_code == 302


def test_non_admins_cannot_cancel_or_add_notes(client_for, sessions, no_csrf):
    client = client_for("mentor")
    b = sessions.upcoming
    assert client.post(f"{BASE}/{b.id}/notes", data={"body": "x"}).status_code == 403
    assert (
        client.post(f"{BASE}/{b.id}/cancel", data={"reason": "x", "version": b.version}).status_code
        == 403
    )


# -- the table ------------------------------------------------------------------------------------


def test_the_table_lists_every_session_newest_first(admin, sessions):
    response = admin.get(BASE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    order = [sessions.requested, sessions.upcoming, sessions.done, sessions.cancelled]
    assert _rows(html) == [str(b.id) for b in order]
    assert "4 sessions" in html
    assert "HX-Request" in response.headers["Vary"]


def test_filters_search_and_sort(admin, sessions, people):
    def ids(query: str) -> list[str]:
        return _rows(admin.get(f"{BASE}?{query}").get_data(as_text=True))

    assert ids("status=requested&status=confirmed") == [
        str(sessions.requested.id),
        str(sessions.upcoming.id),
    ]
    assert ids(f"mentor={people.mentor.id}") == [str(sessions.upcoming.id), str(sessions.done.id)]
    assert ids(f"mentee={people.mentee.id}") == [
        str(sessions.upcoming.id),
        str(sessions.cancelled.id),
    ]
    assert ids("q=portfolio") == [str(sessions.done.id)]  # topic
    assert ids("q=omar") == [str(sessions.requested.id), str(sessions.cancelled.id)]  # mentor
    assert ids("q=otto") == [str(sessions.requested.id), str(sessions.done.id)]  # mentee
    assert ids("sort=start&dir=asc")[0] == str(sessions.cancelled.id)
    assert ids("sort=mentee&dir=asc")[0] in (str(sessions.upcoming.id), str(sessions.cancelled.id))
    assert ids("sort=status&dir=asc")[0] == str(sessions.cancelled.id)
    assert ids("q=nobody-like-this") == []
    assert "No sessions match" in admin.get(f"{BASE}?q=nobody-like-this").get_data(as_text=True)


def test_the_page_does_not_list_every_mentor(admin, sessions, factories, db_session, people):
    """No <select> of every mentor (10,000 options on the benchmark): a mentor who has no
    session on the page is not named on it, and more mentors cost no more queries."""
    url = f"{BASE}?status=requested"
    with counted(db.engine) as few:
        html = admin.get(url).get_data(as_text=True)
    assert 'name="mentor"' not in html and "All mentors" not in html
    assert people.mentor.name not in html  # a mentor, but none of their sessions is requested
    for i in range(30):
        factories.mentor(email=f"many{i}@example.org", name=f"Many Mentor {i}")
    db_session.commit()
    with counted(db.engine) as many:
        html = admin.get(url).get_data(as_text=True)
    assert "Many Mentor" not in html
    assert len(few) == len(many)


def test_a_mentor_is_a_removable_chip_set_from_the_rows(admin, sessions, people):
    html = admin.get(f"{BASE}?status=confirmed&status=completed").get_data(as_text=True)
    # Each row's mentor and mentee narrow the table, keeping the other filters.
    only_maya = f"?status=confirmed&amp;status=completed&amp;mentor={people.mentor.id}"
    assert f'href="{BASE}{only_maya}"' in html
    assert f"mentee={people.other_mentee.id}" in html
    assert 'aria-label="Maya Mentor: only sessions with this mentor"' in html

    html = admin.get(
        f"{BASE}?status=confirmed&status=completed&mentor={people.mentor.id}"
    ).get_data(as_text=True)
    assert _rows(html) == [str(sessions.upcoming.id), str(sessions.done.id)]
    chip = re.search(
        r'<p class="mh-admin-table__chip" id="sessions-chip-mentor">(.*?)</p>', html, re.S
    )
    assert chip and "Mentor: Maya Mentor" in chip.group(1)
    # Removing it keeps the statuses; the filter form carries the mentor along.
    assert f'href="{BASE}?status=confirmed&amp;status=completed" hx-get=' in chip.group(1)
    assert "Show every mentor</a>" in chip.group(1)
    assert f'<input type="hidden" name="mentor" value="{people.mentor.id}">' in html
    # The chosen mentor's own name is no longer a link to the same table.
    assert "Maya Mentor: only sessions with this mentor" not in html
    assert "2 sessions" in html and "Export CSV (2 rows)" in html
    assert (
        f"/export.csv?status=confirmed&amp;status=completed&amp;mentor={people.mentor.id}" in html
    )

    both = admin.get(f"{BASE}?mentor={people.mentor.id}&mentee={people.other_mentee.id}")
    html = both.get_data(as_text=True)
    assert _rows(html) == [str(sessions.done.id)]
    assert "Mentor: Maya Mentor" in html and "Mentee: Otto Other" in html


@pytest.mark.parametrize("role", ["mentor", "mentee"])
def test_an_unknown_person_is_said_plainly(admin, sessions, role):
    response = admin.get(f"{BASE}?{role}=987654&status=completed")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"There is no {role} with the id 987654" in html
    assert _rows(html) == []
    notice = html[html.index(f'id="sessions-unknown-{role}"') :]
    assert re.match(
        rf'.*?<a class="cds--link" href="{BASE}\?status=completed"[^>]*>Show every {role}</a>',
        notice,
        re.S,
    )
    htmx = admin.get(f"{BASE}?{role}=987654", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and f"There is no {role} with the id 987654" in htmx.get_data(
        as_text=True
    )
    rows = _csv(admin.get(f"{BASE}/export.csv?{role}=987654"))
    assert rows == [rows[0]]  # the header only


def test_a_member_who_is_not_a_mentor_is_no_mentor(admin, sessions, people):
    html = admin.get(f"{BASE}?mentor={people.mentee.id}").get_data(as_text=True)
    assert f"There is no mentor with the id {people.mentee.id}" in html
    assert "Mentor: Mia Mentee" not in html
    # A mentor whose profile is not approved still has a name on the chip.
    html = admin.get(f"{BASE}?mentor={people.pending_mentor.id}").get_data(as_text=True)
    assert "Mentor: Pat Pending" in html and "There is no mentor" not in html


def test_the_admin_mentors_table_links_to_a_mentors_sessions(admin, people):
    html = admin.get("/admin/mentorship/mentors?status=approved").get_data(as_text=True)
    assert f'href="{BASE}?mentor={people.mentor.id}">View sessions</a>' in html


def test_status_and_date_counts_come_exactly_from_the_hourly_counts(admin, people, db_session, now):
    _bulk(db_session, people, 60, now)
    day = (now - dt.timedelta(days=2)).date()
    query = f"status=completed&status=cancelled&from={day.isoformat()}"
    html = admin.get(f"{BASE}?{query}").get_data(as_text=True)
    expected = db_session.execute(
        text(
            "SELECT count(*) FROM bookings WHERE status IN ('completed', 'cancelled') "
            "AND starts_at >= :start"
        ),
        {"start": dt.datetime.combine(day, dt.time(), dt.UTC)},
    ).scalar_one()
    assert 0 < expected < 60
    assert f"{expected} sessions" in html
    everything = admin.get(BASE).get_data(as_text=True)
    assert "60 sessions" in everything


def test_date_range_is_in_the_admins_zone(admin, people, factories, db_session, now):
    # 23:30 UTC on 10 Dec is 00:30 on 11 Dec in Berlin: the Berlin admin's "11 Dec".
    people.admin.timezone = "Europe/Berlin"
    late = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=dt.datetime(2026, 12, 10, 23, 30, tzinfo=dt.UTC),
        status=BookingStatus.COMPLETED,
    )
    db_session.commit()
    html = admin.get(f"{BASE}?from=2026-12-11&to=2026-12-11").get_data(as_text=True)
    assert _rows(html) == [str(late.id)]
    html = admin.get(f"{BASE}?from=2026-12-10&to=2026-12-10").get_data(as_text=True)
    assert _rows(html) == []


def test_a_bad_date_gets_a_message_next_to_the_field(admin, sessions):
    response = admin.get(f"{BASE}?from=31/12/2026&q=career")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "sessions-from-error" in html and "“31/12/2026”" in html
    assert 'value="career"' in html  # nothing typed is lost
    assert _rows(html) == [str(sessions.upcoming.id)]  # the other filters still apply
    htmx = admin.get(f"{BASE}?to=nope", headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and htmx.headers["X-MentorHub-Swap"] == "true"


def test_htmx_gets_only_the_table(admin, sessions):
    html = admin.get(f"{BASE}?status=requested", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert '<div id="sessions-table"' in html
    assert "<html" not in html


def test_pages_and_their_links_keep_the_filters(admin, people, factories, db_session, now):
    for i in range(30):
        factories.booking(
            people.mentor,
            people.mentee,
            starts_at=now - dt.timedelta(days=i + 1),
            status=BookingStatus.COMPLETED,
        )
    db_session.commit()
    first = admin.get(f"{BASE}?status=completed").get_data(as_text=True)
    assert len(_rows(first)) == 25 and "Page 1 of 2" in first
    assert "?status=completed&amp;page=2" in first
    second = admin.get(f"{BASE}?status=completed&page=2").get_data(as_text=True)
    assert len(_rows(second)) == 5
    assert not set(_rows(first)) & set(_rows(second))
    # A page past the end shows the last page, not an empty table.
    assert _rows(admin.get(f"{BASE}?status=completed&page=99").get_data(as_text=True)) == _rows(
        second
    )


def _bulk(db_session, people, count: int, now, status=BookingStatus.COMPLETED) -> None:
    """Many bookings quickly (one INSERT); past and finished, so no overlap rule applies."""
    rows = [
        {
            "mentor_id": (people.mentor if i % 2 else people.other_mentor).id,
            "mentee_id": (people.mentee if i % 3 else people.other_mentee).id,
            "starts_at": now - dt.timedelta(hours=2 * i + 2),
            "ends_at": now - dt.timedelta(hours=2 * i + 1),
            "mentor_timezone": "UTC",
            "status": status if i % 5 else BookingStatus.CANCELLED,
            "topic": f"Topic {i}" if i % 7 else "-cmd|' /C calc'!A0",
            "notes": "",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    db_session.execute(insert(Booking), rows)
    db_session.commit()


def test_the_table_costs_a_fixed_number_of_queries(admin, people, db_session, now):
    _bulk(db_session, people, 3, now)
    url = f"{BASE}?q=topic&status=completed&mentee={people.mentee.id}&from=2020-01-01"
    with counted(db.engine) as few:
        assert admin.get(url).status_code == 200
    _bulk(db_session, people, 120, now - dt.timedelta(days=30))
    with counted(db.engine) as many:
        assert admin.get(url).status_code == 200
    assert len(few) == len(many)


def test_the_detail_costs_a_fixed_number_of_queries(admin, sessions, people, no_csrf):
    b = sessions.upcoming
    with counted(db.engine) as few:
        assert admin.get(f"{BASE}/{b.id}").status_code == 200
    for i in range(5):
        assert admin.post(f"{BASE}/{b.id}/notes", data={"body": f"note {i}"}).status_code == 303
    with counted(db.engine) as many:
        assert admin.get(f"{BASE}/{b.id}").status_code == 200
    assert len(few) == len(many)


# -- CSV ------------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    body = response.get_data(as_text=True).removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_is_streamed_and_matches_the_screens_filters(admin, people, db_session, now):
    _bulk(db_session, people, 3000, now)
    query = f"status=completed&mentor={people.mentor.id}&q=topic&sort=mentee&dir=asc"
    response = admin.get(f"{BASE}/export.csv?{query}")
    assert response.is_streamed  # a generator, not a string built in memory
    rows = _csv(response)
    # An independent count of what these filters mean, written in SQL by hand.
    expected = db_session.execute(
        text(
            "SELECT count(*) FROM bookings b JOIN users mentor ON mentor.id = b.mentor_id "
            "JOIN users mentee ON mentee.id = b.mentee_id "
            "WHERE b.status = 'completed' AND b.mentor_id = :mentor AND ("
            "lower(b.topic) LIKE '%topic%' OR lower(mentor.name) LIKE '%topic%' "
            "OR lower(mentee.name) LIKE '%topic%')"
        ),
        {"mentor": people.mentor.id},
    ).scalar_one()
    assert expected > 500
    assert len(rows) - 1 == expected
    assert rows[0][0] == "Session ID" and rows[0][1] == "Starts (UTC)"
    screen = admin.get(f"{BASE}?{query}").get_data(as_text=True)
    assert f"{expected} sessions" in screen
    assert f"Export CSV ({expected} rows)" in screen
    assert {r[4] for r in rows[1:]} == {"completed"}
    # The screen's order: mentee names ascending.
    mentees = [r[7] for r in rows[1:]]
    assert mentees == sorted(mentees, key=str.lower)


def test_the_unfiltered_csv_has_every_session(admin, people, db_session, now):
    _bulk(db_session, people, 2500, now)
    rows = _csv(admin.get(f"{BASE}/export.csv"))
    total = db_session.execute(select(func.count(Booking.id))).scalar_one()
    assert len(rows) - 1 == total == 2500


def test_csv_cells_cannot_run_as_formulas(admin, sessions):
    rows = _csv(admin.get(f"{BASE}/export.csv?status=cancelled"))
    assert rows[1][9] == "'=HYPERLINK(evil)"


# -- the detail page ------------------------------------------------------------------------------


def test_the_detail_shows_the_session_and_its_timeline(admin, sessions, people, db_session):
    b = sessions.upcoming
    db_session.add(
        AuditEvent(
            at=b.created_at,
            actor_id=people.mentee.id,
            action="booking.requested",
            entity_type="booking",
            entity_id=b.id,
            after={"status": "requested"},
        )
    )
    db_session.add(
        AuditEvent(
            at=b.created_at + dt.timedelta(hours=1),
            actor_id=people.mentor.id,
            action="booking.confirmed",
            entity_type="booking",
            entity_id=b.id,
            before={"status": "requested", "version": 1},
            after={"status": "confirmed", "version": 2},
        )
    )
    db_session.commit()
    html = admin.get(f"{BASE}/{b.id}").get_data(as_text=True)
    assert "Maya Mentor" in html and "Mia Mentee" in html and "Career change" in html
    assert html.index("Session requested") < html.index("Session confirmed")
    assert "requested</span> → confirmed" in html
    assert f"/mentorship/sessions/{b.id}" in html  # the participants' view
    assert "Cancel session" in html
    assert admin.get(f"{BASE}/999999").status_code == 404


def test_a_past_session_offers_no_cancel(admin, sessions):
    html = admin.get(f"{BASE}/{sessions.done.id}").get_data(as_text=True)
    assert "Cancel session" not in html
    assert "can&#39;t be cancelled" in html


# -- notes ----------------------------------------------------------------------------------------


def test_notes_are_appended_with_author_and_time(admin, sessions, db_session, people, now):
    b = sessions.upcoming
    token = csrf_token(admin, f"{BASE}/{b.id}")
    response = admin.post(
        f"{BASE}/{b.id}/notes",
        data={"body": "  Mentee asked for a new mentor.  ", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Mentee asked for a new mentor." in html
    assert 'hx-swap-oob="true"' in html and "Admin note added" in html
    note = db_session.execute(select(BookingNote)).scalar_one()
    assert (note.author_id, note.body, note.created_at) == (
        people.admin.id,
        "Mentee asked for a new mentor.",
        now,
    )
    event = db_session.execute(
        select(AuditEvent).where(AuditEvent.action == "booking.note_added")
    ).scalar_one()
    assert event.entity_id == b.id and event.actor_id == people.admin.id
    assert "Mentee asked" not in str(event.after)  # the trail names the note, not its text


@pytest.mark.parametrize(
    ("body", "message"), [("   ", "Write the note"), ("x" * 2001, "at most 2000")]
)
def test_a_bad_note_is_refused_and_kept(admin, sessions, db_session, no_csrf, body, message):
    b = sessions.upcoming
    response = admin.post(
        f"{BASE}/{b.id}/notes", data={"body": body}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert message in html
    if body.strip():
        assert body in html
    assert db_session.execute(select(func.count(BookingNote.id))).scalar_one() == 0


# -- admin cancel ---------------------------------------------------------------------------------


def test_admin_cancel_needs_a_reason(admin, sessions, db_session, no_csrf):
    b = sessions.upcoming
    response = admin.post(f"{BASE}/{b.id}/cancel", data={"reason": " ", "version": b.version})
    assert response.status_code == 422
    assert "Give a reason" in response.get_data(as_text=True)
    db_session.refresh(b)
    assert b.status == BookingStatus.CONFIRMED


def test_admin_cancel_goes_through_the_booking_service(
    admin, sessions, db_session, people, no_csrf
):
    b = sessions.upcoming
    response = admin.post(
        f"{BASE}/{b.id}/cancel", data={"reason": "Mentor is unwell", "version": b.version}
    )
    assert response.status_code == 303
    db_session.refresh(b)
    assert b.status == BookingStatus.CANCELLED
    assert (b.cancel_reason, b.cancelled_by_id) == ("Mentor is unwell", people.admin.id)
    event = db_session.execute(
        select(AuditEvent).where(
            AuditEvent.action == "booking.cancelled", AuditEvent.entity_id == b.id
        )
    ).scalar_one()
    assert event.actor_id == people.admin.id and event.after["cancelled_by"] == "admin"
    told = {
        n.user_id
        for n in db_session.execute(
            select(Notification).where(Notification.booking_id == b.id)
        ).scalars()
    }
    assert told == {people.mentor.id, people.mentee.id}
    page = admin.get(f"{BASE}/{b.id}").get_data(as_text=True)
    assert "Session cancelled" in page and "Mentor is unwell" in page


def test_a_stale_admin_cancel_is_a_conflict(admin, sessions, db_session, no_csrf):
    b = sessions.upcoming
    response = admin.post(
        f"{BASE}/{b.id}/cancel", data={"reason": "Double booked", "version": b.version - 1}
    )
    assert response.status_code == 409
    assert "Double booked" in response.get_data(as_text=True)  # what was typed is kept
    db_session.refresh(b)
    assert b.status == BookingStatus.CONFIRMED


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata"])
def test_the_total_comes_from_the_hourly_counts_and_equals_the_bookings(
    admin, people, db_session, engine, now, zone
):
    """Filtered by status and dates only, the total is summed from session_stats (no count
    over the bookings, which is 0.5 s at a million); it must equal a count of the bookings,
    also when some counts are folded and some still pending, and in a :30 zone, whose
    midnights cut UTC hours in two and are counted from the bookings."""
    from app.services import admin_sessions, session_stats

    people.admin.timezone = zone
    _bulk(db_session, people, 40, now)
    session_stats.compact(db_session, now=now)
    db_session.commit()
    _bulk(db_session, people, 30, now - dt.timedelta(days=5))  # pending deltas
    day = lambda days: str((now - dt.timedelta(days=days)).date())  # noqa: E731
    cases = [
        {},
        {"statuses": ["completed"]},
        {"statuses": ["cancelled", "completed"]},
        {"date_from": day(4)},
        {"date_from": day(8), "date_to": day(2), "statuses": ["completed"]},
    ]
    for case in cases:
        filters, errors = admin_sessions.parse_filters(**case)
        assert not errors
        want = db_session.scalar(
            select(func.count(Booking.id)).where(*admin_sessions._conditions(filters, zone))
        )
        with counted(engine) as statements:
            got = admin_sessions.count_sessions(db_session, filters, zone)
        assert got == want, case
        assert statements  # the count was seen
        reads_bookings = any("FROM bookings" in s for s in statements)
        dated = "date_from" in case
        # Berlin's midnights are whole UTC hours: the hourly counts answer. Kolkata's are not.
        assert reads_bookings == (dated and zone == "Asia/Kolkata"), (case, statements)
