"""Time-driven work on sessions (DESIGN sections 4 and 5): reminders before a session, the
attendance prompt after it, the nudge for a request nobody has answered, the expiry of a
request whose time has come, and the sweep of spent sign-in links.

Every job is a function `(session, *, now, ...) -> int` that flushes, never commits: the caller
(app/jobs.py) runs each one in its own transaction, and on SQLite starts that transaction with
`begin_write(session)` so that the job's reads and writes see no interleaved writer.

Idempotent, and safe when several processes run a job at once (the scheduler lease normally
prevents that; this is the second line). Each job only ever *adds* outbox rows, each with a
deterministic `dedupe_key` (UNIQUE), written by one bulk `INSERT ... ON CONFLICT (dedupe_key)
DO NOTHING`: a second run, or a concurrent one, writes nothing and never fails on the key.
Rows are written in one global order (offset, start, booking, recipient, channel), so two
PostgreSQL transactions inserting the same keys wait for each other and never deadlock. A
process killed mid-run leaves nothing behind (its transaction never commits); the next run
writes the whole set.

Selection reads the candidates in one streamed scan, in (starts_at, id) order, and works
through them `batch_size` at a time: one look at the keys those bookings already have (by
`ix_notifications_booking_id`), then only the bookings still missing a row are loaded in full,
with the participants' names in the same query. On PostgreSQL that load takes `FOR SHARE` on
those bookings and repeats the selection conditions, so a session cancelled, moved or
confirmed by a concurrent request is either seen in its new state or waits for this job: no
reminder is queued for a session that a committed change has already cancelled.

The scan itself leaves out a booking that already has every row the job would write: each
job states its dedupe keys twice, as Python (`reminder_key`, ...) and as SQL over the booking's
columns (`_reminder_keys_sql`, ...), and the scan keeps a booking only while one of its SQL
keys has no notification (`NOT EXISTS`, a probe of the unique dedupe_key index). The prefilter
can only err towards keeping a booking (a key it builds differently from the Python one
matches nothing, and the Python check then decides as before; a test holds the two equal on
both databases), so it never hides a booking whose version or start changed: its new keys do
not exist yet. A steady-state run (everything already queued) returns no candidate and writes
nothing. The waiting requests come from `ix_bookings_requested_waiting` alone (migration 0016).

Decisions worth knowing:

* Reminders. For the offsets H (REMINDER_HOURS, "24,1") the reminder H is due from exactly
  `starts_at - H` (real elapsed hours in UTC, so a DST change in between moves nothing) until
  the next smaller offset's point, the smallest one until the start. So a late job still
  sends, never after the start, and after an outage a session 30 minutes away gets the 1 h
  reminder only, not "24 hours to go" as well. Both participants, both channels.
* A reminder whose point passed before the booking's last change (`updated_at`: it was
  booked, confirmed or moved after that point) is skipped: that change's own notification has
  just told both people, and "your session is in 24 hours" five hours before it would be
  wrong. Exactly at the point still counts.
* The session's start (epoch seconds) is part of the reminder's key, so a moved session gets
  its own reminders and a stale one is never mistaken for them.
* Attendance due: once per booking, to the mentor, for a confirmed session that has ended,
  has no attendance row and is still inside the window in which attendance can be recorded.
* Unconfirmed requests: once per request version, to the mentor, when the request has waited
  `after_hours` since it was made or last changed (`updated_at`) and the session has not
  started. A new version (the mentee moved it) earns a new prompt after the same wait.
* Expiry: a request still unanswered when its session starts becomes declined by
  compare-and-swap, with an audit event (no actor) and a "booking_declined" notification to
  the mentee in the same transaction (invariant 4). A request changed concurrently keeps its
  new state; the next run looks again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    String,
    Table,
    delete,
    exists,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from app.db import among
from app.models import (
    Attendance,
    Booking,
    BookingStatus,
    LoginToken,
    Notification,
    NotificationChannel,
    NotificationStatus,
    User,
)
from app.services import audit
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.booking import CHANNELS, dedupe_key

__all__ = [
    "ATTENDANCE_DUE_KIND",
    "DEFAULT_BATCH_SIZE",
    "EXPIRED_KIND",
    "EXPIRED_REASON",
    "REMINDER_KIND",
    "UNCONFIRMED_KIND",
    "attendance_due_key",
    "cleanup_sign_in_tokens",
    "expire_stale_requests",
    "parse_hours",
    "queue_attendance_due",
    "queue_reminders",
    "queue_unconfirmed_prompts",
    "reminder_key",
    "unconfirmed_key",
]

REMINDER_KIND = "reminder"
ATTENDANCE_DUE_KIND = "attendance_due"
UNCONFIRMED_KIND = "request_unconfirmed"
EXPIRED_KIND = "booking_declined"
EXPIRED_REASON = "Not confirmed before the session's start time."

DEFAULT_BATCH_SIZE = 500
MAX_REMINDER_HOURS = 24 * 30
# Sessions last at most 90 minutes (schedule.SESSION_LENGTHS); a day of slack bounds the
# index range the attendance job reads, so old unrecorded sessions never slow it down.
_LONGEST_SESSION = dt.timedelta(days=1)

_NOTIFICATIONS = cast(Table, Notification.__table__)
_Mentor = aliased(User, name="mentor")
_Mentee = aliased(User, name="mentee")


class _Candidate(NamedTuple):
    """What selection and the dedupe keys need: read for every candidate."""

    id: int
    starts_at: dt.datetime
    updated_at: dt.datetime
    version: int
    mentor_id: int
    mentee_id: int


class _Full(NamedTuple):
    """A booking as its notifications describe it: read only for rows still to be written."""

    id: int
    starts_at: dt.datetime
    updated_at: dt.datetime
    version: int
    mentor_id: int
    mentee_id: int
    status: BookingStatus
    ends_at: dt.datetime
    mentor_timezone: str
    topic: str
    meeting_url: str | None
    ical_sequence: int
    mentor_name: str
    mentee_name: str


_CANDIDATE_COLUMNS = (
    Booking.id,
    Booking.starts_at,
    Booking.updated_at,
    Booking.version,
    Booking.mentor_id,
    Booking.mentee_id,
)


# -- settings and keys -------------------------------------------------------------------------


def parse_hours(raw: str) -> tuple[int, ...]:
    """REMINDER_HOURS ("24,1") as offsets in hours, largest first; "" turns reminders off.

    ValueError for anything else than distinct whole hours from 1 to 720.
    """
    text = (raw or "").strip()
    if not text:
        return ()
    hours: list[int] = []
    for part in text.split(","):
        item = part.strip()
        try:
            value = int(item)
        except ValueError:
            raise ValueError(
                f"REMINDER_HOURS must list whole hours before a session, separated by commas "
                f'(like "24,1"); {item!r} in {raw!r} is not a whole number.'
            ) from None
        if not 1 <= value <= MAX_REMINDER_HOURS:
            raise ValueError(
                f"REMINDER_HOURS: each offset must be from 1 to {MAX_REMINDER_HOURS} hours; "
                f"got {value} in {raw!r}."
            )
        if value in hours:
            raise ValueError(f"REMINDER_HOURS lists {value} hours twice in {raw!r}.")
        hours.append(value)
    return tuple(sorted(hours, reverse=True))


def reminder_key(
    hours: int, booking_id: int, starts_at: dt.datetime, user_id: int, channel: NotificationChannel
) -> str:
    """The start time is in the key: a moved session gets fresh reminders."""
    epoch = int(starts_at.timestamp())
    return f"reminder-{hours}h:{booking_id}:{epoch}:u{user_id}:{channel.value}"


def attendance_due_key(booking_id: int, mentor_id: int, channel: NotificationChannel) -> str:
    return f"attendance-due:{booking_id}:u{mentor_id}:{channel.value}"


def unconfirmed_key(
    booking_id: int, version: int, mentor_id: int, channel: NotificationChannel
) -> str:
    return f"unconfirmed:{booking_id}:v{version}:u{mentor_id}:{channel.value}"


# The same keys in SQL, over the columns of the booking in the statement (the prefilter).
# Each must build exactly the Python key's text: tests/unit/test_reminders.py compares them.


def _concat(*parts: str | ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[str]:
    """SQL `a || b || ...`: literal text as is, anything else cast to text."""
    pieces: list[ColumnElement[str]] = [
        literal(part, String) if isinstance(part, str) else sql_cast(part, String) for part in parts
    ]
    joined: ColumnElement[str] = pieces[0]
    for piece in pieces[1:]:
        joined = joined + piece
    return joined


def _epoch_sql(dialect: str, moment: InstrumentedAttribute[dt.datetime]) -> ColumnElement[Any]:
    """Whole seconds since 1970 of a stored UTC time, as `int(moment.timestamp())`."""
    if dialect == "postgresql":
        return sql_cast(func.floor(extract("epoch", moment)), BigInteger)
    # SQLite keeps naive UTC text (app.db.UTCDateTime); '%s' is its whole seconds.
    return func.strftime("%s", moment)


def _reminder_keys_sql(dialect: str, hours: int) -> list[ColumnElement[str]]:
    epoch = _epoch_sql(dialect, Booking.starts_at)
    return [
        _concat(f"reminder-{hours}h:", Booking.id, ":", epoch, ":u", user, f":{channel.value}")
        for user in (Booking.mentor_id, Booking.mentee_id)
        for channel in CHANNELS
    ]


def _attendance_due_keys_sql() -> list[ColumnElement[str]]:
    return [
        _concat("attendance-due:", Booking.id, ":u", Booking.mentor_id, f":{channel.value}")
        for channel in CHANNELS
    ]


def _unconfirmed_keys_sql() -> list[ColumnElement[str]]:
    return [
        _concat(
            "unconfirmed:",
            Booking.id,
            ":v",
            Booking.version,
            ":u",
            Booking.mentor_id,
            f":{channel.value}",
        )
        for channel in CHANNELS
    ]


def _lacks_a_key(keys: Sequence[ColumnElement[str]]) -> ColumnElement[bool]:
    """SQL: at least one of these keys has no notification yet (each a probe of the
    unique dedupe_key index)."""
    return or_(*(~exists().where(Notification.dedupe_key == key) for key in keys))


# -- the shared machinery ----------------------------------------------------------------------


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC datetime as now")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """INSERT the rows, skipping any whose dedupe_key exists (or is being inserted by a
    concurrent transaction, which this one waits for). Returns how many were written."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:  # pragma: no cover - MentorHub runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"reminders: unsupported database {dialect!r}")
    result = session.execute(stmt.returning(_NOTIFICATIONS.c.id), list(rows))
    return len(result.all())


def _row(
    *,
    user_id: int,
    kind: str,
    booking_id: int,
    channel: NotificationChannel,
    payload: dict[str, Any],
    key: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """One pending outbox row, exactly as booking._notify writes it."""
    return {
        "user_id": user_id,
        "kind": kind,
        "booking_id": booking_id,
        "channel": channel,
        "payload": payload,
        "dedupe_key": key,
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "read_at": None,
    }


class _Keyed(Protocol):
    """What selection rules and dedupe keys read: both _Candidate and _Full have it."""

    @property
    def id(self) -> int: ...
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def version(self) -> int: ...
    @property
    def mentor_id(self) -> int: ...
    @property
    def mentee_id(self) -> int: ...


def _payload(full: _Full, recipient_id: int, **extra: Any) -> dict[str, Any]:
    """The same shape as booking._notify's payload (no actor: the job sends it)."""
    return {
        "booking_id": full.id,
        "status": BookingStatus(full.status).value,
        "starts_at": _iso(full.starts_at),
        "ends_at": _iso(full.ends_at),
        "mentor_timezone": full.mentor_timezone,
        "mentor_id": full.mentor_id,
        "mentor_name": full.mentor_name,
        "mentee_id": full.mentee_id,
        "mentee_name": full.mentee_name,
        "topic": full.topic,
        "meeting_url": full.meeting_url,
        "recipient_role": "mentor" if recipient_id == full.mentor_id else "mentee",
        "ical_sequence": full.ical_sequence,
        **extra,
    }


def _batches(
    session: Session, where: Sequence[ColumnElement[bool]], batch_size: int
) -> Iterator[list[_Candidate]]:
    """Narrow candidate rows in (starts_at, id) order, `batch_size` at a time.

    One index range scan, streamed (a server-side cursor on PostgreSQL): no batch re-reads
    what an earlier one saw, however many sessions share a start time. Callers may write
    other tables while iterating; the expiry, which updates these very rows, reads first.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stmt = (
        select(*_CANDIDATE_COLUMNS)
        .where(*where)
        .order_by(Booking.starts_at, Booking.id)
        .execution_options(yield_per=batch_size)
    )
    for part in session.execute(stmt).partitions():
        yield [_Candidate._make(row) for row in part]


def _existing_keys(session: Session, booking_ids: Sequence[int], kind: str) -> set[str]:
    if not booking_ids:
        return set()
    return set(
        session.scalars(
            select(Notification.dedupe_key).where(
                among(session, Notification.booking_id, booking_ids),
                Notification.kind == kind,
            )
        )
    )


def _load(
    session: Session, booking_ids: Sequence[int], where: Sequence[ColumnElement[bool]]
) -> list[_Full]:
    """The bookings in full with both names, re-checked under FOR SHARE on PostgreSQL."""
    stmt = (
        select(
            *_CANDIDATE_COLUMNS,
            Booking.status,
            Booking.ends_at,
            Booking.mentor_timezone,
            Booking.topic,
            Booking.meeting_url,
            Booking.ical_sequence,
            _Mentor.name,
            _Mentee.name,
        )
        .join(_Mentor, _Mentor.id == Booking.mentor_id)
        .join(_Mentee, _Mentee.id == Booking.mentee_id)
        .where(among(session, Booking.id, booking_ids), *where)
        .order_by(Booking.starts_at, Booking.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True, of=Booking)
    return [_Full._make(row) for row in session.execute(stmt)]


# (recipient user id, dedupe key, channel) for each row a booking should have.
_Plan = Callable[[_Keyed], list[tuple[int, str, NotificationChannel]]]


def _always(row: _Keyed) -> bool:
    return True


def _queue(
    session: Session,
    *,
    kind: str,
    where: Sequence[ColumnElement[bool]],
    keys_sql: Sequence[ColumnElement[str]],
    plan: _Plan,
    extra: Callable[[_Full], dict[str, Any]],
    now: dt.datetime,
    batch_size: int,
    accept: Callable[[_Keyed], bool] = _always,
) -> int:
    """Candidates still lacking a key (`keys_sql`: plan's keys in SQL) -> keys they lack ->
    full rows (locked, re-checked) -> one bulk insert each."""
    written = 0
    for batch in _batches(session, [*where, _lacks_a_key(keys_sql)], batch_size):
        candidates = [row for row in batch if accept(row)]
        existing = _existing_keys(session, [row.id for row in candidates], kind)
        missing = [
            row.id for row in candidates if any(key not in existing for _, key, _ in plan(row))
        ]
        if not missing:
            continue
        rows: list[dict[str, Any]] = []
        for full in _load(session, missing, where):
            if not accept(full):
                continue
            more = extra(full)
            payloads: dict[int, dict[str, Any]] = {}
            for user_id, key, channel in plan(full):
                if key in existing:
                    continue
                payload = payloads.get(user_id)
                if payload is None:
                    payload = payloads[user_id] = _payload(full, user_id, **more)
                rows.append(
                    _row(
                        user_id=user_id,
                        kind=kind,
                        booking_id=full.id,
                        channel=channel,
                        payload=payload,
                        key=key,
                        now=now,
                    )
                )
        written += _insert_new(session, rows)
    return written


def _both(row: _Keyed) -> list[int]:
    """Both participants in id order (one global order for the inserts)."""
    return sorted((row.mentor_id, row.mentee_id))


# -- the jobs ----------------------------------------------------------------------------------


def queue_reminders(
    session: Session,
    *,
    now: dt.datetime,
    hours: Sequence[int] = (24, 1),
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Queue the due reminders of confirmed sessions; returns the Notification rows written.

    Offset H is due when `starts_at - H <= now` and the next smaller offset is not yet due
    (the smallest: the session has not started), and the booking's last change was at or
    before `starts_at - H`. Kind "reminder", both participants, both channels, payload as
    every booking notification plus "hours".
    """
    _require_aware(now)
    offsets = sorted(set(hours), reverse=True)
    if any(h < 1 for h in offsets):
        raise ValueError(f"reminder offsets must be whole hours of at least 1; got {hours!r}")
    dialect = session.get_bind().dialect.name
    written = 0
    for i, offset in enumerate(offsets):
        reach = dt.timedelta(hours=offset)
        superseded_at = dt.timedelta(hours=offsets[i + 1]) if i + 1 < len(offsets) else None
        lower = now + superseded_at if superseded_at is not None else now
        where = [
            Booking.status == BookingStatus.CONFIRMED,
            Booking.starts_at > lower,
            Booking.starts_at <= now + reach,
        ]

        def plan(row: _Keyed, h: int = offset) -> list[tuple[int, str, NotificationChannel]]:
            return [
                (uid, reminder_key(h, row.id, row.starts_at, uid, channel), channel)
                for uid in _both(row)
                for channel in CHANNELS
            ]

        def accept(row: _Keyed, reach: dt.timedelta = reach) -> bool:
            return row.updated_at <= row.starts_at - reach

        def extra(row: _Full, h: int = offset) -> dict[str, Any]:
            return {"hours": h}

        written += _queue(
            session,
            kind=REMINDER_KIND,
            where=where,
            keys_sql=_reminder_keys_sql(dialect, offset),
            plan=plan,
            extra=extra,
            now=now,
            batch_size=batch_size,
            accept=accept,
        )
    return written


def queue_attendance_due(
    session: Session,
    *,
    now: dt.datetime,
    window_days: int = 14,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Ask the mentor, once per booking, to record attendance; returns the rows written.

    Confirmed sessions with `ends_at <= now < ends_at + window_days` and no attendance row.
    Kind "attendance_due"; the payload adds "window_closes_at".
    """
    _require_aware(now)
    window = dt.timedelta(days=window_days)
    where = [
        Booking.status == BookingStatus.CONFIRMED,
        Booking.starts_at <= now,  # implied by ends_at <= now; keeps the index range tight
        Booking.starts_at > now - window - _LONGEST_SESSION,
        Booking.ends_at <= now,
        Booking.ends_at > now - window,
        ~exists().where(Attendance.booking_id == Booking.id),
    ]

    def plan(row: _Keyed) -> list[tuple[int, str, NotificationChannel]]:
        return [
            (row.mentor_id, attendance_due_key(row.id, row.mentor_id, channel), channel)
            for channel in CHANNELS
        ]

    return _queue(
        session,
        kind=ATTENDANCE_DUE_KIND,
        where=where,
        keys_sql=_attendance_due_keys_sql(),
        plan=plan,
        extra=lambda row: {"window_closes_at": _iso(row.ends_at + window)},
        now=now,
        batch_size=batch_size,
    )


def queue_unconfirmed_prompts(
    session: Session,
    *,
    now: dt.datetime,
    after_hours: int = 24,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Remind the mentor of a request waiting `after_hours` or more; returns the rows written.

    Requested sessions not yet started whose last change (`updated_at`) is at least
    `after_hours` old; once per request version. Kind "request_unconfirmed"; the payload adds
    "requested_at" and "waiting_hours".
    """
    _require_aware(now)
    where = [
        # The predicate of ix_bookings_requested_waiting, a literal so that every plan
        # (a prepared one too) can prove it: the candidates come from that index alone.
        Booking.status == literal_column("'requested'"),
        Booking.starts_at > now,
        Booking.updated_at <= now - dt.timedelta(hours=after_hours),
    ]

    def plan(row: _Keyed) -> list[tuple[int, str, NotificationChannel]]:
        return [
            (row.mentor_id, unconfirmed_key(row.id, row.version, row.mentor_id, channel), channel)
            for channel in CHANNELS
        ]

    def extra(row: _Full) -> dict[str, Any]:
        waited = int((now - row.updated_at).total_seconds() // 3600)
        return {"requested_at": _iso(row.updated_at), "waiting_hours": waited}

    return _queue(
        session,
        kind=UNCONFIRMED_KIND,
        where=where,
        keys_sql=_unconfirmed_keys_sql(),
        plan=plan,
        extra=extra,
        now=now,
        batch_size=batch_size,
    )


def expire_stale_requests(
    session: Session,
    *,
    now: dt.datetime,
    actor_label: str = "MentorHub",
    context: RequestContext = NO_CONTEXT,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Requests whose session has started become declined; returns the bookings expired.

    Each one by compare-and-swap (status requested, the version read): a request confirmed,
    cancelled or moved meanwhile is left as it is. Writes the AuditEvent "booking.expired"
    (no actor) and a "booking_declined" notification to the mentee on both channels, keyed by
    booking.dedupe_key with the new version; `actor_label` is the name the notification gives
    as the one who acted.
    """
    _require_aware(now)
    where = [Booking.status == BookingStatus.REQUESTED, Booking.starts_at <= now]
    expired = 0
    # Read first, then write: the updates must not move under an open scan of these rows.
    for batch in list(_batches(session, where, batch_size)):
        swapped: list[int] = []
        for row in batch:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(Booking)
                    .where(
                        Booking.id == row.id,
                        Booking.status == BookingStatus.REQUESTED,
                        Booking.version == row.version,
                    )
                    .values(
                        status=BookingStatus.DECLINED,
                        decline_reason=EXPIRED_REASON,
                        version=Booking.version + 1,
                        ical_sequence=Booking.ical_sequence + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount != 1:
                continue  # changed meanwhile: its new state stands
            swapped.append(row.id)
            audit.record(
                session,
                actor=None,
                action="booking.expired",
                entity_type="booking",
                entity_id=row.id,
                now=now,
                before={"status": BookingStatus.REQUESTED.value, "version": row.version},
                after={
                    "status": BookingStatus.DECLINED.value,
                    "version": row.version + 1,
                    "reason": EXPIRED_REASON,
                },
                context=context,
            )
        if not swapped:
            continue
        expired += len(swapped)
        # Objects this session already holds must not keep the old state.
        for booking_id in swapped:
            held = session.identity_map.get(session.identity_key(Booking, booking_id))
            if held is not None:
                session.expire(held)
        rows: list[dict[str, Any]] = []
        for full in _load(session, swapped, [Booking.status == BookingStatus.DECLINED]):
            payload = _payload(
                full,
                full.mentee_id,
                actor_id=None,
                actor_name=actor_label,
                reason=EXPIRED_REASON,
                expired=True,
            )
            # booking.dedupe_key reads only id and version: a transient stand-in, never added.
            keyed = Booking(id=full.id, version=full.version)
            for channel in CHANNELS:
                rows.append(
                    _row(
                        user_id=full.mentee_id,
                        kind=EXPIRED_KIND,
                        booking_id=full.id,
                        channel=channel,
                        payload=payload,
                        key=dedupe_key(EXPIRED_KIND, keyed, full.mentee_id, channel),
                        now=now,
                    )
                )
        _insert_new(session, rows)
    session.flush()
    return expired


def cleanup_sign_in_tokens(
    session: Session, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=1)
) -> int:
    """Delete sign-in tokens that expired more than `keep` ago, used or not; returns how many.

    A day's grace keeps the "this link has expired" answer (rather than "unknown link") for a
    member who clicks an old email shortly after.
    """
    _require_aware(now)
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(LoginToken)
            .where(LoginToken.expires_at < now - keep)
            .execution_options(synchronize_session=False)
        ),
    )
    return int(result.rowcount)
