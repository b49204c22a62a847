"""The outbox against a real SMTP server on loopback that misbehaves: an outage that ends, a
permanent refusal, a server that never recovers, no server at all, a sender that dies after
claiming and one that is too slow. Invariant 5: nothing lost, nothing sent twice.

The clock is frozen; the tests move it to each row's next_attempt_at and run the job again,
as the scheduler would on its next tick.
"""

from __future__ import annotations

import datetime as dt
import email
import itertools
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from app.db import db
from app.models import Notification, NotificationStatus
from app.services import mailer, notification_mail, outbox
from app.services.clock import FrozenClock
from tests.integration import test_notification_mail as mail_tests
from tests.integration.conftest import counted
from tests.integration.test_notification_mail import (
    SENDER,
    SmtpSink,
    add_row,
    free_port,
    jinja_render,
    make_cast,
    rows,
)

# The SMTP sink and courier fixtures of test_notification_mail.py, shared.
smtp = mail_tests.smtp
sink = mail_tests.sink
mail_settings = mail_tests.mail_settings
compose_settings = mail_tests.compose_settings
courier = mail_tests.courier


class SteadyRng(random.Random):
    """Jitter factor exactly 1.0, so that the delays are the pure exponential."""

    def random(self) -> float:
        return 0.5


@pytest.fixture
def cast(app, factories, db_session):
    return make_cast(factories, db_session)


def message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"])


def news(db_session, cast, now, count: int) -> list[Notification]:
    people = [cast.mentor, cast.mentee]
    return [
        add_row(
            db_session,
            None,
            people[i % 2],
            "program_news",
            now,
            subject=f"News {i}",
            message=f"Item {i}.",
            n=i,
        )
        for i in range(count)
    ]


def run(
    courier: Any, clock: FrozenClock, rng: random.Random | None = None, **settings: Any
) -> outbox.DeliveryReport:
    return outbox.deliver_due(
        db.factory,
        now=clock.now(),
        settings=outbox.DeliverySettings(**settings),
        courier=courier,
        rng=rng or SteadyRng(),
    )


def due_rows(db_session) -> list[Notification]:
    return [
        r
        for r in rows(db_session)
        if r.status in (NotificationStatus.PENDING, NotificationStatus.FAILED)
    ]


def run_until_done(db_session, courier, clock, *, limit: int = 50, **settings: Any) -> int:
    """Run the job, move the clock to the next due time, again, until nothing is due."""
    for passes in range(1, limit + 1):
        run(courier, clock, **settings)
        waiting = due_rows(db_session)
        if not waiting:
            return passes
        clock.set(min(r.next_attempt_at for r in waiting if r.next_attempt_at is not None))
    raise AssertionError("the outbox never drained")


# -- an outage that ends --------------------------------------------------------------------------


def test_an_outage_is_ridden_out_with_growing_delays_and_no_duplicates(
    app, db_session, cast, courier, sink: SmtpSink, clock, now
):
    written = news(db_session, cast, now, 5)
    refusals = 3
    attempts_at: dict[str, list[dt.datetime]] = {}

    def data_reply(raw: bytes) -> str | None:
        mid = message_id(raw)
        attempts_at.setdefault(mid, []).append(clock.now())
        if len(attempts_at[mid]) <= refusals:
            return "451 4.3.0 Mail server temporarily unavailable, try later"
        return None

    sink.data_reply = data_reply
    run_until_done(db_session, courier, clock)

    accepted = Counter(message_id(r.raw) for r in sink.received)
    assert len(accepted) == len(written), "every notification delivered"
    assert set(accepted.values()) == {1}, "and none twice"
    for times in attempts_at.values():
        delays = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert delays == [60, 120, 240], "base 60 s, doubling (jitter factor 1.0 here)"
    stored = rows(db_session)
    assert {r.status for r in stored} == {NotificationStatus.SENT}
    assert {r.attempts for r in stored} == {refusals + 1}
    assert all(r.last_error is None for r in stored)


def test_the_failed_state_is_recorded_between_attempts(
    app, db_session, cast, courier, sink, clock, now
):
    news(db_session, cast, now, 1)
    sink.data_reply = lambda raw: "451 4.7.1 Greylisted, come back later"
    report = run(courier, clock, rng=random.Random(3))
    assert (report.claimed, report.retrying) == (1, 1)
    [stored] = rows(db_session)
    assert stored.status is NotificationStatus.FAILED
    assert stored.attempts == 1
    assert stored.last_error is not None and "451 4.7.1 Greylisted" in stored.last_error
    wait = (stored.next_attempt_at - now).total_seconds()
    assert 30 <= wait < 90, "60 s times a jitter factor in [0.5, 1.5)"
    # Not due yet: the next pass leaves it alone.
    assert run(courier, clock).claimed == 0
    clock.set(stored.next_attempt_at)
    sink.data_reply = None
    assert run(courier, clock).sent == 1


def test_jittered_delays_stay_within_their_bounds(app, db_session, cast, courier, sink, clock, now):
    news(db_session, cast, now, 8)
    sink.data_reply = lambda raw: "421 4.3.2 Service not available"
    rng = random.Random(11)
    for attempt in range(1, 5):
        run(courier, clock, rng=rng)
        expected = 60 * 2 ** (attempt - 1)
        waits = [(r.next_attempt_at - clock.now()).total_seconds() for r in rows(db_session)]
        assert all(0.5 * expected <= w < 1.5 * expected for w in waits), (attempt, waits)
        assert len(set(waits)) > 1, "the crowd is spread out"
        clock.set(max(r.next_attempt_at for r in rows(db_session)))


# -- refusals for good ----------------------------------------------------------------------------


def test_a_permanent_refusal_of_the_recipient_is_dead_after_one_attempt(
    app, db_session, cast, courier, sink, clock, now
):
    news(db_session, cast, now, 2)
    sink.rcpt_reply = lambda address: (
        "550 5.1.1 No such user here" if address == "kenji@example.org" else None
    )
    report = run(courier, clock)
    assert (report.sent, report.dead, report.retrying) == (1, 1, 0)
    by_user = {r.user_id: r for r in rows(db_session)}
    dead = by_user[cast.mentor.id]
    assert (dead.status, dead.attempts, dead.next_attempt_at) == (NotificationStatus.DEAD, 1, None)
    assert dead.last_error is not None and "550 5.1.1 No such user here" in dead.last_error
    assert by_user[cast.mentee.id].status is NotificationStatus.SENT
    clock.advance(days=30)
    assert run(courier, clock).claimed == 0, "a dead row is never tried again by itself"


def test_a_permanent_refusal_of_the_message_is_dead(
    app, db_session, cast, courier, sink, clock, now
):
    news(db_session, cast, now, 1)
    sink.data_reply = lambda raw: "554 5.6.0 Message rejected as spam"
    assert run(courier, clock).dead == 1
    [row] = rows(db_session)
    assert row.status is NotificationStatus.DEAD
    assert "554 5.6.0 Message rejected as spam" in (row.last_error or "")


def test_a_full_mailbox_at_rcpt_is_temporary(app, db_session, cast, courier, sink, clock, now):
    news(db_session, cast, now, 1)
    sink.rcpt_reply = lambda address: "552 5.2.2 Mailbox full"
    assert run(courier, clock).retrying == 1
    assert rows(db_session)[0].status is NotificationStatus.FAILED


def test_after_the_last_attempt_the_row_is_dead(app, db_session, cast, courier, sink, clock, now):
    news(db_session, cast, now, 1)
    sink.data_reply = lambda raw: "451 4.3.0 Still down"
    passes = run_until_done(db_session, courier, clock, max_attempts=3)
    assert passes == 3
    [row] = rows(db_session)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 3)
    assert row.last_error == ("451 4.3.0 Still down (message refused) (gave up after 3 attempts)")
    assert sink.attempts == 3 and sink.received == []


def test_the_default_is_eight_attempts(app, db_session, cast, courier, sink, clock, now):
    news(db_session, cast, now, 1)
    sink.data_reply = lambda raw: "451 4.3.0 Still down"
    assert run_until_done(db_session, courier, clock) == 8
    [row] = rows(db_session)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 8)


def test_no_server_at_all_is_a_temporary_failure(
    app, db_session, cast, compose_settings, clock, now
):
    news(db_session, cast, now, 2)
    nowhere = mailer.MailSettings(
        sender=SENDER, server="127.0.0.1", port=free_port(), use_tls=False, timeout=2
    )
    courier = notification_mail.MailCourier(nowhere, compose_settings)
    report = run(courier, clock)
    assert (report.retrying, report.sent) == (2, 0)
    for row in rows(db_session):
        assert row.status is NotificationStatus.FAILED
        assert (row.last_error or "").startswith("ConnectionRefusedError")


def test_one_connection_carries_a_whole_batch(
    app, db_session, cast, mail_settings, compose_settings, sink, clock, now
):
    news(db_session, cast, now, 6)
    opened: list[mailer.Transport] = []

    class Counting(notification_mail.MailCourier):
        def send(self, *args: Any, **kwargs: Any) -> None:
            super().send(*args, **kwargs)
            if self._transport is not None and self._transport not in opened:
                opened.append(self._transport)

    report = run(Counting(mail_settings, compose_settings), clock)
    assert report.sent == 6
    assert [t.connections for t in opened] == [1]


# -- crashes and slow senders ---------------------------------------------------------------------


class DiesAfter:
    """A courier whose process 'dies' (BaseException, like SIGKILL: nothing is recorded)
    when asked to send the n-th message."""

    def __init__(self, inner: notification_mail.MailCourier, sends: int) -> None:
        self.inner = inner
        self.left = sends

    def send(self, *args: Any, **kwargs: Any) -> None:
        if self.left == 0:
            raise SystemExit("killed")
        self.left -= 1
        self.inner.send(*args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_a_sender_that_dies_after_claiming_loses_nothing(
    app, db_session, cast, courier, sink, clock, now
):
    written = news(db_session, cast, now, 6)
    with pytest.raises(SystemExit):
        run(DiesAfter(courier, 2), clock)
    assert len(sink.received) == 2
    stored = rows(db_session)
    assert Counter(r.status for r in stored) == {
        NotificationStatus.SENT: 2,
        NotificationStatus.PENDING: 4,
    }
    stranded = [r for r in stored if r.status is NotificationStatus.PENDING]
    assert all(outbox.in_flight(r, clock.now()) for r in stranded), "still claimed"
    assert all((r.last_error or "").startswith(outbox.CLAIM_NOTE) for r in stranded)

    # Another sender, before the claim runs out: nothing for it to take.
    assert run(courier, clock).claimed == 0
    # After the claim time, the stranded rows are due again and go out, once.
    clock.advance(seconds=300)
    report = run(courier, clock)
    assert report.sent == 4
    accepted = Counter(message_id(r.raw) for r in sink.received)
    assert len(accepted) == len(written) and set(accepted.values()) == {1}
    stored = rows(db_session)
    assert {r.status for r in stored} == {NotificationStatus.SENT}
    assert sorted(r.attempts for r in stored) == [1, 1, 2, 2, 2, 2]


def test_a_slow_sender_gives_the_rest_of_its_batch_back(
    app, db_session, cast, courier, sink, clock, now
):
    news(db_session, cast, now, 5)
    ticks = iter([0.0, 0.0, 1.0, 200.0])  # the third row finds half the claim time gone

    report = outbox.deliver_due(
        db.factory,
        now=clock.now(),
        settings=outbox.DeliverySettings(claim_seconds=300),
        courier=courier,
        monotonic=lambda: next(ticks),
    )
    assert (report.sent, report.released) == (2, 3)
    given_back = [r for r in rows(db_session) if r.status is NotificationStatus.PENDING]
    assert len(given_back) == 3
    for row in given_back:
        assert (row.attempts, row.next_attempt_at, row.last_error) == (0, clock.now(), None)
    assert run(courier, clock).sent == 3


def test_batches_follow_one_another_up_to_the_limit(
    app, db_session, cast, courier, sink, clock, now
):
    news(db_session, cast, now, 7)
    report = run(courier, clock, batch_size=3, max_batches=2)
    assert (report.batches, report.sent) == (2, 6)
    report = run(courier, clock, batch_size=3, max_batches=2)
    assert (report.batches, report.sent) == (1, 1)


def test_rows_go_out_oldest_first(app, db_session, cast, courier, sink, clock, now):
    late = add_row(db_session, None, cast.mentee, "program_news", now, subject="Second")
    early = add_row(
        db_session,
        None,
        cast.mentee,
        "program_news",
        now - dt.timedelta(minutes=5),
        subject="First",
    )
    assert early.id > late.id
    run(courier, clock)
    assert [m["Subject"] for m in sink.take()] == ["First", "Second"]


@pytest.mark.postgres_only
def test_postgres_claims_with_skip_locked(app, db_session, cast, courier, sink, clock, now, engine):
    news(db_session, cast, now, 1)
    with counted(engine) as statements:
        run(courier, clock)
    claims = [s for s in statements if "FROM notifications" in s and "FOR UPDATE" in s]
    assert claims and all("SKIP LOCKED" in s for s in claims)


def test_the_job_wiring_reads_the_app_settings(app, db_session, cast, clock, now):
    """What app/jobs.py does: settings from app.config, the app's Jinja environment."""
    news(db_session, cast, now, 1)
    app.config["NOTIFY_BATCH_SIZE"] = 1
    try:
        settings = outbox.DeliverySettings.from_config(app.config)
        assert (settings.max_attempts, settings.batch_size, settings.claim_seconds) == (8, 1, 300)
        courier = notification_mail.courier_from_config(app.config, jinja_render(app))
        report = outbox.deliver_due(db.factory, now=clock.now(), settings=settings, courier=courier)
    finally:
        app.config["NOTIFY_BATCH_SIZE"] = 100
    assert report.sent == 1
    assert db_session.scalar(select(Notification.status)) is NotificationStatus.SENT
