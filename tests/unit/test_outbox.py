"""The outbox's rules without a mail server (app/services/outbox.py, notification_mail.py,
mailer.classify): backoff and jitter, permanent vs temporary failures, the claim, the
outcome of each kind of failure, the admin's retry, and the words of each kind of mail.

A fake courier stands in for SMTP here; tests/integration/test_outbox_smtp.py and
test_notification_mail.py use a real server.
"""

from __future__ import annotations

import datetime as dt
import random
import smtplib
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import (
    AuditEvent,
    Booking,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationStatus,
    User,
)
from app.services import mailer, notification_mail, outbox
from app.services.errors import InvalidTransition, NotAllowed, NotFound
from tests.factories import Factories

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


class FixedRng(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


STEADY = FixedRng(0.5)  # jitter factor exactly 1.0

# -- backoff and jitter ---------------------------------------------------------------------------


def test_backoff_doubles_from_the_base_and_is_capped():
    settings = outbox.DeliverySettings(backoff_base_seconds=60, backoff_max_seconds=3600)
    delays = [outbox.backoff_seconds(n, settings, STEADY) for n in range(1, 10)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_backoff_never_overflows():
    settings = outbox.DeliverySettings()
    assert outbox.backoff_seconds(5000, settings, STEADY) == settings.backoff_max_seconds


@pytest.mark.parametrize(("value", "factor"), [(0.0, 0.5), (0.5, 1.0), (0.25, 0.75)])
def test_jitter_factor_maps_the_unit_interval_to_half_to_one_and_a_half(value, factor):
    assert outbox.jitter_factor(FixedRng(value)) == factor


def test_jitter_stays_within_half_and_one_and_a_half_of_the_delay():
    rng = random.Random(42)
    settings = outbox.DeliverySettings(backoff_base_seconds=60)
    samples = [outbox.backoff_seconds(3, settings, rng) for _ in range(2000)]
    assert all(120 <= s < 360 for s in samples)
    assert min(samples) < 140 and max(samples) > 340, "the whole range is used"
    capped = [
        outbox.backoff_seconds(30, settings, rng) / settings.backoff_max_seconds for _ in range(500)
    ]
    assert all(0.5 <= f < 1.5 for f in capped), "jitter applies to the capped delay too"


def test_settings_come_from_the_app_config_names():
    settings = outbox.DeliverySettings.from_config(
        {
            "NOTIFY_MAX_ATTEMPTS": 5,
            "NOTIFY_BATCH_SIZE": 20,
            "NOTIFY_BACKOFF_BASE_SECONDS": 30,
            "NOTIFY_BACKOFF_MAX_SECONDS": 600,
            "NOTIFY_CLAIM_SECONDS": 120,
        }
    )
    assert settings == outbox.DeliverySettings(
        max_attempts=5,
        batch_size=20,
        backoff_base_seconds=30,
        backoff_max_seconds=600,
        claim_seconds=120,
    )
    assert outbox.DeliverySettings.from_config({}) == outbox.DeliverySettings()


# -- permanent or temporary -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "permanent", "code"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.1.1 no such user")}), True, 550),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (553, b"5.1.3 bad address")}), True, 553),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (451, b"4.3.0 try later")}), False, 451),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (452, b"4.2.2 mailbox full")}), False, 452),
        # RFC 5321 4.5.3.1.10: 552 at RCPT is to be treated as temporary.
        (smtplib.SMTPRecipientsRefused({"a@x.org": (552, b"5.2.2 mailbox full")}), False, 552),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 sender rejected", "no-reply@x"), True, 553),
        (smtplib.SMTPSenderRefused(451, b"4.7.1 try later", "no-reply@x"), False, 451),
        (smtplib.SMTPDataError(554, b"5.6.0 spam"), True, 554),
        (smtplib.SMTPDataError(452, b"4.3.1 insufficient storage"), False, 452),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), False, 535),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False, None),
        (ConnectionRefusedError(111, "Connection refused"), False, None),
        (TimeoutError("timed out"), False, None),
    ],
)
def test_only_a_5xx_refusal_of_sender_recipient_or_data_is_permanent(exc, permanent, code):
    error = mailer.classify(exc)
    assert (error.permanent, error.code) == (permanent, code)
    assert str(error)


def test_the_error_text_keeps_the_server_s_reply():
    error = mailer.classify(
        smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.1.1 <a@x.org>: no\r\n such user")})
    )
    assert str(error) == "550 5.1.1 <a@x.org>: no such user (recipient a@x.org refused)"


def test_headers_never_carry_line_breaks():
    msg = mailer.build_message(
        mailer.MailSettings(sender="MentorHub <no-reply@x.org>"),
        to="a@x.org",
        subject="Hello\r\nBcc: victim@x.org",
        text="hi",
        headers={"List-Unsubscribe": "<https://x.org/u>\nX-Evil: 1"},
        now=NOW,
    )
    assert msg["Subject"] == "Hello Bcc: victim@x.org"
    assert msg["Bcc"] is None and msg["X-Evil"] is None


# -- a fake courier and real rows -----------------------------------------------------------------


class FakeCourier:
    def __init__(self, outcome: Any = None) -> None:
        self.outcome = outcome  # None: sent; an exception (or a callable returning one): raised
        self.sent: list[int] = []
        self.closed = 0

    def send(self, notification, recipient, booking, *, now):  # type: ignore[no-untyped-def]
        outcome = self.outcome(notification) if callable(self.outcome) else self.outcome
        if outcome is not None:
            raise outcome
        self.sent.append(notification.id)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint")


def email_row(
    session: Session,
    user: User,
    *,
    key: str,
    status: NotificationStatus = NotificationStatus.PENDING,
    attempts: int = 0,
    next_at: dt.datetime | None = NOW,
    channel: NotificationChannel = NotificationChannel.EMAIL,
    kind: str = "program_news",
    booking: Booking | None = None,
    payload: dict[str, Any] | None = None,
    error: str | None = None,
) -> Notification:
    row = Notification(
        user_id=user.id,
        kind=kind,
        booking_id=booking.id if booking else None,
        channel=channel,
        payload=payload or {},
        dedupe_key=key,
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        last_error=error,
        created_at=NOW,
    )
    session.add(row)
    session.commit()
    return row


def fresh(session: Session, row: Notification) -> Notification:
    found = session.scalars(
        select(Notification)
        .where(Notification.id == row.id)
        .execution_options(populate_existing=True)
    ).one()
    return found


def deliver(factory, courier, *, now=NOW, rng=STEADY, **settings: Any) -> outbox.DeliveryReport:
    return outbox.deliver_due(
        factory, now=now, settings=outbox.DeliverySettings(**settings), courier=courier, rng=rng
    )


def test_a_sent_row_is_marked_and_the_courier_closed(db_session, factories, factory):
    user = factories.user()
    row = email_row(db_session, user, key="a")
    courier = FakeCourier()
    report = deliver(factory, courier)
    assert (report.claimed, report.sent, courier.sent, courier.closed) == (1, 1, [row.id], 1)
    row = fresh(db_session, row)
    assert (row.status, row.attempts, row.sent_at, row.next_attempt_at, row.last_error) == (
        NotificationStatus.SENT,
        1,
        NOW,
        None,
        None,
    )


def test_only_due_email_rows_are_claimed(db_session, factories, factory):
    user = factories.user()
    due = email_row(db_session, user, key="due")
    retry_due = email_row(
        db_session, user, key="failed-due", status=NotificationStatus.FAILED, attempts=1
    )
    email_row(db_session, user, key="later", next_at=NOW + dt.timedelta(seconds=1))
    email_row(db_session, user, key="in-app", channel=NotificationChannel.IN_APP)
    email_row(db_session, user, key="sent", status=NotificationStatus.SENT)
    email_row(db_session, user, key="dead", status=NotificationStatus.DEAD)
    courier = FakeCourier()
    deliver(factory, courier)
    assert sorted(courier.sent) == sorted([due.id, retry_due.id])


def test_a_temporary_failure_is_failed_with_a_backoff(db_session, factories, factory):
    row = email_row(db_session, factories.user(), key="t")
    courier = FakeCourier(mailer.MailError("451 later", code=451))
    report = deliver(factory, courier)
    assert report.retrying == 1
    row = fresh(db_session, row)
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.FAILED, 1, "451 later")
    assert row.next_attempt_at == NOW + dt.timedelta(seconds=60)


def test_a_permanent_failure_is_dead_at_once(db_session, factories, factory):
    row = email_row(db_session, factories.user(), key="p")
    deliver(factory, FakeCourier(mailer.MailError("550 no", permanent=True, code=550)))
    row = fresh(db_session, row)
    assert (row.status, row.attempts, row.next_attempt_at) == (NotificationStatus.DEAD, 1, None)


def test_the_last_attempt_s_failure_is_dead(db_session, factories, factory):
    row = email_row(
        db_session, factories.user(), key="m", status=NotificationStatus.FAILED, attempts=2
    )
    deliver(factory, FakeCourier(mailer.MailError("451 later")), max_attempts=3)
    row = fresh(db_session, row)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 3)
    assert row.last_error == "451 later (gave up after 3 attempts)"


def test_a_bug_while_composing_is_temporary_and_logged(db_session, factories, factory, caplog):
    row = email_row(db_session, factories.user(), key="b")
    deliver(factory, FakeCourier(KeyError("mentor_name")))
    row = fresh(db_session, row)
    assert (row.status, row.last_error) == (NotificationStatus.FAILED, "KeyError: 'mentor_name'")
    assert "composing or sending notification" in caplog.text


def test_a_mail_that_should_not_go_out_is_skipped_not_dead(db_session, factories, factory):
    row = email_row(db_session, factories.user(), key="s")
    report = deliver(factory, FakeCourier(outbox.NotSent("the session had already started")))
    assert (report.skipped, report.dead, report.sent) == (1, 0, 0)
    row = fresh(db_session, row)
    assert (row.status, row.sent_at, row.next_attempt_at, row.last_error) == (
        NotificationStatus.SENT,
        None,
        None,
        "skipped: the session had already started",
    )


@pytest.mark.parametrize(
    ("kind", "opted_out", "mailed"),
    [
        ("reminder", ["reminders"], False),
        ("attendance_due", ["attendance"], False),
        ("request_unconfirmed", ["unconfirmed"], False),
        ("reminder", ["attendance"], True),
        ("booking_cancelled", ["reminders", "attendance", "unconfirmed"], True),
        ("mentor_approved", ["reminders", "attendance", "unconfirmed"], True),
    ],
)
def test_email_preferences_are_honoured_and_session_changes_always_go(
    db_session, factories, factory, kind, opted_out, mailed
):
    row = email_row(db_session, factories.user(email_opt_out=opted_out), key="pref", kind=kind)
    courier = FakeCourier()
    report = deliver(factory, courier)
    assert (courier.sent == [row.id]) is mailed
    stored = fresh(db_session, row)
    assert stored.status is NotificationStatus.SENT
    if not mailed:
        assert report.skipped == 1 and stored.sent_at is None
        assert (stored.last_error or "").startswith("skipped: the recipient turned off ")


def test_a_deactivated_recipient_is_not_mailed(db_session, factories, factory):
    user = factories.user(is_active=False)
    row = email_row(db_session, user, key="d")
    courier = FakeCourier()
    deliver(factory, courier)
    assert courier.sent == []
    row = fresh(db_session, row)
    assert (row.status, row.last_error) == (NotificationStatus.DEAD, "recipient deactivated")


def test_a_claim_hides_the_row_until_it_runs_out(db_session, factories, factory):
    row = email_row(db_session, factories.user(), key="c")
    claimed = outbox._claim(factory, NOW, outbox.DeliverySettings(claim_seconds=300))
    assert [c.notification.id for c in claimed] == [row.id]
    stored = fresh(db_session, row)
    assert stored.attempts == 1
    assert stored.next_attempt_at == NOW + dt.timedelta(seconds=300)
    assert outbox.in_flight(stored, NOW)
    assert outbox._claim(factory, NOW + dt.timedelta(seconds=299), outbox.DeliverySettings()) == []
    again = outbox._claim(factory, NOW + dt.timedelta(seconds=300), outbox.DeliverySettings())
    assert [c.attempts for c in again] == [2]


def test_a_sender_whose_claim_was_taken_over_cannot_overwrite_the_newer_attempt(
    db_session, factories, factory
):
    row = email_row(db_session, factories.user(), key="o")
    settings = outbox.DeliverySettings(claim_seconds=300)
    [slow] = outbox._claim(factory, NOW, settings)
    later = NOW + dt.timedelta(seconds=301)
    [fast] = outbox._claim(factory, later, settings)
    assert (slow.attempts, fast.attempts) == (1, 2)
    # The slow sender finally fails: its record is refused (attempts moved on).
    assert not outbox._mark_failed(
        factory, slow, now=later, error="timeout", dead=True, settings=settings, rng=STEADY
    )
    assert fresh(db_session, row).status is NotificationStatus.PENDING
    # The new owner's success stands.
    outbox._mark_sent(factory, row.id, later)
    assert fresh(db_session, row).status is NotificationStatus.SENT
    # And a SENT row is never turned back into a failure.
    assert not outbox._mark_failed(
        factory, fast, now=later, error="late", dead=False, settings=settings, rng=STEADY
    )
    assert fresh(db_session, row).status is NotificationStatus.SENT


# -- the admin's retry ----------------------------------------------------------------------------


@pytest.fixture
def admin(factories: Factories) -> User:
    return factories.admin()


def test_retry_brings_a_dead_row_back_and_audits_it(db_session, factories, admin):
    row = email_row(
        db_session,
        factories.user(),
        key="r",
        status=NotificationStatus.DEAD,
        attempts=8,
        next_at=None,
        error="550 no",
    )
    outbox.retry(db_session, admin, row.id, now=NOW)
    db_session.commit()
    row = fresh(db_session, row)
    assert (row.status, row.attempts, row.next_attempt_at, row.last_error) == (
        NotificationStatus.PENDING,
        0,
        NOW,
        None,
    )
    event = db_session.scalars(select(AuditEvent)).one()
    assert (event.action, event.entity_type, event.entity_id, event.actor_id) == (
        "notification.retried",
        "notification",
        row.id,
        admin.id,
    )
    assert event.before == {
        "status": "dead",
        "attempts": 8,
        "last_error": "550 no",
        "next_attempt_at": None,
    }


def test_retry_is_for_active_admins(db_session, factories):
    row = email_row(db_session, factories.user(), key="x", status=NotificationStatus.DEAD)
    with pytest.raises(NotAllowed):
        outbox.retry(db_session, factories.user(), row.id, now=NOW)
    with pytest.raises(NotAllowed):
        outbox.retry(db_session, factories.admin(is_active=False), row.id, now=NOW)


@pytest.mark.parametrize(
    ("status", "error", "next_at", "message"),
    [
        (NotificationStatus.SENT, None, None, "done already"),
        (NotificationStatus.PENDING, None, NOW, "already waiting"),
        (
            NotificationStatus.FAILED,
            outbox.CLAIM_NOTE + "2026-11-18T15:05:00+00:00",
            NOW + dt.timedelta(minutes=5),
            "being sent right now",
        ),
    ],
)
def test_retry_refuses_what_is_not_failed_or_dead(
    db_session, factories, admin, status, error, next_at, message
):
    row = email_row(
        db_session, factories.user(), key="y", status=status, error=error, next_at=next_at
    )
    with pytest.raises(InvalidTransition, match=message):
        outbox.retry(db_session, admin, row.id, now=NOW)


def test_retry_of_an_expired_claim_is_allowed(db_session, factories, admin):
    row = email_row(
        db_session,
        factories.user(),
        key="z",
        status=NotificationStatus.FAILED,
        attempts=3,
        error=outbox.CLAIM_NOTE + "2026-11-18T14:00:00+00:00",
        next_at=NOW - dt.timedelta(hours=1),
    )
    assert outbox.retry(db_session, admin, row.id, now=NOW).status is NotificationStatus.PENDING


def test_retry_of_in_app_or_missing_rows_is_not_found(db_session, factories, admin):
    row = email_row(
        db_session,
        factories.user(),
        key="i",
        status=NotificationStatus.DEAD,
        channel=NotificationChannel.IN_APP,
    )
    for target in (row.id, 10**9):
        with pytest.raises(NotFound):
            outbox.retry(db_session, admin, target, now=NOW)


# -- the words ------------------------------------------------------------------------------------


def people() -> tuple[User, User, User]:
    mentor = User(id=1, email="kenji@x.org", name="Kenji Tanaka", timezone="Asia/Tokyo")
    mentee = User(id=2, email="nora@x.org", name="Nora Young", timezone="America/New_York")
    admin = User(id=3, email="ada@x.org", name="Ada Admin", timezone="UTC", is_admin=True)
    for u in (mentor, mentee, admin):
        u.is_active = True
    return mentor, mentee, admin


def a_booking(status: BookingStatus = BookingStatus.CONFIRMED) -> Booking:
    mentor, mentee, _ = people()
    booking = Booking(
        id=7,
        mentor_id=1,
        mentee_id=2,
        starts_at=dt.datetime(2026, 11, 20, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC),
        mentor_timezone="Asia/Tokyo",
        status=status,
        topic="Career change",
        notes="",
        ical_sequence=0,
        version=1,
    )
    booking.mentor, booking.mentee = mentor, mentee
    return booking


def payload_for(booking: Booking, recipient: User, actor: User, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": booking.id,
        "status": booking.status.value,
        "starts_at": booking.starts_at.isoformat(),
        "ends_at": booking.ends_at.isoformat(),
        "mentor_id": 1,
        "mentor_name": "Kenji Tanaka",
        "mentee_id": 2,
        "mentee_name": "Nora Young",
        "mentor_timezone": "Asia/Tokyo",
        "recipient_role": "mentor" if recipient.id == 1 else "mentee",
        "actor_id": actor.id,
        "actor_name": actor.name,
        "topic": booking.topic,
        "meeting_url": None,
        **extra,
    }


def words(kind: str, recipient: User, booking: Booking | None, payload: dict[str, Any], now=NOW):
    row = Notification(
        id=1,
        user_id=recipient.id,
        kind=kind,
        booking_id=booking.id if booking else None,
        channel=NotificationChannel.EMAIL,
        payload=payload,
        dedupe_key=f"{kind}:1",
    )
    settings = notification_mail.ComposeSettings(
        base_url="https://hub.example.org",
        sender="MentorHub <no-reply@hub.example.org>",
        render=lambda name, ctx: "",
    )
    return notification_mail.content_for(row, recipient, booking, settings=settings, now=now)


def test_each_kind_has_its_subject_in_the_recipient_s_zone():
    mentor, mentee, admin = people()
    b = a_booking(BookingStatus.REQUESTED)
    assert words("booking_requested", mentor, b, payload_for(b, mentor, mentee)).subject == (
        "Nora Young asked for a session on Fri 20 Nov, 09:00 JST"
    )
    b = a_booking()
    assert words("booking_confirmed", mentee, b, payload_for(b, mentee, mentor)).subject == (
        "Confirmed: session with Kenji Tanaka on Thu 19 Nov, 19:00 EST"
    )
    c = words("booking_cancelled", mentee, b, payload_for(b, mentee, admin, reason="Paused"))
    assert c.subject == "Cancelled: session with Kenji Tanaka on Thu 19 Nov, 19:00 EST"
    assert c.paragraphs[0] == (
        "Ada Admin, a program admin, cancelled your session with Kenji Tanaka on "
        "Thu 19 Nov, 19:00 EST."
    )
    assert (c.reason_label, c.reason) == ("Reason from Ada", "Paused")
    d = words("booking_declined", mentee, b, payload_for(b, mentee, mentor))
    assert d.reason == "No reason was given."
    assert words("request_unconfirmed", mentor, b, payload_for(b, mentor, mentee)).subject == (
        "Nora Young is still waiting for your answer"
    )
    assert words("attendance_due", mentor, b, payload_for(b, mentor, mentor)).subject == (
        "Record attendance: session with Nora Young on Fri 20 Nov, 09:00 JST"
    )


def test_a_move_shows_old_and_new_time_and_asks_the_mentor_again():
    mentor, mentee, _ = people()
    b = a_booking(BookingStatus.REQUESTED)
    old = b.starts_at - dt.timedelta(days=1)
    c = words(
        "booking_rescheduled",
        mentor,
        b,
        payload_for(
            b,
            mentor,
            mentee,
            previous_starts_at=old.isoformat(),
            previous_ends_at=(old + dt.timedelta(hours=1)).isoformat(),
            moved_by="mentee",
        ),
    )
    assert c.subject == "Moved: session with Nora Young is now Fri 20 Nov, 09:00 JST"
    labels = {d.label: d for d in c.details}
    assert labels["New time (your time)"].value == "Fri 20 Nov 2026, 09:00–10:00 JST (Asia/Tokyo)"
    assert labels["Previous time"].struck
    assert labels["Previous time"].value == "Thu 19 Nov 2026, 09:00–10:00 JST (Asia/Tokyo)"
    assert labels["Nora's new time"].value == (
        "Thu 19 Nov 2026, 19:00–20:00 EST (America/New York)"
    )
    assert "The new time needs your confirmation: confirm or decline it." in c.paragraphs


@pytest.mark.parametrize(
    ("before", "phrase"),
    [
        (dt.timedelta(hours=24), "tomorrow"),
        (dt.timedelta(hours=1), "in 1 hour"),
        (dt.timedelta(minutes=30), "in 30 minutes"),
        (dt.timedelta(hours=3), "in 3 hours"),
        (dt.timedelta(days=3), "on Thu 19 Nov"),
    ],
)
def test_a_reminder_says_when_on_the_recipient_s_calendar(before, phrase):
    mentor, mentee, _ = people()
    b = a_booking()
    c = words(
        "reminder", mentee, b, payload_for(b, mentee, mentor, hours=24), now=b.starts_at - before
    )
    # The session is Thu 19 Nov 19:00 in New York.
    assert c.subject == f"Reminder: session with Kenji Tanaka {phrase}"


def test_a_reminder_the_same_evening_says_today():
    mentor, mentee, _ = people()
    b = a_booking()  # Thu 19 Nov 19:00 EST
    morning = dt.datetime(2026, 11, 19, 13, 0, tzinfo=dt.UTC)  # 08:00 EST
    c = words("reminder", mentee, b, payload_for(b, mentee, mentor), now=morning)
    assert c.subject == "Reminder: session with Kenji Tanaka today"


def test_zones_without_an_abbreviation_are_still_named():
    start = dt.datetime(2026, 11, 20, 0, tzinfo=dt.UTC)
    assert notification_mail.when(start, start + dt.timedelta(hours=1), "America/Sao_Paulo") == (
        "Thu 19 Nov 2026, 21:00–22:00 -03 (America/Sao Paulo)"
    )
    assert notification_mail.when(start, start + dt.timedelta(hours=1), "UTC") == (
        "Fri 20 Nov 2026, 00:00–01:00 UTC"
    )
    late = dt.datetime(2026, 11, 20, 4, 30, tzinfo=dt.UTC)
    assert notification_mail.when(late, late + dt.timedelta(hours=1), "America/New_York") == (
        "Thu 19 Nov 2026, 23:30 – Fri 20 Nov, 00:30 EST (America/New York)"
    )


@pytest.mark.parametrize(
    ("kind", "status", "starts_delta", "reason"),
    [
        ("reminder", BookingStatus.CONFIRMED, dt.timedelta(hours=1), None),
        ("reminder", BookingStatus.CANCELLED, dt.timedelta(hours=1), "was cancelled"),
        ("reminder_1h", BookingStatus.CONFIRMED, -dt.timedelta(minutes=1), "already started"),
        ("request_unconfirmed", BookingStatus.REQUESTED, dt.timedelta(days=1), None),
        ("request_unconfirmed", BookingStatus.CONFIRMED, dt.timedelta(days=1), "answered"),
        ("attendance_due", BookingStatus.CONFIRMED, -dt.timedelta(days=1), None),
        ("attendance_due", BookingStatus.COMPLETED, -dt.timedelta(days=1), "recorded"),
        ("booking_confirmed", BookingStatus.CANCELLED, -dt.timedelta(days=1), None),
    ],
)
def test_prompts_whose_moment_has_passed_are_not_sent(kind, status, starts_delta, reason):
    b = a_booking(status)
    b.starts_at = NOW + starts_delta
    b.ends_at = b.starts_at + dt.timedelta(hours=1)
    row = Notification(kind=kind, payload={"starts_at": b.starts_at.isoformat()})
    found = notification_mail.skip_reason(row, b, NOW)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_a_reminder_for_a_moved_session_is_not_sent():
    b = a_booking()
    row = Notification(
        kind="reminder",
        payload={"starts_at": (b.starts_at - dt.timedelta(days=1)).isoformat()},
    )
    assert "moved" in (notification_mail.skip_reason(row, b, NOW) or "")


def test_message_ids_depend_only_on_the_row():
    a = Notification(id=12, dedupe_key="booking_confirmed:3:v2:u4:email")
    b = Notification(id=12, dedupe_key="booking_confirmed:3:v2:u4:email")
    c = Notification(id=13, dedupe_key="booking_confirmed:3:v3:u4:email")
    host = "hub.example.org"
    assert notification_mail.message_id(a, host) == notification_mail.message_id(b, host)
    assert notification_mail.message_id(a, host).startswith("<notification-12.")
    assert notification_mail.message_id(a, host).endswith("@hub.example.org>")
    assert notification_mail.message_id(c, host) != notification_mail.message_id(a, host)


def test_kind_labels_fall_back_to_readable_words():
    assert notification_mail.kind_label("booking_cancelled") == "Session cancelled"
    assert notification_mail.kind_label("reminder_24h") == "Reminder"
    assert notification_mail.kind_label("goal_due_soon") == "Goal due soon"


def test_an_expired_request_says_so_and_names_no_decliner():
    mentor, mentee, _ = people()
    b = a_booking(BookingStatus.DECLINED)
    payload = payload_for(
        b,
        mentee,
        mentor,
        actor_id=None,
        actor_name="MentorHub",
        reason="Not confirmed before the session's start time.",
        expired=True,
    )
    c = words("booking_declined", mentee, b, payload)
    assert c.subject == "Expired: your session request with Kenji Tanaka"
    assert c.paragraphs[0] == (
        "Your request for a session with Kenji Tanaka on Thu 19 Nov, 19:00 EST expired: "
        "Kenji did not answer it before the session was due to start."
    )
    assert "MentorHub declined" not in " ".join(c.paragraphs)
