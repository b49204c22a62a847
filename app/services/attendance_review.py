"""Two-sided attendance (issue 8): the mentee answers the mentor's attendance record, and
admins settle disputes.

Rules:
* Once the mentor has recorded attendance, the session's mentee may confirm or dispute
  their own row (the Attendance of participant = mentee) within `ReviewPolicy.dispute_days`
  of its `recorded_at` (a correction by the mentor records it anew). A dispute needs a
  reason. The answer is final: it can't be changed by the mentee.
* A dispute tells the mentor (in-app and email) and every active admin (in-app), and waits
  in the admin queue (`open_disputes`).
* An admin resolves it once: keep the record (a note for the participants is required) or
  correct it (outcome attended / late / no-show, and minutes). A correction moves the
  session's status like `booking.record_attendance` does: the mentee's outcome attended or
  late -> completed, no-show -> no_show. Both participants are told.
* Every answer is compare-and-swap: the form carries the booking `version` it was drawn
  from, and the row is only changed while it still is what the page showed (unanswered /
  unresolved, same record); otherwise `StaleVersion`.

Every change writes its audit event (entity "booking", so the session's history shows it)
and its notifications in the caller's transaction; the caller starts it with `begin_write`
and commits once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.orm import Session, aliased

from app.models import (
    Attendance,
    AttendanceOutcome,
    AttendanceResponse,
    Booking,
    BookingStatus,
    NotificationChannel,
    User,
)
from app.models.booking import OPEN_DISPUTES_SQL
from app.services import audit, feedback, mentor_index, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)

__all__ = [
    "MINUTES_MAX",
    "REASON_MAX",
    "DisputeRow",
    "ReviewPolicy",
    "confirm",
    "count_open",
    "dispute",
    "mentee_row",
    "open_disputes",
    "resolve",
    "resolve_refusal",
    "respond_deadline",
    "response_refusal",
]

REASON_MAX = 1000
NOTE_MAX = 1000
MINUTES_MAX = 24 * 60
CHANNELS = (NotificationChannel.IN_APP, NotificationChannel.EMAIL)
DISPUTES_PATH = "/admin/mentorship/disputes"
OUTCOME_WORDS = {
    AttendanceOutcome.ATTENDED: "attended",
    AttendanceOutcome.LATE: "joined late",
    AttendanceOutcome.NO_SHOW: "did not attend",
}

Decision = Literal["keep", "correct"]


@dataclass(frozen=True)
class ReviewPolicy:
    """From config: ATTENDANCE_DISPUTE_DAYS."""

    dispute_days: int = 7


DEFAULT_POLICY = ReviewPolicy()


def _session_path(booking_id: int) -> str:
    return f"/mentor-hub/sessions/{booking_id}"


def mentee_row(booking: Booking) -> Attendance | None:
    """The mentee's attendance row (from the loaded `booking.attendance`)."""
    return next((a for a in booking.attendance if a.participant_id == booking.mentee_id), None)


def respond_deadline(row: Attendance, policy: ReviewPolicy = DEFAULT_POLICY) -> dt.datetime:
    return row.recorded_at + dt.timedelta(days=policy.dispute_days)


def response_refusal(
    actor: User,
    booking: Booking,
    row: Attendance | None,
    now: dt.datetime,
    policy: ReviewPolicy = DEFAULT_POLICY,
) -> DomainError | None:
    """Why `actor` may not confirm or dispute the record now (None: they may)."""
    if not actor.is_active or actor.id not in (booking.mentee_id, booking.mentor_id):
        return NotFound("No such session.")
    if actor.id != booking.mentee_id:
        return NotAllowed("Only the session's mentee confirms or disputes the attendance record.")
    if row is None:
        return InvalidTransition(
            "The mentor hasn't recorded the attendance yet: there is nothing to confirm."
        )
    if row.mentee_response is not None:
        return InvalidTransition(
            f"You already {row.mentee_response.value} this record; the answer can't be changed."
        )
    if now >= respond_deadline(row, policy):
        return InvalidTransition(
            f"An attendance record can be confirmed or disputed for {policy.dispute_days} days "
            "after it is recorded; that time has passed. Contact a program admin if it is wrong."
        )
    return None


def _stale_response() -> StaleVersion:
    return StaleVersion(
        "The attendance record changed while you were looking at it. Nothing was saved: "
        "check the current record and answer again."
    )


def _fresh(session: Session, booking: Booking, version: int) -> Attendance | None:
    """Re-read the booking and its attendance; a page from another version is stale."""
    session.refresh(booking)
    session.expire(booking, ["attendance"])
    if booking.version != version:
        raise _stale_response()
    return mentee_row(booking)


def _answer(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    response: AttendanceResponse,
    reason: str | None,
    now: dt.datetime,
    policy: ReviewPolicy,
    context: RequestContext,
) -> Attendance:
    row = _fresh(session, booking, version)
    refusal = response_refusal(actor, booking, row, now, policy)
    if refusal is not None:
        raise refusal
    record = cast(Attendance, row)
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Attendance)
            .where(
                Attendance.id == record.id,
                Attendance.mentee_response.is_(None),
                Attendance.recorded_at == record.recorded_at,
                Attendance.outcome == record.outcome,
                Attendance.minutes == record.minutes,
            )
            .values(mentee_response=response, responded_at=now, dispute_reason=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(record)
    if result.rowcount != 1:
        raise _stale_response()
    after: dict[str, Any] = {
        "response": response.value,
        "outcome": record.outcome.value,
        "minutes": record.minutes,
    }
    if reason:
        after["reason"] = reason
    audit.record(
        session,
        actor=actor,
        action=f"booking.attendance_{response.value}",
        entity_type="booking",
        entity_id=booking.id,
        now=now,
        before=None,
        after=after,
        context=context,
    )
    return record


def confirm(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    now: dt.datetime,
    policy: ReviewPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Attendance:
    """The mentee confirms the mentor's record of their attendance (final). Raises NotFound,
    NotAllowed, InvalidTransition (nothing recorded, already answered, too late) or
    StaleVersion."""
    row = _answer(
        session,
        actor,
        booking,
        version=version,
        response=AttendanceResponse.CONFIRMED,
        reason=None,
        now=now,
        policy=policy,
        context=context,
    )
    session.flush()
    return row


def dispute(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    reason: str | None,
    now: dt.datetime,
    policy: ReviewPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> Attendance:
    """The mentee disputes the record with a reason (required, at most REASON_MAX
    characters); the mentor (in-app + email) and admins (in-app) are told. Raises like
    `confirm`, and ValidationFailed (field "reason")."""
    text = (reason or "").strip()
    refusal = response_refusal(actor, booking, mentee_row(booking), now, policy)
    if refusal is None:
        if not text:
            raise ValidationFailed(
                field_errors={"reason": "Say what is wrong with the record: admins read it."}
            )
        if len(text) > REASON_MAX:
            raise ValidationFailed(field_errors={"reason": f"Use at most {REASON_MAX} characters."})
    row = _answer(
        session,
        actor,
        booking,
        version=version,
        response=AttendanceResponse.DISPUTED,
        reason=text,
        now=now,
        policy=policy,
        context=context,
    )
    recorded = OUTCOME_WORDS.get(row.outcome, row.outcome.value)
    base = {
        "booking_id": booking.id,
        "starts_at": booking.starts_at.astimezone(dt.UTC).isoformat(),
        "mentor_name": booking.mentor.name,
        "mentee_name": booking.mentee.name,
        "reason": text,
    }
    _queue(
        session,
        booking,
        row,
        "attendance_disputed",
        [(booking.mentor_id, CHANNELS)],
        {
            **base,
            "recipient_role": "mentor",
            "message": f"{booking.mentee.name} disputes your attendance record for your "
            f"session (recorded: {recorded}). A program admin will look at it.",
            "subject": f"{booking.mentee.name} disputes an attendance record",
            "path": _session_path(booking.id),
            "action": "Open the session",
        },
        now,
    )
    admins = session.scalars(
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True))
    ).all()
    _queue(
        session,
        booking,
        row,
        "attendance_disputed",
        [(uid, (NotificationChannel.IN_APP,)) for uid in admins if uid != booking.mentor_id],
        {
            **base,
            "message": f"{booking.mentee.name} disputes the attendance {booking.mentor.name} "
            "recorded. It waits in the disputes queue.",
            "subject": "An attendance record is disputed",
            "path": DISPUTES_PATH,
            "action": "Open the disputes",
        },
        now,
    )
    session.flush()
    return row


def _queue(
    session: Session,
    booking: Booking,
    row: Attendance,
    kind: str,
    recipients: Iterable[tuple[int, Iterable[NotificationChannel]]],
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    # One dispute and one resolution per attendance row: the keys need no version.
    for user_id, channels in recipients:
        for channel in channels:
            outbox.queue(
                session,
                user_id=user_id,
                kind=kind,
                channel=channel,
                payload=payload,
                dedupe_key=f"{kind}:{booking.id}:a{row.id}:u{user_id}:{channel.value}",
                now=now,
                booking_id=booking.id,
            )


# -- the admin queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeRow:
    booking: Booking
    record: Attendance
    mentor: User
    mentee: User

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - (self.record.responded_at or now)


def _open() -> Any:
    # The predicate of ix_attendance_open_disputes, word for word (see OPEN_DISPUTES_SQL).
    return (text(OPEN_DISPUTES_SQL),)


def open_disputes(session: Session) -> list[DisputeRow]:
    """Unresolved disputes, oldest first, with the session and both people (one query)."""
    mentor = aliased(User)
    mentee = aliased(User)
    rows = session.execute(
        select(Attendance, Booking, mentor, mentee)
        .join(Booking, Booking.id == Attendance.booking_id)
        .join(mentor, mentor.id == Booking.mentor_id)
        .join(mentee, mentee.id == Booking.mentee_id)
        .where(*_open(), Attendance.participant_id == Booking.mentee_id)
        .order_by(Attendance.responded_at, Attendance.id)
    ).all()
    return [DisputeRow(booking=b, record=a, mentor=m, mentee=e) for a, b, m, e in rows]


def count_open(session: Session) -> int:
    """How many disputes wait for an admin (the side navigation's badge)."""
    return int(session.scalar(select(func.count()).select_from(Attendance).where(*_open())) or 0)


def dispute_of(session: Session, booking_id: int) -> DisputeRow | None:
    """The dispute on one session (open or resolved), or None (one query)."""
    mentor = aliased(User)
    mentee = aliased(User)
    found = session.execute(
        select(Attendance, Booking, mentor, mentee)
        .join(Booking, Booking.id == Attendance.booking_id)
        .join(mentor, mentor.id == Booking.mentor_id)
        .join(mentee, mentee.id == Booking.mentee_id)
        .where(
            Booking.id == booking_id,
            Attendance.participant_id == Booking.mentee_id,
            Attendance.mentee_response == AttendanceResponse.DISPUTED,
        )
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        return None
    a, b, m, e = found
    return DisputeRow(booking=b, record=a, mentor=m, mentee=e)


def resolve_refusal(actor: User, row: Attendance | None) -> DomainError | None:
    if not (actor.is_active and actor.is_admin):
        return NotAllowed("Only program admins resolve disputes.")
    if row is None or row.mentee_response is not AttendanceResponse.DISPUTED:
        return NotFound("No dispute on this session.")
    if row.dispute_resolved_at is not None:
        return InvalidTransition("This dispute is already resolved.")
    return None


def _parse_correction(
    outcome: str | None, minutes: int | str | None
) -> tuple[AttendanceOutcome, int]:
    errors: dict[str, str] = {}
    try:
        parsed = AttendanceOutcome(str(outcome or ""))
    except ValueError:
        errors["outcome"] = "Choose attended, late or no-show."
        parsed = AttendanceOutcome.NO_SHOW
    try:
        count = int(str(minutes if minutes is not None else "").strip() or "0")
    except ValueError:
        count = -1
    if parsed is not AttendanceOutcome.NO_SHOW and not 0 <= count <= MINUTES_MAX:
        errors["minutes"] = f"Enter the minutes attended as a number from 0 to {MINUTES_MAX}."
    if errors:
        raise ValidationFailed(field_errors=errors)
    return parsed, 0 if parsed is AttendanceOutcome.NO_SHOW else count


def _stale_dispute() -> StaleVersion:
    return StaleVersion(
        "This session changed while you were looking at the dispute (another admin resolved "
        "it, or the mentor corrected the record). Nothing was saved: check it again."
    )


def resolve(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int,
    decision: str,
    note: str | None,
    outcome: str | None = None,
    minutes: int | str | None = None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> Attendance:
    """An admin settles the dispute on `booking`: "keep" (note required) or "correct"
    (outcome + minutes; note optional). A correction moves the booking to completed or
    no_show (compare-and-swap on its version) and recounts the mentor's completed
    sessions; both participants are told. Raises NotAllowed, NotFound (no dispute),
    InvalidTransition (already resolved), ValidationFailed (decision, note, outcome,
    minutes), StaleVersion."""
    session.refresh(booking)
    session.expire(booking, ["attendance"])
    row = mentee_row(booking)
    refusal = resolve_refusal(actor, row)
    if refusal is not None:
        raise refusal
    record = cast(Attendance, row)
    text = (note or "").strip()
    errors: dict[str, str] = {}
    if decision not in ("keep", "correct"):
        errors["decision"] = "Choose whether to keep the record or correct it."
    if decision == "keep" and not text:
        errors["note"] = "Say why the record stands: both participants read it."
    if len(text) > NOTE_MAX:
        errors["note"] = f"Use at most {NOTE_MAX} characters."
    corrected: tuple[AttendanceOutcome, int] | None = None
    if decision == "correct":
        try:
            corrected = _parse_correction(outcome, minutes)
        except ValidationFailed as err:
            errors.update(err.field_errors)
    if errors:
        raise ValidationFailed(field_errors=errors)
    if booking.version != version:
        raise _stale_dispute()

    before = {
        "status": booking.status.value,
        "outcome": record.outcome.value,
        "minutes": record.minutes,
    }
    values: dict[str, Any] = {
        "dispute_resolved_at": now,
        "dispute_resolved_by_id": actor.id,
        "dispute_resolution": text or None,
    }
    if corrected is not None:
        values.update(
            outcome=corrected[0], minutes=corrected[1], recorded_by_id=actor.id, recorded_at=now
        )
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Attendance)
            .where(
                Attendance.id == record.id,
                Attendance.mentee_response == AttendanceResponse.DISPUTED,
                Attendance.dispute_resolved_at.is_(None),
                Attendance.recorded_at == record.recorded_at,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        session.refresh(record)
        raise _stale_dispute()
    if corrected is not None:
        status = (
            BookingStatus.NO_SHOW
            if corrected[0] is AttendanceOutcome.NO_SHOW
            else BookingStatus.COMPLETED
        )
        moved = cast(
            CursorResult[Any],
            session.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.version == version)
                .values(status=status, version=Booking.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if moved.rowcount != 1:
            raise _stale_dispute()
    session.refresh(booking)
    session.refresh(record)
    session.flush()
    if corrected is not None:
        mentor_index.refresh_stats(session, (booking.mentor_id,))
        feedback.queue_prompts(session, booking, now=now)

    after: dict[str, Any] = {
        "decision": decision,
        "status": booking.status.value,
        "outcome": record.outcome.value,
        "minutes": record.minutes,
    }
    if text:
        after["reason"] = text
    audit.record(
        session,
        actor=actor,
        action="booking.attendance_dispute_resolved",
        entity_type="booking",
        entity_id=booking.id,
        now=now,
        before=before,
        after=after,
        context=context,
    )
    words = OUTCOME_WORDS.get(record.outcome, record.outcome.value)
    if corrected is not None:
        result_text = f"A program admin corrected the attendance record: the mentee {words}"
        if record.minutes:
            result_text += f" ({record.minutes} min)"
        result_text += "."
    else:
        result_text = f"A program admin kept the attendance record (the mentee {words})."
    if text:
        result_text += f" Note: {text}"
    _queue(
        session,
        booking,
        record,
        "attendance_dispute_resolved",
        [(uid, CHANNELS) for uid in (booking.mentee_id, booking.mentor_id)],
        {
            "booking_id": booking.id,
            "starts_at": booking.starts_at.astimezone(dt.UTC).isoformat(),
            "mentor_name": booking.mentor.name,
            "mentee_name": booking.mentee.name,
            "message": result_text,
            "subject": "The attendance dispute is resolved",
            "path": _session_path(booking.id),
            "action": "Open the session",
        },
        now,
    )
    session.flush()
    return record
