"""Delivering the email outbox (DESIGN invariant 5): claim due rows, send, record the outcome.

HTTP-free: the caller passes a session factory, the clock's `now`, the settings and a
`Courier` (app/services/notification_mail.MailCourier composes and sends over SMTP).

One pass (`deliver_due`), batch after batch:

1. Claim, in a short write transaction: up to `batch_size` EMAIL rows that are pending or
   failed with `next_attempt_at <= now`, oldest first. PostgreSQL reads them with
   `FOR UPDATE SKIP LOCKED`, so concurrent senders take disjoint rows without waiting; SQLite
   starts the transaction with `begin_write` (BEGIN IMMEDIATE), so claims are serialised.
   Claiming pushes `next_attempt_at` to now + `claim_seconds`, adds one to `attempts` and notes
   "sending: claimed until ..." in `last_error`; then it commits. Another sender, or this one's
   next batch, no longer sees the rows as due.
2. Send each row outside any transaction (the SMTP conversation never holds a database lock).
3. Record each outcome at once, in its own short transaction:
   * sent: status SENT, sent_at. A SENT row is never claimed again.
   * temporary failure: status FAILED, next_attempt_at = now + backoff (base * 2^(attempts-1),
     capped at `backoff_max_seconds`, times a jitter factor in [0.5, 1.5) from `rng`).
   * permanent failure (a 5xx refusal, see mailer.classify), the `max_attempts`-th failure or
     a deactivated recipient: status DEAD (the admin page lists it, with a Retry button).
   * skipped: status SENT with sent_at left empty and last_error "skipped: <why>". The row is
     done and nothing went out, by design: the recipient turned that kind of email off
     (preferences.wants_email), or the mail no longer makes sense (the courier raises NotSent:
     a reminder for a session cancelled or moved meanwhile, a prompt already answered). Not a
     failure, so it does not crowd the admin's dead list.
   The updates after a send are compare-and-swap on `attempts`, so a sender whose claim ran
   out (another took the row over) cannot overwrite the newer attempt's state; "sent" is the
   exception: a row that went out is SENT whoever sent it, and is never claimed again.

Crash safety. A sender killed after claiming loses nothing: its rows are due again when the
claim time has passed, and another pass sends them. A crash exactly between the SMTP server's
"250 accepted" and the commit that marks the row SENT sends that one row again after the claim
time: at-least-once at the very edge, never lost. The copy carries the same Message-ID
(notification_mail.message_id), so the receiving side can recognise and drop it. Recording each
row right after its hand-off (instead of once per batch) keeps that window to one message.

A pass stops taking new rows from its batch once half the claim time has gone by (a very slow
server), and gives the rest back (due at once, attempt not counted), so no claim runs out
while its sender is still working through it.

Several processes (gunicorn workers with the scheduler, a standalone scheduler) may run passes
at once: the scheduler lease normally lets only one do it, and the claim is the second line
(tests/load/test_outbox_processes.py runs four senders on one table).

The admin's `retry` puts a failed or dead row back (pending, attempts from 0, due now); it
refuses a row a sender holds right now (`in_flight`), which would otherwise go out twice.

IN_APP rows are the in-app inbox: they stay as written (read_at is theirs) and are never
claimed here.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, case, func, select, text, update
from sqlalchemy.orm import Session, selectinload

from app.db import begin_write
from app.models import Booking, Notification, NotificationChannel, NotificationStatus, User
from app.services import audit, preferences
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import InvalidTransition, NotAllowed, NotFound, StaleVersion
from app.services.mailer import MailError

log = logging.getLogger(__name__)

CLAIM_NOTE = "sending: claimed until "
DEACTIVATED = "recipient deactivated"
SKIPPED = "skipped: "
ERROR_MAX = 2000

DUE_STATUSES = (NotificationStatus.PENDING, NotificationStatus.FAILED)
# The predicate of the partial index ix_notifications_due, word for word: with bound
# parameters instead, neither SQLite nor a generic PostgreSQL plan can prove the index applies,
# and every claim would scan the whole table.
_DUE_SQL = text("status IN ('pending', 'failed')")
RETRYABLE = (NotificationStatus.FAILED, NotificationStatus.DEAD)


def queue(
    session: Session,
    *,
    user_id: int,
    kind: str,
    channel: NotificationChannel,
    payload: Mapping[str, Any],
    dedupe_key: str,
    now: dt.datetime,
    booking_id: int | None = None,
) -> Notification:
    """Add one pending row to the outbox in the caller's transaction (invariant 4): the
    delivery job sends it, or the inbox shows it, once that transaction commits."""
    row = Notification(
        user_id=user_id,
        kind=kind,
        booking_id=booking_id,
        channel=channel,
        payload=dict(payload),
        dedupe_key=dedupe_key,
        status=NotificationStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


class NotSent(Exception):
    """Raised by a courier for a mail that should not go out at all: the row is done
    (SENT, no sent_at) with last_error "skipped: <reason>", and is not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Courier(Protocol):
    """What deliver_due drives: compose and hand over one row's mail; close at the end.

    `send` raises mailer.MailError (temporary or permanent) or NotSent; anything else counts
    as a temporary failure (and is logged with its traceback).
    """

    def send(
        self,
        notification: Notification,
        recipient: User,
        booking: Booking | None,
        *,
        now: dt.datetime,
    ) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DeliverySettings:
    max_attempts: int = 8
    batch_size: int = 100
    backoff_base_seconds: float = 60
    backoff_max_seconds: float = 6 * 3600
    claim_seconds: float = 300
    # Batches per pass at most, so that one scheduler tick has an end even under a flood.
    max_batches: int = 50

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliverySettings:
        """From the app's NOTIFY_* settings (app/config.py)."""
        return cls(
            max_attempts=int(config.get("NOTIFY_MAX_ATTEMPTS", cls.max_attempts)),
            batch_size=int(config.get("NOTIFY_BATCH_SIZE", cls.batch_size)),
            backoff_base_seconds=float(
                config.get("NOTIFY_BACKOFF_BASE_SECONDS", cls.backoff_base_seconds)
            ),
            backoff_max_seconds=float(
                config.get("NOTIFY_BACKOFF_MAX_SECONDS", cls.backoff_max_seconds)
            ),
            claim_seconds=float(config.get("NOTIFY_CLAIM_SECONDS", cls.claim_seconds)),
            max_batches=int(config.get("NOTIFY_MAX_BATCHES", cls.max_batches)),
        )


@dataclass
class DeliveryReport:
    """What one pass did; `claimed` = sent + skipped + retrying + dead + released."""

    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}: sent {self.sent}, skipped {self.skipped}, retrying "
            f"{self.retrying}, dead {self.dead}, given back {self.released} "
            f"({self.batches} batches)"
        )


# -- policy --------------------------------------------------------------------------------------


def backoff_seconds(attempts: int, settings: DeliverySettings, rng: random.Random) -> float:
    """Seconds before the next try after the `attempts`-th failed one.

    base * 2^(attempts-1), capped at backoff_max_seconds, times a jitter factor in [0.5, 1.5)
    so that a crowd of rows failed by one outage does not come back at the same instant.
    """
    exponent = max(0, attempts - 1)
    # 2**exponent overflows a float long after it passes any sane cap: stop doubling there.
    if exponent > 60:
        raw = settings.backoff_max_seconds
    else:
        raw = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2**exponent)
    return raw * jitter_factor(rng)


def jitter_factor(rng: random.Random) -> float:
    return 0.5 + rng.random()


def is_due(row: Notification, now: dt.datetime) -> bool:
    return (
        row.channel is NotificationChannel.EMAIL
        and row.status in DUE_STATUSES
        and row.next_attempt_at is not None
        and row.next_attempt_at <= now
    )


def in_flight(row: Notification, now: dt.datetime) -> bool:
    """A sender holds this row right now (claimed, and the claim has not run out)."""
    return (
        row.status in DUE_STATUSES
        and (row.last_error or "").startswith(CLAIM_NOTE)
        and row.next_attempt_at is not None
        and row.next_attempt_at > now
    )


# -- delivery ------------------------------------------------------------------------------------


@dataclass
class _Claimed:
    notification: Notification
    recipient: User | None
    booking: Booking | None
    attempts: int  # the attempt this claim is (the value stored by the claim)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _claim(
    session_factory: Callable[[], Session], now: dt.datetime, settings: DeliverySettings
) -> list[_Claimed]:
    with session_factory() as session:
        begin_write(session)
        stmt = (
            select(Notification)
            .where(
                _DUE_SQL,
                Notification.next_attempt_at <= now,
                Notification.channel == NotificationChannel.EMAIL,
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(settings.batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        if not rows:
            session.rollback()
            return []
        until = now + dt.timedelta(seconds=settings.claim_seconds)
        session.execute(
            update(Notification)
            .where(Notification.id.in_([r.id for r in rows]))
            .values(
                attempts=Notification.attempts + 1,
                next_attempt_at=until,
                last_error=CLAIM_NOTE + until.isoformat(),
            )
            .execution_options(synchronize_session=False)
        )
        users = {
            u.id: u
            for u in session.scalars(select(User).where(User.id.in_({r.user_id for r in rows})))
        }
        booking_ids = {r.booking_id for r in rows if r.booking_id is not None}
        bookings = (
            {
                b.id: b
                for b in session.scalars(
                    select(Booking)
                    .where(Booking.id.in_(booking_ids))
                    .options(selectinload(Booking.mentor), selectinload(Booking.mentee))
                )
            }
            if booking_ids
            else {}
        )
        claimed = [
            _Claimed(
                notification=r,
                recipient=users.get(r.user_id),
                booking=bookings.get(r.booking_id) if r.booking_id is not None else None,
                attempts=r.attempts + 1,
            )
            for r in rows
        ]
        # Detached with everything loaded: the sending step runs outside any session.
        session.expunge_all()
        session.commit()
    return claimed


def _mark_sent(session_factory: Callable[[], Session], row_id: int, now: dt.datetime) -> None:
    with session_factory() as session:
        begin_write(session)
        # No attempts check: whoever sent it, it is sent, and a SENT row is never claimed again.
        session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status.in_(DUE_STATUSES))
            .values(
                status=NotificationStatus.SENT,
                sent_at=now,
                last_error=None,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()


def _mark_failed(
    session_factory: Callable[[], Session],
    item: _Claimed,
    *,
    now: dt.datetime,
    error: str,
    dead: bool,
    settings: DeliverySettings,
    rng: random.Random,
    skipped: bool = False,
) -> bool:
    """FAILED with a backoff, DEAD, or skipped (SENT without sent_at); False when the claim
    was lost (another attempt runs)."""
    values: dict[str, Any] = {"last_error": error[:ERROR_MAX]}
    if skipped:
        values.update(status=NotificationStatus.SENT, sent_at=None, next_attempt_at=None)
    elif dead:
        values.update(status=NotificationStatus.DEAD, next_attempt_at=None)
    else:
        delay = backoff_seconds(item.attempts, settings, rng)
        values.update(
            status=NotificationStatus.FAILED,
            next_attempt_at=now + dt.timedelta(seconds=delay),
        )
    with session_factory() as session:
        begin_write(session)
        result = session.execute(
            update(Notification)
            .where(
                Notification.id == item.notification.id,
                Notification.status.in_(DUE_STATUSES),
                Notification.attempts == item.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return _rowcount(result) == 1


def _release(
    session_factory: Callable[[], Session], items: Sequence[_Claimed], now: dt.datetime
) -> None:
    """Give unsent claimed rows back: due at once, the attempt not counted."""
    if not items:
        return
    with session_factory() as session:
        begin_write(session)
        for item in items:
            previous = item.notification.last_error
            session.execute(
                update(Notification)
                .where(
                    Notification.id == item.notification.id,
                    Notification.status.in_(DUE_STATUSES),
                    Notification.attempts == item.attempts,
                )
                .values(attempts=item.attempts - 1, next_attempt_at=now, last_error=previous)
                .execution_options(synchronize_session=False)
            )
        session.commit()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def deliver_due(
    session_factory: Callable[[], Session],
    *,
    now: dt.datetime,
    settings: DeliverySettings,
    courier: Courier,
    rng: random.Random | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """Send every due EMAIL row (up to `settings.max_batches` batches); see the module doc.

    `session_factory` makes a new Session per step (e.g. `db.factory`); `courier.close()` is
    called at the end of the pass. Safe to run in several processes at once.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
    report = DeliveryReport()
    try:
        for _ in range(settings.max_batches):
            batch = _claim(session_factory, now, settings)
            if not batch:
                break
            report.batches += 1
            report.claimed += len(batch)
            started = monotonic()
            for index, item in enumerate(batch):
                if monotonic() - started > settings.claim_seconds / 2:
                    rest = batch[index:]
                    _release(session_factory, rest, now)
                    report.released += len(rest)
                    log.warning("outbox: slow sending, gave %d claimed rows back", len(rest))
                    return report
                _deliver_one(session_factory, item, now, settings, courier, rng, report)
            if len(batch) < settings.batch_size:
                break
    finally:
        courier.close()
    return report


def _deliver_one(
    session_factory: Callable[[], Session],
    item: _Claimed,
    now: dt.datetime,
    settings: DeliverySettings,
    courier: Courier,
    rng: random.Random,
    report: DeliveryReport,
) -> None:
    row = item.notification
    recipient = item.recipient
    error: str
    dead = skipped = False
    if recipient is None or not recipient.is_active:
        error, dead = DEACTIVATED, True
    elif not preferences.wants_email(recipient, row.kind):
        group = preferences.group_of(row.kind)
        noun = preferences.GROUP_INFO[group].noun if group else f"{row.kind} emails"
        error, skipped = f"{SKIPPED}the recipient turned off {noun}", True
    else:
        try:
            courier.send(row, recipient, item.booking, now=now)
        except NotSent as exc:
            error, skipped = SKIPPED + exc.reason, True
        except MailError as exc:
            error = _describe(exc) if not str(exc) else str(exc)
            dead = exc.permanent
        except Exception as exc:
            log.exception("outbox: composing or sending notification %s failed", row.id)
            error, dead = _describe(exc), False
        else:
            _mark_sent(session_factory, row.id, now)
            report.sent += 1
            return
    if not (dead or skipped) and item.attempts >= settings.max_attempts:
        dead = True
        error = f"{error} (gave up after {item.attempts} attempts)"
    if _mark_failed(
        session_factory,
        item,
        now=now,
        error=error,
        dead=dead,
        skipped=skipped,
        settings=settings,
        rng=rng,
    ):
        if skipped:
            report.skipped += 1
            log.info("outbox: notification %s %s", row.id, error)
        elif dead:
            report.dead += 1
            log.warning("outbox: notification %s is dead: %s", row.id, error)
        else:
            report.retrying += 1
            log.info(
                "outbox: notification %s failed (attempt %s): %s", row.id, item.attempts, error
            )


# -- the admin's view and retry -------------------------------------------------------------------


def retry(
    session: Session,
    actor: User,
    notification_id: int,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> Notification:
    """An admin sends a failed or dead mail again: pending, attempts from 0, due now.

    NotAllowed (not an active admin), NotFound (no such email row), InvalidTransition (sent,
    already waiting, or being sent right now), StaleVersion (a sender took it meanwhile). The
    caller owns the transaction (begin_write first on SQLite) and commits; writes the audit
    event "notification.retried".
    """
    if not (actor.is_admin and actor.is_active):
        raise NotAllowed("Only program admins can retry mail.")
    row = session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.channel is not NotificationChannel.EMAIL:
        raise NotFound("There is no such mail.")
    if row.status is NotificationStatus.SENT:
        raise InvalidTransition(
            "This mail is done already (sent, or skipped by design): there is nothing to retry."
        )
    if in_flight(row, now):
        raise InvalidTransition(
            "This mail is being sent right now. Reload the page in a minute to see how it went."
        )
    if row.status not in RETRYABLE:
        raise InvalidTransition("This mail is already waiting to be sent.")
    before = {
        "status": row.status.value,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
    }
    result = session.execute(
        update(Notification)
        .where(
            Notification.id == row.id,
            Notification.status == row.status,
            Notification.attempts == row.attempts,
        )
        .values(
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if _rowcount(result) != 1:
        raise StaleVersion(
            "This mail changed while you were looking at it. Its current state is shown."
        )
    audit.record(
        session,
        actor=actor,
        action="notification.retried",
        entity_type="notification",
        entity_id=row.id,
        now=now,
        before=before,
        after={"status": row.status.value, "attempts": 0, "next_attempt_at": now.isoformat()},
        context=context,
    )
    session.flush()
    return row


QUEUE_TABS = ("unsent", "pending", "failed", "dead")
_TAB_STATUSES: dict[str, tuple[NotificationStatus, ...]] = {
    "unsent": (NotificationStatus.DEAD, NotificationStatus.FAILED, NotificationStatus.PENDING),
    "pending": (NotificationStatus.PENDING,),
    "failed": (NotificationStatus.FAILED,),
    "dead": (NotificationStatus.DEAD,),
}


@dataclass(frozen=True)
class QueueRow:
    notification: Notification
    recipient_name: str
    recipient_email: str
    in_flight: bool

    @property
    def can_retry(self) -> bool:
        return self.notification.status in RETRYABLE and not self.in_flight


@dataclass(frozen=True)
class QueuePage:
    tab: str
    counts: dict[str, int]  # every status, "skipped" (SENT without sent_at) and "unsent"
    rows: list[QueueRow]
    page: int
    pages: int
    total: int  # rows in this tab


def queue_page(
    session: Session, *, tab: str, page: int, now: dt.datetime, per_page: int = 50
) -> QueuePage:
    """The admin's list of email that has not gone out: two queries whatever the size."""
    tab = tab if tab in QUEUE_TABS else "unsent"
    by_status = dict.fromkeys([*(s.value for s in NotificationStatus), "skipped"], 0)
    not_sent = Notification.sent_at.is_(None)
    for status, unsent, count in session.execute(
        select(Notification.status, not_sent, func.count())
        .where(Notification.channel == NotificationChannel.EMAIL)
        .group_by(Notification.status, not_sent)
    ):
        key = NotificationStatus(status).value
        if key == NotificationStatus.SENT.value and unsent:
            key = "skipped"  # done by design: nothing went out (see the module doc)
        by_status[key] += int(count)
    counts = {**by_status, "unsent": sum(by_status[s.value] for s in _TAB_STATUSES["unsent"])}
    total = counts[tab]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    severity = case(
        (Notification.status == NotificationStatus.DEAD, 0),
        (Notification.status == NotificationStatus.FAILED, 1),
        else_=2,
    )
    rows = session.execute(
        select(Notification, User.name, User.email)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.channel == NotificationChannel.EMAIL,
            Notification.status.in_(_TAB_STATUSES[tab]),
        )
        .order_by(severity, Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return QueuePage(
        tab=tab,
        counts=counts,
        rows=[QueueRow(n, name, mail, in_flight(n, now)) for n, name, mail in rows],
        page=page,
        pages=pages,
        total=total,
    )


def queue_row(session: Session, notification_id: int, now: dt.datetime) -> QueueRow | None:
    """One row of the admin's list (after a retry, to draw it again)."""
    found = session.execute(
        select(Notification, User.name, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id == notification_id)
    ).first()
    if found is None:
        return None
    n, name, mail = found
    return QueueRow(n, name, mail, in_flight(n, now))
