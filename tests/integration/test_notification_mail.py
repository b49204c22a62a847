"""Notification mail end to end: the booking service writes the outbox rows, the outbox job
(`outbox.deliver_due` with `db.factory`, as app/jobs.py calls it) sends them to a real SMTP
server on loopback (aiosmtpd), and each mail is checked as the recipient gets it.

The cast: a mentor in Asia/Tokyo (weekdays 09:00-17:00 Tokyo time) and a mentee in
America/New_York, so every time differs, often by the date too. The frozen now is Wednesday
2026-11-18 15:00 UTC. A session on Friday 20 Nov 09:00 JST is Friday 00:00 UTC and Thursday
19 Nov 19:00 EST.

`SmtpSink` lives here and is imported by test_outbox_smtp.py.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import itertools
import random
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, url_for
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import begin_write, db
from app.models import (
    AvailabilityRule,
    Booking,
    Notification,
    NotificationChannel,
    NotificationStatus,
    User,
)
from app.services import booking as svc
from app.services import mailer, notification_mail, outbox
from app.services.clock import FrozenClock
from tests.factories import Factories
from tests.integration.conftest import kept_mail

HOST = "127.0.0.1"
SENDER = "MentorHub <no-reply@mentorhub.test>"
FRI_9_JST = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)  # Fri 09:00 JST, Thu 19:00 EST
MON_10_JST = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # Mon 10:00 JST, Sun 20:00 EST
_ROW_NUMBERS = itertools.count(1)


# -- a real SMTP server on loopback ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpSink:
    """aiosmtpd handler that keeps every accepted message. `rcpt_reply` / `data_reply` may
    return an SMTP reply ("451 4.3.0 try later") to refuse at that step, else None."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.attempts = 0  # DATA commands seen (accepted or refused)
        self.rcpt_reply: Callable[[str], str | None] | None = None
        self.data_reply: Callable[[bytes], str | None] | None = None
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.rcpt_reply is not None:
            reply = self.rcpt_reply(address)
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self._lock:
            self.attempts += 1
        if self.data_reply is not None:
            reply = self.data_reply(envelope.content)
            if reply:
                return reply
        with self._lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def take(self) -> list[EmailMessage]:
        """The messages received since the last take()."""
        with self._lock:
            taken, self.received = self.received, []
        return [r.message for r in taken]


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname=HOST, port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def sink(smtp: tuple[SmtpSink, int]) -> SmtpSink:
    return smtp[0]


@pytest.fixture
def mail_settings(smtp: tuple[SmtpSink, int]) -> mailer.MailSettings:
    return mailer.MailSettings(sender=SENDER, server=HOST, port=smtp[1], use_tls=False, timeout=5)


def jinja_render(app: Flask) -> notification_mail.Render:
    """What app/jobs.py passes: the app's Jinja environment (no request context needed)."""

    def render(name: str, context: Any) -> str:
        return app.jinja_env.get_template(name).render(**context)

    return render


@pytest.fixture
def compose_settings(app: Flask) -> notification_mail.ComposeSettings:
    return notification_mail.ComposeSettings(
        base_url=app.config["BASE_URL"], sender=SENDER, render=jinja_render(app)
    )


@pytest.fixture
def courier(
    mail_settings: mailer.MailSettings, compose_settings: notification_mail.ComposeSettings
) -> notification_mail.MailCourier:
    return notification_mail.MailCourier(mail_settings, compose_settings)


@pytest.fixture
def deliver(app: Flask, clock: FrozenClock, courier: notification_mail.MailCourier):
    def run(**settings: Any) -> outbox.DeliveryReport:
        return outbox.deliver_due(
            db.factory,
            now=clock.now(),
            settings=outbox.DeliverySettings(**settings),
            courier=courier,
            rng=random.Random(7),
        )

    return run


# -- the cast -------------------------------------------------------------------------------------


@dataclass
class Cast:
    mentor: User
    mentee: User
    admin: User


def give_weekday_hours(session: Session, user: User, now: dt.datetime) -> None:
    assert user.mentor_profile is not None
    for weekday in range(5):
        session.add(
            AvailabilityRule(
                mentor_profile_id=user.mentor_profile.id,
                weekday=weekday,
                start_time=dt.time(9),
                end_time=dt.time(17),
                created_at=now,
            )
        )
    session.flush()


def make_cast(factories: Factories, session: Session, *, confirm: bool = True) -> Cast:
    mentor = factories.mentor(
        email="kenji@example.org",
        name="Kenji Tanaka",
        timezone="Asia/Tokyo",
        requires_confirmation=confirm,
        meeting_url="https://meet.google.com/abc-defg-hij",
    )
    mentee = factories.user(email="ny@example.org", name="Nora Young", timezone="America/New_York")
    admin = factories.admin(email="ada@example.org", name="Ada Admin", timezone="Europe/London")
    give_weekday_hours(session, mentor, factories.now)
    session.commit()
    return Cast(mentor, mentee, admin)


@pytest.fixture
def cast(app: Flask, factories: Factories, db_session: Session) -> Cast:
    return make_cast(factories, db_session)


def book(session: Session, cast: Cast, now: dt.datetime, starts_at: dt.datetime = FRI_9_JST):
    begin_write(session)
    assert cast.mentor.mentor_profile is not None
    booking = svc.book(
        session,
        cast.mentee,
        cast.mentor.mentor_profile,
        starts_at=starts_at,
        topic="Moving from support into <b>engineering</b>",
        notes="I have read your blog post about it.",
        now=now,
    )
    session.commit()
    return booking


def rows(session: Session, **where: Any) -> list[Notification]:
    stmt = select(Notification).execution_options(populate_existing=True)
    for name, value in where.items():
        stmt = stmt.where(getattr(Notification, name) == value)
    return list(session.scalars(stmt.order_by(Notification.id)))


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def invite_of(msg: EmailMessage) -> tuple[Calendar, Any, EmailMessage]:
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "exactly one calendar attachment"
    part = parts[0]
    assert isinstance(part, EmailMessage)
    cal = Calendar.from_ical(part.get_payload(decode=True))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return cal, events[0], part


def no_invite(msg: EmailMessage) -> bool:
    return not any(p.get_content_type() == "text/calendar" for p in msg.iter_attachments())


def addressed_to(msg: EmailMessage) -> str:
    return str(msg["To"].addresses[0].addr_spec)


def flat(text: str) -> str:
    return " ".join(text.split())


# -- the whole life of one session ----------------------------------------------------------------


def test_a_session_s_life_mails_the_right_people_in_their_own_zones(
    app, db_session, cast, deliver, sink, clock, now
):
    # 1. Nora asks for Friday 09:00 Tokyo time: Kenji is asked, by mail.
    booking = book(db_session, cast, now)
    report = deliver()
    assert (report.sent, report.retrying, report.dead) == (1, 0, 0)
    [requested] = sink.take()
    assert addressed_to(requested) == "kenji@example.org"
    assert requested["Subject"] == "Nora Young asked for a session on Fri 20 Nov, 09:00 JST"
    body = flat(text_of(requested))
    assert "When (your time): Fri 20 Nov 2026, 09:00–10:00 JST (Asia/Tokyo)" in body
    assert "Nora's time: Thu 19 Nov 2026, 19:00–20:00 EST (America/New York)" in body
    assert "Notes from Nora: I have read your blog post about it." in body
    session_url = f"http://mentorhub.test/mentor-hub/sessions/{booking.id}"
    assert session_url in body
    assert f'href="{session_url}"' in html_of(requested)
    cal, event, part = invite_of(requested)
    assert (cal["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("REQUEST", "TENTATIVE", 0)
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "invite.ics"
    uid = str(event["UID"])
    assert uid == f"booking-{booking.id}@mentorhub.test"
    assert str(event["ORGANIZER"]) == "mailto:no-reply@mentorhub.test"
    attendees = event["ATTENDEE"]
    assert str(attendees) == "mailto:kenji@example.org", "the recipient is the only attendee"

    # 2. Kenji confirms: Nora hears, in New York time.
    clock.advance(hours=1)
    db_session.commit()
    svc.confirm(db_session, cast.mentor, booking, version=booking.version, now=clock.now())
    db_session.commit()
    deliver()
    [confirmed] = sink.take()
    assert addressed_to(confirmed) == "ny@example.org"
    assert confirmed["Subject"] == "Confirmed: session with Kenji Tanaka on Thu 19 Nov, 19:00 EST"
    body = flat(text_of(confirmed))
    assert "When (your time): Thu 19 Nov 2026, 19:00–20:00 EST (America/New York)" in body
    assert "Kenji's time: Fri 20 Nov 2026, 09:00–10:00 JST (Asia/Tokyo)" in body
    assert "Meeting link: https://meet.google.com/abc-defg-hij" in body
    cal, event, _ = invite_of(confirmed)
    assert (cal["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("REQUEST", "CONFIRMED", 0)
    assert str(event["UID"]) == uid
    assert str(event["ATTENDEE"]) == "mailto:ny@example.org"

    # 3. Kenji moves it to Monday 10:00 Tokyo time, with a reason: Nora sees old and new.
    svc.reschedule(
        db_session,
        cast.mentor,
        booking,
        version=booking.version,
        new_starts_at=MON_10_JST,
        reason="A workshop landed on Friday.",
        now=clock.now(),
    )
    db_session.commit()
    deliver()
    [moved] = sink.take()
    assert addressed_to(moved) == "ny@example.org"
    assert moved["Subject"] == "Moved: session with Kenji Tanaka is now Sun 22 Nov, 20:00 EST"
    body = flat(text_of(moved))
    assert "New time (your time): Sun 22 Nov 2026, 20:00–21:00 EST (America/New York)" in body
    assert "Previous time: (was) Thu 19 Nov 2026, 19:00–20:00 EST (America/New York)" in body
    assert "Kenji's new time: Mon 23 Nov 2026, 10:00–11:00 JST (Asia/Tokyo)" in body
    assert "Message from Kenji: A workshop landed on Friday." in body
    assert "<s>Thu 19 Nov 2026, 19:00–20:00 EST (America/New York)</s>" in html_of(moved)
    cal, event, _ = invite_of(moved)
    assert (cal["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("REQUEST", "CONFIRMED", 1)
    assert str(event["UID"]) == uid
    assert event.decoded("DTSTART") == MON_10_JST

    # 4. Nora cancels: Kenji hears who and why, and the entry leaves his calendar.
    svc.cancel(
        db_session,
        cast.mentee,
        booking,
        version=booking.version,
        reason="I got the job, thank you!",
        now=clock.now(),
    )
    db_session.commit()
    deliver()
    [cancelled] = sink.take()
    assert addressed_to(cancelled) == "kenji@example.org"
    assert cancelled["Subject"] == "Cancelled: session with Nora Young on Mon 23 Nov, 10:00 JST"
    body = flat(text_of(cancelled))
    assert "Nora Young cancelled your session on Mon 23 Nov, 10:00 JST." in body
    assert "Reason from Nora: I got the job, thank you!" in body
    cal, event, part = invite_of(cancelled)
    assert (cal["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")
    assert part.get_param("method") == "CANCEL"
    assert str(event["UID"]) == uid
    assert event["SEQUENCE"] >= 1

    # Every email row is sent exactly once; the in-app rows are left to the inbox.
    email_rows = rows(db_session, channel=NotificationChannel.EMAIL)
    assert [r.status for r in email_rows] == [NotificationStatus.SENT] * 4
    assert all(r.attempts == 1 and r.sent_at is not None for r in email_rows)
    in_app = rows(db_session, channel=NotificationChannel.IN_APP)
    assert len(in_app) == 4
    assert {r.status for r in in_app} == {NotificationStatus.PENDING}
    assert deliver().claimed == 0


def test_the_cancel_invite_has_a_higher_sequence_than_the_last_request(
    app, db_session, cast, deliver, sink, now
):
    # Mail goes out as things happen: each step's invites are sent before the next step.
    booking = book(db_session, cast, now)
    svc.confirm(db_session, cast.mentor, booking, version=booking.version, now=now)
    db_session.commit()
    deliver()
    svc.reschedule(
        db_session,
        cast.mentor,
        booking,
        version=booking.version,
        new_starts_at=MON_10_JST,
        reason="Moved.",
        now=now,
    )
    db_session.commit()
    deliver()
    requests = [invite_of(m)[:2] for m in sink.take()]
    svc.cancel(db_session, cast.mentee, booking, version=booking.version, now=now)
    db_session.commit()
    deliver()
    cancels = [invite_of(m)[:2] for m in sink.take()]
    assert {str(cal["METHOD"]) for cal, _ in requests} == {"REQUEST"}
    assert {str(cal["METHOD"]) for cal, _ in cancels} == {"CANCEL"}
    last_request = max(event["SEQUENCE"] for _, event in requests)
    assert all(event["SEQUENCE"] > last_request for _, event in cancels), (
        "CANCEL must supersede the last REQUEST"
    )


def test_message_ids_are_deterministic_and_a_resend_carries_the_same_one(
    app, db_session, cast, deliver, sink, now
):
    book(db_session, cast, now)
    deliver()
    [first] = sink.take()
    [row] = rows(db_session, channel=NotificationChannel.EMAIL)
    assert re.fullmatch(
        rf"<notification-{row.id}\.[0-9a-f]{{16}}@mentorhub\.test>", first["Message-ID"]
    )
    # As if the process had died between the SMTP hand-off and the commit.
    row.status = NotificationStatus.PENDING
    row.next_attempt_at = now
    db_session.commit()
    deliver()
    [again] = sink.take()
    assert again["Message-ID"] == first["Message-ID"]


def test_auto_confirmed_booking_tells_the_mentor_and_invites_the_mentee(
    app, factories, db_session, deliver, sink, now
):
    cast = make_cast(factories, db_session, confirm=False)
    book(db_session, cast, now)
    deliver()
    by_person = {addressed_to(m): m for m in sink.take()}
    assert set(by_person) == {"kenji@example.org", "ny@example.org"}
    to_mentor = by_person["kenji@example.org"]
    assert to_mentor["Subject"] == "Nora Young booked a session with you on Fri 20 Nov, 09:00 JST"
    to_mentee = by_person["ny@example.org"]
    assert to_mentee["Subject"] == "Confirmed: session with Kenji Tanaka on Thu 19 Nov, 19:00 EST"
    assert "Your session with Kenji Tanaka is booked and confirmed." in text_of(to_mentee)
    for msg in by_person.values():
        cal, event, _ = invite_of(msg)
        assert (cal["METHOD"], event["STATUS"]) == ("REQUEST", "CONFIRMED")


def test_a_decline_gives_the_reason_and_cancels_the_tentative_entry(
    app, db_session, cast, deliver, sink, now
):
    booking = book(db_session, cast, now)
    deliver()
    sink.take()
    svc.decline(
        db_session,
        cast.mentor,
        booking,
        version=booking.version,
        reason="I am away that week.",
        now=now,
    )
    db_session.commit()
    deliver()
    [declined] = sink.take()
    assert addressed_to(declined) == "ny@example.org"
    assert declined["Subject"] == "Declined: your session request with Kenji Tanaka"
    body = flat(text_of(declined))
    assert "Kenji Tanaka declined your request for a session on Thu 19 Nov, 19:00 EST." in body
    assert "Reason from Kenji: I am away that week." in body
    cal, event, _ = invite_of(declined)
    assert (cal["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")


def test_an_admin_s_cancellation_tells_both_and_names_the_admin(
    app, db_session, cast, deliver, sink, now
):
    booking = book(db_session, cast, now)
    deliver()
    sink.take()
    svc.cancel(
        db_session,
        cast.admin,
        booking,
        version=booking.version,
        reason="The program is paused for the holidays.",
        now=now,
    )
    db_session.commit()
    deliver()
    by_person = {addressed_to(m): m for m in sink.take()}
    assert set(by_person) == {"kenji@example.org", "ny@example.org"}
    to_mentee = flat(text_of(by_person["ny@example.org"]))
    assert (
        "Ada Admin, a program admin, cancelled your session with Kenji Tanaka on "
        "Thu 19 Nov, 19:00 EST." in to_mentee
    )
    assert "Reason from Ada: The program is paused for the holidays." in to_mentee
    to_mentor = flat(text_of(by_person["kenji@example.org"]))
    assert "cancelled your session with Nora Young on Fri 20 Nov, 09:00 JST." in to_mentor


def test_a_mail_sent_late_carries_the_booking_s_current_calendar_state(
    app, db_session, cast, deliver, sink, now
):
    """The confirmation was still queued when the session was cancelled: it goes out, its
    words tell the event, but its calendar part cancels (never a stale REQUEST)."""
    booking = book(db_session, cast, now)
    svc.confirm(db_session, cast.mentor, booking, version=booking.version, now=now)
    svc.cancel(db_session, cast.mentor, booking, version=booking.version, reason="Sorry.", now=now)
    db_session.commit()
    deliver()
    mails = {m["Subject"].split(":")[0]: m for m in sink.take()}
    confirmed = mails["Confirmed"]
    assert "Since this message was written, the session has been cancelled." in flat(
        text_of(confirmed)
    )
    cal, event, _ = invite_of(confirmed)
    assert (cal["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")


# -- reminders and prompts ------------------------------------------------------------------------


def add_row(
    session: Session,
    booking: Booking | None,
    user: User,
    kind: str,
    now: dt.datetime,
    **extra: Any,
) -> Notification:
    payload: dict[str, Any] = {}
    if booking is not None:
        payload = {
            "booking_id": booking.id,
            "status": booking.status.value,
            "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat(),
            "mentor_id": booking.mentor_id,
            "mentor_name": booking.mentor.name,
            "mentee_id": booking.mentee_id,
            "mentee_name": booking.mentee.name,
            "mentor_timezone": booking.mentor_timezone,
            "recipient_role": "mentor" if user.id == booking.mentor_id else "mentee",
            "topic": booking.topic,
            "meeting_url": booking.meeting_url,
        }
    payload.update(extra)
    row = Notification(
        user_id=user.id,
        kind=kind,
        booking_id=booking.id if booking is not None else None,
        channel=NotificationChannel.EMAIL,
        payload=payload,
        dedupe_key=f"{kind}:{booking.id if booking else 0}:u{user.id}:{next(_ROW_NUMBERS)}",
        status=NotificationStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def confirmed_booking(db_session, cast, now) -> Booking:
    booking = book(db_session, cast, now)
    svc.confirm(db_session, cast.mentor, booking, version=booking.version, now=now)
    db_session.commit()
    db_session.execute(Notification.__table__.delete())
    db_session.commit()
    return booking


def test_a_reminder_a_day_before_says_tomorrow_and_offers_unsubscribe(
    app, db_session, cast, confirmed_booking, mail_settings, clock, sink
):
    clock.set(FRI_9_JST - dt.timedelta(hours=24))  # Wed 19:00 EST / Thu 09:00 JST
    add_row(db_session, confirmed_booking, cast.mentee, "reminder", clock.now(), hours=24)
    add_row(db_session, confirmed_booking, cast.mentor, "reminder", clock.now(), hours=24)
    asked: list[tuple[str, str]] = []

    def unsubscribe(user: User, group: str) -> str:
        asked.append((user.email, group))
        return f"http://mentorhub.test/account/unsubscribe/{user.id}-token"

    courier = notification_mail.MailCourier(
        mail_settings,
        notification_mail.ComposeSettings(
            base_url="http://mentorhub.test",
            sender=SENDER,
            render=jinja_render(app),
            unsubscribe_url=unsubscribe,
        ),
    )
    outbox.deliver_due(
        db.factory, now=clock.now(), settings=outbox.DeliverySettings(), courier=courier
    )
    by_person = {addressed_to(m): m for m in sink.take()}
    to_mentee = by_person["ny@example.org"]
    assert to_mentee["Subject"] == "Reminder: session with Kenji Tanaka tomorrow"
    link = f"http://mentorhub.test/account/unsubscribe/{cast.mentee.id}-token"
    assert to_mentee["List-Unsubscribe"] == f"<{link}>"
    assert to_mentee["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Don't want reminder emails? Unsubscribe" in text_of(to_mentee)
    assert link in text_of(to_mentee)
    assert f'href="{link}"' in html_of(to_mentee)
    assert "Join with the meeting link below" in text_of(to_mentee)
    cal, _event, _ = invite_of(to_mentee)
    assert cal["METHOD"] == "REQUEST"
    assert by_person["kenji@example.org"]["Subject"] == "Reminder: session with Nora Young tomorrow"
    assert sorted(asked) == [("kenji@example.org", "reminders"), ("ny@example.org", "reminders")]


def test_a_reminder_an_hour_before_says_in_1_hour_and_without_a_link_no_header(
    app, db_session, cast, confirmed_booking, deliver, clock, sink
):
    clock.set(FRI_9_JST - dt.timedelta(hours=1))
    add_row(db_session, confirmed_booking, cast.mentee, "reminder_1h", clock.now(), hours=1)
    deliver()
    [msg] = sink.take()
    assert msg["Subject"] == "Reminder: session with Kenji Tanaka in 1 hour"
    assert msg["List-Unsubscribe"] is None
    assert "Unsubscribe" not in text_of(msg)


def test_a_reminder_for_a_session_cancelled_meanwhile_is_not_sent(
    app, db_session, cast, confirmed_booking, deliver, clock, sink
):
    add_row(db_session, confirmed_booking, cast.mentee, "reminder", clock.now(), hours=24)
    svc.cancel(
        db_session,
        cast.mentor,
        confirmed_booking,
        version=confirmed_booking.version,
        reason="Ill.",
        now=clock.now(),
    )
    db_session.commit()
    report = deliver()
    subjects = [m["Subject"] for m in sink.take()]
    assert not any(s.startswith("Reminder") for s in subjects)
    [reminder] = rows(db_session, kind="reminder")
    assert (reminder.status, reminder.sent_at) == (NotificationStatus.SENT, None), "done, unsent"
    assert reminder.last_error == "skipped: the session was cancelled before the reminder went out"
    assert (report.skipped, report.dead) == (1, 0)


def test_attendance_due_and_still_waiting_prompts_go_to_the_mentor(
    app, db_session, cast, deliver, clock, sink, now
):
    requested = book(db_session, cast, now)
    db_session.execute(Notification.__table__.delete())
    add_row(db_session, requested, cast.mentor, "request_unconfirmed", now)
    deliver()
    [waiting] = sink.take()
    assert addressed_to(waiting) == "kenji@example.org"
    assert waiting["Subject"] == "Nora Young is still waiting for your answer"
    assert no_invite(waiting)

    svc.confirm(db_session, cast.mentor, requested, version=requested.version, now=now)
    db_session.commit()
    db_session.execute(Notification.__table__.delete())
    clock.set(requested.ends_at + dt.timedelta(minutes=5))
    add_row(db_session, requested, cast.mentor, "attendance_due", clock.now())
    deliver()
    [due] = sink.take()
    assert due["Subject"] == "Record attendance: session with Nora Young on Fri 20 Nov, 09:00 JST"
    assert "Record attendance: http://mentorhub.test/mentor-hub/sessions/" in text_of(due)
    assert no_invite(due)


def test_an_unknown_kind_still_sends_something_sensible(app, db_session, cast, deliver, sink, now):
    add_row(db_session, None, cast.mentor, "badge_awarded", now)
    add_row(
        db_session,
        None,
        cast.mentee,
        "program_news",
        now,
        subject="The program is growing",
        message="Ten new mentors joined this week.",
    )
    deliver()
    by_person = {addressed_to(m): m for m in sink.take()}
    approved = by_person["kenji@example.org"]
    assert approved["Subject"] == "Badge awarded"
    assert "http://mentorhub.test/mentor-hub" in text_of(approved)
    news = by_person["ny@example.org"]
    assert news["Subject"] == "The program is growing"
    assert "Ten new mentors joined this week." in text_of(news)
    assert no_invite(approved) and no_invite(news)


def test_a_payload_path_is_the_mail_s_button_and_never_another_site(
    app, db_session, cast, deliver, sink, now
):
    add_row(
        db_session,
        None,
        cast.mentor,
        "chat_unread",
        now,
        subject="New message from Ny",
        message="Ny sent you a message.",
        path="/mentor-hub/messages/7",
        action="Read the message",
    )
    add_row(db_session, None, cast.mentee, "chat_unread", now, path="//evil.example/x")
    deliver()
    by_person = {addressed_to(m): m for m in sink.take()}
    chat = text_of(by_person["kenji@example.org"])
    assert "Read the message" in chat
    assert "http://mentorhub.test/mentor-hub/messages/7" in chat
    assert "evil.example" not in text_of(by_person["ny@example.org"])


def test_member_text_is_escaped_in_html_and_plain_in_text(
    app, db_session, cast, deliver, sink, now
):
    book(db_session, cast, now)
    deliver()
    [msg] = sink.take()
    assert "Moving from support into &lt;b&gt;engineering&lt;/b&gt;" in html_of(msg)
    assert "<b>engineering</b>" not in html_of(msg)
    assert "Topic: Moving from support into <b>engineering</b>" in text_of(msg)


def test_the_html_is_branded_dark_mode_ready_and_phone_sized(
    app, db_session, cast, deliver, sink, now
):
    book(db_session, cast, now)
    deliver()
    [msg] = sink.take()
    html = html_of(msg)
    assert "@media (prefers-color-scheme: dark)" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "max-width:600px" in html and "@media only screen and (max-width: 600px)" in html
    assert "'IBM Plex Sans'" in html and "Arial" in html
    assert "#0f62fe" in html  # Carbon blue 60
    assert "<script" not in html


def test_a_deactivated_recipient_gets_nothing_and_the_row_dies(
    app, db_session, cast, deliver, sink, now
):
    book(db_session, cast, now)
    cast.mentor.is_active = False
    db_session.commit()
    report = deliver()
    assert sink.take() == []
    [row] = rows(db_session, channel=NotificationChannel.EMAIL)
    assert (row.status, row.last_error) == (NotificationStatus.DEAD, "recipient deactivated")
    assert report.dead == 1


def test_without_smtp_the_mail_is_kept_for_dev_mail(app, db_session, cast, client, now):
    from tests.integration.conftest import sign_in_as

    book(db_session, cast, now)
    courier = notification_mail.courier_from_config(app.config, jinja_render(app))
    assert courier.mail_settings.keeps_mail
    report = outbox.deliver_due(
        db.factory, now=now, settings=outbox.DeliverySettings(), courier=courier
    )
    assert report.sent == 1
    [kept] = kept_mail(app)
    parsed = email.message_from_bytes(kept.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Nora Young asked for a session on Fri 20 Nov, 09:00 JST"
    page = sign_in_as(client, cast.admin).get("/dev/mail")
    assert "Nora Young asked for a session" in page.get_data(as_text=True)


def test_the_default_session_link_is_the_session_page_route(app, db_session, cast, now):
    booking = book(db_session, cast, now)
    settings = notification_mail.ComposeSettings(
        base_url=app.config["BASE_URL"], sender=SENDER, render=jinja_render(app)
    )
    with app.test_request_context():
        expected = app.config["BASE_URL"] + url_for("mentor.session_detail", booking_id=booking.id)
    assert settings.link_to_session(booking.id) == expected


def test_the_in_app_rows_are_never_claimed(app, db_session, cast, deliver, now):
    book(db_session, cast, now)
    for row in rows(db_session, channel=NotificationChannel.EMAIL):
        db_session.delete(row)
    db_session.commit()
    assert deliver().claimed == 0
    [in_app] = rows(db_session)
    assert (in_app.channel, in_app.status, in_app.attempts) == (
        NotificationChannel.IN_APP,
        NotificationStatus.PENDING,
        0,
    )


def test_a_member_who_turned_reminders_off_gets_none_but_still_hears_of_changes(
    app, db_session, cast, confirmed_booking, deliver, clock, sink
):
    cast.mentee.email_opt_out = ["reminders"]
    db_session.commit()
    clock.set(FRI_9_JST - dt.timedelta(hours=24))
    add_row(db_session, confirmed_booking, cast.mentee, "reminder", clock.now(), hours=24)
    add_row(db_session, confirmed_booking, cast.mentor, "reminder", clock.now(), hours=24)
    svc.reschedule(
        db_session,
        cast.mentor,
        confirmed_booking,
        version=confirmed_booking.version,
        new_starts_at=MON_10_JST,
        reason="Clash.",
        now=clock.now(),
    )
    db_session.commit()
    report = deliver()
    got = sorted((addressed_to(m), m["Subject"].split(":")[0]) for m in sink.take())
    assert got == [("ny@example.org", "Moved")], "no reminder for Nora; the move always"
    skipped = {r.user_id: r for r in rows(db_session, kind="reminder")}
    assert skipped[cast.mentee.id].last_error == "skipped: the recipient turned off reminder emails"
    assert skipped[cast.mentor.id].last_error == (
        "skipped: the session moved after this reminder was written"
    )
    assert report.skipped == 2


def test_the_job_s_wiring_gives_a_working_one_click_unsubscribe(
    app, db_session, cast, confirmed_booking, mail_settings, clock, sink, client
):
    """As app/jobs.py wires it: the app's Jinja environment and app.web.inbox's
    unsubscribe_url, in an app context without a request."""
    from app.web.inbox import unsubscribe_url

    clock.set(FRI_9_JST - dt.timedelta(hours=24))
    add_row(db_session, confirmed_booking, cast.mentee, "reminder", clock.now(), hours=24)
    with app.app_context():
        courier = notification_mail.MailCourier(
            mail_settings,
            notification_mail.ComposeSettings(
                base_url=app.config["BASE_URL"],
                sender=SENDER,
                render=jinja_render(app),
                unsubscribe_url=unsubscribe_url,
            ),
        )
        outbox.deliver_due(
            db.factory,
            now=clock.now(),
            settings=outbox.DeliverySettings.from_config(app.config),
            courier=courier,
        )
    [msg] = sink.take()
    link = msg["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("http://mentorhub.test/notifications/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A mail provider's RFC 8058 one-click POST: no cookie, no CSRF token.
    path = link.removeprefix("http://mentorhub.test")
    answer = client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    db_session.refresh(cast.mentee)
    assert cast.mentee.email_opt_out == ["reminders"]


def test_the_reminder_job_s_rows_become_the_right_mails(
    app, db_session, cast, confirmed_booking, deliver, clock, sink
):
    """Rows written by app/services/reminders.py (the scheduler's reminder job)."""
    from app.services import reminders

    clock.set(FRI_9_JST - dt.timedelta(hours=23))
    begin_write(db_session)
    assert reminders.queue_reminders(db_session, now=clock.now(), hours=(24, 1)) == 4
    db_session.commit()
    deliver()
    by_person = {addressed_to(m): m["Subject"] for m in sink.take()}
    assert by_person == {
        "ny@example.org": "Reminder: session with Kenji Tanaka tomorrow",
        "kenji@example.org": "Reminder: session with Nora Young tomorrow",
    }


def test_an_expired_request_tells_the_mentee_it_expired(
    app, db_session, cast, deliver, clock, sink, now
):
    from app.services import reminders

    book(db_session, cast, now)
    deliver()
    sink.take()
    clock.set(FRI_9_JST)
    begin_write(db_session)
    assert reminders.expire_stale_requests(db_session, now=clock.now()) == 1
    db_session.commit()
    deliver()
    [expired] = sink.take()
    assert addressed_to(expired) == "ny@example.org"
    assert expired["Subject"] == "Expired: your session request with Kenji Tanaka"
    cal, event, _ = invite_of(expired)
    assert (cal["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")
