"""The time-driven jobs (app/services/reminders.py): each selection rule at its boundaries.

Real database (rolled back per test), the suite's frozen now (Wednesday 2026-11-18 15:00 UTC)
passed as `now`, no Flask. Every booking gets its own mentor and mentee unless a test says
otherwise, so PostgreSQL's no-overlap constraints never get in the way of a boundary.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app.models import (
    Attendance,
    AttendanceOutcome,
    AuditEvent,
    Booking,
    BookingStatus,
    LoginToken,
    Notification,
    NotificationChannel,
    NotificationStatus,
    TokenPurpose,
    User,
)
from app.services import booking as svc
from app.services import reminders as jobs
from app.services.errors import StaleVersion
from tests.conftest import FROZEN_NOW

NOW = FROZEN_NOW
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
EMAIL, IN_APP = NotificationChannel.EMAIL, NotificationChannel.IN_APP
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LONDON = zoneinfo.ZoneInfo("Europe/London")


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture
def make(factories, db_session) -> Callable[..., Booking]:
    """make(starts_at, status=, changed_at=, zone=, minutes=): a fresh mentor and mentee each."""

    def _make(
        starts_at: dt.datetime,
        *,
        status: BookingStatus = BookingStatus.CONFIRMED,
        changed_at: dt.datetime | None = None,
        zone: str = "UTC",
        **kw: Any,
    ) -> Booking:
        mentor = factories.user(name="Maya Mentor", timezone=zone)
        mentee = factories.user(name="Mia Mentee")
        kw.setdefault("topic", "Career change")
        kw.setdefault("meeting_url", "https://zoom.us/j/42")
        booking = factories.booking(mentor, mentee, starts_at=starts_at, status=status, **kw)
        # Booked long ago unless told otherwise: no reminder point precedes the booking.
        booking.created_at = booking.updated_at = changed_at or starts_at - dt.timedelta(days=7)
        db_session.flush()
        return booking

    return _make


def rows(session: Session, booking_id: int, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.booking_id == booking_id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return list(session.scalars(stmt.order_by(Notification.id)))


def recipients(notes: list[Notification]) -> set[tuple[int, NotificationChannel]]:
    return {(n.user_id, n.channel) for n in notes}


def both_channels(*user_ids: int) -> set[tuple[int, NotificationChannel]]:
    return {(u, c) for u in user_ids for c in NotificationChannel}


def hours_of(notes: list[Notification]) -> list[int]:
    return sorted({n.payload["hours"] for n in notes})


def total(session: Session) -> int:
    return session.scalar(select(func.count(Notification.id))) or 0


# -- parse_hours ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("24,1", (24, 1)), (" 1 , 24 ", (24, 1)), ("48", (48,)), ("", ()), ("  ", ())],
)
def test_parse_hours_reads_the_setting_largest_first(raw, expected):
    assert jobs.parse_hours(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("24,x", "'x' in '24,x' is not a whole number"),
        ("1.5", "'1.5' in '1.5' is not a whole number"),
        ("24,,1", "'' in '24,,1' is not a whole number"),
        ("0", "from 1 to 720 hours; got 0"),
        ("-1", "from 1 to 720 hours; got -1"),
        ("721", "from 1 to 720 hours; got 721"),
        ("24,1,24", "lists 24 hours twice"),
    ],
)
def test_parse_hours_refuses_anything_else_clearly(raw, message):
    with pytest.raises(ValueError, match="REMINDER_HOURS") as info:
        jobs.parse_hours(raw)
    assert message in str(info.value)


# -- reminders: when ------------------------------------------------------------------------------


def test_reminder_is_due_at_exactly_start_minus_24_hours(db_session, make):
    booking = make(NOW + 24 * H)

    assert jobs.queue_reminders(db_session, now=NOW - SECOND) == 0
    assert rows(db_session, booking.id) == []
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    notes = rows(db_session, booking.id)
    assert hours_of(notes) == [24]
    assert recipients(notes) == both_channels(booking.mentor_id, booking.mentee_id)


def test_reminder_rows_are_pending_outbox_rows_with_the_session_in_the_payload(db_session, make):
    booking = make(NOW + 24 * H, topic="System design", minutes=45)
    mentor = db_session.get(User, booking.mentor_id)
    mentee = db_session.get(User, booking.mentee_id)
    jobs.queue_reminders(db_session, now=NOW)

    notes = rows(db_session, booking.id)
    assert len(notes) == 4
    epoch = int((NOW + 24 * H).timestamp())
    for note in notes:
        assert note.kind == "reminder"
        assert note.status is NotificationStatus.PENDING
        assert (note.attempts, note.next_attempt_at, note.created_at) == (0, NOW, NOW)
        assert (note.sent_at, note.read_at, note.last_error) == (None, None, None)
        assert note.dedupe_key == (
            f"reminder-24h:{booking.id}:{epoch}:u{note.user_id}:{note.channel.value}"
        )
        role = "mentor" if note.user_id == mentor.id else "mentee"
        assert note.payload == {
            "hours": 24,
            "booking_id": booking.id,
            "status": "confirmed",
            "starts_at": "2026-11-19T15:00:00+00:00",
            "ends_at": "2026-11-19T15:45:00+00:00",
            "mentor_timezone": "UTC",
            "mentor_id": mentor.id,
            "mentor_name": mentor.name,
            "mentee_id": mentee.id,
            "mentee_name": mentee.name,
            "topic": "System design",
            "meeting_url": "https://zoom.us/j/42",
            "recipient_role": role,
            "ical_sequence": 0,
        }


def test_reminder_carries_every_key_a_booking_notification_has_but_the_actor(db_session, make):
    booking = make(NOW + 24 * H)
    jobs.queue_reminders(db_session, now=NOW)
    actor = db_session.get(User, booking.mentee_id)
    written = svc._notify(db_session, booking, "probe", [booking.mentor_id], actor=actor, now=NOW)
    reminder = rows(db_session, booking.id, "reminder")[0]
    assert set(written[0].payload) - set(reminder.payload) == {"actor_id", "actor_name", "reason"}


def test_one_hour_reminder_is_due_at_exactly_start_minus_one_hour(db_session, make):
    booking = make(NOW + H)

    assert jobs.queue_reminders(db_session, now=NOW - SECOND) == 4  # the late 24 h one
    assert hours_of(rows(db_session, booking.id)) == [24]
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    assert hours_of(rows(db_session, booking.id)) == [1, 24]


def test_a_late_job_still_sends_the_24_hour_reminder(db_session, make):
    booking = make(NOW + 10 * H)  # its 24 h point was 14 hours ago; the job was down
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    assert hours_of(rows(db_session, booking.id)) == [24]


def test_once_the_one_hour_point_passed_only_the_one_hour_reminder_is_sent(db_session, make):
    booking = make(NOW + 30 * dt.timedelta(minutes=1))  # the job was down for a day
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    assert hours_of(rows(db_session, booking.id)) == [1]


@pytest.mark.parametrize("offset", [dt.timedelta(0), -SECOND, -H])
def test_no_reminder_once_the_session_has_started(db_session, make, offset):
    booking = make(NOW + offset)
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert rows(db_session, booking.id) == []


def test_a_session_one_second_from_its_start_still_gets_its_reminder(db_session, make):
    booking = make(NOW + SECOND)
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    assert hours_of(rows(db_session, booking.id)) == [1]


@pytest.mark.parametrize(
    "status",
    [
        BookingStatus.REQUESTED,
        BookingStatus.CANCELLED,
        BookingStatus.DECLINED,
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
    ],
)
def test_only_confirmed_sessions_get_reminders(db_session, make, status):
    booking = make(NOW + 2 * H, status=status)
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert rows(db_session, booking.id) == []


def test_sessions_further_away_than_the_largest_offset_wait(db_session, make):
    booking = make(NOW + 24 * H + SECOND)
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert rows(db_session, booking.id) == []


def test_the_offsets_come_from_the_argument(db_session, make):
    booking = make(NOW + 48 * H)
    assert jobs.queue_reminders(db_session, now=NOW, hours=(24, 1)) == 0
    assert jobs.queue_reminders(db_session, now=NOW, hours=(1, 48)) == 4
    assert hours_of(rows(db_session, booking.id)) == [48]
    assert jobs.queue_reminders(db_session, now=NOW, hours=()) == 0
    with pytest.raises(ValueError, match="at least 1"):
        jobs.queue_reminders(db_session, now=NOW, hours=(24, 0))


# -- reminders: booked, confirmed or moved late ---------------------------------------------------


def test_no_24_hour_reminder_for_a_session_booked_after_that_point(db_session, make):
    booking = make(NOW + 10 * H, changed_at=NOW)  # booked just now, 10 hours ahead
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert jobs.queue_reminders(db_session, now=NOW + 9 * H) == 4
    assert hours_of(rows(db_session, booking.id)) == [1]


def test_booked_exactly_at_the_reminder_point_still_gets_it(db_session, make):
    booking = make(NOW + 24 * H, changed_at=NOW)
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    assert hours_of(rows(db_session, booking.id)) == [24]


def test_a_request_confirmed_after_the_24_hour_point_gets_the_one_hour_reminder_only(
    db_session, make
):
    booking = make(NOW + 10 * H, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    assert jobs.queue_reminders(db_session, now=NOW) == 0  # still a request
    mentor = db_session.get(User, booking.mentor_id)
    svc.confirm(db_session, mentor, booking, version=booking.version, now=NOW)

    assert jobs.queue_reminders(db_session, now=NOW) == 0  # the confirmation just told them
    assert jobs.queue_reminders(db_session, now=NOW + 9 * H) == 4
    assert hours_of(rows(db_session, booking.id, "reminder")) == [1]


# -- reminders: idempotent, and a moved session ---------------------------------------------------


def test_running_twice_writes_nothing_the_second_time(db_session, make):
    first, second = make(NOW + 20 * H), make(NOW + 30 * dt.timedelta(minutes=1))
    assert jobs.queue_reminders(db_session, now=NOW) == 8
    before = total(db_session)
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert jobs.queue_reminders(db_session, now=NOW + dt.timedelta(minutes=5)) == 0
    assert total(db_session) == before
    assert len(rows(db_session, first.id)) == len(rows(db_session, second.id)) == 4


def test_a_moved_session_gets_fresh_reminders_for_its_new_time(db_session, make):
    booking = make(NOW + 20 * H)
    assert jobs.queue_reminders(db_session, now=NOW) == 4
    old_keys = {n.dedupe_key for n in rows(db_session, booking.id)}

    # Moved now to three days ahead: a new start, a new set at its own 24 h point.
    booking.starts_at = NOW + 3 * DAY
    booking.ends_at = booking.starts_at + H
    booking.updated_at = NOW
    db_session.flush()
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert jobs.queue_reminders(db_session, now=NOW + 2 * DAY - SECOND) == 0
    assert jobs.queue_reminders(db_session, now=NOW + 2 * DAY) == 4
    notes = rows(db_session, booking.id)
    new = [n for n in notes if n.dedupe_key not in old_keys]
    assert len(notes) == 8 and len(new) == 4
    epoch = int((NOW + 3 * DAY).timestamp())
    assert all(f":{booking.id}:{epoch}:" in n.dedupe_key for n in new)
    assert {n.payload["starts_at"] for n in new} == {"2026-11-21T15:00:00+00:00"}
    assert recipients(new) == both_channels(booking.mentor_id, booking.mentee_id)


def test_a_session_moved_inside_the_24_hours_gets_no_second_24_hour_reminder(db_session, make):
    booking = make(NOW + 20 * H)
    jobs.queue_reminders(db_session, now=NOW)
    booking.starts_at = NOW + 22 * H  # moved now: the reschedule notice just told them
    booking.ends_at = booking.starts_at + H
    booking.updated_at = NOW
    db_session.flush()
    assert jobs.queue_reminders(db_session, now=NOW) == 0
    assert jobs.queue_reminders(db_session, now=NOW + 21 * H) == 4
    new = [n for n in rows(db_session, booking.id) if n.payload["hours"] == 1]
    assert {n.payload["starts_at"] for n in new} == {"2026-11-19T13:00:00+00:00"}


def test_many_due_sessions_are_queued_in_batches(db_session, make):
    # Ties on starts_at across batch boundaries must neither skip nor repeat a booking.
    same = NOW + 5 * H
    bookings = [make(same) for _ in range(5)] + [make(NOW + 6 * H), make(NOW + 20 * H)]
    assert jobs.queue_reminders(db_session, now=NOW, batch_size=2) == 4 * len(bookings)
    for booking in bookings:
        assert recipients(rows(db_session, booking.id)) == both_channels(
            booking.mentor_id, booking.mentee_id
        )
    assert jobs.queue_reminders(db_session, now=NOW, batch_size=2) == 0
    with pytest.raises(ValueError, match="batch_size"):
        jobs.queue_reminders(db_session, now=NOW, batch_size=0)


def test_only_the_missing_rows_of_a_booking_are_written(db_session, make):
    booking = make(NOW + 20 * H)
    jobs.queue_reminders(db_session, now=NOW)
    lost = rows(db_session, booking.id)[0]
    key = lost.dedupe_key
    db_session.delete(lost)
    db_session.flush()
    assert jobs.queue_reminders(db_session, now=NOW) == 1
    assert key in {n.dedupe_key for n in rows(db_session, booking.id)}


def test_naive_now_is_refused(db_session):
    naive = dt.datetime(2026, 11, 18, 15)  # noqa: DTZ001 - the point of the test
    for job in (
        jobs.queue_reminders,
        jobs.queue_attendance_due,
        jobs.queue_unconfirmed_prompts,
        jobs.expire_stale_requests,
        jobs.cleanup_sign_in_tokens,
    ):
        with pytest.raises(ValueError, match="naive"):
            job(db_session, now=naive)


# -- reminders across daylight-saving changes -----------------------------------------------------


def _due_exactly_at(session: Session, booking: Booking, due: dt.datetime, hours: int) -> None:
    assert jobs.queue_reminders(session, now=due - SECOND) == 0
    assert jobs.queue_reminders(session, now=due) == 4
    written = [n for n in rows(session, booking.id) if n.payload["hours"] == hours]
    assert len(written) == 4


def test_new_york_session_the_morning_after_fall_back(db_session, make):
    # Monday 2026-11-02 09:00 EST (clocks fell back at 02:00 on Sunday 1 November).
    start = dt.datetime(2026, 11, 2, 9, tzinfo=NEW_YORK).astimezone(dt.UTC)
    assert start == dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC)
    booking = make(start, zone="America/New_York")
    _due_exactly_at(db_session, booking, dt.datetime(2026, 11, 1, 14, tzinfo=dt.UTC), 24)
    # ... which is 09:00 EST on the Sunday, after the change.
    due_local = dt.datetime(2026, 11, 1, 14, tzinfo=dt.UTC).astimezone(NEW_YORK)
    assert (due_local.hour, due_local.tzname()) == (9, "EST")
    _due_exactly_at(db_session, booking, dt.datetime(2026, 11, 2, 13, tzinfo=dt.UTC), 1)


def test_new_york_session_on_the_day_of_fall_back_is_24_real_hours_not_wall_clock(db_session, make):
    # Sunday 2026-11-01 09:00 EST = 14:00 UTC; 24 hours earlier it was 10:00 EDT on Saturday,
    # not 09:00 EDT (13:00 UTC), which a wall-clock "same time yesterday" would give.
    start = dt.datetime(2026, 11, 1, 9, tzinfo=NEW_YORK).astimezone(dt.UTC)
    assert start == dt.datetime(2026, 11, 1, 14, tzinfo=dt.UTC)
    booking = make(start, zone="America/New_York")
    wall_clock = dt.datetime(2026, 10, 31, 9, tzinfo=NEW_YORK).astimezone(dt.UTC)
    assert wall_clock == dt.datetime(2026, 10, 31, 13, tzinfo=dt.UTC)
    assert jobs.queue_reminders(db_session, now=wall_clock) == 0
    _due_exactly_at(db_session, booking, dt.datetime(2026, 10, 31, 14, tzinfo=dt.UTC), 24)
    assert start - dt.datetime(2026, 10, 31, 14, tzinfo=dt.UTC) == 24 * H


def test_london_session_on_the_day_of_spring_forward(db_session, make):
    # Sunday 2026-03-29 09:00 BST = 08:00 UTC (clocks went forward at 01:00 UTC). 24 hours
    # earlier is 08:00 GMT on Saturday, not 09:00 GMT (wall clock, an hour late).
    start = dt.datetime(2026, 3, 29, 9, tzinfo=LONDON).astimezone(dt.UTC)
    assert start == dt.datetime(2026, 3, 29, 8, tzinfo=dt.UTC)
    booking = make(start, zone="Europe/London")
    _due_exactly_at(db_session, booking, dt.datetime(2026, 3, 28, 8, tzinfo=dt.UTC), 24)
    wall_clock = dt.datetime(2026, 3, 28, 9, tzinfo=LONDON).astimezone(dt.UTC)
    assert wall_clock == dt.datetime(2026, 3, 28, 9, tzinfo=dt.UTC)
    _due_exactly_at(db_session, booking, dt.datetime(2026, 3, 29, 7, tzinfo=dt.UTC), 1)


def test_london_session_the_morning_after_spring_forward(db_session, make):
    start = dt.datetime(2026, 3, 30, 9, tzinfo=LONDON).astimezone(dt.UTC)
    assert start == dt.datetime(2026, 3, 30, 8, tzinfo=dt.UTC)
    booking = make(start, zone="Europe/London")
    due = dt.datetime(2026, 3, 29, 8, tzinfo=dt.UTC)
    assert due.astimezone(LONDON).hour == 9  # 09:00 BST on the Sunday
    _due_exactly_at(db_session, booking, due, 24)


# -- attendance due -------------------------------------------------------------------------------


def test_attendance_is_due_to_the_mentor_when_the_session_ends(db_session, make):
    booking = make(NOW - H, minutes=60)  # ends exactly now
    assert jobs.queue_attendance_due(db_session, now=NOW - SECOND) == 0
    assert jobs.queue_attendance_due(db_session, now=NOW) == 2
    notes = rows(db_session, booking.id)
    assert recipients(notes) == both_channels(booking.mentor_id)
    assert {n.kind for n in notes} == {"attendance_due"}
    assert {n.dedupe_key for n in notes} == {
        f"attendance-due:{booking.id}:u{booking.mentor_id}:email",
        f"attendance-due:{booking.id}:u{booking.mentor_id}:in_app",
    }
    payload = notes[0].payload
    assert payload["recipient_role"] == "mentor"
    assert payload["window_closes_at"] == "2026-12-02T15:00:00+00:00"
    assert payload["ends_at"] == "2026-11-18T15:00:00+00:00"


def test_attendance_is_due_once(db_session, make):
    booking = make(NOW - 3 * H)
    assert jobs.queue_attendance_due(db_session, now=NOW) == 2
    assert jobs.queue_attendance_due(db_session, now=NOW) == 0
    assert jobs.queue_attendance_due(db_session, now=NOW + 3 * DAY) == 0
    assert len(rows(db_session, booking.id)) == 2


def test_attendance_due_stops_at_the_end_of_the_window(db_session, make):
    ended = NOW - 14 * DAY
    booking = make(ended - H)
    assert jobs.queue_attendance_due(db_session, now=NOW) == 0  # exactly 14 days: closed
    assert jobs.queue_attendance_due(db_session, now=NOW - SECOND) == 2
    assert len(rows(db_session, booking.id)) == 2


def test_the_attendance_window_comes_from_the_argument(db_session, make):
    booking = make(NOW - 3 * DAY)
    assert jobs.queue_attendance_due(db_session, now=NOW, window_days=2) == 0
    assert jobs.queue_attendance_due(db_session, now=NOW, window_days=7) == 2
    assert len(rows(db_session, booking.id)) == 2


def test_no_attendance_prompt_when_attendance_exists(db_session, make):
    booking = make(NOW - 2 * H)
    db_session.add(
        Attendance(
            booking_id=booking.id,
            participant_id=booking.mentee_id,
            outcome=AttendanceOutcome.ATTENDED,
            minutes=60,
            notes="",
            recorded_by_id=booking.mentor_id,
            recorded_at=NOW - H,
        )
    )
    db_session.flush()
    assert jobs.queue_attendance_due(db_session, now=NOW) == 0


@pytest.mark.parametrize(
    "status",
    [
        BookingStatus.REQUESTED,
        BookingStatus.CANCELLED,
        BookingStatus.DECLINED,
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
    ],
)
def test_attendance_prompt_only_for_confirmed_sessions(db_session, make, status):
    make(NOW - 2 * H, status=status)
    assert jobs.queue_attendance_due(db_session, now=NOW) == 0


def test_no_attendance_prompt_while_the_session_runs(db_session, make):
    make(NOW - 30 * dt.timedelta(minutes=1), minutes=60)
    assert jobs.queue_attendance_due(db_session, now=NOW) == 0


# -- unconfirmed requests -------------------------------------------------------------------------


def test_unconfirmed_request_prompts_the_mentor_after_24_hours(db_session, make):
    booking = make(NOW + 3 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 24 * H)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW - SECOND) == 0
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 2
    notes = rows(db_session, booking.id)
    assert recipients(notes) == both_channels(booking.mentor_id)
    assert {n.kind for n in notes} == {"request_unconfirmed"}
    assert {n.dedupe_key for n in notes} == {
        f"unconfirmed:{booking.id}:v1:u{booking.mentor_id}:email",
        f"unconfirmed:{booking.id}:v1:u{booking.mentor_id}:in_app",
    }
    assert notes[0].payload["requested_at"] == "2026-11-17T15:00:00+00:00"
    assert notes[0].payload["waiting_hours"] == 24
    assert notes[0].payload["status"] == "requested"


def test_unconfirmed_prompt_once_per_version(db_session, make):
    booking = make(NOW + 5 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 2
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW + DAY) == 0

    # The mentee moved it: a new version, and a new prompt only after another 24 hours.
    booking.version += 1
    booking.starts_at += H
    booking.ends_at += H
    booking.updated_at = NOW + DAY
    db_session.flush()
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW + 2 * DAY - SECOND) == 0
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW + 2 * DAY) == 2
    versions = {n.dedupe_key.split(":")[2] for n in rows(db_session, booking.id)}
    assert versions == {"v1", "v2"}


def test_unconfirmed_wait_comes_from_the_argument(db_session, make):
    make(NOW + 3 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 6 * H)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 0
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW, after_hours=6) == 2


@pytest.mark.parametrize("offset", [dt.timedelta(0), -H])
def test_no_unconfirmed_prompt_once_the_session_has_started(db_session, make, offset):
    make(NOW + offset, status=BookingStatus.REQUESTED, changed_at=NOW - 3 * DAY)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 0


@pytest.mark.parametrize(
    "status", [BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.DECLINED]
)
def test_unconfirmed_prompt_only_for_requests(db_session, make, status):
    make(NOW + 3 * DAY, status=status, changed_at=NOW - 3 * DAY)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 0


# -- expiry of unanswered requests ----------------------------------------------------------------


def test_a_request_unanswered_at_its_start_is_declined(db_session, make):
    booking = make(NOW, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    assert jobs.expire_stale_requests(db_session, now=NOW - SECOND) == 0
    assert jobs.expire_stale_requests(db_session, now=NOW) == 1

    # The object the session already held shows the new state.
    assert booking.status is BookingStatus.DECLINED
    db_session.expire_all()
    stored = db_session.get(Booking, booking.id)
    assert stored.status is BookingStatus.DECLINED
    assert stored.decline_reason == "Not confirmed before the session's start time."
    assert (stored.version, stored.updated_at) == (2, NOW)

    events = list(
        db_session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking.id
            )
        )
    )
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.actor_id, event.at) == ("booking.expired", None, NOW)
    assert event.before == {"status": "requested", "version": 1}
    assert event.after == {
        "status": "declined",
        "version": 2,
        "reason": "Not confirmed before the session's start time.",
    }

    notes = rows(db_session, booking.id)
    assert recipients(notes) == both_channels(booking.mentee_id)
    assert {n.kind for n in notes} == {"booking_declined"}
    assert {n.dedupe_key for n in notes} == {
        svc.dedupe_key("booking_declined", stored, booking.mentee_id, channel)
        for channel in NotificationChannel
    }
    assert all(f":v2:u{booking.mentee_id}:" in n.dedupe_key for n in notes)
    payload = notes[0].payload
    assert payload["reason"] == "Not confirmed before the session's start time."
    assert (payload["actor_id"], payload["actor_name"]) == (None, "MentorHub")
    assert (payload["status"], payload["recipient_role"], payload["expired"]) == (
        "declined",
        "mentee",
        True,
    )


def test_expiry_runs_once(db_session, make):
    booking = make(NOW - H, status=BookingStatus.REQUESTED)
    assert jobs.expire_stale_requests(db_session, now=NOW, actor_label="The program") == 1
    assert jobs.expire_stale_requests(db_session, now=NOW) == 0
    assert jobs.expire_stale_requests(db_session, now=NOW + DAY) == 0
    notes = rows(db_session, booking.id)
    assert len(notes) == 2
    assert notes[0].payload["actor_name"] == "The program"


def test_expired_request_can_no_longer_be_confirmed(db_session, make):
    booking = make(NOW - H, status=BookingStatus.REQUESTED)
    jobs.expire_stale_requests(db_session, now=NOW)
    mentor = db_session.get(User, booking.mentor_id)
    with pytest.raises(StaleVersion), db_session.begin_nested():
        svc.confirm(db_session, mentor, booking, version=1, now=NOW - 2 * H)


@pytest.mark.parametrize(
    ("status", "offset"),
    [
        (BookingStatus.REQUESTED, SECOND),  # not started yet
        (BookingStatus.CONFIRMED, -H),
        (BookingStatus.CANCELLED, -H),
    ],
)
def test_expiry_leaves_other_sessions_alone(db_session, make, status, offset):
    booking = make(NOW + offset, status=status)
    assert jobs.expire_stale_requests(db_session, now=NOW) == 0
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).status is status
    assert rows(db_session, booking.id) == []


def test_expiry_is_a_compare_and_swap(db_session, make, monkeypatch):
    # The request changed (version 2) after the job read it at version 1: nothing happens.
    booking = make(NOW - H, status=BookingStatus.REQUESTED)
    real = jobs._batches

    def batches(session, where, batch_size):
        read = list(real(session, where, batch_size))
        booking.version = 2  # say, the mentor set the meeting link meanwhile
        booking.updated_at = NOW - 30 * dt.timedelta(minutes=1)
        session.flush()
        yield from read

    monkeypatch.setattr(jobs, "_batches", batches)
    assert jobs.expire_stale_requests(db_session, now=NOW) == 0
    db_session.expire_all()
    stored = db_session.get(Booking, booking.id)
    assert (stored.status, stored.version) == (BookingStatus.REQUESTED, 2)
    assert rows(db_session, booking.id) == []
    assert db_session.scalar(select(func.count(AuditEvent.id))) == 0

    monkeypatch.setattr(jobs, "_batches", real)  # the next run sees version 2 and expires it
    assert jobs.expire_stale_requests(db_session, now=NOW) == 1


def test_expiry_in_batches(db_session, make):
    bookings = [make(NOW - H, status=BookingStatus.REQUESTED) for _ in range(5)]
    assert jobs.expire_stale_requests(db_session, now=NOW, batch_size=2) == 5
    for booking in bookings:
        assert len(rows(db_session, booking.id)) == 2


# -- sign-in tokens -------------------------------------------------------------------------------


def test_cleanup_deletes_tokens_expired_more_than_a_day_ago(db_session, factories):
    user = factories.user()

    def token(name: str, expires_at: dt.datetime, used: bool = False) -> LoginToken:
        row = LoginToken(
            token_hash=name.ljust(64, "0"),
            user_id=user.id,
            purpose=TokenPurpose.SIGN_IN,
            created_at=expires_at - 15 * dt.timedelta(minutes=1),
            expires_at=expires_at,
            used_at=expires_at - dt.timedelta(minutes=5) if used else None,
        )
        db_session.add(row)
        return row

    token("a", NOW - DAY - SECOND)  # gone
    token("b", NOW - 3 * DAY, used=True)  # gone, used or not
    token("c", NOW - DAY)  # exactly a day: kept
    token("d", NOW - H, used=True)  # kept
    token("e", NOW + 10 * dt.timedelta(minutes=1))  # still valid
    db_session.flush()

    assert jobs.cleanup_sign_in_tokens(db_session, now=NOW) == 2
    left = sorted(t[0] for t in db_session.scalars(select(LoginToken.token_hash)))
    assert left == ["c", "d", "e"]
    assert jobs.cleanup_sign_in_tokens(db_session, now=NOW) == 0
    assert jobs.cleanup_sign_in_tokens(db_session, now=NOW, keep=dt.timedelta(0)) == 2


# -- the prefilter: a booking with every row it should have is not read again ------------------


def test_the_sql_keys_build_exactly_the_python_keys_on_this_database(db_session, make):
    # An odd start (seconds and microseconds) and a version past 9: the epoch and the numbers
    # must come out as Python writes them, or the prefilter would never skip anything.
    booking = make(NOW + 20 * H + dt.timedelta(seconds=7, microseconds=654321))
    booking.version = 12
    db_session.flush()
    dialect = db_session.get_bind().dialect.name

    def sql(keys: list[Any]) -> list[str]:
        return list(db_session.execute(select(*keys).where(Booking.id == booking.id)).one())

    people = (booking.mentor_id, booking.mentee_id)
    assert sql(jobs._reminder_keys_sql(dialect, 24)) == [
        jobs.reminder_key(24, booking.id, booking.starts_at, uid, channel)
        for uid in people
        for channel in (EMAIL, IN_APP)
    ]
    assert sql(jobs._unconfirmed_keys_sql()) == [
        jobs.unconfirmed_key(booking.id, 12, booking.mentor_id, channel)
        for channel in (EMAIL, IN_APP)
    ]
    assert sql(jobs._attendance_due_keys_sql()) == [
        jobs.attendance_due_key(booking.id, booking.mentor_id, channel)
        for channel in (EMAIL, IN_APP)
    ]


@pytest.mark.parametrize(
    ("job", "starts_in", "status", "changed_ago"),
    [
        (jobs.queue_reminders, 20 * H, BookingStatus.CONFIRMED, None),
        (jobs.queue_unconfirmed_prompts, 3 * DAY, BookingStatus.REQUESTED, 2 * DAY),
        (jobs.queue_attendance_due, -3 * H, BookingStatus.CONFIRMED, None),
    ],
)
def test_a_booking_with_all_its_rows_is_no_longer_a_candidate(
    db_session, make, monkeypatch, job, starts_in, status, changed_ago
):
    booking = make(
        NOW + starts_in,
        status=status,
        changed_at=NOW - changed_ago if changed_ago is not None else None,
    )
    asked: list[list[int]] = []
    real = jobs._existing_keys

    def spy(session: Session, booking_ids: Any, kind: str) -> set[str]:
        asked.append(list(booking_ids))
        return real(session, booking_ids, kind)

    monkeypatch.setattr(jobs, "_existing_keys", spy)
    assert job(db_session, now=NOW) > 0
    assert asked == [[booking.id]]
    asked.clear()
    # The scan itself leaves it out: no batch, no key lookup, nothing written.
    assert job(db_session, now=NOW) == 0
    assert asked == []


def test_a_request_whose_version_changed_is_prompted_again_whatever_its_time(db_session, make):
    booking = make(NOW + 5 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 2
    # A new version written without a new updated_at (an import, a direct write): the
    # prefilter goes by the version's own keys, so it is not hidden behind the old prompt.
    db_session.execute(
        update(Booking)
        .where(Booking.id == booking.id)
        .values(version=2, updated_at=NOW - 2 * DAY)  # as it was, not the onupdate's clock
    )
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 2
    versions = sorted(n.dedupe_key.split(":")[2] for n in rows(db_session, booking.id))
    assert versions == ["v1", "v1", "v2", "v2"]


def test_a_request_missing_one_of_its_prompt_rows_gets_it_back(db_session, make):
    booking = make(NOW + 5 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    jobs.queue_unconfirmed_prompts(db_session, now=NOW)
    lost = rows(db_session, booking.id)[1]
    key = lost.dedupe_key
    db_session.delete(lost)
    db_session.flush()
    assert jobs.queue_unconfirmed_prompts(db_session, now=NOW) == 1
    assert key in {n.dedupe_key for n in rows(db_session, booking.id)}


def test_the_waiting_requests_are_read_with_the_partial_index_predicate_as_written(
    db_session, make
):
    # A bound parameter for the status would hide ix_bookings_requested_waiting from a
    # prepared (generic) plan on PostgreSQL: the predicate goes in as a literal.
    make(NOW + 5 * DAY, status=BookingStatus.REQUESTED, changed_at=NOW - 2 * DAY)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        jobs.queue_unconfirmed_prompts(db_session, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    scan = next(s for s in statements if "NOT (EXISTS" in s or "NOT EXISTS" in s)
    assert "bookings.status = 'requested'" in scan
