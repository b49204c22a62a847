"""The session lifecycle (DESIGN section 4): book, confirm, decline, cancel, reschedule,
record attendance and set the meeting link, each with its permission question beside it.

    requested -> confirmed -> completed | no_show      (attendance recorded)
    requested -> declined
    requested | confirmed -> cancelled
    requested | confirmed -> moved (same id, ical_sequence + 1)

Every action comes in a pair, like `can_cancel(actor, booking, now)` and `cancel(...)`: the
`can_*` answer is what templates ask to show a button, and the action asks the very same
question (`*_refusal` returns the error it would raise, or None) so the two never disagree.

Transactions. The caller owns the transaction and starts it with `begin_write(session)` before
calling any action here (on SQLite that takes the write lock up front, so a check and the write
that depends on it see no interleaved writer); then it calls one action and commits once. These
functions flush, never commit. On PostgreSQL the exclusion constraints
`ex_bookings_{mentor,mentee}_id_no_overlap` are the last word on overlaps (invariant 1); a
violation becomes `SlotTaken`, never a 500. On PostgreSQL `book` and `reschedule` also row-lock
the two people involved (in id order, `FOR NO KEY UPDATE`) so that the checks the constraints do
not cover (the per-mentee limits, the buffer, a mentor's own sessions as a mentee) are exact too.

Every status change is a compare-and-swap on (status, version): the caller passes the `version`
its page was drawn from; a page drawn from an older version gets `StaleVersion` (409) and the
booking is refreshed, so the web layer can show the current state. Each change writes one
AuditEvent and the Notification rows for the people to tell, in the same transaction
(invariant 4); sending them is the outbox job's business.

Decisions worth knowing:
* Cancelling (by anyone) and confirming/declining are possible until the session starts; after
  that, what happened is recorded as attendance.
* A mentee's cancellation less than `mentee_cutoff_hours` before the start is allowed but flagged
  `late_cancellation`; exactly at the cut-off it is not late. A mentee may move a session only
  while at least the cut-off remains. Mentors and admins are not bound by the cut-off, but must
  give a reason to cancel or move a session.
* An admin acting on a session where they are the mentee acts as the mentee (no admin powers
  over one's own request).
* A moved session gets the mentor's current session length, like any new booking (the slot
  engine is the one source of truth for bookable times).
* Who is told: everyone on the session except the actor (so an admin's action tells both). When
  a booking is confirmed at once (the mentor does not require confirmation), the mentee is also
  sent "booking_confirmed", so that they get the calendar invite.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app.models import (
    ACTIVE_STATUSES,
    Attendance,
    AttendanceOutcome,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    Notification,
    NotificationChannel,
    User,
)
from app.services import (
    audit,
    feedback,
    meeting_links,
    mentor_index,
    outbox,
    schedule,
    slot_engine,
)
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotAllowed,
    SlotTaken,
    StaleVersion,
    ValidationFailed,
)

__all__ = [
    "CHANNELS",
    "AttendanceInput",
    "BookingPolicy",
    "attendance_refusal",
    "book",
    "book_refusal",
    "can_book",
    "can_cancel",
    "can_confirm",
    "can_decline",
    "can_record_attendance",
    "can_reschedule",
    "can_set_meeting_link",
    "cancel",
    "cancel_refusal",
    "confirm",
    "confirm_refusal",
    "decline",
    "decline_refusal",
    "dedupe_key",
    "is_late_cancellation",
    "meeting_link_refusal",
    "overlaps",
    "record_attendance",
    "reschedule",
    "reschedule_refusal",
    "role_of",
    "set_meeting_link",
    "status_words",
]

TOPIC_MAX = 200
NOTES_MAX = 2000
REASON_MAX = 1000
ATTENDANCE_NOTES_MAX = 2000
ATTENDANCE_MINUTES_MAX = 24 * 60

CHANNELS = (NotificationChannel.EMAIL, NotificationChannel.IN_APP)

MENTOR_CONSTRAINT = "ex_bookings_mentor_id_no_overlap"
MENTEE_CONSTRAINT = "ex_bookings_mentee_id_no_overlap"
SLOT_TAKEN = "That time was just taken. Pick another time."
YOU_ARE_BUSY = "You already have a session at that time."
DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected
DEADLOCK_RETRIES = 5

_T = TypeVar("_T")

_STATUS_WORDS = {
    BookingStatus.REQUESTED: "waiting for the mentor's confirmation",
    BookingStatus.CONFIRMED: "confirmed",
    BookingStatus.DECLINED: "declined",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.COMPLETED: "completed",
    BookingStatus.NO_SHOW: "marked as a no-show",
}

Role = Literal["mentee", "mentor", "admin"]
_MENTOR_SIDE: frozenset[Role] = frozenset(("mentor", "admin"))
_ANYONE: frozenset[Role] = frozenset(("mentee", "mentor", "admin"))


@dataclass(frozen=True)
class BookingPolicy:
    """Program-wide limits; the web layer fills them from config."""

    max_active_per_mentee: int = 3
    max_new_per_hour: int = 3  # bookings created by one mentee in the last 60 minutes
    mentee_cutoff_hours: int = 24  # inside it: mentee cancel is late, mentee reschedule refused
    attendance_window_days: int = 14
    meeting_domains: tuple[str, ...] = meeting_links.DEFAULT_DOMAINS


DEFAULT_POLICY = BookingPolicy()


class AttendanceInput(NamedTuple):
    """One participant's attendance as entered: a plain tuple (outcome, minutes, notes) works.

    `shared` is the mentor's choice to show the notes to the mentee (their progress
    snapshot); it only means something on the mentee's row and is off unless given."""

    outcome: AttendanceOutcome | str
    minutes: int | str = 0
    notes: str = ""
    shared: bool | str = False


# -- small shared pieces -----------------------------------------------------------------------


def overlaps(
    a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime
) -> bool:
    """Half-open intervals: back-to-back sessions (10-11, 11-12) do not overlap."""
    return a_start < b_end and b_start < a_end


def status_words(status: BookingStatus) -> str:
    return _STATUS_WORDS.get(status, str(status))


def role_of(actor: User, booking: Booking) -> Role | None:
    """The capacity in which `actor` acts on `booking`, or None for an outsider.

    A participant acts as themself first: an admin who is the mentee has no admin powers here.
    Deactivated accounts act as nobody.
    """
    if not actor.is_active:
        return None
    if actor.id == booking.mentee_id:
        return "mentee"
    if actor.id == booking.mentor_id:
        return "mentor"
    if actor.is_admin:
        return "admin"
    return None


def _role_refusal(
    actor: User, booking: Booking, allowed: frozenset[Role], doing: str
) -> NotAllowed | None:
    if role_of(actor, booking) in allowed:
        return None
    who = "the mentor or a program admin" if allowed == _MENTOR_SIDE else "its participants"
    return NotAllowed(f"Only {who} can {doing} this session.")


def _status_refusal(
    booking: Booking, allowed: Iterable[BookingStatus], doing: str
) -> InvalidTransition | None:
    if booking.status in tuple(allowed):
        return None
    return InvalidTransition(
        f"This session is {status_words(booking.status)}, so it can't be {doing}."
    )


def _started_refusal(booking: Booking, now: dt.datetime, doing: str) -> InvalidTransition | None:
    if now < booking.starts_at:
        return None
    return InvalidTransition(f"This session has already started, so it can't be {doing} any more.")


def _first(*checks: Callable[[], DomainError | None]) -> DomainError | None:
    for check in checks:
        refusal = check()
        if refusal is not None:
            return refusal
    return None


def _raise_if(refusal: DomainError | None) -> None:
    if refusal is not None:
        raise refusal


def _stale(booking: Booking) -> StaleVersion:
    return StaleVersion(
        "This session was changed by someone else while you were looking at it "
        f"(it is now {status_words(booking.status)}). Nothing was saved: check its current "
        "state below and try again if you still need to."
    )


def _prepare(
    session: Session,
    actor: User,
    booking: Booking,
    version: int,
    allowed: frozenset[Role],
    doing: str,
) -> Role:
    """The shared start of every transition: who (403), then fresh state, then stale (409).

    The booking is re-read first, so every check below runs on the committed state.
    """
    _raise_if(_role_refusal(actor, booking, allowed, doing))
    session.refresh(booking)
    if version != booking.version:
        raise _stale(booking)
    role = role_of(actor, booking)
    if role is None:  # pragma: no cover - checked above; participants never change
        raise NotAllowed("You can't change this session.")
    return role


def _swap(
    session: Session,
    booking: Booking,
    *,
    version: int,
    now: dt.datetime,
    values: Mapping[str, Any],
    moves: bool = False,
    mentee_busy: str = YOU_ARE_BUSY,
) -> None:
    """The compare-and-swap: UPDATE ... WHERE id AND status AND version; 0 rows means stale.

    `moves` (the session gets a new interval) runs it through `_guarded`, so that the
    no-overlap constraints on PostgreSQL answer SlotTaken.
    """
    stmt = (
        update(Booking)
        .where(
            Booking.id == booking.id,
            Booking.status == booking.status,
            Booking.version == version,
        )
        .values(**values, version=Booking.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if moves:
        result = _guarded(
            session, lambda: cast(CursorResult[Any], session.execute(stmt)), mentee_busy
        )
    else:
        result = cast(CursorResult[Any], session.execute(stmt))
    session.refresh(booking)
    if result.rowcount != 1:
        raise _stale(booking)


def _overlap_error(exc: IntegrityError, mentee_busy: str = YOU_ARE_BUSY) -> SlotTaken | None:
    """SlotTaken for a violation of one of the no-overlap constraints, else None."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    name = str(getattr(diag, "constraint_name", "") or "")
    text = f"{name} {orig}"
    if MENTOR_CONSTRAINT in text:
        return SlotTaken(SLOT_TAKEN)
    if MENTEE_CONSTRAINT in text:
        return SlotTaken(mentee_busy)
    return None


def _is_deadlock(exc: OperationalError) -> bool:
    orig = exc.orig
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == DEADLOCK


def _guarded(session: Session, write: Callable[[], _T], mentee_busy: str = YOU_ARE_BUSY) -> _T:
    """Run a write that may collide with another session's interval, in a savepoint.

    A no-overlap violation becomes SlotTaken and leaves the transaction usable. PostgreSQL
    checks an exclusion constraint after inserting the index entry, so two writers racing for
    one interval can each wait for the other; the deadlock detector then aborts one of them.
    Its savepoint is rolled back and the write tried again: now it waits for the survivor and
    gets the real answer (taken, or free if the survivor gave up). Repeated deadlocks mean a
    crowd is fighting for that time, and the answer is that it was taken.
    """
    for _ in range(DEADLOCK_RETRIES):
        try:
            with session.begin_nested():
                return write()
        except IntegrityError as exc:
            taken = _overlap_error(exc, mentee_busy)
            if taken is None:
                raise
            raise taken from exc
        except OperationalError as exc:
            if not _is_deadlock(exc):
                raise
    raise SlotTaken(SLOT_TAKEN)


def _insert(session: Session, booking: Booking, *, mentee_busy: str = YOU_ARE_BUSY) -> None:
    """INSERT the booking; a no-overlap violation becomes SlotTaken (see `_guarded`)."""

    def write() -> None:
        session.add(booking)
        session.flush()

    _guarded(session, write, mentee_busy)


def _lock_people(session: Session, *user_ids: int) -> None:
    """PostgreSQL: serialise booking work per person (ids in order, so no deadlock).

    `FOR NO KEY UPDATE` does not block the key-share locks that foreign keys take, so other
    writes that merely reference these users go on. SQLite needs nothing: begin_write holds
    the database's write lock already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        select(User.id)
        .where(User.id.in_(sorted(set(user_ids))))
        .order_by(User.id)
        .with_for_update(key_share=True)
    )


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(field_errors={name: "Choose a time from the calendar."})


def _reason(raw: str | None, *, required: bool, who: str = "the other participant") -> str | None:
    text = (raw or "").strip()
    if required and not text:
        raise ValidationFailed(
            field_errors={"reason": f"Give a reason: it is sent to {who} with the update."}
        )
    if len(text) > REASON_MAX:
        raise ValidationFailed(field_errors={"reason": f"Use at most {REASON_MAX} characters."})
    return text or None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _snapshot(booking: Booking, *fields: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(booking, name)
        if isinstance(value, dt.datetime):
            value = _iso(value)
        elif isinstance(value, BookingStatus):
            value = value.value
        out[name] = value
    return out


def dedupe_key(kind: str, booking: Booking, user_id: int, channel: NotificationChannel) -> str:
    """Deterministic per (event, version, recipient, channel): a retry never adds a second row."""
    return f"{kind}:{booking.id}:v{booking.version}:u{user_id}:{channel.value}"


def _others(booking: Booking, actor: User) -> list[int]:
    """Everyone on the session except the actor: an admin's action tells both."""
    return [uid for uid in (booking.mentee_id, booking.mentor_id) if uid != actor.id]


def _notify(
    session: Session,
    booking: Booking,
    kind: str,
    recipients: Iterable[int],
    *,
    actor: User,
    now: dt.datetime,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[Notification]:
    """One pending row per recipient and channel, in the caller's transaction (invariant 4)."""
    rows = []
    for user_id in recipients:
        payload: dict[str, Any] = {
            "booking_id": booking.id,
            "status": booking.status.value,
            "starts_at": _iso(booking.starts_at),
            "ends_at": _iso(booking.ends_at),
            "mentor_timezone": booking.mentor_timezone,
            "mentor_id": booking.mentor_id,
            "mentor_name": booking.mentor.name,
            "mentee_id": booking.mentee_id,
            "mentee_name": booking.mentee.name,
            "topic": booking.topic,
            "meeting_url": booking.meeting_url,
            "recipient_role": "mentor" if user_id == booking.mentor_id else "mentee",
            "actor_id": actor.id,
            "actor_name": actor.name,
            "reason": reason,
            "ical_sequence": booking.ical_sequence,
            **(extra or {}),
        }
        for channel in CHANNELS:
            rows.append(
                outbox.queue(
                    session,
                    user_id=user_id,
                    kind=kind,
                    channel=channel,
                    payload=payload,
                    dedupe_key=dedupe_key(kind, booking, user_id, channel),
                    now=now,
                    booking_id=booking.id,
                )
            )
    return rows


def _audit(
    session: Session,
    actor: User,
    booking: Booking,
    action: str,
    now: dt.datetime,
    context: RequestContext,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="booking",
        entity_id=booking.id,
        now=now,
        before=before,
        after=after,
        context=context,
    )
    _refresh_directory(session, booking, action, now)


# The directory's stored numbers that each change makes stale (app/services/mentor_index.py).
_FREES_OR_TAKES_TIME = frozenset(
    {"booking.requested", "booking.declined", "booking.cancelled", "booking.rescheduled"}
)


def _refresh_directory(session: Session, booking: Booking, action: str, now: dt.datetime) -> None:
    """Keep the directory's "next available" and "sessions completed" true in the same
    transaction as the change (every change passes through `_audit`)."""
    if action in _FREES_OR_TAKES_TIME:
        session.flush()
        mentor_index.refresh_for_users(session, (booking.mentor_id, booking.mentee_id), now)
    elif action == "booking.attendance_recorded":
        session.flush()
        mentor_index.refresh_stats(session, (booking.mentor_id,))


# -- the slot checks shared by book and reschedule ---------------------------------------------


def _check_offered(
    engine: slot_engine.MentorSchedule,
    busy: list[slot_engine.Busy],
    profile: MentorProfile,
    *,
    now: dt.datetime,
    starts_at: dt.datetime,
) -> None:
    """Invariant 2 through the slot engine: exactly a start it offers, or a clear refusal."""
    if slot_engine.is_bookable(engine, busy, now=now, starts_at=starts_at):
        return
    if slot_engine.is_bookable(engine, [], now=now, starts_at=starts_at):
        # Offered on the mentor's hours, refused only because it is busy now.
        raise SlotTaken(SLOT_TAKEN)
    name = profile.user.name
    if starts_at <= now:
        message = "That time has already passed. Pick a time in the future."
    elif starts_at < now + dt.timedelta(hours=profile.min_notice_hours):
        message = (
            f"{name} needs at least {profile.min_notice_hours} hours' notice. Pick a later time."
        )
    elif starts_at >= now + dt.timedelta(days=profile.horizon_days):
        message = (
            f"Sessions with {name} can be booked up to {profile.horizon_days} days ahead. "
            "Pick an earlier time."
        )
    else:
        message = f"{name} has no session starting at that time. Pick one of the times shown."
    raise ValidationFailed(message, field_errors={"starts_at": message})


def _check_person_free(
    session: Session,
    user_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    now: dt.datetime,
    *,
    message: str,
    ignore_id: int | None = None,
) -> None:
    """Nobody is in two sessions at once, as mentee or as mentor (invariant 1, person side)."""
    for other in schedule._active_bookings(session, user_id, now):
        if other.id != ignore_id and overlaps(starts_at, ends_at, other.starts_at, other.ends_at):
            raise SlotTaken(message)


def _check_limits(session: Session, actor: User, now: dt.datetime, policy: BookingPolicy) -> None:
    active = session.scalar(
        select(func.count(Booking.id)).where(
            Booking.mentee_id == actor.id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.ends_at > now,
        )
    )
    if (active or 0) >= policy.max_active_per_mentee:
        raise ValidationFailed(
            f"You already have {policy.max_active_per_mentee} upcoming sessions, the most you can "
            "have at once. Cancel one you no longer need, or book again after one has taken place."
        )
    since = now - dt.timedelta(hours=1)
    recent = list(
        session.scalars(
            select(Booking.created_at)
            .where(Booking.mentee_id == actor.id, Booking.created_at > since)
            .order_by(Booking.created_at)
        )
    )
    if len(recent) >= policy.max_new_per_hour:
        # The oldest one in the window has to age out before there is room again.
        free_at = recent[len(recent) - policy.max_new_per_hour] + dt.timedelta(hours=1)
        minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
        raise NotAllowed(
            f"You have booked {policy.max_new_per_hour} sessions in the last hour, the most "
            f"allowed. You can book again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


# -- book --------------------------------------------------------------------------------------


def book_refusal(actor: User, profile: MentorProfile) -> DomainError | None:
    """Why `actor` may not book `profile`'s mentor at all (limits and times are checked later)."""
    if not actor.is_active:
        return NotAllowed("Your account is deactivated, so you can't book sessions.")
    if actor.id == profile.user_id:
        return NotAllowed("You can't book a session with yourself.")
    if profile.status != MentorStatus.APPROVED or not profile.user.is_active:
        return NotAllowed(f"{profile.user.name} is not taking bookings right now.")
    return None


def can_book(actor: User, profile: MentorProfile) -> bool:
    return book_refusal(actor, profile) is None


def _validate_request(topic: str | None, notes: str | None) -> tuple[str, str]:
    topic = (topic or "").strip()
    notes = (notes or "").strip()
    errors: dict[str, str] = {}
    if not topic:
        errors["topic"] = "Say in a few words what you'd like to talk about."
    elif len(topic) > TOPIC_MAX:
        errors["topic"] = f"Keep the topic to {TOPIC_MAX} characters or fewer."
    if len(notes) > NOTES_MAX:
        errors["notes"] = f"Keep the notes to {NOTES_MAX} characters or fewer."
    if errors:
        raise ValidationFailed(field_errors=errors)
    return topic, notes


def book(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    starts_at: dt.datetime,
    topic: str,
    notes: str = "",
    now: dt.datetime,
    policy: BookingPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """Book `profile`'s mentor at `starts_at` for `actor` (the mentee).

    The caller MUST start the transaction with `begin_write(session)` first (and load `profile`
    after it): the availability check and the INSERT then form one atomic step on SQLite; on
    PostgreSQL the no-overlap constraints decide a race and the loser gets SlotTaken.

    Refuses with NotAllowed (not bookable by this actor; too many new bookings in the last hour),
    ValidationFailed (topic/notes; too many active bookings; a start the mentor does not offer:
    off their hours or grid, inside the notice, beyond the horizon - field "starts_at"), or
    SlotTaken (the time was just taken; the mentee already has a session then). The booking is
    `requested` when the mentor requires confirmation, else `confirmed`; it writes the audit
    event and notifications.
    """
    _raise_if(book_refusal(actor, profile))
    _require_aware("starts_at", starts_at)
    topic, notes = _validate_request(topic, notes)
    _lock_people(session, actor.id, profile.user_id)
    _check_limits(session, actor, now, policy)

    data = schedule.load(session, profile, now)
    _check_offered(data.engine, data.busy, profile, now=now, starts_at=starts_at)
    ends_at = starts_at + dt.timedelta(minutes=profile.session_minutes)
    _check_person_free(session, actor.id, starts_at, ends_at, now, message=YOU_ARE_BUSY)

    status = BookingStatus.REQUESTED if profile.requires_confirmation else BookingStatus.CONFIRMED
    booking = Booking(
        mentor_id=profile.user_id,
        mentee_id=actor.id,
        starts_at=starts_at,
        ends_at=ends_at,
        mentor_timezone=profile.timezone,
        status=status,
        topic=topic,
        notes=notes,
        meeting_url=profile.meeting_url,
        late_cancellation=False,
        reschedule_count=0,
        ical_sequence=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _insert(session, booking)

    _audit(
        session,
        actor,
        booking,
        "booking.requested",
        now,
        context,
        None,
        _snapshot(
            booking,
            "status",
            "mentor_id",
            "mentee_id",
            "starts_at",
            "ends_at",
            "mentor_timezone",
            "topic",
            "version",
        ),
    )
    _notify(session, booking, "booking_requested", [booking.mentor_id], actor=actor, now=now)
    if status is BookingStatus.CONFIRMED:
        _notify(
            session,
            booking,
            "booking_confirmed",
            [booking.mentee_id],
            actor=actor,
            now=now,
            extra={"auto_confirmed": True},
        )
    session.flush()
    return booking


# -- confirm / decline -------------------------------------------------------------------------


def confirm_refusal(actor: User, booking: Booking, now: dt.datetime) -> DomainError | None:
    return _first(
        lambda: _role_refusal(actor, booking, _MENTOR_SIDE, "confirm"),
        lambda: _status_refusal(booking, [BookingStatus.REQUESTED], "confirmed"),
        lambda: _started_refusal(booking, now, "confirmed"),
    )


def can_confirm(actor: User, booking: Booking, now: dt.datetime) -> bool:
    """The mentor or an admin, while the session is requested and has not started."""
    return confirm_refusal(actor, booking, now) is None


def confirm(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """requested -> confirmed. NotAllowed, StaleVersion, InvalidTransition; tells the mentee."""
    _prepare(session, actor, booking, version, _MENTOR_SIDE, "confirm")
    _raise_if(confirm_refusal(actor, booking, now))
    before = _snapshot(booking, "status", "version")
    _swap(session, booking, version=version, now=now, values={"status": BookingStatus.CONFIRMED})
    _audit(
        session,
        actor,
        booking,
        "booking.confirmed",
        now,
        context,
        before,
        _snapshot(booking, "status", "version"),
    )
    _notify(session, booking, "booking_confirmed", _others(booking, actor), actor=actor, now=now)
    session.flush()
    return booking


def decline_refusal(actor: User, booking: Booking, now: dt.datetime) -> DomainError | None:
    return _first(
        lambda: _role_refusal(actor, booking, _MENTOR_SIDE, "decline"),
        lambda: _status_refusal(booking, [BookingStatus.REQUESTED], "declined"),
        lambda: _started_refusal(booking, now, "declined"),
    )


def can_decline(actor: User, booking: Booking, now: dt.datetime) -> bool:
    """The mentor or an admin, while the session is requested and has not started."""
    return decline_refusal(actor, booking, now) is None


def decline(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    reason: str | None = None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """requested -> declined, with a reason: the mentee deserves to know why (it is sent)."""
    _prepare(session, actor, booking, version, _MENTOR_SIDE, "decline")
    _raise_if(decline_refusal(actor, booking, now))
    text = _reason(reason, required=True, who="the mentee")
    before = _snapshot(booking, "status", "version")
    _swap(
        session,
        booking,
        version=version,
        now=now,
        values={
            "status": BookingStatus.DECLINED,
            "decline_reason": text,
            "ical_sequence": Booking.ical_sequence + 1,
        },
    )
    _audit(
        session,
        actor,
        booking,
        "booking.declined",
        now,
        context,
        before,
        {**_snapshot(booking, "status", "version"), "reason": text},
    )
    _notify(
        session,
        booking,
        "booking_declined",
        _others(booking, actor),
        actor=actor,
        now=now,
        reason=text,
    )
    session.flush()
    return booking


# -- cancel ------------------------------------------------------------------------------------


def cancel_refusal(actor: User, booking: Booking, now: dt.datetime) -> DomainError | None:
    return _first(
        lambda: _role_refusal(actor, booking, _ANYONE, "cancel"),
        lambda: _status_refusal(booking, ACTIVE_STATUSES, "cancelled"),
        lambda: _started_refusal(booking, now, "cancelled"),
    )


def can_cancel(actor: User, booking: Booking, now: dt.datetime) -> bool:
    """Mentee, mentor or an admin, while the session is active and has not started."""
    return cancel_refusal(actor, booking, now) is None


def is_late_cancellation(booking: Booking, now: dt.datetime, policy: BookingPolicy) -> bool:
    """A mentee cancelling less than the cut-off before the start (exactly at it is on time)."""
    return booking.starts_at - now < dt.timedelta(hours=policy.mentee_cutoff_hours)


def cancel(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    reason: str | None = None,
    now: dt.datetime,
    policy: BookingPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """requested | confirmed -> cancelled, before the session starts.

    The mentee's reason is optional and a cancellation inside the cut-off is flagged
    `late_cancellation`; the mentor and admins must give a reason (field "reason").
    """
    role = _prepare(session, actor, booking, version, _ANYONE, "cancel")
    _raise_if(cancel_refusal(actor, booking, now))
    text = _reason(
        reason,
        required=role in _MENTOR_SIDE,
        who="the mentee" if role == "mentor" else "the participants",
    )
    late = role == "mentee" and is_late_cancellation(booking, now, policy)
    before = _snapshot(booking, "status", "version")
    _swap(
        session,
        booking,
        version=version,
        now=now,
        values={
            "status": BookingStatus.CANCELLED,
            "cancel_reason": text,
            "cancelled_by_id": actor.id,
            "cancelled_at": now,
            "late_cancellation": late,
            # Calendars apply a CANCEL only if its SEQUENCE beats the last REQUEST's.
            "ical_sequence": Booking.ical_sequence + 1,
        },
    )
    _audit(
        session,
        actor,
        booking,
        "booking.cancelled",
        now,
        context,
        before,
        {
            **_snapshot(booking, "status", "version", "late_cancellation"),
            "reason": text,
            "cancelled_by": role,
        },
    )
    _notify(
        session,
        booking,
        "booking_cancelled",
        _others(booking, actor),
        actor=actor,
        now=now,
        reason=text,
        extra={"late_cancellation": late, "cancelled_by": role},
    )
    session.flush()
    return booking


# -- reschedule --------------------------------------------------------------------------------


def reschedule_refusal(
    actor: User, booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> DomainError | None:
    def cutoff() -> DomainError | None:
        hours = policy.mentee_cutoff_hours
        if role_of(actor, booking) != "mentee":
            return None
        if booking.starts_at - now >= dt.timedelta(hours=hours):
            return None
        return NotAllowed(
            f"Sessions can't be moved less than {hours} hours before they start. You can still "
            "cancel it (that counts as a late cancellation) and book another time."
        )

    return _first(
        lambda: _role_refusal(actor, booking, _ANYONE, "move"),
        lambda: _status_refusal(booking, ACTIVE_STATUSES, "moved"),
        lambda: _started_refusal(booking, now, "moved"),
        cutoff,
    )


def can_reschedule(
    actor: User, booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> bool:
    """The mentee until the cut-off; the mentor or an admin until the start. Active only."""
    return reschedule_refusal(actor, booking, now, policy) is None


def reschedule(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    new_starts_at: dt.datetime,
    reason: str | None = None,
    now: dt.datetime,
    policy: BookingPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """Move the session (same id) to `new_starts_at`, a start the slot engine offers.

    The caller MUST start the transaction with `begin_write(session)`, as for `book`. The
    session's own current time does not count as busy. ical_sequence and reschedule_count go
    up by one; a mentee's move goes back to `requested` when the mentor requires confirmation.
    Mentors and admins must give a reason. Raises like `book` for the new time, plus
    NotAllowed/InvalidTransition/StaleVersion for the transition.
    """
    _raise_if(_role_refusal(actor, booking, _ANYONE, "move"))
    _lock_people(session, booking.mentor_id, booking.mentee_id)
    who = _prepare(session, actor, booking, version, _ANYONE, "move")
    _raise_if(reschedule_refusal(actor, booking, now, policy))
    text = _reason(reason, required=who in _MENTOR_SIDE, who=_told(who))
    _require_aware("starts_at", new_starts_at)

    profile = session.scalar(
        select(MentorProfile).where(MentorProfile.user_id == booking.mentor_id)
    )
    if profile is None or profile.status != MentorStatus.APPROVED or not profile.user.is_active:
        raise NotAllowed("This mentor is not taking bookings right now, so the session can't move.")
    if new_starts_at == booking.starts_at:
        message = "That is already the session's time. Pick a different time."
        raise ValidationFailed(message, field_errors={"starts_at": message})

    data = schedule.load(session, profile, now)
    busy = [slot_engine.Busy(b.starts_at, b.ends_at) for b in data.bookings if b.id != booking.id]
    _check_offered(data.engine, busy, profile, now=now, starts_at=new_starts_at)
    new_ends_at = new_starts_at + dt.timedelta(minutes=profile.session_minutes)
    mentee_busy = YOU_ARE_BUSY if who == "mentee" else _mentee_busy(booking)
    _check_person_free(
        session,
        booking.mentee_id,
        new_starts_at,
        new_ends_at,
        now,
        message=mentee_busy,
        ignore_id=booking.id,
    )

    if who == "mentee" and profile.requires_confirmation:
        status = BookingStatus.REQUESTED
    else:
        status = booking.status
    fields = ("status", "starts_at", "ends_at", "ical_sequence", "reschedule_count", "version")
    before = _snapshot(booking, *fields)
    _swap(
        session,
        booking,
        version=version,
        now=now,
        values={
            "status": status,
            "starts_at": new_starts_at,
            "ends_at": new_ends_at,
            "mentor_timezone": profile.timezone,
            "reschedule_count": Booking.reschedule_count + 1,
            "ical_sequence": Booking.ical_sequence + 1,
        },
        moves=True,
        mentee_busy=mentee_busy,
    )
    _audit(
        session,
        actor,
        booking,
        "booking.rescheduled",
        now,
        context,
        before,
        {**_snapshot(booking, *fields), "reason": text, "moved_by": who},
    )
    _notify(
        session,
        booking,
        "booking_rescheduled",
        _others(booking, actor),
        actor=actor,
        now=now,
        reason=text,
        extra={
            "previous_starts_at": before["starts_at"],
            "previous_ends_at": before["ends_at"],
            "moved_by": who,
        },
    )
    session.flush()
    return booking


def _told(role: Role) -> str:
    return {"mentee": "the mentor", "mentor": "the mentee", "admin": "the participants"}[role]


def _mentee_busy(booking: Booking) -> str:
    return f"{booking.mentee.name} already has another session at that time. Pick another time."


# -- attendance --------------------------------------------------------------------------------


def attendance_refusal(
    actor: User, booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> DomainError | None:
    def window() -> DomainError | None:
        if now < booking.ends_at:
            return InvalidTransition(
                "Attendance can be recorded once the session has ended. Come back after it."
            )
        days = policy.attendance_window_days
        if now >= booking.ends_at + dt.timedelta(days=days):
            return InvalidTransition(
                f"Attendance can be recorded up to {days} days after a session; that time has "
                "passed for this one. Contact a program admin if the record needs fixing."
            )
        return None

    return _first(
        lambda: _role_refusal(actor, booking, _MENTOR_SIDE, "record attendance for"),
        lambda: _status_refusal(
            booking,
            (BookingStatus.CONFIRMED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW),
            "given attendance",
        ),
        window,
    )


def can_record_attendance(
    actor: User, booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> bool:
    """The mentor or an admin, from the session's end for `attendance_window_days`, on a
    confirmed session (or a completed / no-show one, to correct it)."""
    return attendance_refusal(actor, booking, now, policy) is None


_TRUE_WORDS = frozenset({"1", "true", "on", "yes"})


def _shared_flag(raw: bool | str) -> bool:
    # A checkbox posts "on" (or our "1") when ticked and nothing when not.
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in _TRUE_WORDS


def _parse_attendance(
    booking: Booking, outcomes: Mapping[int, AttendanceInput | tuple[Any, ...]]
) -> dict[int, tuple[AttendanceOutcome, int, str, bool]]:
    """Field errors are keyed "<field>_<participant id>", e.g. "minutes_12"."""
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[AttendanceOutcome, int, str, bool]] = {}
    participants = (booking.mentee_id, booking.mentor_id)
    for user_id, raw in outcomes.items():
        entry = AttendanceInput(*raw)
        if user_id not in participants:
            errors["participant"] = "Only the session's mentee and mentor have attendance."
            continue
        try:
            outcome = AttendanceOutcome(entry.outcome)
        except ValueError:
            errors[f"outcome_{user_id}"] = "Choose attended, late or no-show."
            continue
        try:
            minutes = int(str(entry.minutes).strip() or "0")
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= ATTENDANCE_MINUTES_MAX:
            errors[f"minutes_{user_id}"] = (
                f"Enter the minutes attended as a number from 0 to {ATTENDANCE_MINUTES_MAX}."
            )
            continue
        notes = (entry.notes or "").strip()
        if len(notes) > ATTENDANCE_NOTES_MAX:
            errors[f"notes_{user_id}"] = (
                f"Keep the notes to {ATTENDANCE_NOTES_MAX} characters or fewer."
            )
            continue
        # A no-show attended nothing, whatever was typed. Only the mentee's notes can be
        # shared (with the mentee); the mentor's own row is never shown to anyone else.
        shared = user_id == booking.mentee_id and _shared_flag(entry.shared)
        parsed[user_id] = (
            outcome,
            0 if outcome is AttendanceOutcome.NO_SHOW else minutes,
            notes,
            shared,
        )
    if errors:
        raise ValidationFailed(field_errors=errors)
    return parsed


def _attendance_snapshot(rows: Iterable[Attendance]) -> dict[str, Any]:
    return {
        str(r.participant_id): {
            "outcome": r.outcome.value,
            "minutes": r.minutes,
            "notes": r.notes,
            "shared": bool(r.shared_with_mentee),
        }
        for r in sorted(rows, key=lambda r: r.participant_id)
    }


def record_attendance(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    outcomes: Mapping[int, AttendanceInput | tuple[Any, ...]],
    now: dt.datetime,
    policy: BookingPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """Record (or correct) attendance: participant user id -> (outcome, minutes, notes,
    shared). `shared` shows the mentee's notes to the mentee in their progress snapshot; a
    row named here is replaced whole, so a correction that leaves it out unshares the note.

    The mentee's outcome decides the status: attended or late -> completed, no-show -> no_show.
    It is required the first time; a correction may name only the rows it changes. Existing rows
    are updated in place, and every recording or correction writes an audit event (no mail).
    """
    _prepare(session, actor, booking, version, _MENTOR_SIDE, "record attendance for")
    _raise_if(attendance_refusal(actor, booking, now, policy))
    parsed = _parse_attendance(booking, outcomes)
    existing = {
        row.participant_id: row
        for row in session.scalars(
            select(Attendance)
            .where(Attendance.booking_id == booking.id)
            .execution_options(populate_existing=True)
        )
    }
    mentee_outcome = parsed.get(booking.mentee_id)
    if mentee_outcome is None and booking.mentee_id not in existing:
        raise ValidationFailed(
            field_errors={f"outcome_{booking.mentee_id}": "Choose whether the mentee attended."}
        )
    outcome = mentee_outcome[0] if mentee_outcome else existing[booking.mentee_id].outcome
    status = (
        BookingStatus.NO_SHOW if outcome is AttendanceOutcome.NO_SHOW else BookingStatus.COMPLETED
    )
    correction = booking.status is not BookingStatus.CONFIRMED
    before = {
        **_snapshot(booking, "status", "version"),
        "attendance": _attendance_snapshot(existing.values()),
    }
    _swap(session, booking, version=version, now=now, values={"status": status})
    for user_id, (result, minutes, notes, shared) in parsed.items():
        row = existing.get(user_id)
        if row is None:
            row = Attendance(booking_id=booking.id, participant_id=user_id)
            session.add(row)
            existing[user_id] = row
        row.outcome = result
        row.minutes = minutes
        row.notes = notes
        row.shared_with_mentee = shared
        row.recorded_by_id = actor.id
        row.recorded_at = now
    session.flush()
    session.expire(booking, ["attendance"])
    _audit(
        session,
        actor,
        booking,
        "booking.attendance_recorded",
        now,
        context,
        before,
        {
            **_snapshot(booking, "status", "version"),
            "attendance": _attendance_snapshot(existing.values()),
            "correction": correction,
        },
    )
    # Issue 8: ask for feedback on an attended session (once per booking and person).
    feedback.queue_prompts(session, booking, now=now)
    session.flush()
    return booking


# -- meeting link ------------------------------------------------------------------------------


def meeting_link_refusal(actor: User, booking: Booking, now: dt.datetime) -> DomainError | None:
    def ended() -> DomainError | None:
        if now < booking.ends_at:
            return None
        return InvalidTransition("This session has ended, so its meeting link can't change.")

    return _first(
        lambda: _role_refusal(actor, booking, _MENTOR_SIDE, "set the meeting link of"),
        lambda: _status_refusal(booking, ACTIVE_STATUSES, "given a new meeting link"),
        ended,
    )


def can_set_meeting_link(actor: User, booking: Booking, now: dt.datetime) -> bool:
    """The mentor or an admin, on an active session that has not ended."""
    return meeting_link_refusal(actor, booking, now) is None


def set_meeting_link(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    url: str | None,
    now: dt.datetime,
    policy: BookingPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Booking:
    """Set (or clear, with an empty value) the session's link: https on an allow-listed domain
    (ValidationFailed field "meeting_url" otherwise)."""
    _prepare(session, actor, booking, version, _MENTOR_SIDE, "set the meeting link of")
    _raise_if(meeting_link_refusal(actor, booking, now))
    link = meeting_links.normalize(url or "", policy.meeting_domains)
    before = _snapshot(booking, "meeting_url", "version")
    _swap(session, booking, version=version, now=now, values={"meeting_url": link})
    _audit(
        session,
        actor,
        booking,
        "booking.meeting_link_set",
        now,
        context,
        before,
        _snapshot(booking, "meeting_url", "version"),
    )
    session.flush()
    return booking
