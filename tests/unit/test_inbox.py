"""The in-app inbox service (app/services/inbox.py): counts, pages, marking read (only the
owner's rows) and one sentence per kind. Real database, rolled back per test; no Flask."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import BookingStatus, Notification, NotificationChannel, User
from app.services import booking as booking_service
from app.services import inbox
from app.services.errors import NotFound
from tests.factories import Factories

IN_APP, EMAIL = NotificationChannel.IN_APP, NotificationChannel.EMAIL
_seq = iter(range(1, 1_000_000))


def note(
    session: Session,
    user: User,
    kind: str = "booking_confirmed",
    *,
    at: dt.datetime,
    payload: dict[str, Any] | None = None,
    channel: NotificationChannel = IN_APP,
    read_at: dt.datetime | None = None,
) -> Notification:
    row = Notification(
        user_id=user.id,
        kind=kind,
        channel=channel,
        payload=payload or {},
        dedupe_key=f"test:{next(_seq)}:{channel.value}",
        created_at=at,
        read_at=read_at,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def two(factories: Factories) -> tuple[User, User]:
    return factories.user(name="Ann Owner"), factories.user(name="Bob Other")


def test_the_unread_count_is_the_owners_unread_in_app_rows_only(db_session, now, two):
    ann, bob = two
    note(db_session, ann, at=now)
    note(db_session, ann, at=now)
    note(db_session, ann, at=now, read_at=now)  # read
    note(db_session, ann, at=now, channel=EMAIL)  # the email copy is not the inbox
    note(db_session, bob, at=now)  # someone else's
    assert inbox.unread_count(db_session, ann.id) == 2
    assert inbox.unread_count(db_session, bob.id) == 1


def test_a_page_lists_newest_first_with_totals_and_pages(db_session, now, two):
    ann, bob = two
    rows = [note(db_session, ann, at=now - dt.timedelta(hours=h)) for h in range(5)]
    rows[4].read_at = now
    note(db_session, ann, at=now, channel=EMAIL)
    note(db_session, bob, at=now + dt.timedelta(hours=1))

    first = inbox.inbox_page(db_session, ann.id, 1, tz="UTC", per_page=2)
    assert [i.id for i in first.items] == [rows[0].id, rows[1].id]
    assert (first.total, first.unread, first.pages, first.page) == (5, 4, 3, 1)
    assert first.newest_id == max(r.id for r in rows)
    last = inbox.inbox_page(db_session, ann.id, 3, tz="UTC", per_page=2)
    assert [i.id for i in last.items] == [rows[4].id]
    assert not last.items[0].unread
    # Past the end: the last page; before the start: the first.
    assert inbox.inbox_page(db_session, ann.id, 99, tz="UTC", per_page=2).page == 3
    assert inbox.inbox_page(db_session, ann.id, -1, tz="UTC", per_page=2).page == 1


def test_an_empty_inbox_is_one_empty_page(db_session, two):
    page = inbox.inbox_page(db_session, two[0].id, 1, tz="UTC")
    assert (page.items, page.total, page.unread, page.pages, page.newest_id) == ([], 0, 0, 1, None)


def test_mark_read_marks_only_the_owners_row(db_session, now, two):
    ann, bob = two
    mine = note(db_session, ann, at=now)
    theirs = note(db_session, bob, at=now)
    email_copy = note(db_session, ann, at=now, channel=EMAIL)
    later = now + dt.timedelta(minutes=5)

    assert inbox.mark_read(db_session, ann.id, mine.id, now=later).read_at == later
    with pytest.raises(NotFound):
        inbox.mark_read(db_session, ann.id, theirs.id, now=later)
    with pytest.raises(NotFound):
        inbox.mark_read(db_session, ann.id, email_copy.id, now=later)
    with pytest.raises(NotFound):
        inbox.mark_read(db_session, ann.id, 987654321, now=later)
    db_session.flush()
    db_session.expire_all()
    assert db_session.get(Notification, theirs.id).read_at is None
    assert db_session.get(Notification, email_copy.id).read_at is None
    # Reading it again keeps the first time it was read.
    assert (
        inbox.mark_read(db_session, ann.id, mine.id, now=later + dt.timedelta(hours=1)).read_at
        == later
    )


def test_mark_all_read_touches_only_the_owners_unread_rows(db_session, now, two):
    ann, bob = two
    earlier = now - dt.timedelta(days=1)
    a1, a2 = note(db_session, ann, at=now), note(db_session, ann, at=now)
    already = note(db_session, ann, at=now, read_at=earlier)
    email_copy = note(db_session, ann, at=now, channel=EMAIL)
    theirs = note(db_session, bob, at=now)

    assert inbox.mark_all_read(db_session, ann.id, now=now) == 2
    db_session.expire_all()
    read = dict(db_session.execute(select(Notification.id, Notification.read_at)).all())
    assert read[a1.id] == read[a2.id] == now
    assert read[already.id] == earlier
    assert read[email_copy.id] is None
    assert read[theirs.id] is None
    assert inbox.unread_count(db_session, ann.id) == 0
    assert inbox.mark_all_read(db_session, ann.id, now=now) == 0


def test_mark_all_read_up_to_leaves_what_arrived_since_unread(db_session, now, two):
    ann, _ = two
    seen = note(db_session, ann, at=now)
    arrived = note(db_session, ann, at=now)
    assert inbox.mark_all_read(db_session, ann.id, now=now, upto=seen.id) == 1
    db_session.expire_all()
    assert db_session.get(Notification, arrived.id).read_at is None


# -- sentences --------------------------------------------------------------------------------

BASE = {
    "booking_id": 7,
    "starts_at": "2026-11-24T15:00:00+00:00",  # 10:00 in New York (EST)
    "mentor_id": 1,
    "mentor_name": "Maya Mentor",
    "mentee_id": 2,
    "mentee_name": "Mia Mentee",
}
TO_MENTEE = {**BASE, "recipient_role": "mentee", "actor_id": 1, "actor_name": "Maya Mentor"}
TO_MENTOR = {**BASE, "recipient_role": "mentor", "actor_id": 2, "actor_name": "Mia Mentee"}
NY = "America/New_York"


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "booking_requested",
            {**TO_MENTOR, "status": "requested"},
            "Mia Mentee requested a session with you on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_requested",
            {**TO_MENTOR, "status": "confirmed"},
            "Mia Mentee booked a session with you on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_confirmed",
            TO_MENTEE,
            "Maya Mentor confirmed your session on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_confirmed",
            {**TO_MENTEE, "auto_confirmed": True, "actor_id": 2, "actor_name": "Mia Mentee"},
            "Your session with Maya Mentor on Tue 24 Nov, 10:00 EST is confirmed.",
        ),
        (
            "booking_confirmed",  # an admin acted: the other participant is named
            {**TO_MENTOR, "actor_id": 99, "actor_name": "Ada Admin"},
            "Ada Admin confirmed your session with Mia Mentee on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_declined",
            TO_MENTEE,
            "Maya Mentor declined your session request for Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_cancelled",
            TO_MENTOR,
            "Mia Mentee cancelled your session on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "booking_rescheduled",
            {**TO_MENTEE, "previous_starts_at": "2026-11-23T15:00:00+00:00"},
            "Maya Mentor moved your session from Mon 23 Nov, 10:00 EST to Tue 24 Nov, 10:00 EST.",
        ),
        (
            "reminder",
            {**TO_MENTEE, "hours": 24},
            "Reminder: your session with Maya Mentor starts in 24 hours, Tue 24 Nov, 10:00 EST.",
        ),
        (
            "reminder",
            {**TO_MENTOR, "hours": 1},
            "Reminder: your session with Mia Mentee starts in 1 hour, Tue 24 Nov, 10:00 EST.",
        ),
        (
            "attendance_due",
            TO_MENTOR,
            "Please record attendance for your session with Mia Mentee on Tue 24 Nov, 10:00 EST.",
        ),
        (
            "request_unconfirmed",
            TO_MENTOR,
            "Mia Mentee's request for Tue 24 Nov, 10:00 EST is still waiting for your answer.",
        ),
        (
            "request_unconfirmed",
            TO_MENTEE,
            "Your request to Maya Mentor for Tue 24 Nov, 10:00 EST is not confirmed yet.",
        ),
        ("some_future_kind", BASE, "There is an update on your session on Tue 24 Nov, 10:00 EST."),
        ("some_future_kind", {}, "You have a new notification."),
    ],
)
def test_one_sentence_per_kind_on_the_readers_clock(kind, payload, expected):
    assert inbox.sentence(kind, payload, NY) == expected


def test_a_sentence_survives_a_payload_with_missing_or_odd_values():
    odd = {"starts_at": "not a time", "actor_name": "  ", "hours": "24"}
    assert inbox.sentence("booking_cancelled", odd, "UTC") == (
        "Someone cancelled your session with your mentor."
    )
    assert inbox.sentence("reminder", odd, "UTC") == (
        "Reminder: your session with your mentor is coming up."
    )


def test_the_zone_is_the_readers(db_session):
    assert inbox.sentence("booking_confirmed", TO_MENTEE, "Europe/Berlin") == (
        "Maya Mentor confirmed your session on Tue 24 Nov, 16:00 CET."
    )


def test_a_real_confirmation_reads_as_a_sentence_in_the_inbox(db_session, factories, now):
    mentor = factories.mentor(name="Maya Mentor", requires_confirmation=True)
    mentee = factories.user(name="Mia Mentee", timezone=NY)
    starts = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
    booking = factories.booking(
        mentor, mentee, starts_at=starts, status=BookingStatus.REQUESTED, topic="Careers"
    )
    booking_service.confirm(db_session, mentor, booking, version=booking.version, now=now)

    page = inbox.inbox_page(db_session, mentee.id, 1, tz=mentee.timezone)
    assert [i.sentence for i in page.items] == [
        "Maya Mentor confirmed your session on Tue 24 Nov, 10:00 EST."
    ]
    assert page.items[0].booking_id == booking.id
    assert page.items[0].topic == "Careers"
    assert inbox.unread_count(db_session, mentor.id) == 0  # the actor is not told


def test_a_kind_that_carries_its_own_words_shows_them():
    payload = {"message": "Ny sent you a message.", "path": "/mentor-hub/messages/3"}
    assert inbox.sentence("chat_unread", payload, "UTC") == "Ny sent you a message."
