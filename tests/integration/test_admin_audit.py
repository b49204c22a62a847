"""The admin's audit trail page: access, filters, order, pages, links, query count."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import insert

from app.db import db
from app.models import AuditEvent
from tests.integration.conftest import counted

BASE = "/admin/mentorship/audit"


@pytest.fixture
def admin(client_for):
    return client_for("admin")


def _event(db_session, **kw) -> AuditEvent:
    event = AuditEvent(**kw)
    db_session.add(event)
    db_session.flush()
    return event


@pytest.fixture
def trail(people, factories, db_session, now):
    booking = factories.booking(people.mentor, people.mentee)
    hour = dt.timedelta(hours=1)
    events = [
        _event(
            db_session,
            at=now - 3 * hour,
            actor_id=people.mentee.id,
            action="booking.requested",
            entity_type="booking",
            entity_id=booking.id,
            after={"status": "requested"},
            ip="203.0.113.9",
            request_id="req-one",
        ),
        _event(
            db_session,
            at=now - 2 * hour,
            actor_id=people.mentor.id,
            action="booking.confirmed",
            entity_type="booking",
            entity_id=booking.id,
            before={"status": "requested", "version": 1},
            after={"status": "confirmed", "version": 2},
        ),
        _event(
            db_session,
            at=now - hour,
            actor_id=people.admin.id,
            action="mentor.approved",
            entity_type="mentor_profile",
            entity_id=people.pending_mentor.mentor_profile.id,
            before={"status": "pending"},
            after={"status": "approved"},
        ),
        _event(
            db_session,
            at=now - dt.timedelta(days=10),
            actor_id=None,
            action="booking.expired",
            entity_type="booking",
            entity_id=booking.id,
        ),
    ]
    db_session.commit()
    return events


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr id="audit-(\d+)"', html)]


@pytest.mark.parametrize("role", ["mentee", "mentor", "pending_mentor"])
def test_only_admins_see_the_trail(client_for, role):
    assert client_for(role).get(BASE).status_code == 403
    assert client_for("anonymous").get(BASE).status_code == 302


def test_the_trail_is_newest_first_with_words_links_and_changes(admin, trail, people):
    html = admin.get(BASE).get_data(as_text=True)
    assert _ids(html) == [e.id for e in reversed(trail[:3])] + [trail[3].id]
    assert "Session confirmed" in html and "booking.confirmed" in html
    assert f"/admin/mentorship/sessions/{trail[0].entity_id}" in html
    assert f"/admin/mentorship/mentors/{people.pending_mentor.mentor_profile.id}" in html
    assert "requested</span> → confirmed" in html
    assert "203.0.113.9" in html and "req-one" in html
    assert "System" in html  # an event without an actor


def test_the_trail_has_no_way_to_change_it(admin, trail):
    html = admin.get(BASE, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "post" not in html.lower()  # no form or htmx call that writes
    assert admin.post(BASE).status_code == 405


def test_filters(admin, trail, people):
    def ids(query: str) -> list[int]:
        return _ids(admin.get(f"{BASE}?{query}").get_data(as_text=True))

    assert ids("actor=maya") == [trail[1].id]  # by name
    assert ids("actor=ADMIN@example") == [trail[2].id]  # by email, any case
    assert ids("action=booking.requested") == [trail[0].id]
    assert ids("entity=mentor_profile") == [trail[2].id]
    assert ids(f"entity=booking&entity_id={trail[0].entity_id}") == [
        trail[1].id,
        trail[0].id,
        trail[3].id,
    ]
    assert ids("from=2026-11-18&to=2026-11-18") == [trail[2].id, trail[1].id, trail[0].id]
    assert ids("to=2026-11-10") == [trail[3].id]
    html = admin.get(f"{BASE}?action=booking.requested").get_data(as_text=True)
    assert '<option value="booking.requested" selected>' in html
    assert "No events match" in admin.get(f"{BASE}?actor=zzz").get_data(as_text=True)


def test_bad_filters_get_messages_next_to_their_fields(admin, trail):
    response = admin.get(f"{BASE}?from=yesterday&entity_id=abc&actor=maya")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "audit-from-error" in html and "audit-entity_id-error" in html
    assert 'value="maya"' in html and 'value="abc"' in html
    htmx = admin.get(f"{BASE}?to=x", headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and htmx.headers["X-MentorHub-Swap"] == "true"
    assert "<html" not in htmx.get_data(as_text=True)


def _bulk(db_session, people, count: int, now) -> None:
    db_session.execute(
        insert(AuditEvent),
        [
            {
                "at": now - dt.timedelta(minutes=i + 1),
                "actor_id": people.admin.id if i % 2 else None,
                "action": f"test.action_{i % 4}",
                "entity_type": "booking" if i % 3 else "user",
                "entity_id": i,
                "before": {"n": i},
                "after": {"n": i + 1},
            }
            for i in range(count)
        ],
    )
    db_session.commit()


def test_pages_and_a_fixed_query_count(admin, people, db_session, now):
    _bulk(db_session, people, 5, now)
    with counted(db.engine) as few:
        assert admin.get(f"{BASE}?entity=booking").status_code == 200
    _bulk(db_session, people, 200, now - dt.timedelta(days=1))
    with counted(db.engine) as many:
        first = admin.get(f"{BASE}?entity=booking")
    assert first.status_code == 200
    assert len(few) == len(many)
    html = first.get_data(as_text=True)
    assert len(_ids(html)) == 50 and "Page 1 of 3" in html
    assert "?entity=booking&amp;page=2" in html
    second = admin.get(f"{BASE}?entity=booking&page=2").get_data(as_text=True)
    assert not set(_ids(html)) & set(_ids(second))


def test_htmx_gets_only_the_table(admin, trail):
    html = admin.get(BASE, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<div id="audit-table"' in html and "<html" not in html
